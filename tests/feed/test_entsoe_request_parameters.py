"""The query follows the A44 API: token, document type, domains as EIC codes, UTC minutes."""

from __future__ import annotations

import pytest

from entsoe_helpers import fetch, ts, xml
from phoenyra.feed.model import ZONE_EIC, BadRequestError

CH = "entsoe_a44_ch_2025-11-26_pt60m.xml"


def test_query_has_token_a44_both_domains_and_yyyymmddhhmm_utc(recorded_server):
    recorded_server.routes["/api"] = [xml(CH)]
    fetch(recorded_server, "CH", ts("2025-11-25T23:00Z"), ts("2025-11-27T23:00Z"))

    [seen] = recorded_server.seen
    assert seen.path == "/api"
    assert seen.query == {
        "securityToken": "test-token",
        "documentType": "A44",
        "in_Domain": "10YCH-SWISSGRIDZ",
        "out_Domain": "10YCH-SWISSGRIDZ",
        "contract_MarketAgreement.type": "A01",
        "periodStart": "202511252300",
        "periodEnd": "202511272300",
    }


@pytest.mark.parametrize("zone", ["AT", "DE-LU", "CH", "IT-North"])
def test_zone_names_are_sent_as_their_eic_codes(recorded_server, zone):
    recorded_server.routes["/api"] = [xml(CH)]
    fetch(recorded_server, zone, ts("2025-11-25T23:00Z"), ts("2025-11-27T23:00Z"))

    assert recorded_server.seen[0].query["in_Domain"] == ZONE_EIC[zone]
    assert recorded_server.seen[0].query["out_Domain"] == ZONE_EIC[zone]


def test_an_eic_code_is_sent_as_given(recorded_server):
    recorded_server.routes["/api"] = [xml(CH)]
    fetch(recorded_server, "10YCH-SWISSGRIDZ", ts("2025-11-25T23:00Z"), ts("2025-11-27T23:00Z"))

    assert recorded_server.seen[0].query["in_Domain"] == "10YCH-SWISSGRIDZ"


def test_period_bounds_round_outward_to_whole_minutes(recorded_server):
    recorded_server.routes["/api"] = [xml(CH)]
    fetch(recorded_server, "CH", ts("2025-11-25T23:00:30Z"), ts("2025-11-27T22:59:01Z"))

    query = recorded_server.seen[0].query
    assert (query["periodStart"], query["periodEnd"]) == ("202511252300", "202511272300")


@pytest.mark.parametrize("zone", ["FR", "de-lu", "10YCH", ""])
def test_unknown_zone_is_a_bad_request_and_sends_nothing(recorded_server, zone):
    with pytest.raises(BadRequestError, match="unknown zone"):
        fetch(recorded_server, zone, ts("2025-11-25T23:00Z"), ts("2025-11-27T23:00Z"))
    assert recorded_server.seen == []


def test_empty_range_is_a_bad_request_and_sends_nothing(recorded_server):
    with pytest.raises(BadRequestError, match="empty range"):
        fetch(recorded_server, "CH", ts("2025-11-26T23:00Z"), ts("2025-11-26T23:00Z"))
    assert recorded_server.seen == []
