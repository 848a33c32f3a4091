"""The CSV importer on the real price files, and on every kind of broken file it must refuse."""

from __future__ import annotations

import asyncio
import os
import time
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from phoenyra.config import Settings
from phoenyra.feed.model import BadRequestError, MalformedResponseError
from phoenyra.feed.sources import make_source, source_class
from phoenyra.feed.sources.csv_file import CsvSource, load_csv
from support import SHARED_DATA

DATA = SHARED_DATA
EXAA = DATA / "de_lu_2023_15min_exaa.csv"
AT = DATA / "at_2024_h.csv"
BERLIN = ZoneInfo("Europe/Berlin")
VIENNA = ZoneInfo("Europe/Vienna")


def ts(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp())


def local_day(year: int, month: int, day: int, tz: ZoneInfo) -> tuple[int, int]:
    start = datetime(year, month, day, tzinfo=tz)
    # Adding a day in local wall time, then converting, gives the 23 or 25 hour DST days.
    return int(start.timestamp()), int((start + timedelta(days=1)).timestamp())


def fetch(source, zone: str, start: int, end: int):
    return asyncio.run(source.fetch(zone, start, end))


def write(tmp_path: Path, text: str, name: str = "prices.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def hourly(n: int, start: str = "2024-01-01T00:00:00Z") -> list[str]:
    first = datetime.fromisoformat(start)
    return [
        f"{(first + timedelta(hours=h)).isoformat().replace('+00:00', 'Z')},{50 + h}"
        for h in range(n)
    ]


def csv_text(rows: list[str], header: str = "timestamp_utc,price_eur_mwh") -> str:
    return "\n".join([header, *rows]) + "\n"


# -- the real files -----------------------------------------------------------------------------


def test_fifteen_minute_exaa_file():
    got = load_csv(EXAA)
    assert len(got) == 35_040
    assert {iv.resolution for iv in got} == {"PT15M"}
    assert {iv.source for iv in got} == {"csv"}
    assert (got[0].start, got[0].end, got[0].price) == (
        ts("2022-12-31T23:00:00Z"),
        ts("2022-12-31T23:15:00Z"),
        75.01,
    )
    assert got[1].price == -29.95
    assert (got[-1].start, got[-1].price) == (ts("2023-12-31T22:45:00Z"), -24.91)
    assert all(b.start == a.end for a, b in pairwise(got))


def test_hourly_at_file():
    got = load_csv(AT)
    assert len(got) == 8_784  # 2024 is a leap year
    assert {iv.resolution for iv in got} == {"PT60M"}
    assert (got[0].start, got[0].price) == (ts("2023-12-31T23:00:00Z"), 0.1)
    assert (got[1].start, got[1].price) == (ts("2024-01-01T00:00:00Z"), 0.01)
    assert (got[-1].start, got[-1].end, got[-1].price) == (
        ts("2024-12-31T22:00:00Z"),
        ts("2024-12-31T23:00:00Z"),
        108.2,
    )


@pytest.mark.parametrize("name", sorted(p.name for p in DATA.glob("*.csv")))
def test_every_shared_file_loads(name):
    got = load_csv(DATA / name)
    assert len(got) > 6_000


@pytest.mark.parametrize(
    ("day", "expected"),
    [((2023, 3, 26), 92), ((2023, 10, 29), 100), ((2023, 6, 14), 96)],
    ids=["spring-forward", "fall-back", "normal"],
)
def test_local_dst_days_in_the_quarter_hour_file(day, expected):
    # In UTC the series runs on without a gap; only the local day is 23 or 25 hours long.
    start, end = local_day(*day, BERLIN)
    got = fetch(CsvSource(EXAA), "DE-LU", start, end)
    assert len(got) == expected
    assert got[0].start == start and got[-1].end == end


@pytest.mark.parametrize(
    ("day", "expected"), [((2024, 3, 31), 23), ((2024, 10, 27), 25), ((2024, 7, 1), 24)]
)
def test_local_dst_days_in_the_hourly_file(day, expected):
    start, end = local_day(*day, VIENNA)
    assert len(fetch(CsvSource(AT), "AT", start, end)) == expected


def test_fetch_keeps_periods_wholly_inside_the_half_open_range():
    source = CsvSource(AT)
    start = ts("2024-06-01T10:00:00Z")
    got = fetch(source, "AT", start, start + 3 * 3600)
    assert [iv.start for iv in got] == [start, start + 3600, start + 7200]
    # A period cut by either end of the range is left out.
    got = fetch(source, "AT", start + 1, start + 3 * 3600)
    assert [iv.start for iv in got] == [start + 3600, start + 7200]
    got = fetch(source, "AT", start, start + 3 * 3600 - 1)
    assert [iv.start for iv in got] == [start, start + 3600]
    assert fetch(source, "AT", ts("2030-01-01T00:00:00Z"), ts("2030-01-02T00:00:00Z")) == []


def test_make_source_with_a_path_ignores_the_zone():
    source = make_source(f"csv:{AT}", Settings())
    assert isinstance(source, CsvSource)
    assert source.name == "csv" and source.simulated is False
    start = ts("2024-01-01T00:00:00Z")
    at = fetch(source, "AT", start, start + 86400)
    ch = fetch(source, "CH", start, start + 86400)
    assert at == ch and len(at) == 24
    asyncio.run(source.aclose())


def test_csv_source_needs_a_path():
    with pytest.raises(BadRequestError, match="csv:PATH"):
        source_class("csv").from_settings(Settings())


def test_missing_file_is_a_bad_request(tmp_path):
    with pytest.raises(BadRequestError, match="cannot open"):
        load_csv(tmp_path / "nope.csv")
    with pytest.raises(BadRequestError, match="cannot open"):
        fetch(CsvSource(tmp_path / "nope.csv"), "AT", 0, 10**10)


# -- accepted variants --------------------------------------------------------------------------


def test_short_header_offsets_bom_and_blank_lines(tmp_path):
    text = (
        "\ufeffTimestamp,Price\r\n"
        "2024-01-01T01:00:00+01:00,10.5\r\n"
        "2024-01-01T02:00:00+01:00,-3\r\n"
        "2024-01-01T01:00:00-01:00,7e1\r\n"
        "\r\n"
    )
    got = load_csv(write(tmp_path, text))
    assert [iv.start for iv in got] == [
        ts("2024-01-01T00:00:00Z"),
        ts("2024-01-01T01:00:00Z"),
        ts("2024-01-01T02:00:00Z"),
    ]
    assert [iv.price for iv in got] == [10.5, -3.0, 70.0]
    assert {iv.resolution for iv in got} == {"PT60M"}


def test_extra_columns_are_ignored(tmp_path):
    text = (
        "zone,price_eur_mwh,timestamp_utc\nAT,1,2024-01-01T00:00:00Z\nAT,2,2024-01-01T00:15:00Z\n"
    )
    got = load_csv(write(tmp_path, text))
    assert [(iv.price, iv.resolution) for iv in got] == [(1.0, "PT15M"), (2.0, "PT15M")]


# -- refused files: each names the line -----------------------------------------------------


def replace_row(rows: list[str], index: int, row: str) -> list[str]:
    rows = list(rows)
    rows[index] = row
    return rows


# Row i of hourly() is on line i + 2 (line 1 is the header).
BAD_FILES = {
    "duplicate": (
        replace_row(hourly(6), 3, "2024-01-01T02:00:00Z,1"),
        r"line 5: duplicate timestamp 2024-01-01T02:00:00Z \(also on line 4\)",
    ),
    "unsorted": (
        [*hourly(3), "2024-01-01T01:30:00Z,1", *hourly(3, "2024-01-01T04:00:00Z")],
        r"line 5: 2024-01-01T01:30:00Z is before .*sorted",
    ),
    "swapped": (
        [hourly(4)[1], hourly(4)[0], *hourly(4)[2:]],
        r"line 3: 2024-01-01T00:00:00Z is before",
    ),
    "gap": (
        [*hourly(4), *hourly(4, "2024-01-01T06:00:00Z")],
        r"line 6: 2024-01-01T06:00:00Z comes 180 min after .* spacing is 60 min",
    ),
    "gap-after-first-row": (
        [hourly(1)[0], *hourly(5, "2024-01-01T03:00:00Z")],
        r"line 3: 2024-01-01T03:00:00Z comes 180 min after",
    ),
    "mixed-resolution": (
        [
            *[f"2024-01-01T00:{m:02d}:00Z,{m}" for m in (0, 15, 30, 45)],
            "2024-01-01T01:00:00Z,1",
            "2024-01-01T02:00:00Z,2",
        ],
        r"line 7: 2024-01-01T02:00:00Z comes 60 min after .* spacing is 15 min",
    ),
    "irregular-spacing": (
        [f"2024-01-01T{h:02d}:00:00Z,1" for h in (0, 2, 4, 6)],
        r"line 3: rows are 120 min apart",
    ),
    "unquoted-decimal-comma": (
        replace_row(hourly(5), 2, "2024-01-01T02:00:00Z,12,5"),
        r"line 4: 3 column\(s\), expected 2",
    ),
    "text-price": (
        replace_row(hourly(5), 2, "2024-01-01T02:00:00Z,n/a"),
        r"line 4: price 'n/a' is not a number",
    ),
    "decimal-comma": (
        replace_row(hourly(5), 2, '2024-01-01T02:00:00Z,"12,5"'),
        r"line 4: price '12,5' is not a number",
    ),
    "empty-price": (
        replace_row(hourly(5), 4, "2024-01-01T04:00:00Z,"),
        r"line 6: price '' is not a number",
    ),
    "nan": (
        replace_row(hourly(5), 1, "2024-01-01T01:00:00Z,NaN"),
        r"line 3: price 'NaN' is not finite",
    ),
    "inf": (
        replace_row(hourly(5), 3, "2024-01-01T03:00:00Z,-inf"),
        r"line 5: price '-inf' is not finite",
    ),
    "naive-time": (
        replace_row(hourly(5), 2, "2024-01-01T02:00:00,1"),
        r"line 4: timestamp '2024-01-01T02:00:00' has no time zone",
    ),
    "not-a-time": (
        replace_row(hourly(5), 0, "01.01.2024 00:00,1"),
        r"line 2: timestamp '01.01.2024 00:00' is not ISO 8601",
    ),
    "short-row": (
        replace_row(hourly(5), 2, "2024-01-01T02:00:00Z"),
        r"line 4: 1 column\(s\), expected 2",
    ),
    "one-row": (hourly(1), r"1 price row\(s\); at least two"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_file_is_refused_naming_the_line(tmp_path, case):
    rows, message = BAD_FILES[case]
    path = write(tmp_path, csv_text(rows))
    with pytest.raises(MalformedResponseError, match=message) as info:
        load_csv(path)
    assert str(path) in str(info.value)
    # The source yields nothing from a refused file, not the rows before the bad line.
    with pytest.raises(MalformedResponseError):
        fetch(CsvSource(path), "AT", 0, 2**40)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the file is empty"),
        ("timestamp_utc,price_eur_mwh\n", "0 price row"),
        ("time;price\n2024-01-01T00:00:00Z;1\n", "line 1: header"),
        ("MTU (CET/CEST),Day-ahead Price [EUR/MWh]\n", "line 1: header"),
    ],
    ids=["empty", "header-only", "semicolons", "entsoe-export"],
)
def test_bad_header_or_no_rows_is_refused(tmp_path, text, message):
    with pytest.raises(MalformedResponseError, match=message):
        load_csv(write(tmp_path, text))


def test_latin1_file_is_refused(tmp_path):
    path = tmp_path / "prices.csv"
    path.write_bytes(b"timestamp_utc,price_eur_mwh\n2024-01-01T00:00:00Z,1\xe4\n")
    with pytest.raises(MalformedResponseError, match="not UTF-8"):
        load_csv(path)


def test_a_file_replaced_under_the_source_is_reloaded(tmp_path):
    path = write(tmp_path, csv_text(hourly(4)))
    source = CsvSource(path)
    start = ts("2024-01-01T00:00:00Z")
    assert [iv.price for iv in fetch(source, "AT", start, start + 4 * 3600)] == [50, 51, 52, 53]

    path.write_text(csv_text(replace_row(hourly(4), 2, "2024-01-01T02:00:00Z,oops")))
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))  # a visibly newer mtime
    with pytest.raises(MalformedResponseError, match="line 4"):
        fetch(source, "AT", start, start + 4 * 3600)

    path.write_text(csv_text([r.replace(",5", ",9") for r in hourly(4)]))
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 2 * 10**9))
    assert [iv.price for iv in fetch(source, "AT", start, start + 4 * 3600)] == [90, 91, 92, 93]
