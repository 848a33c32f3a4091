"""Only delivery periods wholly inside the requested [start, end) are returned, each as one
interval of its own resolution, in UTC, with source "entsoe"."""

from __future__ import annotations

import pytest

from entsoe_helpers import fetch, ts, xml
from phoenyra.feed.model import NoDataError, PriceInterval

CH = "entsoe_a44_ch_2025-11-26_pt60m.xml"
DE = "entsoe_a44_de_lu_2025-10-31_pt15m_two_sequences.xml"


def test_a_few_hours_out_of_the_answered_days(recorded_server):
    recorded_server.routes["/api"] = [xml(CH)]
    got = fetch(recorded_server, "CH", ts("2025-11-26T05:00Z"), ts("2025-11-26T10:00Z"))

    assert [iv.start for iv in got] == [ts("2025-11-26T05:00Z") + h * 3600 for h in range(5)]
    assert [iv.price for iv in got] == [133.0, 184.68, 208.18, 210.0, 192.46]
    assert got[0] == PriceInterval(
        ts("2025-11-26T05:00Z"), ts("2025-11-26T06:00Z"), "PT60M", 133.0, "entsoe"
    )


def test_partly_covered_periods_at_either_end_are_left_out(recorded_server):
    recorded_server.routes["/api"] = [xml(CH)]
    got = fetch(recorded_server, "CH", ts("2025-11-26T05:30Z"), ts("2025-11-26T09:15Z"))

    assert [iv.start for iv in got] == [
        ts("2025-11-26T06:00Z"),
        ts("2025-11-26T07:00Z"),
        ts("2025-11-26T08:00Z"),
    ]


def test_a_pt60m_period_is_one_interval_and_a_pt15m_period_four(recorded_server):
    recorded_server.routes["/api"] = [xml(CH)]
    hourly = fetch(recorded_server, "CH", ts("2025-11-26T05:00Z"), ts("2025-11-26T06:00Z"))
    recorded_server.routes["/api"] = [xml(DE)]
    quarters = fetch(recorded_server, "DE-LU", ts("2025-10-31T05:00Z"), ts("2025-10-31T06:00Z"))

    assert [(iv.end - iv.start, iv.resolution) for iv in hourly] == [(3600, "PT60M")]
    assert [(iv.end - iv.start, iv.resolution) for iv in quarters] == [(900, "PT15M")] * 4


def test_an_answer_with_nothing_inside_the_range_is_no_data(recorded_server):
    recorded_server.routes["/api"] = [xml(CH)]
    with pytest.raises(NoDataError, match="no day-ahead prices for CH"):
        fetch(recorded_server, "CH", ts("2025-11-28T23:00Z"), ts("2025-11-29T23:00Z"))
