"""Real recorded hourly A44 answers (CH 2025, NL 2023) give one interval per delivery hour,
with the prices read from the files."""

from __future__ import annotations

from itertools import pairwise

from entsoe_helpers import fetch, ts, xml

CH = "entsoe_a44_ch_2025-11-26_pt60m.xml"
NL = "entsoe_a44_nl_2023-02-16_pt60m.xml"


def test_ch_two_days_of_hours_are_48_intervals_with_the_recorded_prices(recorded_server):
    recorded_server.routes["/api"] = [xml(CH)]
    got = fetch(recorded_server, "CH", ts("2025-11-25T23:00Z"), ts("2025-11-27T23:00Z"))

    assert len(got) == 48
    assert got[0].start == ts("2025-11-25T23:00Z")
    assert got[-1].end == ts("2025-11-27T23:00Z")
    assert all(iv.end - iv.start == 3600 and iv.resolution == "PT60M" for iv in got)
    assert all(iv.source == "entsoe" for iv in got)
    assert all(a.end == b.start for a, b in pairwise(got))
    by_start = {iv.start: iv.price for iv in got}
    # Read by hand from the file: day 1 positions 1, 7, 16; day 2 positions 1 and 24.
    assert by_start[ts("2025-11-25T23:00Z")] == 104.06
    assert by_start[ts("2025-11-26T05:00Z")] == 133.0
    assert by_start[ts("2025-11-26T14:00Z")] == 276.61
    assert by_start[ts("2025-11-26T23:00Z")] == 110.63
    assert by_start[ts("2025-11-27T22:00Z")] == 111.8


def test_nl_older_namespace_and_curve_a01_parse_the_same_way(recorded_server):
    # publicationdocument:7:0, no auction.type, no contract type, curveType A01.
    recorded_server.routes["/api"] = [xml(NL)]
    got = fetch(
        recorded_server, "10YNL----------L", ts("2023-02-15T23:00Z"), ts("2023-02-16T23:00Z")
    )

    assert len(got) == 24
    assert [got[0].start, got[-1].end] == [ts("2023-02-15T23:00Z"), ts("2023-02-16T23:00Z")]
    assert [iv.price for iv in got[:3]] == [91.02, 102.07, 107.9]
    assert got[6].price == 139.9
    assert got[23].price == 111.61
