"""A document with several TimeSeries, one of them holding several Periods, gives one
continuous series in time order."""

from __future__ import annotations

from itertools import pairwise

from entsoe_helpers import fetch, ts, xml

CH3 = "synthetic_a44_ch_2024-08-17_to_19_two_periods.xml"
DE = "entsoe_a44_de_lu_2025-10-31_pt15m_two_sequences.xml"


def test_two_periods_in_one_series_and_a_second_series_make_three_days(recorded_server):
    recorded_server.routes["/api"] = [xml(CH3)]
    got = fetch(recorded_server, "CH", ts("2024-08-16T22:00Z"), ts("2024-08-19T22:00Z"))

    assert len(got) == 72
    assert all(a.end == b.start for a, b in pairwise(got))
    by_start = {iv.start: iv.price for iv in got}
    # ch_2024_h.csv: first hour of each Period, and the hour before each boundary.
    assert by_start[ts("2024-08-16T22:00Z")] == 81.07  # series 1, period 1, position 1
    assert by_start[ts("2024-08-17T21:00Z")] == 70.36  # series 1, period 1, position 24
    assert by_start[ts("2024-08-17T22:00Z")] == 76.1  # series 1, period 2, position 1
    assert by_start[ts("2024-08-18T22:00Z")] == 89.01  # series 2, period 1, position 1
    assert by_start[ts("2024-08-19T21:00Z")] == 88.71  # series 2, period 1, position 24


def test_one_series_per_day_and_sequence_real_file(recorded_server):
    # The real DE-LU file: 4 TimeSeries (2 days x 2 sequences), one Period each.
    recorded_server.routes["/api"] = [xml(DE)]
    got = fetch(recorded_server, "DE-LU", ts("2025-10-30T23:00Z"), ts("2025-11-01T23:00Z"))

    assert len(got) == 192
    assert all(a.end == b.start for a, b in pairwise(got))
    boundary = ts("2025-10-31T23:00Z")
    assert [iv.price for iv in got if boundary - 900 <= iv.start <= boundary] == [42.37, 63.5]
