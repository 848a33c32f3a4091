"""Benchmark of the ENTSO-E A44 parser against entsoe-py's, on one year of 15-minute prices.

Usage::

    python bench/bench_entsoe_parse.py [--repeat 15] [--ref-repeat 3]

What it does, in one process:

1. Builds one A44 ``Publication_MarketDocument`` from
   ``/work/shared/data/de_lu_2023_15min_exaa.csv`` (35,040 real quarter-hour prices of 2023)
   in the exact shape of the real PT15M response
   ``entsoe_a44_de_lu_2025-10-31_pt15m_two_sequences.xml``: same namespace (7:3), header,
   element order and indentation; one TimeSeries per delivery day (CET/CEST day, so the two
   DST days have 92 and 100 quarter-hours) with one Period each; ``curveType`` A03 with every
   point equal to the previous one omitted, as ENTSO-E does. The series is the EXAA auction, so
   it carries ``classificationSequence_AttributeInstanceComponent.position`` 2 and our parser
   is asked for sequence 2.
2. Times our path from response body to checked series (``parse_a44`` + ``merge``, i.e. what
   ``EntsoeSource.fetch`` does with one answer: safe lxml parse, A03 fill-forward, range
   filter, de-duplication, ``check_series``) ``--repeat`` times, and the lxml parse alone.
3. Times ``entsoe.parsers.parse_prices`` (entsoe-py, BeautifulSoup + pandas) on the same text
   ``--ref-repeat`` times in the same run.
4. Cross-checks: both parsers give the same 35,040 (timestamp, price) pairs, and both equal
   the CSV.

Prints a Markdown table to stdout and writes ``bench/results/entsoe_parse.json``.
"""

from __future__ import annotations

import argparse
import csv
import gc
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from lxml import etree

from common import SHARED_DATA, git_commit, git_dirty, machine, version_of
from phoenyra.feed.sources.entsoe import _PARSER, merge, parse_a44

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "entsoe_parse.json"
DATA = SHARED_DATA
CSV = DATA / "de_lu_2023_15min_exaa.csv"
SHAPE = DATA / "entsoe_a44_de_lu_2025-10-31_pt15m_two_sequences.xml"

TARGET_MS = 200.0
EIC_DE_LU = "10Y1001A1001A82H"
NS = "urn:iec62325.351:tc57wg16:451-3:publicationdocument:7:3"
LOCAL = ZoneInfo("Europe/Brussels")  # the market (CET/CEST) day that ENTSO-E's Periods follow
QUARTER = 900


def progress(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def read_csv(path: Path) -> list[tuple[int, str]]:
    """(epoch start, price text as published) for every row."""
    with path.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [
        (int(datetime.fromisoformat(r["timestamp_utc"]).timestamp()), r["price_eur_mwh"])
        for r in rows
    ]


def zulu(ts: int) -> str:
    """ENTSO-E's interval timestamps: minutes, ``Z``."""
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%MZ")


def local_days(first: int, last_end: int) -> list[tuple[int, int]]:
    """UTC bounds of each CET/CEST delivery day between two UTC instants (day boundaries)."""
    day = datetime.fromtimestamp(first, tz=LOCAL).date()
    out = []
    while True:
        lo = int(datetime(day.year, day.month, day.day, tzinfo=LOCAL).timestamp())
        nxt = day + timedelta(days=1)
        hi = int(datetime(nxt.year, nxt.month, nxt.day, tzinfo=LOCAL).timestamp())
        if lo >= last_end:
            return out
        out.append((lo, hi))
        day = nxt


def build_document(rows: list[tuple[int, str]], sequence: int = 2) -> bytes:
    """An A44 answer for the rows, byte-for-byte in the layout of the real PT15M response."""
    prices = dict(rows)
    doc_start, doc_end = rows[0][0], rows[-1][0] + QUARTER
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>\n',
        f'  <Publication_MarketDocument xmlns="{NS}">\n',
        "    <mRID>5f1c0e0b2d7a4c52a4f1b1e2c3d4e5f6</mRID>\n",
        "    <revisionNumber>1</revisionNumber>\n",
        "    <type>A44</type>\n",
        '    <sender_MarketParticipant.mRID codingScheme="A01">10X1001A1001A450'
        "</sender_MarketParticipant.mRID>\n",
        "    <sender_MarketParticipant.marketRole.type>A32"
        "</sender_MarketParticipant.marketRole.type>\n",
        '    <receiver_MarketParticipant.mRID codingScheme="A01">10X1001A1001A450'
        "</receiver_MarketParticipant.mRID>\n",
        "    <receiver_MarketParticipant.marketRole.type>A33"
        "</receiver_MarketParticipant.marketRole.type>\n",
        "    <createdDateTime>2024-01-02T10:00:00Z</createdDateTime>\n",
        "    <period.timeInterval>\n",
        f"      <start>{zulu(doc_start)}</start>\n",
        f"      <end>{zulu(doc_end)}</end>\n",
        "    </period.timeInterval>\n",
    ]
    for mrid, (lo, hi) in enumerate(local_days(doc_start, doc_end), 1):
        parts += [
            "      <TimeSeries>\n",
            f"        <mRID>{mrid}</mRID>\n",
            "        <auction.type>A01</auction.type>\n",
            "        <businessType>A62</businessType>\n",
            f'        <in_Domain.mRID codingScheme="A01">{EIC_DE_LU}</in_Domain.mRID>\n',
            f'        <out_Domain.mRID codingScheme="A01">{EIC_DE_LU}</out_Domain.mRID>\n',
            "        <contract_MarketAgreement.type>A01</contract_MarketAgreement.type>\n",
            "        <currency_Unit.name>EUR</currency_Unit.name>\n",
            "        <price_Measure_Unit.name>MWH</price_Measure_Unit.name>\n",
            "          <classificationSequence_AttributeInstanceComponent.position>"
            f"{sequence}</classificationSequence_AttributeInstanceComponent.position>\n",
            "        <curveType>A03</curveType>\n",
            "          <Period>\n",
            "            <timeInterval>\n",
            f"              <start>{zulu(lo)}</start>\n",
            f"              <end>{zulu(hi)}</end>\n",
            "            </timeInterval>\n",
            "            <resolution>PT15M</resolution>\n",
        ]
        previous = None
        for position, t in enumerate(range(lo, hi, QUARTER), 1):
            price = prices[t]
            if price == previous:  # A03: a repeated price is left out
                continue
            previous = price
            parts += [
                "              <Point>\n",
                f"                <position>{position}</position>\n",
                f"                  <price.amount>{price}</price.amount>\n",
                "              </Point>\n",
            ]
        parts += ["          </Period>\n", "      </TimeSeries>\n"]
    parts.append("  </Publication_MarketDocument>\n\n")
    return "".join(parts).encode("ascii")


def check_shape(doc: bytes) -> None:
    """The generated document's first TimeSeries lines up with the real file, tag for tag."""
    real = SHAPE.read_text(encoding="utf-8").splitlines()
    ours = doc.decode().splitlines()

    def skeleton(lines: list[str]) -> list[str]:
        # Indentation and tags, with the text between them blanked.
        return [line.split(">", 1)[0] for line in lines[:40]]

    if skeleton(real) != skeleton(ours):
        raise SystemExit("generated document does not have the shape of the real PT15M file")


def timed(fn: Callable[[], object], repeat: int) -> tuple[list[float], object]:
    runs, result = [], None
    for _ in range(repeat):
        result = None  # free the previous result outside the timed window
        gc.collect()
        t0 = time.perf_counter()
        result = fn()
        runs.append(time.perf_counter() - t0)
    return runs, result


def summary(runs: list[float]) -> dict:
    return {
        "runs_ms": [round(r * 1000, 2) for r in runs],
        "median_ms": round(statistics.median(runs) * 1000, 2),
        "best_ms": round(min(runs) * 1000, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=15, help="runs of our parser")
    parser.add_argument("--ref-repeat", type=int, default=3, help="runs of entsoe-py's parser")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    try:
        from entsoe.parsers import parse_prices
    except ImportError:
        raise SystemExit("entsoe-py is needed: pip install -e '.[bench]'") from None

    load_before = os.getloadavg()
    started = datetime.now(UTC)
    rows = read_csv(CSV)
    doc = build_document(rows)
    check_shape(doc)
    text = doc.decode("utf-8")
    start, end = rows[0][0], rows[-1][0] + QUARTER
    points_in_doc = doc.count(b"<Point>")
    days = doc.count(b"<TimeSeries>")
    progress(
        f"document: {len(doc):,} bytes, {days} TimeSeries, {points_in_doc:,} Points "
        f"for {len(rows):,} quarter-hours (A03)"
    )

    def ours() -> list:
        return merge(parse_a44(doc, sequence=2), start, end)

    ours()  # warm-up: imports, lxml tag caches
    our_runs, our_result = timed(ours, args.repeat)
    lxml_runs, _ = timed(lambda: etree.fromstring(doc, _PARSER), args.repeat)
    progress(f"ours: median {statistics.median(our_runs) * 1000:.1f} ms")
    ref_runs, ref_result = timed(lambda: parse_prices(text), args.ref_repeat)
    progress(f"entsoe-py: median {statistics.median(ref_runs) * 1000:.1f} ms")

    # Cross-checks: same timestamps and prices from both parsers, and both equal the CSV.
    ours_pairs = [(iv.start, iv.price) for iv in our_result]
    ref_series = ref_result["15min"]
    ref_pairs = [
        (int(ts.timestamp()), float(v))
        for ts, v in zip(ref_series.index, ref_series.values, strict=False)
    ]
    csv_pairs = [(t, float(p)) for t, p in rows]
    same_as_ref = ours_pairs == ref_pairs
    same_as_csv = ours_pairs == csv_pairs
    all_15min = all(iv.end - iv.start == QUARTER for iv in our_result)
    valid = same_as_ref and same_as_csv and all_15min and len(our_result) == len(rows)

    our = summary(our_runs)
    ref = summary(ref_runs)
    ratio_median = ref["median_ms"] / our["median_ms"]
    ratio_best = ref["best_ms"] / our["best_ms"]
    result = {
        "benchmark": "entsoe_parse",
        "date": started.isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "git_dirty": git_dirty(),
        "machine": machine(
            lxml=version_of("lxml"),
            libxml2=".".join(map(str, etree.LIBXML_VERSION)),
            entsoe_py=version_of("entsoe-py"),
            pandas=version_of("pandas"),
            beautifulsoup4=version_of("beautifulsoup4"),
            gc_enabled=gc.isenabled(),
            load_average_before=[round(x, 2) for x in load_before],
            load_average_after=[round(x, 2) for x in os.getloadavg()],
        ),
        "parameters": {
            "repeat": args.repeat,
            "ref_repeat": args.ref_repeat,
            "csv": str(CSV),
            "shape_of": str(SHAPE),
            "sequence": 2,
        },
        "workload": {
            "document_bytes": len(doc),
            "time_series": days,
            "points_in_document": points_in_doc,
            "points_omitted_a03": len(rows) - points_in_doc,
            "intervals": len(rows),
            "first_utc": zulu(start),
            "end_utc": zulu(end),
            "quarter_hours_per_day": sorted(
                {(hi - lo) // QUARTER for lo, hi in local_days(start, end)}
            ),
        },
        "ours": {
            "what": "parse_a44 + merge (safe lxml parse, A03 fill, filter, dedupe, check_series)",
            **our,
            "lxml_parse_only": summary(lxml_runs),
            "us_per_interval": round(our["median_ms"] * 1000 / len(rows), 3),
        },
        "entsoe_py": {"what": "entsoe.parsers.parse_prices(text)", **ref},
        "ratio_entsoe_py_over_ours": {
            "median": round(ratio_median, 1),
            "best": round(ratio_best, 1),
        },
        "target": {"ms": TARGET_MS, "met": our["median_ms"] < TARGET_MS},
        "cross_check": {
            "same_as_entsoe_py": same_as_ref,
            "same_as_csv": same_as_csv,
            "all_intervals_900_s": all_15min,
        },
        "valid": valid,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    progress(f"wrote {args.output}")

    m = result["machine"]
    print(f"## ENTSO-E A44 parse: one year of PT15M ({started:%Y-%m-%d %H:%M} UTC)\n")
    print(
        f"{m['cpu_model']}, {m['cpus_online']} CPUs, Python {m['python']}, lxml {m['lxml']} "
        f"(libxml2 {m['libxml2']}), entsoe-py {m['entsoe_py']}, pandas {m['pandas']}; "
        f"commit {result['git_commit'] or '?'}"
        f"{' (uncommitted changes)' if result['git_dirty'] else ''}; "
        f"load average before {load_before[0]:.2f}\n"
    )
    print(
        f"Document: {len(doc):,} bytes, {days} TimeSeries (one per CET day), "
        f"{points_in_doc:,} Points in A03 form → {len(rows):,} quarter-hours.\n"
    )
    print("| parser | runs | median ms | best ms | µs / interval |")
    print("|---|---:|---:|---:|---:|")
    print(
        f"| ours: parse_a44 + merge | {args.repeat} | {our['median_ms']:.1f} | "
        f"{our['best_ms']:.1f} | {result['ours']['us_per_interval']:.2f} |"
    )
    lx = result["ours"]["lxml_parse_only"]
    print(
        f"| (of which lxml parse) | {args.repeat} | {lx['median_ms']:.1f} | {lx['best_ms']:.1f} | |"
    )
    print(
        f"| entsoe-py parse_prices | {args.ref_repeat} | {ref['median_ms']:.1f} | "
        f"{ref['best_ms']:.1f} | {ref['median_ms'] * 1000 / len(rows):.2f} |"
    )
    print(f"| **ratio entsoe-py / ours** | | **{ratio_median:.1f}×** | {ratio_best:.1f}× | |")
    print()
    print(
        f"- target < {TARGET_MS:g} ms: {'met' if result['target']['met'] else 'MISSED'} "
        f"(median {our['median_ms']:.1f} ms)"
    )
    print(
        f"- cross-check: same as entsoe-py {'yes' if same_as_ref else 'NO'}, "
        f"same as CSV {'yes' if same_as_csv else 'NO'}"
    )
    return 0 if valid else 1


if __name__ == "__main__":
    sys.exit(main())
