"""Day-ahead prices in the exchange: ingest (feed role), the price store, Mark / EMA / VWAP."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest

from phoenyra.core.indicators import ema
from support import ExchangeProcess, new_trader

QH = 900
NAN = float("nan")
FEED_KEY = "demo-feed"  # the development default of FEED_API_KEY


def iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).isoformat().replace("+00:00", "Z")


def ts(value: str) -> int:
    return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())


def quarter_hours(first: int, prices: list[float]) -> list[dict]:
    return [
        {
            "start": iso(first + i * QH),
            "end": iso(first + (i + 1) * QH),
            "resolution": "PT15M",
            "price": p,
        }
        for i, p in enumerate(prices)
    ]


def push(exchange, market, intervals, key=FEED_KEY, source="entsoe", simulated=False):
    with exchange.client(key) as c:
        return c.post(
            "/api/market/prices",
            json={
                "market": market,
                "source": source,
                "simulated": simulated,
                "intervals": intervals,
            },
        )


def stored(exchange, market, start, end) -> list[dict]:
    with exchange.client() as c:
        r = c.get("/market/prices", params={"market": market, "start": start, "end": end})
        assert r.status_code == 200, r.text
        return r.json()


DAY = "2025-06-01T00:00:00Z"
NEXT = "2025-06-02T00:00:00Z"


def test_prices_are_stored_and_served_by_market_and_range(exchange):
    first = ts(DAY)
    r = push(exchange, "epex_de", quarter_hours(first, [10.0 + i for i in range(96)]))
    assert r.status_code == 200, r.text
    assert r.json() == {
        "market": "epex_de",
        "received": 96,
        "inserted": 96,
        "updated": 0,
        "unchanged": 0,
    }
    rows = stored(exchange, "epex_de", DAY, NEXT)
    assert len(rows) == 96
    assert (ts(rows[0]["start"]), ts(rows[0]["end"])) == (ts(DAY), ts(DAY) + QH)
    assert (rows[0]["resolution"], rows[0]["price"], rows[0]["source"]) == (
        "PT15M",
        10.0,
        "entsoe",
    )
    assert rows[-1]["price"] == 105.0
    with exchange.client() as c:  # the names for the range: from / to
        same = c.get("/market/prices", params={"market": "epex_de", "from": DAY, "to": NEXT})
    assert same.json() == rows
    # Another market's store is separate.
    assert stored(exchange, "epex_ch", DAY, NEXT) == []


def test_refetching_a_day_never_duplicates_and_a_corrected_price_replaces_the_old(exchange):
    first = ts("2025-06-03T00:00:00Z")
    prices = [50.0] * 8
    assert push(exchange, "epex_ch", quarter_hours(first, prices)).json()["inserted"] == 8
    again = push(exchange, "epex_ch", quarter_hours(first, prices)).json()
    assert (again["inserted"], again["updated"], again["unchanged"]) == (0, 0, 8)
    prices[3] = 47.25
    fixed = push(exchange, "epex_ch", quarter_hours(first, prices), source="awattar").json()
    assert (fixed["inserted"], fixed["updated"]) == (0, 8)  # new source on every row
    rows = stored(exchange, "epex_ch", iso(first), iso(first + 8 * QH))
    assert len(rows) == 8
    assert rows[3]["price"] == 47.25
    assert {r["source"] for r in rows} == {"awattar"}


def test_hourly_and_quarter_hourly_prices_of_the_same_time_are_kept_apart(exchange):
    first = ts("2025-06-05T00:00:00Z")
    hourly = [{"start": iso(first), "end": iso(first + 3600), "resolution": "PT60M", "price": 40.0}]
    assert push(exchange, "epex_it", hourly).status_code == 200
    assert push(exchange, "epex_it", quarter_hours(first, [41, 42, 43, 44])).status_code == 200
    with exchange.client() as c:
        r = c.get(
            "/market/prices",
            params={
                "market": "epex_it",
                "start": iso(first),
                "end": iso(first + 3600),
                "resolution": "PT60M",
            },
        )
    assert [(p["resolution"], p["price"]) for p in r.json()] == [("PT60M", 40.0)]
    assert len(stored(exchange, "epex_it", iso(first), iso(first + 3600))) == 5


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"end": "2025-06-07T00:30:00Z"}, "end − start"),
        ({"start": "2025-06-07T00:05:00Z", "end": "2025-06-07T00:20:00Z"}, "boundary"),
        ({"price": 4000.01}, "outside"),
        ({"price": -500.5}, "outside"),
        ({"resolution": "PT5M"}, ""),
        ({"start": "2025-06-07T00:00:00"}, ""),  # no time zone
        # Epoch seconds (number or text) are refused, not read with a guessed unit.
        ({"start": 1749254400, "end": 1749255300}, "not epoch seconds"),
        ({"end": "1749255300"}, "not epoch seconds"),
        ({"price": "cheap"}, ""),
    ],
)
def test_a_bad_interval_is_refused_and_nothing_of_the_request_is_stored(exchange, change, message):
    first = ts("2025-06-07T00:00:00Z")
    intervals = quarter_hours(first, [30.0, 31.0, 32.0])
    intervals[0] = {**intervals[0], **change}
    r = push(exchange, "epex_at", intervals)
    assert r.status_code == 422, r.text
    assert message in r.json()["error"]["message"]
    assert stored(exchange, "epex_at", iso(first), iso(first + 3 * QH)) == []


def test_nan_and_duplicate_periods_and_unknown_markets_are_refused(exchange):
    first = ts("2025-06-08T00:00:00Z")
    body = quarter_hours(first, [1.0, 2.0])
    with exchange.client(FEED_KEY) as c:
        # JSON has no NaN, but Python's encoder writes it: a client may send it.
        raw = json.dumps(
            {"market": "epex_at", "source": "entsoe", "intervals": [{**body[0], "price": NAN}]}
        )
        r = c.post("/api/market/prices", content=raw, headers={"Content-Type": "application/json"})
        assert r.status_code == 422
    dup = push(exchange, "epex_at", [body[0], body[1], body[0]])
    assert dup.status_code == 422
    assert "twice" in dup.json()["error"]["message"]
    unknown = push(exchange, "epex_fr", body)
    assert unknown.status_code == 422
    assert unknown.json()["error"]["code"] == "UNKNOWN_MARKET"
    assert stored(exchange, "epex_at", iso(first), iso(first + 2 * QH)) == []


def test_only_the_feed_role_or_an_admin_may_push_prices(exchange):
    trader = new_trader(exchange)
    body = {
        "market": "epex_at",
        "source": "entsoe",
        "intervals": quarter_hours(ts("2025-06-09T00:00:00Z"), [1.0]),
    }
    with trader:
        assert trader.post("/api/market/prices", json=body).status_code == 403
    with exchange.client("not-a-key") as c:
        assert c.post("/api/market/prices", json=body).status_code == 401
    with exchange.client() as admin:  # the operator (admin) may correct prices by hand
        assert admin.post("/api/market/prices", json=body).status_code == 200


def test_market_data_shows_mark_and_ema_of_the_current_period(exchange):
    now = time.time()
    qh0 = int(now // QH) * QH
    first = qh0 - 4 * QH
    prices = [60.0, 80.0, 70.0, 90.0, 100.0, 120.0, 110.0, 95.0]
    assert (
        push(
            exchange, "epex_at", quarter_hours(first, prices), source="synthetic", simulated=True
        ).status_code
        == 200
    )
    with exchange.client() as c:
        data = c.get("/api/market-data", params={"market": "epex_at"}).json()
    i = (ts(data["mark_start"]) - first) // QH  # robust to crossing a quarter-hour meanwhile
    assert data["mark"] == prices[i]
    assert data["ema"] == pytest.approx(ema(prices[: i + 1]), abs=1e-6)
    assert ts(data["mark_end"]) - ts(data["mark_start"]) == QH
    assert data["unit"] == "EUR/MWh"
    assert (data["source"], data["simulated"], data["stale"]) == ("synthetic", True, False)
    assert (data["stale_code"], data["stale_reason"]) == (None, None)
    assert data["mark_source"] == "dayahead"
    assert abs(ts(data["updated_at"]) - now) < 30


def test_market_data_without_prices_is_stale_and_says_why(exchange):
    with exchange.client() as c:
        data = c.get("/api/market-data", params={"market": "epex_de"}).json()
    # epex_de has prices only for a past day: nothing covers now.
    assert data["mark"] is None and data["stale"] is True
    assert "current period" in data["stale_reason"]
    assert data["stale_code"] == "NO_PRICE_NOW" and data["stale_age_s"] is None
    with exchange.client() as c:
        assert c.get("/api/market-data", params={"market": "epex_xx"}).status_code == 404


def test_vwap_is_computed_from_the_exchanges_own_trades(exchange):
    seller, buyer = new_trader(exchange), new_trader(exchange)
    with seller, buyer:
        for price, qty in ((100.0, 1.0), (40.0, 3.0)):
            r = seller.post(
                "/api/orders",
                json={"market": "epex_it", "side": "SELL", "quantity": qty, "price": price},
            )
            assert r.status_code == 201
            r = buyer.post(
                "/api/orders",
                json={"market": "epex_it", "side": "BUY", "quantity": qty, "price": price},
            )
            assert r.json()["status"] == "FILLED"
        data = buyer.get("/api/market-data", params={"market": "epex_it"}).json()
        series = buyer.get("/api/market/vwap", params={"market": "epex_it"}).json()
    assert data["vwap"] == pytest.approx(55.0)  # (100·1 + 40·3) / 4
    assert data["vwap_volume_mwh"] == pytest.approx(4.0)
    assert sum(p["volume_mwh"] for p in series) == pytest.approx(4.0)
    assert all(ts(p["end"]) - ts(p["start"]) == QH for p in series)


def test_market_metrics_are_exposed(exchange):
    with exchange.client() as c:
        text = c.get("/metrics").text
    assert 'phoenyra_market_price_eur_mwh{kind="mark",market="epex_at"}' in text
    assert 'phoenyra_market_price_eur_mwh{kind="vwap",market="epex_it"} 55.0' in text
    assert 'phoenyra_market_data_stale{market="epex_de"} 1.0' in text
    assert "phoenyra_market_data_updated_timestamp_seconds{" in text


def test_prices_and_indicators_survive_a_restart(tmp_path, database_url):
    ex = ExchangeProcess(tmp_path / "ex", database_url).start()
    try:
        qh0 = int(time.time() // QH) * QH
        prices = [20.0, 30.0, 40.0, 50.0]
        assert push(ex, "epex_at", quarter_hours(qh0 - QH, prices)).status_code == 200
        with ex.client() as c:
            before = c.get("/api/market-data").json()  # default market: epex_at
    finally:
        ex.stop()
    ex = ExchangeProcess(tmp_path / "ex", database_url).start()
    try:
        with ex.client() as c:
            after = c.get("/api/market-data").json()
        assert len(stored(ex, "epex_at", iso(qh0 - QH), iso(qh0 + 3 * QH))) == 4
    finally:
        ex.stop()
    if after["mark_start"] == before["mark_start"]:
        assert (after["mark"], after["ema"]) == (before["mark"], before["ema"])
    assert after["source"] == "entsoe" and after["stale"] is False


def test_new_prices_are_announced_on_the_live_stream(exchange):
    import asyncio

    from support import signed_url, ws_events

    qh0 = int(time.time() // QH) * QH
    prices = [11.0, 12.0, 13.0, 14.0]

    def send():
        assert push(exchange, "epex_ch", quarter_hours(qh0 - QH, prices)).status_code == 200

    events = asyncio.run(
        ws_events(signed_url(exchange), 2, send, types={"market.prices", "market"})
    )
    by_type = {e["type"]: e["data"] for e in events}
    assert by_type["market.prices"]["market"] == "epex_ch"
    assert by_type["market.prices"]["inserted"] == 4
    assert by_type["market"]["market"] == "epex_ch"
    assert by_type["market"]["mark"] in prices


def test_stale_market_data_says_why_in_a_code_with_its_figures(tmp_path):
    """For clients that word it in their own language: no feed at all, or one that stopped."""
    exchange = ExchangeProcess(tmp_path, PHOENYRA_MARKET_STALE_S="1").start()
    try:
        with exchange.client() as c:
            never = c.get("/api/market-data", params={"market": "epex_it"}).json()
        assert (never["stale"], never["stale_code"]) == (True, "NO_FEED")
        assert never["stale_limit_s"] == 1 and never["stale_age_s"] is None
        now = int(time.time()) // QH * QH
        assert push(exchange, "epex_it", quarter_hours(now - QH, [50.0] * 8)).status_code == 200
        with exchange.client() as c:
            fresh = c.get("/api/market-data", params={"market": "epex_it"}).json()
            assert (fresh["stale"], fresh["stale_code"]) == (False, None)
            time.sleep(2.2)
            stopped = c.get("/api/market-data", params={"market": "epex_it"}).json()
        assert (stopped["stale"], stopped["stale_code"]) == (True, "FEED_STALE")
        assert stopped["stale_age_s"] >= 2 and stopped["mark"] == 50.0
        assert f"{stopped['stale_age_s']} s ago" in stopped["stale_reason"]
    finally:
        exchange.stop()


def test_an_empty_price_push_is_refused_and_leaves_the_data_as_it_was(exchange):
    with exchange.client() as c:
        before = c.get("/api/market-data", params={"market": "epex_ch"}).json()
    r = push(exchange, "epex_ch", [], source="awattar")
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "VALIDATION_ERROR"
    with exchange.client() as c:
        after = c.get("/api/market-data", params={"market": "epex_ch"}).json()
    assert (after["source"], after["updated_at"]) == (before["source"], before["updated_at"])
