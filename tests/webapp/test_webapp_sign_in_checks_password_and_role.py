"""Sign-in: the right password signs in with the user's role; a wrong one does not."""

import pytest

from webapp_support import ADMIN_PASSWORD, PASSWORD, add_user, sign_in


def test_right_password_signs_in_with_the_users_role(make_app, exchange):
    app = make_app(exchange)
    add_user(app, "vera", "viewer")
    add_user(app, "tom", "trader")
    for name, role in (("vera", "viewer"), ("tom", "trader")):
        client = app.test_client()
        r = sign_in(client, name)
        assert r.status_code == 302 and r.headers["Location"] == "/"
        assert client.get("/me").get_json() == {"username": name, "role": role}


def test_first_admin_comes_from_webapp_admin_password(make_app, exchange):
    client = make_app(exchange).test_client()
    assert sign_in(client, "admin", ADMIN_PASSWORD).status_code == 302
    assert client.get("/me").get_json() == {"username": "admin", "role": "admin"}


def test_wrong_password_or_unknown_user_is_refused(make_app, exchange):
    app = make_app(exchange)
    add_user(app, "tom", "trader")
    for name, password in (("tom", PASSWORD + "x"), ("nobody", PASSWORD)):
        client = app.test_client()
        r = sign_in(client, name, password)
        assert r.status_code == 401
        assert "Wrong user name or password." in r.get_data(as_text=True)
        assert client.get("/me").status_code == 302  # still sent to the sign-in page


def test_without_sign_in_pages_redirect_and_the_api_answers_401(make_app, exchange):
    client = make_app(exchange).test_client()
    r = client.get("/")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login")
    r = client.get("/api/orders")
    assert r.status_code == 401
    assert r.get_json()["error"]["code"] == "SIGN_IN_REQUIRED"


def test_passwords_are_stored_hashed(make_app, exchange):
    import sqlite3

    app = make_app(exchange)
    add_user(app, "tom", "trader")
    db = sqlite3.connect(app.extensions["phoenyra"].users.path)
    (stored,) = db.execute("SELECT password_hash FROM users WHERE name = 'tom'").fetchone()
    assert PASSWORD not in stored and stored.startswith("scrypt:")


def test_sign_out_ends_the_session(client_as):
    client, token = client_as("trader")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/api/orders").status_code == 401


def test_development_without_admin_password_skips_sign_in(tmp_path, exchange):
    from phoenyra.webapp import create_app

    app = create_app(
        {
            "PHOENYRA_ENV": "development",
            "PHOENYRA_DATA_DIR": str(tmp_path),
            "EXCHANGE_BASE_URL": exchange.base_url,
        }
    )
    assert app.test_client().get("/me").get_json()["role"] == "admin"


def test_user_names_are_plain_and_distinct_to_a_person(make_app, exchange):
    from phoenyra.webapp.users import UserError

    users = make_app(exchange).extensions["phoenyra"].users
    users.add("viewer1", PASSWORD, "viewer")
    for name in ("Viewer1", "VIEWER1", "<script>alert(1)</script>", "x" * 65, "two words", ""):
        with pytest.raises(UserError):
            users.add(name, PASSWORD, "viewer")
    assert users.add("viewer.2@site-a", PASSWORD, "viewer").name == "viewer.2@site-a"


def _signed_out(client) -> bool:
    page, api = client.get("/me"), client.get("/api/orders")
    return page.status_code == 302 and api.status_code == 401


def test_a_changed_password_ends_every_session_opened_with_the_old_one(make_app, exchange):
    app = make_app(exchange)
    add_user(app, "tom", "trader")
    laptop, phone = app.test_client(), app.test_client()
    for browser in (laptop, phone):
        assert sign_in(browser, "tom").status_code == 302
        assert browser.get("/me").get_json() == {"username": "tom", "role": "trader"}

    app.extensions["phoenyra"].users.set_password("tom", "a-new-password-42")
    assert _signed_out(laptop) and _signed_out(phone)
    again = app.test_client()
    assert sign_in(again, "tom").status_code == 401  # the old password is gone too
    assert sign_in(again, "tom", "a-new-password-42").status_code == 302
    assert again.get("/me").get_json() == {"username": "tom", "role": "trader"}


@pytest.mark.parametrize("sessions", ["files", "redis"])
def test_a_new_webapp_admin_password_ends_the_admins_old_sessions(
    make_app, exchange, sessions, request
):
    """The first admin's password comes from the environment: restarting with another one
    (the way to reset it) signs out a session copied from before, on either session store."""
    env = request.getfixturevalue("redis_env") if sessions == "redis" else {}
    before = make_app(exchange, **env).test_client()
    assert sign_in(before, "admin", ADMIN_PASSWORD).status_code == 302
    cookie = before.get_cookie("phoenyra_session").value

    unchanged = make_app(exchange, **env).test_client()  # a restart with the same password
    unchanged.set_cookie("phoenyra_session", cookie)
    assert unchanged.get("/me").get_json() == {"username": "admin", "role": "admin"}

    reset = make_app(exchange, WEBAPP_ADMIN_PASSWORD="reset-admin-password", **env)
    copy = reset.test_client()
    copy.set_cookie("phoenyra_session", cookie)
    assert _signed_out(copy)
    fresh = reset.test_client()
    assert sign_in(fresh, "admin", "reset-admin-password").status_code == 302
