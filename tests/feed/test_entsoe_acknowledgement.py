"""ENTSO-E answers "nothing" with an Acknowledgement_MarketDocument (with HTTP 400; read the
same under 200): NoDataError carrying the document's reason. Other reasons are bad requests."""

from __future__ import annotations

from datetime import datetime
from itertools import pairwise

import pytest

from entsoe_helpers import fetch, ts, xml
from phoenyra.feed.model import BadRequestError, NoDataError
from recorded_http import Reply, fixture_bytes

ACK = "entsoe_ack_no_data_nl_2023-02-20.xml"
TOO_MANY = "synthetic_ack_too_many_instances.xml"
CH = "entsoe_a44_ch_2025-11-26_pt60m.xml"
REASON = (
    "No matching data found for Data item Day-ahead Prices [12.1.D] (10YNL----------L, "
    "10YNL----------L) and interval 2023-02-19T23:00:00.000Z/2023-02-20T23:00:00.000Z."
)


def minutes(text: str) -> int:
    """Epoch seconds of the API's yyyyMMddHHmm (UTC)."""
    return int(datetime.strptime(text + "+0000", "%Y%m%d%H%M%z").timestamp())


@pytest.mark.parametrize("status", [400, 200])
def test_acknowledgement_is_no_data_with_the_reason_text(recorded_server, status):
    recorded_server.routes["/api"] = [xml(ACK, status)]
    with pytest.raises(NoDataError) as caught:
        fetch(recorded_server, "10YNL----------L", ts("2023-02-19T23:00Z"), ts("2023-02-20T23:00Z"))

    assert REASON in caught.value.message
    assert "999" in caught.value.message
    assert len(recorded_server.seen) == 1  # "no data" is an answer: no retry


def test_other_acknowledgement_reasons_are_a_bad_request_with_the_text(recorded_server):
    text = "Invalid query attributes or parameters: periodStart is after periodEnd."
    body = fixture_bytes("entsoe", ACK).replace(REASON.encode(), text.encode())
    recorded_server.routes["/api"] = [Reply(400, body=body)]
    with pytest.raises(BadRequestError) as caught:
        fetch(recorded_server, "10YNL----------L", ts("2023-02-19T23:00Z"), ts("2023-02-20T23:00Z"))

    assert not isinstance(caught.value, NoDataError)
    assert text in caught.value.message
    assert len(recorded_server.seen) == 1


def test_too_many_instances_halves_the_range_until_the_api_accepts_it(recorded_server):
    # A platform that accepts at most 100 days per answer (as it briefly did in 2025): the
    # 212-day range is split 212 -> 2 x 106 -> 4 x 53 days; only the chunk holding the
    # recorded days has data.
    def days(seen) -> float:
        return (minutes(seen.query["periodEnd"]) - minutes(seen.query["periodStart"])) / 86400

    def route(seen):
        if days(seen) > 100:
            return xml(TOO_MANY, 400)
        lo, hi = minutes(seen.query["periodStart"]), minutes(seen.query["periodEnd"])
        if lo <= ts("2025-11-25T23:00Z") and ts("2025-11-27T23:00Z") <= hi:
            return xml(CH)
        return xml(ACK, 400)

    recorded_server.routes["/api"] = route
    got = fetch(recorded_server, "CH", ts("2025-05-31T22:00Z"), ts("2025-12-29T23:00Z"))

    assert len(got) == 48
    assert [round(days(seen)) for seen in recorded_server.seen] == [212, 106, 53, 53, 106, 53, 53]
    accepted = [
        (seen.query["periodStart"], seen.query["periodEnd"])
        for seen in recorded_server.seen
        if days(seen) <= 100
    ]
    assert accepted[0][0] == "202505312200" and accepted[-1][1] == "202512292300"
    assert all(a[1] == b[0] for a, b in pairwise(accepted))


def test_too_many_instances_for_a_single_day_is_a_bad_request(recorded_server):
    recorded_server.routes["/api"] = [xml(TOO_MANY, 400)]
    with pytest.raises(BadRequestError, match="exceeds the allowed maximum"):
        fetch(recorded_server, "CH", ts("2025-11-25T23:00Z"), ts("2025-11-26T23:00Z"))
    assert len(recorded_server.seen) == 1
