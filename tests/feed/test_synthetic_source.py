"""The synthetic source: deterministic, shaped like a real day-ahead curve, and within bounds."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from itertools import pairwise
from statistics import mean
from zoneinfo import ZoneInfo

import pytest

from phoenyra.config import Settings
from phoenyra.feed.model import BadRequestError, PriceInterval
from phoenyra.feed.sources import make_source, source_class

VIENNA = ZoneInfo("Europe/Vienna")
ZONES = ["AT", "DE-LU", "CH", "IT-North"]


def synthetic(**options):
    return source_class("synthetic").from_settings(Settings(), **options)


def fetch(zone: str, start: int, end: int, **options) -> list[PriceInterval]:
    return asyncio.run(synthetic(**options).fetch(zone, start, end))


def local(year: int, month: int, day: int) -> int:
    return int(datetime(year, month, day, tzinfo=VIENNA).timestamp())


def local_days(year: int, month: int, day: int, days: int) -> tuple[int, int]:
    start = datetime(year, month, day, tzinfo=VIENNA)
    return int(start.timestamp()), int((start + timedelta(days=days)).timestamp())


def hour_of(iv: PriceInterval) -> int:
    return datetime.fromtimestamp(iv.start, VIENNA).hour


def weekday_of(iv: PriceInterval) -> int:
    return datetime.fromtimestamp(iv.start, VIENNA).weekday()


def mean_where(ivs: list[PriceInterval], keep) -> float:
    return mean(iv.price for iv in ivs if keep(iv))


def test_registered_as_simulated():
    source = make_source("synthetic", Settings())
    assert source.name == "synthetic"
    assert source.simulated is True
    assert type(source).simulated is True


# -- determinism --------------------------------------------------------------------------------


def test_same_seed_gives_the_same_prices():
    start, end = local_days(2024, 5, 6, 7)
    first = fetch("AT", start, end, seed=7)
    again = fetch("AT", start, end, seed=7)
    assert first == again
    assert len({iv.price for iv in first}) > 500  # not a constant or a short cycle


def test_default_seed_is_42():
    start, end = local_days(2024, 5, 6, 1)
    assert fetch("AT", start, end) == fetch("AT", start, end, seed=42)


def test_different_seeds_differ():
    start, end = local_days(2024, 5, 6, 7)
    a = fetch("AT", start, end, seed=1)
    b = fetch("AT", start, end, seed=2)
    differing = sum(x.price != y.price for x, y in zip(a, b, strict=True))
    assert differing > 0.9 * len(a)


def test_a_sub_range_equals_the_same_slice_of_a_larger_range():
    start, end = local_days(2024, 3, 25, 14)
    whole = fetch("DE-LU", start, end)
    sub_start = start + 3 * 86400 + 37 * 900
    sub_end = sub_start + 200 * 900
    sub = fetch("DE-LU", sub_start, sub_end)
    i = [iv.start for iv in whole].index(sub_start)
    assert sub == whole[i : i + 200]


def test_fetching_in_pieces_equals_one_fetch():
    start, end = local_days(2024, 10, 20, 10)  # spans the fall-back night
    whole = fetch("CH", start, end)
    cuts = [start, start + 11 * 900, start + 4 * 86400 + 5 * 900, end]
    pieces = [iv for a, b in pairwise(cuts) for iv in fetch("CH", a, b)]
    assert pieces == whole


def test_zones_differ_for_the_same_seed():
    start, end = local_days(2024, 5, 6, 2)
    series = {zone: [iv.price for iv in fetch(zone, start, end)] for zone in ZONES}
    assert len({tuple(prices) for prices in series.values()}) == len(ZONES)


# -- grid and DST -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "quarters"),
    [((2024, 3, 31), 92), ((2024, 10, 27), 100), ((2024, 6, 12), 96), ((2024, 1, 15), 96)],
    ids=["spring-forward", "fall-back", "summer", "winter"],
)
def test_quarter_hours_per_local_day(day, quarters):
    start, end = local_days(*day, 1)
    got = fetch("AT", start, end)
    assert len(got) == quarters
    assert got[0].start == start and got[-1].end == end
    assert {iv.resolution for iv in got} == {"PT15M"}
    assert all(b.start == a.end == a.start + 900 for a, b in pairwise(got))
    assert {iv.source for iv in got} == {"synthetic"}


def test_only_periods_wholly_inside_the_range():
    start = local(2024, 6, 12)
    got = fetch("AT", start + 100, start + 3600)
    assert [iv.start for iv in got] == [start + 900, start + 1800, start + 2700]
    got = fetch("AT", start, start + 3600 - 1)
    assert [iv.start for iv in got] == [start, start + 900, start + 1800]
    hours = fetch("AT", start, start + 3 * 3600 - 900, resolution="PT60M")
    assert [iv.start for iv in hours] == [start, start + 3600]


def test_hourly_resolution_is_the_mean_of_its_quarter_hours():
    start, end = local_days(2024, 6, 12, 2)
    hours = fetch("DE-LU", start, end, resolution="PT60M")
    quarters = fetch("DE-LU", start, end)
    assert len(hours) == 48
    assert {iv.resolution for iv in hours} == {"PT60M"}
    assert all(iv.end - iv.start == 3600 for iv in hours)
    for h, iv in enumerate(hours):
        four = [q.price for q in quarters[4 * h : 4 * h + 4]]
        assert iv.price == pytest.approx(mean(four), abs=0.011)


def test_bad_options_and_requests_are_refused():
    with pytest.raises(BadRequestError, match="PT5M"):
        synthetic(resolution="PT5M")
    start, end = local_days(2024, 6, 12, 1)
    with pytest.raises(BadRequestError, match="FR"):
        fetch("FR", start, end)
    with pytest.raises(BadRequestError, match="empty range"):
        fetch("AT", end, start)


# -- shape --------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [42, 1, 2024])
@pytest.mark.parametrize("month", [1, 4, 7, 10])
def test_evening_peak_above_night_trough(seed, month):
    ivs = fetch("AT", *local_days(2024, month, 1, 28), seed=seed)
    evening = mean_where(ivs, lambda iv: 17 <= hour_of(iv) < 21)
    night = mean_where(ivs, lambda iv: 1 <= hour_of(iv) < 5)
    assert evening > night + 15


@pytest.mark.parametrize("seed", [42, 1, 2024])
@pytest.mark.parametrize("zone", ZONES)
def test_summer_midday_dips_below_the_evening_peak(seed, zone):
    ivs = fetch(zone, *local_days(2024, 6, 3, 28), seed=seed)
    midday = mean_where(ivs, lambda iv: 11 <= hour_of(iv) < 15)
    evening = mean_where(ivs, lambda iv: 17 <= hour_of(iv) < 21)
    assert midday < evening - 10


@pytest.mark.parametrize("seed", [42, 1, 2024])
@pytest.mark.parametrize("month", [2, 6, 11])
def test_weekends_are_cheaper_than_weekdays(seed, month):
    ivs = fetch("DE-LU", *local_days(2024, month, 1, 28), seed=seed)
    weekday = mean_where(ivs, lambda iv: weekday_of(iv) < 5)
    weekend = mean_where(ivs, lambda iv: weekday_of(iv) >= 5)
    assert weekend < weekday - 5


def test_winter_level_above_summer_level():
    winter = fetch("AT", *local_days(2024, 1, 8, 28))
    summer = fetch("AT", *local_days(2024, 7, 8, 28))
    assert mean(iv.price for iv in winter) > mean(iv.price for iv in summer) + 10


def test_sunny_summer_weekends_go_negative_in_de_lu():
    ivs = fetch("DE-LU", *local_days(2024, 5, 1, 92))
    negative = [iv for iv in ivs if iv.price < 0]
    assert negative, "a German summer without a single negative quarter-hour is not realistic"
    assert all(9 <= hour_of(iv) < 17 for iv in negative)  # only in the solar dip
    weekend_share = sum(weekday_of(iv) >= 5 for iv in negative) / len(negative)
    assert weekend_share > 2 / 7  # weekends are over-represented


def test_it_north_is_the_dearest_zone():
    start, end = local_days(2024, 3, 4, 28)
    means = {zone: mean(iv.price for iv in fetch(zone, start, end)) for zone in ZONES}
    assert max(means, key=means.get) == "IT-North"
    assert means["IT-North"] > means["DE-LU"] + 15


# -- bounds -------------------------------------------------------------------------------------


@pytest.mark.parametrize("zone", ZONES)
def test_a_year_stays_within_bounds_and_cents(zone):
    ivs = fetch(zone, *local_days(2024, 1, 1, 366))
    assert len(ivs) == 366 * 96
    prices = [iv.price for iv in ivs]
    assert all(-500 <= p <= 4000 for p in prices)
    assert all(round(p, 2) == p for p in prices)
    assert 40 < mean(prices) < 150  # the level of a real European zone, not a unit mix-up
