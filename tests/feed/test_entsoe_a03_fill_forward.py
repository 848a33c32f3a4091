"""Curve type A03 omits a point equal to the previous one; it is filled forward, to the end of
the Period's timeInterval for trailing omissions. A01 is taken as it stands."""

from __future__ import annotations

import pytest

from entsoe_helpers import fetch, ts, xml
from phoenyra.feed.model import MalformedResponseError, PriceInterval
from recorded_http import Reply, fixture_bytes

TWO = "entsoe_a44_de_lu_2025-10-31_pt15m_two_sequences.xml"
CH3 = "synthetic_a44_ch_2024-08-17_to_19_two_periods.xml"
NL = "entsoe_a44_nl_2023-02-16_pt60m.xml"
DAY1 = "2025-10-30T23:00Z"
DAY2 = "2025-10-31T23:00Z"


def quarter(got: list[PriceInterval], day: str, position: int) -> float:
    [price] = [iv.price for iv in got if iv.start == ts(day) + (position - 1) * 900]
    return price


def test_omitted_positions_of_the_real_file_repeat_the_previous_price(recorded_server):
    recorded_server.routes["/api"] = [xml(TWO)]
    two = fetch(recorded_server, "DE-LU", ts(DAY1), ts("2025-11-01T23:00Z"), sequence=2)
    one = fetch(recorded_server, "DE-LU", ts(DAY1), ts("2025-11-01T23:00Z"))

    # Sequence 2 omits day 1: 20, 72 and day 2: 16, 19, 22, 75, 88 (94 + 91 points in the file).
    # (day, omitted position, price of the position before it in the file)
    filled = [
        (DAY1, 20, 80.5),
        (DAY1, 72, 119.96),
        (DAY2, 16, 56.23),
        (DAY2, 22, 52.41),
        (DAY2, 75, 84.97),
        (DAY2, 88, 74.93),
    ]
    for day, pos, price in filled:
        assert quarter(two, day, pos - 1) == price
        assert quarter(two, day, pos) == price
    # Position 18 is in the file, 19 is not: 19 repeats 18.
    assert quarter(two, DAY2, 19) == quarter(two, DAY2, 18)
    # Sequence 1 omits day 2 position 45 only: it repeats 44 (15.0), and 46 is its own.
    assert quarter(one, DAY2, 45) == quarter(one, DAY2, 44) == 15.0
    assert quarter(one, DAY2, 46) == 15.06
    assert len(one) == len(two) == 192


def test_trailing_omission_fills_to_the_end_of_the_period(recorded_server):
    # Day 2024-08-18 (CH, real prices): the last two hours are both 74.35, so the file stops at
    # position 23 of 24.
    recorded_server.routes["/api"] = [xml(CH3)]
    got = fetch(recorded_server, "CH", ts("2024-08-16T22:00Z"), ts("2024-08-19T22:00Z"))

    by_start = {iv.start: iv.price for iv in got}
    assert by_start[ts("2024-08-18T20:00Z")] == 74.35  # position 23, in the file
    assert by_start[ts("2024-08-18T21:00Z")] == 74.35  # position 24, filled
    assert by_start[ts("2024-08-18T22:00Z")] == 89.01  # next day, its own first point
    assert len(got) == 72


def test_a01_takes_every_point_as_given_and_fills_nothing(recorded_server):
    # The real NL A01 file with hour 5 removed: that hour has no price, the rest are unchanged.
    body = fixture_bytes("entsoe", NL)
    point5 = body[body.index(b"<Point>", body.index(b"<position>5<") - 40) :]
    point5 = point5[: point5.index(b"</Point>") + len(b"</Point>")]
    assert b"106.79" in point5
    recorded_server.routes["/api"] = [Reply(200, body=body.replace(point5, b""))]
    got = fetch(
        recorded_server, "10YNL----------L", ts("2023-02-15T23:00Z"), ts("2023-02-16T23:00Z")
    )

    assert len(got) == 23
    assert ts("2023-02-16T03:00Z") not in {iv.start for iv in got}
    assert [iv.price for iv in got[3:5]] == [102.03, 117.7]


def test_a03_period_not_starting_at_position_one_is_malformed(recorded_server):
    # Nothing to carry forward into the first quarter-hour: refuse rather than guess.
    body = fixture_bytes("entsoe", TWO)
    first = body.index(b"<Point>")
    body = body[:first] + body[body.index(b"</Point>", first) + len(b"</Point>") :]
    recorded_server.routes["/api"] = [Reply(200, body=body)]
    with pytest.raises(MalformedResponseError, match="does not start at position 1"):
        fetch(recorded_server, "DE-LU", ts(DAY1), ts("2025-11-01T23:00Z"), sequence=2)
