"""Without REDIS_URL the sessions live in files under the data directory, the browser holding
only a random id: sign-out ends a session wherever its cookie was copied, and a cookie the web
app never issued (even one signed with its secret key) signs no one in."""

import secrets
import stat
import threading

import pytest
from flask.sessions import SecureCookieSessionInterface

from webapp_support import ADMIN_PASSWORD, csrf_token, sign_in

COOKIE = "phoenyra_session"
ADMIN = {"username": "admin", "role": "admin"}


def signed_in(app):
    """A test client of ``app`` signed in as the admin, and its session cookie's value."""
    client = app.test_client()
    assert sign_in(client, "admin", ADMIN_PASSWORD).status_code == 302
    return client, client.get_cookie(COOKIE).value


def with_cookie(app, value: str):
    """Another browser of ``app`` holding a copy of the session cookie ``value``."""
    other = app.test_client()
    other.set_cookie(COOKIE, value)
    return other


def sign_out(client) -> None:
    assert client.post("/logout", data={"csrf_token": csrf_token(client, "/")}).status_code == 302


def assert_not_signed_in(client) -> None:
    page = client.get("/")
    assert page.status_code == 302 and page.headers["Location"].startswith("/login")
    api = client.get("/api/orders")
    assert api.status_code == 401 and api.get_json()["error"]["code"] == "SIGN_IN_REQUIRED"


def test_sign_out_ends_a_copied_session(make_app, exchange):
    app = make_app(exchange)
    client, cookie = signed_in(app)
    assert "admin" not in cookie  # only a random session id
    copy = with_cookie(app, cookie)
    assert copy.get("/me").get_json() == ADMIN
    socketio = app.extensions["phoenyra"].socketio
    live = socketio.test_client(app, flask_test_client=copy)
    assert live.is_connected()  # the Socket.IO sign-in check accepts the session
    live.disconnect()

    sign_out(client)
    assert_not_signed_in(copy)
    assert not socketio.test_client(app, flask_test_client=copy).is_connected()


def test_a_session_outlives_a_restart_on_the_same_data_dir(make_app, exchange):
    client, cookie = signed_in(make_app(exchange))
    restarted = with_cookie(make_app(exchange), cookie)  # a new app object, the same data dir
    assert restarted.get("/me").get_json() == ADMIN
    assert restarted.get("/").status_code == 200
    # One session held on the server, not a copy in each cookie: sign-out after the restart
    # ends it for the browser that signed in before.
    sign_out(restarted)
    assert_not_signed_in(client)


@pytest.mark.parametrize("existing_dir_mode", [None, 0o755], ids=["new-dir", "dir-0755"])
def test_session_files_are_readable_by_the_web_apps_user_only(
    make_app, exchange, tmp_path, existing_dir_mode
):
    sessions = tmp_path / "webapp" / "webapp-sessions"
    if existing_dir_mode is not None:  # made by hand, or under a loose umask
        sessions.mkdir(parents=True)
        sessions.chmod(existing_dir_mode)
    app = make_app(exchange)
    client, _ = signed_in(app)
    assert client.get("/me").get_json() == ADMIN
    assert stat.S_IMODE(sessions.stat().st_mode) == 0o700
    files = [f for f in sessions.iterdir() if f.is_file()]
    assert len(files) >= 2  # the session and the cache's count of files
    for f in files:
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f


def test_a_cookie_the_app_never_issued_is_refused(make_app, exchange):
    app = make_app(exchange)
    # What Flask's signed-cookie sessions would accept: signed with the web app's own key.
    forged = SecureCookieSessionInterface().get_signing_serializer(app)
    assert forged is not None
    for value in (
        forged.dumps({"user": "admin", "_permanent": True}),
        secrets.token_urlsafe(32),  # shaped like a session id
    ):
        assert_not_signed_in(with_cookie(app, value))


def test_sign_in_and_sign_out_issue_a_new_session_id(make_app, exchange):
    app = make_app(exchange)
    client = app.test_client()
    csrf_token(client)  # the sign-in page starts a session, for its CSRF token
    before = client.get_cookie(COOKIE).value
    assert sign_in(client, "admin", ADMIN_PASSWORD).status_code == 302
    first = client.get_cookie(COOKIE).value
    assert first != before
    assert_not_signed_in(with_cookie(app, before))  # an id planted before sign-in stays out

    sign_out(client)
    after = client.get_cookie(COOKIE)
    assert after is None or after.value != first
    # Signing in again in the same browser does not bring a copy of the first sign-in back.
    assert sign_in(client, "admin", ADMIN_PASSWORD).status_code == 302
    assert client.get("/me").get_json() == ADMIN
    assert_not_signed_in(with_cookie(app, first))


def test_session_files_stay_within_their_limit(tmp_path):
    """At the limit, a new session first removes the expired ones, then the least recently
    used; the count behind the limit stays right under concurrent requests."""
    from phoenyra.webapp.sessions import SessionFiles

    files = SessionFiles(tmp_path / "sessions", limit=4)
    files.set("expired", {"user": "admin"}, timeout=-60)  # expired a minute ago
    for i in range(5):  # expires in order: s0 was used least recently
        files.set(f"s{i}", {"user": f"u{i}"}, timeout=3600 + i)
    assert files.get("expired") is None and all(files.get(f"s{i}") for i in range(5))
    assert len(list((tmp_path / "sessions").iterdir())) == 5 + 1  # and the count file
    for i in range(5, 8):
        files.set(f"s{i}", {"user": f"u{i}"}, timeout=3600 + i)
    assert [i for i in range(8) if files.get(f"s{i}")] == [3, 4, 5, 6, 7]
    assert len(list((tmp_path / "sessions").iterdir())) == 5 + 1

    many = SessionFiles(tmp_path / "many", limit=1000)

    def sign_ins(thread: int) -> None:
        for i in range(50):
            many.set(f"{thread}-{i}", {"user": "admin"}, timeout=3600)

    threads = [threading.Thread(target=sign_ins, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(list((tmp_path / "many").iterdir())) == 8 * 50 + 1
    assert many.get("__wz_cache_count") == 8 * 50  # cachelib's count of its files


@pytest.mark.parametrize("store", ["files", "redis"])
def test_a_request_in_flight_during_sign_out_does_not_bring_the_session_back(
    make_app, exchange, store, request
):
    """Flask saves each request's session when the request ends. A request that read the
    session before a sign-out (a slow page, or a thief's copy of the cookie polling) ends after
    it: its save must not write the ended session back under the old id."""
    import flask

    env = request.getfixturevalue("redis_env") if store == "redis" else {}
    app = make_app(exchange, **env)
    client, cookie = signed_in(app)
    interface = app.session_interface
    with app.test_request_context("/me", headers={"Cookie": f"{COOKIE}={cookie}"}):
        in_flight = interface.open_session(app, flask.request)  # as Flask does on arrival
        assert in_flight["user"] == "admin"
        assert interface.stored(in_flight.sid)["user"] == "admin"
        sign_out(client)  # meanwhile, in the browser
        assert interface.stored(in_flight.sid) is None
        in_flight.modified = True  # the request changed its session, e.g. a flashed message
        response = app.response_class()
        interface.save_session(app, in_flight, response)  # as Flask does at the end
    assert_not_signed_in(with_cookie(app, cookie))
    # ...and the ended id is not sent back: in the browser it would replace the id of the
    # session that ended it (after a sign-in there, signing the user out).
    assert COOKIE not in response.headers.get("Set-Cookie", "")

    # A session still held is written back as before (the next request sees the change).
    client, cookie = signed_in(app)
    with app.test_request_context("/me", headers={"Cookie": f"{COOKIE}={cookie}"}):
        live = interface.open_session(app, flask.request)
        live["note"] = "kept"
        interface.save_session(app, live, app.response_class())
    with app.test_request_context("/me", headers={"Cookie": f"{COOKIE}={cookie}"}):
        assert interface.open_session(app, flask.request)["note"] == "kept"
    assert with_cookie(app, cookie).get("/me").get_json() == ADMIN


def test_live_sockets_end_with_the_session_that_opened_them(make_app, exchange):
    """A socket is checked when it opens; the events after that come from the relay. Sign-out
    ends the session's sockets at once; a changed password ends them at the next sweep. (With
    Redis the sweep reads the same ``stored``, tested in the in-flight test; Flask-SocketIO's
    test client cannot run with a message queue.)"""
    from webapp_support import PASSWORD, add_user, sign_in

    app = make_app(exchange)
    state = app.extensions["phoenyra"]
    client, cookie = signed_in(app)
    live = state.socketio.test_client(app, flask_test_client=client)
    copied = state.socketio.test_client(app, flask_test_client=with_cookie(app, cookie))
    other, _ = signed_in(app)  # another sign-in of the same user: its own session
    other_live = state.socketio.test_client(app, flask_test_client=other)
    assert live.is_connected() and copied.is_connected() and other_live.is_connected()

    sign_out(client)
    assert not live.is_connected() and not copied.is_connected()
    assert other_live.is_connected()
    assert state.live.sweep() == 0  # nothing else has ended

    # A sign-out on another instance (the same session files) ends the session there; this
    # instance's sweep (what its thread does every few seconds) then ends its sockets.
    elsewhere, _ = signed_in(app)
    elsewhere_live = state.socketio.test_client(app, flask_test_client=elsewhere)
    second = with_cookie(make_app(exchange), elsewhere.get_cookie(COOKIE).value)
    assert second.get("/me").get_json() == ADMIN
    sign_out(second)
    assert elsewhere_live.is_connected()  # the other instance cannot reach this socket
    assert state.live.sweep() == 1
    assert not elsewhere_live.is_connected() and other_live.is_connected()

    add_user(app, "tom", "trader")
    tom = app.test_client()
    assert sign_in(tom, "tom").status_code == 302
    tom_live = state.socketio.test_client(app, flask_test_client=tom)
    assert tom_live.is_connected()
    state.users.set_password("tom", PASSWORD + "-new")
    assert state.live.sweep() == 1  # what the sweep thread does every few seconds
    assert not tom_live.is_connected() and other_live.is_connected()
    other_live.disconnect()
    assert len(state.live) == 0  # closed sockets are forgotten
