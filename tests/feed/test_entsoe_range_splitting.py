"""A range longer than one A44 query may cover (a year) is split into several requests, spaced
by the polite client, and the answers are merged, sorted and de-duplicated."""

from __future__ import annotations

import asyncio
from datetime import datetime
from itertools import pairwise

import pytest

from entsoe_helpers import fetch, ts, xml
from phoenyra.config import Settings
from phoenyra.feed.model import NoDataError
from phoenyra.feed.sources import source_class

CH = "entsoe_a44_ch_2025-11-26_pt60m.xml"
ACK = "entsoe_ack_no_data_nl_2023-02-20.xml"
DAY = 86_400


def minutes(text: str) -> int:
    return int(datetime.strptime(text + "+0000", "%Y%m%d%H%M%z").timestamp())


def recorded_days_or_no_data(seen):
    # The platform answers only the recorded CH days; any other chunk has "no matching data".
    lo, hi = minutes(seen.query["periodStart"]), minutes(seen.query["periodEnd"])
    if lo < ts("2025-11-27T23:00Z") and ts("2025-11-25T23:00Z") < hi:
        return xml(CH)
    return xml(ACK, 400)


def test_more_than_a_year_is_two_requests_one_second_apart_by_default(recorded_server):
    recorded_server.routes["/api"] = recorded_days_or_no_data
    # Nothing overridden: the source's own defaults, including the client's spacing.
    settings = Settings(entso_e_token="test-token", entso_e_base_url=f"{recorded_server.url}/api")

    async def go():
        source = source_class("entsoe").from_settings(settings)
        try:
            return await source.fetch("CH", ts("2024-11-20T23:00Z"), ts("2025-11-30T23:00Z"))
        finally:
            await source.aclose()

    got = asyncio.run(go())  # 375 days

    first, second = recorded_server.seen
    assert (first.query["periodStart"], first.query["periodEnd"]) == (
        "202411202300",
        "202511202300",  # 365 days: within the API's one-year limit
    )
    assert (second.query["periodStart"], second.query["periodEnd"]) == (
        "202511202300",
        "202511302300",
    )
    # The next request leaves one second after the previous answer arrived: at least one
    # second between arrivals here, whatever the connection set-up cost.
    assert second.at - first.at >= 1.0
    assert len(got) == 48 and got[0].price == 104.06


def test_overlapping_answers_are_merged_sorted_and_deduplicated(recorded_server):
    # One-day chunks, each answered with the whole two-day recording: 96 intervals arrive,
    # 48 distinct delivery hours come out, in order.
    recorded_server.routes["/api"] = [xml(CH)]
    got = fetch(
        recorded_server, "CH", ts("2025-11-25T23:00Z"), ts("2025-11-27T23:00Z"), max_span=DAY
    )

    assert len(recorded_server.seen) == 2
    assert len(got) == 48
    assert all(a.end == b.start for a, b in pairwise(got))
    assert got[0].price == 104.06 and got[-1].price == 111.8


def test_chunks_without_data_are_skipped_when_others_have_data(recorded_server):
    recorded_server.routes["/api"] = recorded_days_or_no_data
    got = fetch(
        recorded_server, "CH", ts("2025-11-23T23:00Z"), ts("2025-11-29T23:00Z"), max_span=DAY
    )

    assert len(recorded_server.seen) == 6
    assert [got[0].start, got[-1].end] == [ts("2025-11-25T23:00Z"), ts("2025-11-27T23:00Z")]


def test_no_data_in_every_chunk_is_no_data_with_the_reason(recorded_server):
    recorded_server.routes["/api"] = [xml(ACK, 400)]
    with pytest.raises(NoDataError, match="No matching data found"):
        fetch(recorded_server, "CH", ts("2025-01-01T23:00Z"), ts("2025-01-04T23:00Z"), max_span=DAY)
    assert len(recorded_server.seen) == 3
