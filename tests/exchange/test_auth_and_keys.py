"""API keys, roles, rotation with overlap, and refusal of demo secrets outside development."""

from __future__ import annotations

import subprocess
import sys
import time

from phoenyra.exchange.store import Store
from support import ROOT, ExchangeProcess, new_trader


def test_requests_without_a_valid_key_are_refused(exchange):
    with exchange.client("") as anon:
        r = anon.get("/api/orders")
        assert r.status_code == 401 and r.json()["error"]["code"] == "UNAUTHENTICATED"
    for bad in ("nope", "phx_abc_def", "phx_0123456789ab_" + "x" * 43):
        with exchange.client(bad) as c:
            r = c.get("/api/orders")
            assert r.status_code == 401 and r.json()["error"]["code"] == "INVALID_API_KEY"


def test_roles_limit_what_a_key_may_do(exchange):
    viewer = new_trader(exchange, role="viewer")
    assert viewer.get("/api/orders").status_code == 200
    r = viewer.post(
        "/api/orders", json={"market": "epex_at", "side": "BUY", "quantity": 1.0, "price": 1.0}
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "FORBIDDEN"
    trader = new_trader(exchange)
    r = trader.post("/api/accounts", json={"name": "sneaky", "role": "admin"})
    assert r.status_code == 403
    telemetry = new_trader(exchange, role="telemetry")
    assert (
        telemetry.post(
            "/api/orders", json={"market": "epex_at", "side": "BUY", "quantity": 1.0, "price": 1.0}
        ).status_code
        == 403
    )
    r = trader.post(
        "/api/bess/telemetry", json={"soc_percent": 50, "power_mw": 0, "temperature_c": 20}
    )
    assert r.status_code == 403


def test_keys_are_stored_hashed(exchange):
    trader = new_trader(exchange)
    key = trader.headers["X-API-Key"]
    files = list(exchange.data_dir.glob("exchange.db*"))  # the database and its WAL
    db = b"".join(f.read_bytes() for f in files)
    assert len(db) > 0
    key_id, secret = key.split("_", 2)[1:]
    assert key_id.encode() in db  # the public id is stored ...
    assert secret.encode() not in db  # ... the secret is not


def test_rotated_key_overlaps_then_stops(tmp_path):
    proc = ExchangeProcess(tmp_path, PHOENYRA_KEY_ROTATION_OVERLAP_S="2").start()
    try:
        old = new_trader(proc)
        me = old.get("/api/accounts/me").json()
        with proc.client() as admin:
            r = admin.post(f"/api/accounts/{me['id']}/rotate-key")
        assert r.status_code == 200
        body = r.json()
        new = proc.client(body["api_key"])
        assert body["previous_keys_valid_until"].endswith("Z")
        assert old.get("/api/orders").status_code == 200  # within the overlap
        assert new.get("/api/accounts/me").json()["id"] == me["id"]
        time.sleep(2.2)
        r = old.get("/api/orders")
        assert r.status_code == 401 and r.json()["error"]["code"] == "KEY_EXPIRED"
        assert new.get("/api/orders").status_code == 200
    finally:
        proc.stop()


def test_a_leaked_key_is_cut_off_at_once_by_a_rotation_without_overlap(exchange):
    leaked = new_trader(exchange)
    me = leaked.get("/api/accounts/me").json()
    with exchange.client() as admin:
        for bad in ({"overlap_s": -1}, {"overlap_s": "soon"}, {"grace": 0}):
            r = admin.post(f"/api/accounts/{me['id']}/rotate-key", json=bad)
            assert r.status_code == 422, r.text
        assert leaked.get("/api/orders").status_code == 200  # a refused rotation changes nothing
        r = admin.post(f"/api/accounts/{me['id']}/rotate-key", json={"overlap_s": 0})
    assert r.status_code == 200, r.text
    gone = leaked.get("/api/orders")
    assert gone.status_code == 401 and gone.json()["error"]["code"] == "KEY_EXPIRED"
    with exchange.client(r.json()["api_key"]) as fresh:
        assert fresh.get("/api/accounts/me").json()["id"] == me["id"]
    # A key from the environment (here BESS_API_KEY's demo-bess) outlives any rotation: asking
    # to cut it off says so instead of claiming it is gone.
    with exchange.client("demo-bess") as bess:
        bess_id = bess.get("/api/accounts/me").json()["id"]
        with exchange.client() as admin:
            r = admin.post(f"/api/accounts/{bess_id}/rotate-key", json={"overlap_s": 0})
        assert r.status_code == 409 and r.json()["error"]["code"] == "KEY_FROM_ENVIRONMENT"
        assert "BESS_API_KEY" in r.json()["error"]["message"]
        assert bess.get("/api/accounts/me").status_code == 200


def test_account_names_must_be_distinct_to_a_person(exchange):
    with exchange.client() as admin:
        assert (
            admin.post("/api/accounts", json={"name": "Dana", "role": "viewer"}).status_code == 201
        )
        # Blank or padded names are invalid; the same name in other case is taken.
        for name, status in ((" ", 422), ("Dana ", 422), (" Dana", 422), ("Dana\t", 422)):
            r = admin.post("/api/accounts", json={"name": name, "role": "viewer"})
            assert r.status_code == status, (name, r.text)
            # Said in a sentence, not as the regular expression it fails.
            assert r.json()["error"]["code"] == "INVALID_NAME", r.text
            assert "inner spaces" in r.json()["error"]["message"]
            assert "^[" not in r.text
        for name in ("dana", "DANA"):
            r = admin.post("/api/accounts", json={"name": name, "role": "viewer"})
            assert r.status_code == 409 and "'Dana'" in r.json()["error"]["message"], r.text
        names = [a["name"] for a in admin.get("/api/accounts").json()]
    assert names.count("Dana") == 1 and not {"dana", "DANA", " ", "Dana "} & set(names)


def test_concurrent_accounts_whose_names_differ_in_case_make_one(exchange):
    from concurrent.futures import ThreadPoolExecutor

    def create(name):
        with exchange.client() as admin:
            return admin.post("/api/accounts", json={"name": name, "role": "viewer"}).status_code

    for round_ in range(5):
        variants = [f"eve{round_}", f"EVE{round_}", f"Eve{round_}", f"eVe{round_}"]
        with ThreadPoolExecutor(len(variants)) as pool:
            codes = sorted(pool.map(create, variants))
        assert codes == [201, 409, 409, 409], codes


def test_account_created_by_the_cli_works_on_a_running_exchange(exchange):
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "phoenyra.cli",
            "accounts",
            "create",
            "cli-made",
            "--role",
            "viewer",
        ],
        env=exchange.env,
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    ).stdout
    key = next(line.split(": ", 1)[1] for line in out.splitlines() if line.startswith("api key"))
    with exchange.client(key) as c:
        assert c.get("/api/accounts/me").json()["name"] == "cli-made"
    listing = subprocess.run(
        [sys.executable, "-m", "phoenyra.cli", "accounts", "list"],
        env=exchange.env,
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    ).stdout
    assert "cli-made" in listing and "operator" in listing


def _cli(exchange, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "phoenyra.cli", *args],
        env=exchange.env,
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=check,
    )


def test_accounts_the_cli_made_count_at_once_for_the_api(exchange):
    """Made by the CLI while the exchange runs, before any of their keys was used: the API
    lists them, refuses their names (in any case) with 409, and rotates their keys."""
    _cli(exchange, "accounts", "create", "Frank-cli", "--role", "trader")
    _cli(exchange, "accounts", "create", "gina-cli", "--role", "viewer")
    with exchange.client() as admin:
        listed = {a["name"]: a for a in admin.get("/api/accounts").json()}
        assert {"Frank-cli", "gina-cli"} <= set(listed)
        for name in ("Frank-cli", "FRANK-CLI", "Gina-Cli"):
            r = admin.post("/api/accounts", json={"name": name, "role": "viewer"})
            assert r.status_code == 409, (name, r.text)
            assert r.json()["error"]["code"] == "CONFLICT"
    _cli(exchange, "accounts", "create", "hank-cli")
    with exchange.client() as admin:
        hank = next(a for a in admin.get("/api/accounts").json() if a["name"] == "hank-cli")
    _cli(exchange, "accounts", "create", "ida-cli")
    with exchange.client() as admin:  # not listed yet when it was made: rotating finds it
        ida = _cli(exchange, "accounts", "list").stdout
        ida_id = int(next(line.split()[0] for line in ida.splitlines() if "ida-cli" in line))
        r = admin.post(f"/api/accounts/{ida_id}/rotate-key", json={"overlap_s": 60})
        assert r.status_code == 200, r.text
        assert admin.post(f"/api/accounts/{hank['id']}/rotate-key", json={}).status_code == 200


def test_the_cli_refuses_to_cut_off_a_key_set_in_the_environment(exchange):
    with exchange.client() as admin:
        operator = admin.get("/api/accounts/me").json()["id"]
    out = _cli(exchange, "accounts", "rotate-key", str(operator), "--overlap-s", "0", check=False)
    assert out.returncode != 0
    assert "API_KEY" in out.stderr and "Traceback" not in out.stderr
    with exchange.client() as admin:
        assert admin.get("/api/accounts/me").status_code == 200


def test_demo_secrets_refuse_to_start_outside_development(tmp_path):
    proc = ExchangeProcess(
        tmp_path, PHOENYRA_ENV="production", API_KEY="demo", HMAC_SECRET="dev-hmac-secret"
    )
    result = proc.run_refused()
    assert result.returncode != 0
    assert "demo" in result.stderr and "PHOENYRA_ENV=development" in result.stderr


def test_production_mode_starts_with_real_secrets(tmp_path):
    proc = ExchangeProcess(
        tmp_path,
        PHOENYRA_ENV="production",
        API_KEY="k" * 32,
        HMAC_SECRET="s" * 32,
        BESS_API_KEY="b" * 32,
    ).start()
    try:
        with proc.client("demo") as c:
            assert c.get("/api/orders").status_code == 401  # the demo key means nothing here
        with proc.client("k" * 32) as c:
            assert c.get("/api/accounts/me").json()["role"] == "admin"
    finally:
        proc.stop()


def test_the_telemetry_services_account_of_an_older_database_is_unlinked(tmp_path):
    # Before telemetry keys were bound to their battery, the service's account was linked to
    # the default battery; left so, it could no longer report the fleet's other batteries.
    ExchangeProcess(tmp_path).start().stop()
    store = Store(f"sqlite:///{tmp_path / 'exchange.db'}")
    account = next(a for a in store.load_accounts() if a["name"] == "bess-telemetry")
    store.set_account_battery(account["id"], "default")
    store.close()
    proc = ExchangeProcess(tmp_path).start()
    try:
        with proc.client("demo-bess") as bess:
            assert bess.get("/api/accounts/me").json()["battery_id"] is None
    finally:
        proc.stop()
