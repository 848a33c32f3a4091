"""HTTP failures through the polite client: 401 is an auth error at once, 429 and 5xx are
retried (a later success is served), a persistent 5xx is an upstream error."""

from __future__ import annotations

import pytest

from entsoe_helpers import fetch, ts, xml
from phoenyra.feed.model import AuthError, BadRequestError, UpstreamError
from recorded_http import Reply

CH = "entsoe_a44_ch_2025-11-26_pt60m.xml"
START, END = "2025-11-25T23:00Z", "2025-11-27T23:00Z"
# What the platform sends for a wrong token: an HTML page, not an acknowledgement.
UNAUTHORIZED = "<html><body><h1>Unauthorized</h1></body></html>"


def test_401_is_an_auth_error_without_retry(recorded_server):
    recorded_server.routes["/api"] = [Reply(401, body=UNAUTHORIZED, content_type="text/html")]
    with pytest.raises(AuthError):
        fetch(recorded_server, "CH", ts(START), ts(END))
    assert len(recorded_server.seen) == 1


def test_429_then_success_serves_the_prices(recorded_server):
    recorded_server.routes["/api"] = [
        Reply(429, body="Too many requests", headers={"Retry-After": "0"}),
        xml(CH),
    ]
    got = fetch(recorded_server, "CH", ts(START), ts(END))

    assert len(got) == 48 and got[0].price == 104.06
    assert len(recorded_server.seen) == 2


def test_5xx_is_retried_until_success(recorded_server):
    recorded_server.routes["/api"] = [
        Reply(503, body="Service Unavailable", content_type="text/plain"),
        Reply(502, body="Bad Gateway", content_type="text/plain"),
        xml(CH),
    ]
    got = fetch(recorded_server, "CH", ts(START), ts(END))

    assert len(got) == 48
    assert len(recorded_server.seen) == 3


def test_persistent_5xx_is_an_upstream_error_after_all_attempts(recorded_server):
    recorded_server.routes["/api"] = [Reply(500, body="oops", content_type="text/plain")]
    with pytest.raises(UpstreamError):
        fetch(recorded_server, "CH", ts(START), ts(END), attempts=3)
    assert len(recorded_server.seen) == 3


def test_other_4xx_without_an_acknowledgement_is_a_bad_request(recorded_server):
    recorded_server.routes["/api"] = [Reply(404, body="Not Found", content_type="text/plain")]
    with pytest.raises(BadRequestError, match="404"):
        fetch(recorded_server, "CH", ts(START), ts(END))
    assert len(recorded_server.seen) == 1
