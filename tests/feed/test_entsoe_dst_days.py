"""Delivery days with a clock change: ENTSO-E's Periods are in UTC, so the spring day has 23
hours (92 quarter-hours) and the autumn day 25 hours (100 quarter-hours)."""

from __future__ import annotations

from itertools import pairwise

from entsoe_helpers import fetch, ts, xml
from phoenyra.feed.model import PriceInterval

SPRING_H = "synthetic_a44_at_2024-03-31_pt60m_dst_23h.xml"
AUTUMN_H = "synthetic_a44_at_2024-10-27_pt60m_dst_25h.xml"
SPRING_Q = "synthetic_a44_de_lu_2023-03-26_pt15m_dst_92_seq2.xml"
AUTUMN_Q = "synthetic_a44_de_lu_2023-10-29_pt15m_dst_100_seq2.xml"


def contiguous(got: list[PriceInterval]) -> bool:
    return all(a.end == b.start for a, b in pairwise(got))


def test_spring_day_is_23_hours(recorded_server):
    recorded_server.routes["/api"] = [xml(SPRING_H)]
    got = fetch(recorded_server, "AT", ts("2024-03-30T23:00Z"), ts("2024-03-31T22:00Z"))

    assert len(got) == 23 and contiguous(got)
    assert [got[0].start, got[-1].end] == [ts("2024-03-30T23:00Z"), ts("2024-03-31T22:00Z")]
    # at_2024_h.csv: 00:00 CET, 03:00 CEST (the first hour after the jump), 23:00 CEST.
    assert got[0].price == 56.91
    assert got[1].start == ts("2024-03-31T00:00Z") and got[1].price == 37.09
    assert got[-1].price == 44.99


def test_autumn_day_is_25_hours(recorded_server):
    recorded_server.routes["/api"] = [xml(AUTUMN_H)]
    got = fetch(recorded_server, "AT", ts("2024-10-26T22:00Z"), ts("2024-10-27T23:00Z"))

    assert len(got) == 25 and contiguous(got)
    assert [got[0].start, got[-1].end] == [ts("2024-10-26T22:00Z"), ts("2024-10-27T23:00Z")]
    # The repeated local 02:00 hour: 00:00Z (CEST) and 01:00Z (CET) are two intervals.
    assert [iv.price for iv in got[2:4]] == [82.23, 80.43]
    assert got[-1].price == 102.99


def test_spring_day_is_92_quarter_hours(recorded_server):
    recorded_server.routes["/api"] = [xml(SPRING_Q)]
    got = fetch(
        recorded_server, "DE-LU", ts("2023-03-25T23:00Z"), ts("2023-03-26T22:00Z"), sequence=2
    )

    assert len(got) == 92 and contiguous(got)
    assert all(iv.resolution == "PT15M" for iv in got)
    assert [got[0].start, got[-1].end] == [ts("2023-03-25T23:00Z"), ts("2023-03-26T22:00Z")]
    assert [iv.price for iv in got[:5]] == [208.76, -14.2, -14.32, -14.44, 208.51]
    assert [iv.price for iv in got[-2:]] == [-14.09, -14.17]
    # Position 12 is omitted (A03): it repeats position 11.
    assert got[11].price == got[10].price


def test_autumn_day_is_100_quarter_hours(recorded_server):
    recorded_server.routes["/api"] = [xml(AUTUMN_Q)]
    got = fetch(
        recorded_server, "DE-LU", ts("2023-10-28T22:00Z"), ts("2023-10-29T23:00Z"), sequence=2
    )

    assert len(got) == 100 and contiguous(got)
    assert [got[0].start, got[-1].end] == [ts("2023-10-28T22:00Z"), ts("2023-10-29T23:00Z")]
    assert [iv.price for iv in got[-4:]] == [84.65, 55.09, 45.09, 35.09]
    assert got[0].price == 89.93
