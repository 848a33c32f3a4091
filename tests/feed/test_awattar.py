"""The aWattar source against a real local HTTP server playing recorded and hand-made answers."""

from __future__ import annotations

import asyncio
import csv
import json
from datetime import UTC, datetime
from itertools import pairwise

import pytest

from phoenyra.config import Settings
from phoenyra.feed.model import (
    BadRequestError,
    MalformedResponseError,
    NoDataError,
    UpstreamError,
)
from phoenyra.feed.sources import make_source, source_class
from recorded_http import Reply, fixture_bytes
from support import SHARED_DATA

DATA = SHARED_DATA
REAL = "awattar_de_2024-06-14_to_2024-06-16.json"
PT15M = "awattar_de_pt15m_2023-10-29_handmade.json"
EMPTY = "awattar_at_empty_handmade.json"

# The range the real recording covers: 2024-06-14 00:00 to 2024-06-17 00:00 Europe/Berlin.
REAL_START = 1718316000  # 2024-06-13T22:00Z
REAL_END = 1718575200  # 2024-06-16T22:00Z


def ts(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp())


def make(server, **options):
    options = {"min_interval": 0.01, "backoff": 0.01, "attempts": 3, **options}
    return source_class("awattar").from_settings(Settings(awattar_base_url=server.url), **options)


def fetch(server, zone: str, start: int, end: int, **options):
    async def go():
        source = make(server, **options)
        try:
            return await source.fetch(zone, start, end)
        finally:
            await source.aclose()

    return asyncio.run(go())


def serve(server, *replies: Reply) -> None:
    server.routes["/v1/marketdata"] = list(replies)


def json_reply(body: bytes | str, status: int = 200) -> Reply:
    return Reply(status, body=body, content_type="application/json")


def csv_prices(name: str) -> dict[int, float]:
    # Read independently of our CSV source, so the two sources are checked against the data
    # rather than against each other.
    with (DATA / name).open(newline="") as f:
        return {ts(r["timestamp_utc"]): float(r["price_eur_mwh"]) for r in csv.DictReader(f)}


def real_points() -> list[dict]:
    return json.loads(fixture_bytes("awattar", REAL))["data"]


def test_real_recording_parses_completely(recorded_server):
    serve(recorded_server, json_reply(fixture_bytes("awattar", REAL)))
    got = fetch(recorded_server, "DE-LU", REAL_START, REAL_END)

    assert len(got) == 72
    assert got[0].start == REAL_START
    assert datetime.fromtimestamp(got[0].start, UTC).isoformat() == "2024-06-13T22:00:00+00:00"
    assert got[-1].start == ts("2024-06-16T21:00:00+00:00")
    assert got[-1].end == REAL_END
    assert [iv.price for iv in got[:3]] == [83.13, 71.45, 63.93]
    assert got[-1].price == 94.44
    assert min(iv.price for iv in got) == -80.01
    assert {iv.resolution for iv in got} == {"PT60M"}
    assert {iv.source for iv in got} == {"awattar"}
    assert all(iv.end - iv.start == 3600 for iv in got)
    assert [(iv.start * 1000, iv.price) for iv in got] == [
        (p["start_timestamp"], p["marketprice"]) for p in real_points()
    ]


def test_real_recording_equals_the_smard_csv(recorded_server):
    serve(recorded_server, json_reply(fixture_bytes("awattar", REAL)))
    got = fetch(recorded_server, "DE-LU", REAL_START, REAL_END)
    smard = csv_prices("de_lu_2024_h.csv")
    assert [iv.price for iv in got] == [smard[iv.start] for iv in got]


def test_query_parameters_are_epoch_milliseconds(recorded_server):
    serve(recorded_server, json_reply(fixture_bytes("awattar", REAL)))
    fetch(recorded_server, "AT", REAL_START, REAL_END)
    (seen,) = recorded_server.seen
    assert seen.path == "/v1/marketdata"
    assert seen.query == {"start": "1718316000000", "end": "1718575200000"}


def test_only_intervals_wholly_inside_the_range_are_returned(recorded_server):
    # aWattar answers with more than was asked; the source trims to [start, end).
    serve(recorded_server, json_reply(fixture_bytes("awattar", REAL)))
    start = ts("2024-06-15T10:00:00+00:00")
    got = fetch(recorded_server, "DE-LU", start, start + 6 * 3600)
    assert [iv.start for iv in got] == [start + h * 3600 for h in range(6)]
    # Hours cut by either end of the range are not returned.
    got = fetch(recorded_server, "DE-LU", start + 60, start + 6 * 3600 - 60)
    assert [iv.start for iv in got] == [start + h * 3600 for h in range(1, 5)]


def test_fifteen_minute_answer_on_the_fall_back_day(recorded_server):
    serve(recorded_server, json_reply(fixture_bytes("awattar", PT15M)))
    start, end = ts("2023-10-28T22:00:00+00:00"), ts("2023-10-29T23:00:00+00:00")
    got = fetch(recorded_server, "DE-LU", start, end)

    assert len(got) == 100  # a 25-hour local day
    assert {iv.resolution for iv in got} == {"PT15M"}
    assert all(iv.end - iv.start == 900 for iv in got)
    assert [b.start - a.start for a, b in pairwise(got)] == [900] * 99
    exaa = csv_prices("de_lu_2023_15min_exaa.csv")
    assert [iv.price for iv in got] == [exaa[iv.start] for iv in got]


def test_unsorted_answer_is_sorted(recorded_server):
    doc = json.loads(fixture_bytes("awattar", REAL))
    doc["data"].reverse()
    serve(recorded_server, json_reply(json.dumps(doc)))
    got = fetch(recorded_server, "DE-LU", REAL_START, REAL_END)
    assert [iv.start for iv in got] == sorted(iv.start for iv in got)
    assert got[0].price == 83.13


def test_empty_answer_is_no_data(recorded_server):
    serve(recorded_server, json_reply(fixture_bytes("awattar", EMPTY)))
    with pytest.raises(NoDataError):
        fetch(recorded_server, "AT", REAL_START, REAL_END)


def test_answer_outside_the_range_is_no_data(recorded_server):
    serve(recorded_server, json_reply(fixture_bytes("awattar", REAL)))
    start = ts("2024-07-01T00:00:00+00:00")
    with pytest.raises(NoDataError):
        fetch(recorded_server, "DE-LU", start, start + 86400)


def test_truncated_json_is_malformed(recorded_server):
    serve(recorded_server, json_reply(fixture_bytes("awattar", REAL)[:500]))
    with pytest.raises(MalformedResponseError, match="awattar"):
        fetch(recorded_server, "DE-LU", REAL_START, REAL_END)


def test_html_error_page_is_malformed(recorded_server):
    serve(recorded_server, Reply(200, body="<html>maintenance</html>", content_type="text/html"))
    with pytest.raises(MalformedResponseError):
        fetch(recorded_server, "DE-LU", REAL_START, REAL_END)


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda p: p.pop("marketprice"), "data.3.marketprice"),
        (lambda p: p.pop("end_timestamp"), "data.3.end_timestamp"),
        (lambda p: p.update(start_timestamp="1718326800000"), "data.3.start_timestamp"),
        (lambda p: p.update(marketprice="n/a"), "data.3.marketprice"),
    ],
    ids=["no-price", "no-end", "string-start", "text-price"],
)
def test_missing_or_mistyped_field_is_malformed(recorded_server, change, where):
    doc = json.loads(fixture_bytes("awattar", REAL))
    change(doc["data"][3])
    serve(recorded_server, json_reply(json.dumps(doc)))
    with pytest.raises(MalformedResponseError, match=where.replace(".", r"\.")):
        fetch(recorded_server, "DE-LU", REAL_START, REAL_END)


def test_missing_data_list_is_malformed(recorded_server):
    serve(recorded_server, json_reply('{"object": "error", "message": "nope"}'))
    with pytest.raises(MalformedResponseError, match="data"):
        fetch(recorded_server, "DE-LU", REAL_START, REAL_END)


def test_odd_period_length_is_malformed(recorded_server):
    doc = json.loads(fixture_bytes("awattar", REAL))
    doc["data"][0]["end_timestamp"] += 1_200_000  # 80 minutes
    serve(recorded_server, json_reply(json.dumps(doc)))
    with pytest.raises(MalformedResponseError, match="4800 s"):
        fetch(recorded_server, "DE-LU", REAL_START, REAL_END)


def test_unit_is_case_insensitive(recorded_server):
    doc = json.loads(fixture_bytes("awattar", REAL))
    for p in doc["data"]:
        p["unit"] = "EUR/MWH"
    serve(recorded_server, json_reply(json.dumps(doc)))
    got = fetch(recorded_server, "DE-LU", REAL_START, REAL_END)
    assert got[0].price == 83.13


def test_eur_per_kwh_is_converted(recorded_server):
    doc = json.loads(fixture_bytes("awattar", REAL))
    for p in doc["data"]:
        p["marketprice"] = p["marketprice"] / 1000
        p["unit"] = "Eur/kWh"
    serve(recorded_server, json_reply(json.dumps(doc)))
    got = fetch(recorded_server, "DE-LU", REAL_START, REAL_END)
    assert [iv.price for iv in got] == [p["marketprice"] for p in real_points()]


def test_unknown_unit_is_refused(recorded_server):
    doc = json.loads(fixture_bytes("awattar", REAL))
    doc["data"][5]["unit"] = "USD/MWh"
    serve(recorded_server, json_reply(json.dumps(doc)))
    with pytest.raises(MalformedResponseError, match=r"data\[5\].*USD/MWh"):
        fetch(recorded_server, "DE-LU", REAL_START, REAL_END)


def test_server_error_then_success_is_retried(recorded_server):
    serve(
        recorded_server,
        Reply(500, body="upstream down", content_type="text/plain"),
        json_reply(fixture_bytes("awattar", REAL)),
    )
    got = fetch(recorded_server, "DE-LU", REAL_START, REAL_END)
    assert len(got) == 72
    assert len(recorded_server.seen) == 2
    assert recorded_server.seen[0].query == recorded_server.seen[1].query


def test_persistent_server_error_is_upstream(recorded_server):
    serve(recorded_server, Reply(503, body="down", content_type="text/plain"))
    with pytest.raises(UpstreamError):
        fetch(recorded_server, "DE-LU", REAL_START, REAL_END, attempts=2)
    assert len(recorded_server.seen) == 2


@pytest.mark.parametrize("zone", ["CH", "IT-North", "FR"])
def test_zones_awattar_does_not_serve_are_refused_without_a_request(recorded_server, zone):
    serve(recorded_server, json_reply(fixture_bytes("awattar", REAL)))
    with pytest.raises(BadRequestError, match=f"zone '{zone}'.*AT and DE-LU"):
        fetch(recorded_server, zone, REAL_START, REAL_END)
    assert recorded_server.seen == []


def test_empty_range_is_refused_without_a_request(recorded_server):
    with pytest.raises(BadRequestError, match="empty range"):
        fetch(recorded_server, "AT", REAL_END, REAL_START)
    assert recorded_server.seen == []


def test_default_base_urls_and_politeness():
    source = make_source("awattar", Settings())
    try:
        assert source.url_for("AT") == "https://api.awattar.at/v1/marketdata"
        assert source.url_for("DE-LU") == "https://api.awattar.de/v1/marketdata"
        assert source.client.min_interval == 1.0
        assert source.name == "awattar" and source.simulated is False
    finally:
        asyncio.run(source.aclose())
