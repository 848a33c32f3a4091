"""An unchanged session is written back only to push its expiry forward, at most once per
SESSION_REFRESH_S, not on every request (a dashboard polls every few seconds); a changed one is
written at once. Both session stores, read back from the store itself."""

import pytest

from phoenyra.webapp.sessions import WRITTEN_AT
from webapp_support import ADMIN_PASSWORD, sign_in

COOKIE = "phoenyra_session"


@pytest.fixture(params=["files", "redis"])
def app(request, make_app, exchange):
    extra = request.getfixturevalue("redis_env") if request.param == "redis" else {}
    return make_app(exchange, **extra)


def written_at(app, sid: str) -> float:
    return app.session_interface.stored(sid)[WRITTEN_AT]


def test_reads_do_not_rewrite_the_session_until_its_refresh_is_due(app):
    client = app.test_client()
    assert sign_in(client, "admin", ADMIN_PASSWORD).status_code == 302
    sid = client.get_cookie(COOKIE).value
    first = written_at(app, sid)

    for _ in range(5):  # within SESSION_REFRESH_S: nothing written, no cookie re-sent
        r = client.get("/me")
        assert r.status_code == 200 and r.get_json()["username"] == "admin"
        assert "Set-Cookie" not in r.headers
    assert written_at(app, sid) == first

    app.config["SESSION_REFRESH_S"] = 0.0  # the refresh is due: expiry and cookie renewed
    r = client.get("/me")
    assert r.status_code == 200 and f"{COOKIE}={sid}" in r.headers["Set-Cookie"]
    assert written_at(app, sid) > first


def test_a_change_is_written_at_once(app):
    client = app.test_client()
    assert sign_in(client, "admin", ADMIN_PASSWORD).status_code == 302
    sid = client.get_cookie(COOKIE).value
    first = written_at(app, sid)
    assert "csrf_token" not in app.session_interface.stored(sid)  # sign-in starts a new session
    # A page with a form stores the session's CSRF token: a change, written at once.
    assert client.get("/history").status_code == 200
    stored = app.session_interface.stored(sid)
    assert stored[WRITTEN_AT] > first and "csrf_token" in stored
