"""With REDIS_URL the sessions live in Redis, so another web app instance knows the user."""

from webapp_support import ADMIN_PASSWORD, sign_in


def test_session_is_stored_in_redis_and_shared_by_instances(
    make_app, exchange, redis_prefix, redis_env
):
    db, prefix = redis_prefix
    env = redis_env
    first, second = make_app(exchange, **env), make_app(exchange, **env)
    client = first.test_client()
    assert sign_in(client, "admin", ADMIN_PASSWORD).status_code == 302
    keys = list(db.scan_iter(f"{prefix}session:*"))
    assert len(keys) == 1
    cookie = client.get_cookie("phoenyra_session")
    assert cookie is not None and "admin" not in cookie.value  # only a random session id

    other = second.test_client()
    other.set_cookie("phoenyra_session", cookie.value)
    assert other.get("/me").get_json() == {"username": "admin", "role": "admin"}

    assert client.post("/logout", data={"csrf_token": _token(client)}).status_code == 302
    assert other.get("/api/orders").status_code == 401  # signed out everywhere
    assert client.get("/readyz").get_json()["checks"]["redis"] == "ok"


def _token(client):
    from webapp_support import csrf_token

    return csrf_token(client, "/")
