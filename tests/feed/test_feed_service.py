"""The market feed service: prices flow from a (local) provider through the feed into the
exchange; failures keep the last good series, are logged once per streak and show as stale."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import time
from datetime import UTC, datetime

import httpx
import pytest

from phoenyra.feed.app import create_app
from phoenyra.feed.runner import FeedRunner, local_days
from phoenyra.feed.sources.awattar import AwattarSource
from recorded_http import RecordedServer, Reply
from support import ROOT

FEED_KEY = "demo-feed"


def hour_price(start_s: int) -> float:
    """A recognisable price per hour: 100 + the UTC hour, 0.5 on odd days."""
    dt = datetime.fromtimestamp(start_s, tz=UTC)
    return 100.0 + dt.hour + (0.5 if dt.day % 2 else 0.0)


def awattar_route(gap_at: int | None = None):
    """Answers any aWattar request with hourly products in the published JSON format."""

    def route(seen) -> Reply:
        start = int(seen.query["start"]) // 1000
        end = int(seen.query["end"]) // 1000
        data = [
            {
                "start_timestamp": t * 1000,
                "end_timestamp": (t + 3600) * 1000,
                "marketprice": hour_price(t),
                "unit": "Eur/MWh",
            }
            for t in range(start - start % 3600, end, 3600)
            if t != gap_at
        ]
        body = {"object": "list", "data": data, "url": "/at/v1/marketdata"}
        return Reply(200, json.dumps(body), content_type="application/json")

    return route


def market_data(exchange, market="epex_at") -> dict:
    with exchange.client() as c:
        return c.get("/api/market-data", params={"market": market}).json()


def stored_count(exchange, market, start, end) -> int:
    with exchange.client() as c:
        r = c.get(
            "/market/prices",
            params={
                "market": market,
                "start": datetime.fromtimestamp(start, UTC).isoformat(),
                "end": datetime.fromtimestamp(end, UTC).isoformat(),
            },
        )
        return len(r.json())


def feed_env(exchange, server, **extra) -> dict:
    return {
        **os.environ,
        "PHOENYRA_ENV": "development",
        "EXCHANGE_URL": exchange.base_url,
        "AWATTAR_BASE_URL": server.url,
        "MARKET_SOURCE": "awattar",
        "MARKET": "epex_at",
        **extra,
    }


def test_market_feed_once_pushes_today_and_tomorrow_into_the_exchange(exchange, recorded_server):
    recorded_server.routes["/v1/marketdata"] = awattar_route()
    done = subprocess.run(
        [sys.executable, "-m", "phoenyra.cli", "market-feed", "--once"],
        env=feed_env(exchange, recorded_server),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    # It asked for today and tomorrow in local delivery time.
    start, end = local_days(time.time())
    (seen,) = recorded_server.seen
    assert (int(seen.query["start"]), int(seen.query["end"])) == (start * 1000, end * 1000)
    hours = (end - start) // 3600  # 47, 48 or 49 with a DST change
    assert stored_count(exchange, "epex_at", start, end) == hours
    data = market_data(exchange)
    now_hour = int(time.time() // 3600) * 3600
    assert data["mark"] == hour_price(now_hour) or data["mark"] == hour_price(now_hour + 3600)
    assert (data["source"], data["simulated"], data["stale"]) == ("awattar", False, False)


def _runner(exchange, server, **kw) -> FeedRunner:
    source = AwattarSource(base_url=server.url, min_interval=0.0, attempts=2, backoff=0.01)
    return FeedRunner(
        source,
        market=kw.pop("market", "epex_de"),
        zone="DE-LU",
        exchange_url=exchange.base_url,
        api_key=FEED_KEY,
        interval=kw.pop("interval", 300.0),
    )


def test_a_failing_source_keeps_the_last_good_series_and_logs_once_per_streak(exchange, caplog):
    server = RecordedServer().start()
    try:
        server.routes["/v1/marketdata"] = awattar_route()
        runner = _runner(exchange, server)

        async def scenario():
            try:
                assert await runner.run_once()
                good = list(runner.last_good)
                success_at = runner.last_success_at
                server.routes["/v1/marketdata"] = [Reply(503, "maintenance")]
                with caplog.at_level(logging.WARNING, logger="phoenyra.feed"):
                    for _ in range(3):
                        assert not await runner.run_once()
                warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
                assert len(warnings) == 1, [r.getMessage() for r in warnings]
                assert "503" in warnings[0].getMessage()
                assert runner.last_good == good  # kept
                assert runner.last_success_at == success_at
                assert runner.failures == 3 and runner.last_error.reason == "upstream"
                server.routes["/v1/marketdata"] = awattar_route()
                with caplog.at_level(logging.INFO, logger="phoenyra.feed"):
                    assert await runner.run_once()
                assert any("recovered after 3" in r.getMessage() for r in caplog.records)
                assert runner.failures == 0
                metrics = (await _get(runner, "/metrics")).text
                assert (
                    'phoenyra_feed_fetch_errors_total{market="epex_de",reason="upstream",'
                    'source="awattar"} 3.0' in metrics
                )
            finally:
                await runner.aclose()

        asyncio.run(scenario())
    finally:
        server.stop()
    assert market_data(exchange, "epex_de")["source"] == "awattar"


def test_a_series_with_a_gap_is_never_pushed(exchange):
    server = RecordedServer().start()
    start, end = local_days(time.time())
    try:
        server.routes["/v1/marketdata"] = awattar_route(gap_at=start + 5 * 3600)
        runner = _runner(exchange, server, market="epex_de")
        before = stored_count(exchange, "epex_de", start, end)

        async def once():
            try:
                return await runner.run_once()
            finally:
                await runner.aclose()

        assert asyncio.run(once()) is False
        assert runner.last_error.reason == "malformed"
        assert "incomplete" in runner.last_error.message
    finally:
        server.stop()
    assert stored_count(exchange, "epex_de", start, end) == before


def test_an_unreachable_exchange_is_a_failure_and_the_series_is_pushed_later(recorded_server):
    recorded_server.routes["/v1/marketdata"] = awattar_route()

    class Down:
        base_url = "http://127.0.0.1:9"  # discard port: nothing listens

    runner = _runner(Down, recorded_server)

    async def once():
        try:
            ok = await runner.run_once()
            return ok, runner.unpushed, runner.last_error
        finally:
            await runner.aclose()

    ok, unpushed, error = asyncio.run(once())
    assert ok is False and unpushed is True
    assert error.reason == "push_failed"
    assert "is it running" in error.message


async def _get(runner: FeedRunner, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=create_app(runner))
    async with httpx.AsyncClient(transport=transport, base_url="http://feed") as c:
        return await c.get(path)


def test_feed_readiness_reports_staleness(recorded_server, exchange):
    recorded_server.routes["/v1/marketdata"] = awattar_route()
    runner = _runner(exchange, recorded_server, interval=0.2)

    async def scenario():
        try:
            r = await _get(runner, "/readyz")
            assert r.status_code == 503 and r.json()["stale"] is True
            assert await runner.run_once()
            r = await _get(runner, "/readyz")
            assert r.status_code == 200, r.text
            assert r.json()["periods"] >= 46
            await asyncio.sleep(0.7)  # more than 3 intervals without success
            r = await _get(runner, "/readyz")
            assert r.status_code == 503
            assert "phoenyra_feed_stale" in (await _get(runner, "/metrics")).text
            assert (await _get(runner, "/healthz")).status_code == 200
        finally:
            await runner.aclose()

    asyncio.run(scenario())


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_prices_fetch_prints_the_series(recorded_server, fmt):
    recorded_server.routes["/v1/marketdata"] = awattar_route()
    done = subprocess.run(
        [sys.executable, "-m", "phoenyra.cli", "prices", "fetch", "--source", "awattar",
         "--zone", "AT", "--start", "2025-06-01T00:00:00Z", "--end", "2025-06-01T03:00:00Z",
         "--format", fmt],
        env={**os.environ, "AWATTAR_BASE_URL": recorded_server.url},
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    if fmt == "json":
        series = json.loads(done.stdout)
        assert series[0] == {
            "start": "2025-06-01T00:00:00Z",
            "end": "2025-06-01T01:00:00Z",
            "resolution": "PT60M",
            "price": 100.5,
            "source": "awattar",
        }
        assert len(series) == 3
    else:
        lines = done.stdout.strip().splitlines()
        assert lines[0] == "start,end,resolution,price,source"
        assert lines[3] == "2025-06-01T02:00:00Z,2025-06-01T03:00:00Z,PT60M,102.5,awattar"


def test_prices_fetch_fails_with_a_one_line_reason(recorded_server):
    recorded_server.routes["/v1/marketdata"] = [Reply(401, "bad token")]
    done = subprocess.run(
        [sys.executable, "-m", "phoenyra.cli", "prices", "fetch", "--source", "awattar",
         "--zone", "AT", "--start", "2025-06-01", "--end", "2025-06-02"],
        env={**os.environ, "AWATTAR_BASE_URL": recorded_server.url},
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.strip().count("\n") == 0
    assert done.stderr.startswith("error: unauthorized:")


def test_prices_fetch_from_entsoe_without_a_token_says_so_in_one_line():
    env = {k: v for k, v in os.environ.items() if k != "ENTSO_E_TOKEN"}
    done = subprocess.run(
        [sys.executable, "-W", "ignore", "-m", "phoenyra.cli", "prices", "fetch", "--source",
         "entsoe", "--zone", "AT", "--start", "2025-06-01", "--end", "2025-06-02"],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().count("\n") == 0
    assert "ENTSO_E_TOKEN" in done.stderr


def test_prices_import_loads_a_csv_file_into_the_exchange(exchange, tmp_path):
    # Two days of the real AT 2024 hourly series (tests/fixtures/prices/README.md).
    lines = (ROOT / "tests/fixtures/prices/at_2024_h_first_2_days.csv").read_text().splitlines()
    assert len(lines) == 49
    path = tmp_path / "at.csv"
    path.write_text("\n".join(lines) + "\n")
    cmd = [sys.executable, "-m", "phoenyra.cli", "prices", "import", str(path), "--market",
           "epex_it"]  # fmt: skip
    env = {**os.environ, "PHOENYRA_ENV": "development", "EXCHANGE_URL": exchange.base_url}
    done = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "48 periods: 48 new" in done.stderr
    again = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert "0 new, 0 corrected, 48 unchanged" in again.stderr
    first = lines[1].split(",")
    with exchange.client() as c:
        rows = c.get(
            "/market/prices",
            params={"market": "epex_it", "start": first[0], "end": "2024-01-02T23:00:00Z"},
        ).json()
    assert len(rows) == 48
    assert rows[0]["price"] == float(first[1]) and rows[0]["source"] == "csv"


def test_prices_fetch_from_entsoe_serves_the_recorded_day(recorded_server):
    body = (
        ROOT / "tests" / "fixtures" / "entsoe" / "entsoe_a44_ch_2025-11-26_pt60m.xml"
    ).read_bytes()
    recorded_server.routes["/api"] = [Reply(200, body)]
    done = subprocess.run(
        [sys.executable, "-m", "phoenyra.cli", "prices", "fetch", "--source", "entsoe",
         "--zone", "CH", "--start", "2025-11-25T23:00:00Z", "--end", "2025-11-26T23:00:00Z"],
        env={**os.environ, "ENTSO_E_TOKEN": "test-token",
             "ENTSO_E_BASE_URL": f"{recorded_server.url}/api"},
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    series = json.loads(done.stdout)
    assert len(series) == 24
    assert {p["resolution"] for p in series} == {"PT60M"}
    assert series[0]["start"] == "2025-11-25T23:00:00Z" and series[0]["source"] == "entsoe"
    (seen,) = recorded_server.seen
    assert seen.query["securityToken"] == "test-token"
    assert seen.query["in_Domain"] == "10YCH-SWISSGRIDZ"
