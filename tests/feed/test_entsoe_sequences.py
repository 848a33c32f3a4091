"""Two day-ahead auctions for one zone and day (the real DE-LU recording): sequence 1 (SDAC)
is served by default, sequence 2 (EXAA) on request, never a mix of the two."""

from __future__ import annotations

import pytest

from entsoe_helpers import fetch, ts, xml
from phoenyra.feed.model import MalformedResponseError, NoDataError, PriceInterval
from recorded_http import Reply, fixture_bytes

TWO = "entsoe_a44_de_lu_2025-10-31_pt15m_two_sequences.xml"
CH = "entsoe_a44_ch_2025-11-26_pt60m.xml"
DAY1 = "2025-10-30T23:00Z"
DAY2 = "2025-10-31T23:00Z"

# Read by hand from the file: (day, position) -> price, for each sequence. In the file the
# TimeSeries with mRID 1 and 3 carry position 2, those with mRID 2 and 4 carry position 1.
SEQ1 = {
    (DAY1, 1): 102.81,
    (DAY1, 73): 127.01,
    (DAY1, 96): 42.37,
    (DAY2, 1): 63.5,
    (DAY2, 44): 15.0,
    (DAY2, 96): 70.19,
}
SEQ2 = {
    (DAY1, 1): 91.45,
    (DAY1, 73): 123.18,
    (DAY1, 96): 77.41,
    (DAY2, 1): 72.64,
    (DAY2, 44): 20.09,
    (DAY2, 96): 69.92,
}


def price_at(got: list[PriceInterval], day: str, position: int) -> float:
    start = ts(day) + (position - 1) * 900
    [price] = [iv.price for iv in got if iv.start == start]
    return price


def test_default_is_sequence_one_for_both_days_complete(recorded_server):
    recorded_server.routes["/api"] = [xml(TWO)]
    got = fetch(recorded_server, "DE-LU", ts(DAY1), ts("2025-11-01T23:00Z"))

    assert len(got) == 192  # 2 days x 96 quarter-hours, one sequence only
    assert [got[0].start, got[-1].end] == [ts(DAY1), ts("2025-11-01T23:00Z")]
    assert all(iv.resolution == "PT15M" and iv.end - iv.start == 900 for iv in got)
    for (day, position), price in SEQ1.items():
        assert price_at(got, day, position) == price


def test_sequence_two_is_served_when_chosen_in_the_options(recorded_server):
    recorded_server.routes["/api"] = [xml(TWO)]
    got = fetch(recorded_server, "DE-LU", ts(DAY1), ts("2025-11-01T23:00Z"), sequence=2)

    assert len(got) == 192
    for (day, position), price in SEQ2.items():
        assert price_at(got, day, position) == price


def test_the_two_sequences_are_never_mixed(recorded_server):
    recorded_server.routes["/api"] = [xml(TWO)]
    one = fetch(recorded_server, "DE-LU", ts(DAY1), ts("2025-11-01T23:00Z"))
    two = fetch(recorded_server, "DE-LU", ts(DAY1), ts("2025-11-01T23:00Z"), sequence=2)

    # Every picked position of the other auction has a different price: none leaked in.
    for key in SEQ1:
        assert SEQ1[key] != SEQ2[key]
        assert price_at(one, *key) == SEQ1[key]
        assert price_at(two, *key) == SEQ2[key]
    assert [iv.start for iv in one] == [iv.start for iv in two]
    assert sum(a.price != b.price for a, b in zip(one, two, strict=True)) > 150


def test_a_sequence_the_document_lacks_is_no_data_naming_what_it_has(recorded_server):
    recorded_server.routes["/api"] = [xml(TWO)]
    with pytest.raises(NoDataError, match=r"position 3 \(the document has 1, 2\)"):
        fetch(recorded_server, "DE-LU", ts(DAY1), ts("2025-11-01T23:00Z"), sequence=3)


def test_a_document_without_sequences_is_the_plain_price(recorded_server):
    recorded_server.routes["/api"] = [xml(CH)]
    got = fetch(recorded_server, "CH", ts("2025-11-25T23:00Z"), ts("2025-11-27T23:00Z"))
    assert len(got) == 48

    # ...and it is sequence 1: asking for the second auction does not return it instead.
    with pytest.raises(NoDataError, match="position 2"):
        fetch(recorded_server, "CH", ts("2025-11-25T23:00Z"), ts("2025-11-27T23:00Z"), sequence=2)


def test_two_unmarked_series_for_one_day_are_refused_rather_than_mixed(recorded_server):
    # The real file with its sequence markers removed: two different prices per quarter-hour.
    body = fixture_bytes("entsoe", TWO)
    for n in (b"1", b"2"):
        body = body.replace(
            b"<classificationSequence_AttributeInstanceComponent.position>"
            + n
            + b"</classificationSequence_AttributeInstanceComponent.position>",
            b"",
        )
    recorded_server.routes["/api"] = [Reply(200, body=body)]
    with pytest.raises(MalformedResponseError, match="overlaps"):
        fetch(recorded_server, "DE-LU", ts(DAY1), ts("2025-11-01T23:00Z"))


def test_intraday_auction_series_are_never_served_as_day_ahead(recorded_server):
    # contract_MarketAgreement.type A07 marks an intraday auction (IDA) price series, which
    # some zones return for an A44 query; with every series so marked nothing is day-ahead.
    body = fixture_bytes("entsoe", TWO).replace(
        b"<contract_MarketAgreement.type>A01<", b"<contract_MarketAgreement.type>A07<"
    )
    recorded_server.routes["/api"] = [Reply(200, body=body)]
    with pytest.raises(NoDataError, match="no day-ahead prices for DE-LU"):
        fetch(recorded_server, "DE-LU", ts(DAY1), ts("2025-11-01T23:00Z"))
