"""Historical prices from a CSV file, for backtests and offline use.

The file is the series: one row per delivery period, ``timestamp_utc,price_eur_mwh`` (the start
of the period, ISO 8601 with ``Z`` or an offset) as in ``/work/shared/data``, or the shorter
header ``timestamp,price``. The resolution is the spacing between rows, which must be uniform:
a gap, a duplicate or an unsorted row would silently shift or drop prices in a backtest, so the
whole file is refused instead, naming the line.
"""

from __future__ import annotations

import asyncio
import bisect
import csv
import math
import os
from collections import Counter
from datetime import datetime
from itertools import pairwise
from pathlib import Path
from typing import Any, ClassVar

from ..model import (
    SECONDS_RESOLUTION,
    BadRequestError,
    MalformedResponseError,
    PriceInterval,
    check_series,
    iso_utc,
)
from . import register

# Accepted headers, as (timestamp column, price column); compared case-insensitively.
HEADERS = (("timestamp_utc", "price_eur_mwh"), ("timestamp", "price"))


class _NaiveTimestamp(ValueError):
    pass


def _parse_timestamp(text: str) -> int:
    # Not model.parse_utc: that reads a bare date as UTC midnight, which in a price file is more
    # likely a local-day label than a period start.
    dt = datetime.fromisoformat(text.strip())
    if dt.tzinfo is None:
        raise _NaiveTimestamp("has no time zone (end UTC times with Z or give an offset)")
    return int(dt.timestamp())


def _minutes(seconds: int) -> str:
    return f"{seconds / 60:g} min"


def load_csv(path: str | os.PathLike[str], source: str = "csv") -> list[PriceInterval]:
    """Every row of a price CSV as intervals, or MalformedResponseError naming the bad line."""
    path = Path(path)
    where = str(path)
    try:
        handle = path.open(newline="", encoding="utf-8-sig")  # Excel writes a BOM
    except OSError as exc:
        raise BadRequestError(f"{where}: cannot open ({exc.strerror or exc})") from None
    with handle:
        reader = csv.reader(handle)
        try:
            header = next(reader, None)
            if header is None:
                raise MalformedResponseError(f"{where}: the file is empty")
            names = [h.strip().lower() for h in header]
            for ts_name, price_name in HEADERS:
                if ts_name in names and price_name in names:
                    ts_col, price_col = names.index(ts_name), names.index(price_name)
                    break
            else:
                raise MalformedResponseError(
                    f"{where}: line 1: header {','.join(header)!r}; expected "
                    "'timestamp_utc,price_eur_mwh' or 'timestamp,price'"
                )
            starts: list[int] = []
            prices: list[float] = []
            lines: list[int] = []
            for row in reader:
                line = reader.line_num
                if not row or all(not cell.strip() for cell in row):
                    continue  # blank lines (often a trailing one) carry no period
                # More cells than the header usually means an unquoted decimal comma ("12,5"),
                # which would otherwise be read as 12.
                if len(row) != len(header):
                    raise MalformedResponseError(
                        f"{where}: line {line}: {len(row)} column(s), expected {len(header)}"
                    )
                try:
                    ts = _parse_timestamp(row[ts_col])
                except _NaiveTimestamp as exc:
                    raise MalformedResponseError(
                        f"{where}: line {line}: timestamp {row[ts_col]!r} {exc}"
                    ) from None
                except ValueError:
                    raise MalformedResponseError(
                        f"{where}: line {line}: timestamp {row[ts_col]!r} is not ISO 8601"
                    ) from None
                try:
                    price = float(row[price_col])
                except ValueError:
                    raise MalformedResponseError(
                        f"{where}: line {line}: price {row[price_col]!r} is not a number"
                    ) from None
                if not math.isfinite(price):
                    raise MalformedResponseError(
                        f"{where}: line {line}: price {row[price_col]!r} is not finite"
                    )
                starts.append(ts)
                prices.append(price)
                lines.append(line)
        except csv.Error as exc:
            raise MalformedResponseError(f"{where}: line {reader.line_num}: {exc}") from None
        except UnicodeDecodeError as exc:
            raise MalformedResponseError(f"{where}: not UTF-8 text ({exc.reason})") from None

    if len(starts) < 2:
        raise MalformedResponseError(
            f"{where}: {len(starts)} price row(s); at least two are needed to tell the resolution"
        )
    # The usual spacing is the file's resolution, so the odd row out is the one reported, even
    # when it is the second row.
    gaps = [b - a for a, b in pairwise(starts)]
    usual = Counter(g for g in gaps if g > 0).most_common(1)
    step = usual[0][0] if usual else 0
    for i, gap in enumerate(gaps, start=1):
        if gap == step and step > 0:
            continue
        line, prev_line = lines[i], lines[i - 1]
        when = iso_utc(starts[i])
        if gap == 0:
            raise MalformedResponseError(
                f"{where}: line {line}: duplicate timestamp {when} (also on line {prev_line})"
            )
        if gap < 0:
            raise MalformedResponseError(
                f"{where}: line {line}: {when} is before the previous row's "
                f"{iso_utc(starts[i - 1])}; rows must be sorted"
            )
        raise MalformedResponseError(
            f"{where}: line {line}: {when} comes {_minutes(gap)} after the previous row, but the "
            f"file's spacing is {_minutes(step)} (mixed resolution or a gap)"
        )
    resolution = SECONDS_RESOLUTION.get(step)
    if resolution is None:
        raise MalformedResponseError(
            f"{where}: line {lines[1]}: rows are {_minutes(step)} apart; expected 15, 30 or 60 min"
        )
    intervals = [
        PriceInterval(ts, ts + step, resolution, price, source)
        for ts, price in zip(starts, prices, strict=True)
    ]
    check_series(intervals)
    return intervals


@register
class CsvSource:
    name: ClassVar[str] = "csv"
    simulated: ClassVar[bool] = False

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._cache: tuple[tuple[int, int], list[PriceInterval], list[int]] | None = None

    @classmethod
    def from_settings(cls, settings: Any, **options: Any) -> CsvSource:
        path = options.pop("path", None)
        if not path:
            raise BadRequestError("csv: give the file as csv:PATH")
        if options:
            raise BadRequestError(f"csv: unknown option(s) {', '.join(sorted(options))}")
        return cls(path)

    def _series(self) -> tuple[list[PriceInterval], list[int]]:
        # Reload only when the file changed, so an importer can replace it under a running feed
        # while repeated fetches stay cheap.
        try:
            stat = self.path.stat()
        except OSError as exc:
            raise BadRequestError(f"{self.path}: cannot open ({exc.strerror or exc})") from None
        key = (stat.st_mtime_ns, stat.st_size)
        if self._cache is None or self._cache[0] != key:
            intervals = load_csv(self.path, self.name)
            self._cache = (key, intervals, [iv.start for iv in intervals])
        return self._cache[1], self._cache[2]

    async def fetch(self, zone: str, start: int, end: int) -> list[PriceInterval]:
        # zone is not checked: the file is one zone's series, chosen by whoever named the file.
        intervals, starts = await asyncio.to_thread(self._series)
        # Periods wholly inside [start, end), as every source returns them.
        step = intervals[0].end - intervals[0].start
        lo = bisect.bisect_left(starts, start)
        hi = bisect.bisect_right(starts, end - step)
        return intervals[lo:hi]

    async def aclose(self) -> None:
        self._cache = None
