"""Entity-expansion bombs, external entities and DTDs are refused as MalformedResponseError,
at once and without expanding anything; broken or foreign documents are malformed too."""

from __future__ import annotations

import resource
import time

import pytest

from entsoe_helpers import fetch, ts
from phoenyra.feed.model import MalformedResponseError
from phoenyra.feed.sources.entsoe import parse_a44
from recorded_http import Reply, fixture_bytes

CH = "entsoe_a44_ch_2025-11-26_pt60m.xml"
START, END = "2025-11-25T23:00Z", "2025-11-27T23:00Z"
BOMBS = ["attack_billion_laughs.xml", "attack_quadratic_blowup.xml"]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kB


def as_utf16(body: bytes) -> bytes:
    # Same document in UTF-16: the bytes "<!DOCTYPE" no longer appear literally.
    text = body.decode().replace('<?xml version="1.0"?>', '<?xml version="1.0" encoding="UTF-16"?>')
    return text.encode("utf-16")


@pytest.mark.parametrize("name", BOMBS)
def test_entity_bomb_is_refused_quickly_without_expanding(recorded_server, name):
    body = fixture_bytes("entsoe", name)
    recorded_server.routes["/api"] = [Reply(200, body=body)]
    rss_before = peak_rss_mb()
    started = time.perf_counter()
    with pytest.raises(MalformedResponseError, match="DOCTYPE") as caught:
        fetch(recorded_server, "CH", ts(START), ts(END))
    elapsed = time.perf_counter() - started

    # Expanded, these are 3 GB and 1 GB of text: many seconds of work and gigabytes of memory.
    # The memory bound below is the proof of no expansion; the time bound leaves room for a
    # loaded 2-core CI machine (0.50 s was once measured here for the refusal alone).
    assert elapsed < 2.0
    assert peak_rss_mb() - rss_before < 20
    assert "lollol" not in caught.value.message and "xxxx" not in caught.value.message
    assert len(recorded_server.seen) == 1  # refused, not retried


@pytest.mark.parametrize("name", BOMBS)
def test_entity_bomb_in_utf16_is_refused_by_the_parser_too(name):
    body = as_utf16(fixture_bytes("entsoe", name))
    rss_before = peak_rss_mb()
    started = time.perf_counter()
    with pytest.raises(MalformedResponseError, match=r"entity expansion|DOCTYPE"):
        parse_a44(body)
    assert time.perf_counter() - started < 0.1
    assert peak_rss_mb() - rss_before < 20


@pytest.mark.parametrize("utf16", [False, True])
def test_external_entity_to_a_local_file_is_refused_and_not_read(recorded_server, utf16):
    body = fixture_bytes("entsoe", "attack_xxe_local_file.xml")
    recorded_server.routes["/api"] = [Reply(200, body=as_utf16(body) if utf16 else body)]
    with pytest.raises(MalformedResponseError, match="DOCTYPE") as caught:
        fetch(recorded_server, "CH", ts(START), ts(END))
    assert "root:" not in caught.value.message


def test_external_entity_and_dtd_urls_are_never_fetched(recorded_server):
    # Point both at our own server: a parser that followed them would show up in server.seen.
    dtd_url, entity_url = f"{recorded_server.url}/a44.dtd", f"{recorded_server.url}/secret"
    external_dtd = fixture_bytes("entsoe", "attack_external_dtd.xml").replace(
        b"http://127.0.0.1:9/a44.dtd", dtd_url.encode()
    )
    external_entity = fixture_bytes("entsoe", "attack_xxe_local_file.xml").replace(
        b"file:///etc/passwd", entity_url.encode()
    )
    recorded_server.routes["/a44.dtd"] = [Reply(200, body='<!ENTITY x "y">')]
    recorded_server.routes["/secret"] = [Reply(200, body="secret", content_type="text/plain")]
    for body in (external_dtd, external_entity, as_utf16(external_entity)):
        recorded_server.routes["/api"] = [Reply(200, body=body)]
        with pytest.raises(MalformedResponseError):
            fetch(recorded_server, "CH", ts(START), ts(END))

    assert [seen.path for seen in recorded_server.seen] == ["/api"] * 3


def test_truncated_document_is_malformed_xml(recorded_server):
    body = fixture_bytes("entsoe", CH)
    recorded_server.routes["/api"] = [Reply(200, body=body[: len(body) // 2])]
    with pytest.raises(MalformedResponseError, match="malformed XML"):
        fetch(recorded_server, "CH", ts(START), ts(END))


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (b"", "application/xml", "empty response body"),
        (b"<html><body>Maintenance</body></html>", "text/html", "expected a Publication"),
        (b'{"prices": []}', "application/json", "malformed XML"),
    ],
)
def test_foreign_answers_are_malformed(recorded_server, body, content_type, message):
    recorded_server.routes["/api"] = [Reply(200, body=body, content_type=content_type)]
    with pytest.raises(MalformedResponseError, match=message):
        fetch(recorded_server, "CH", ts(START), ts(END))


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (b"<type>A44</type>", b"<type>A65</type>", "document type A65"),
        (
            b"<price.amount>104.06</price.amount>",
            b"<price.amount>n/a</price.amount>",
            "non-numeric",
        ),
        (b"<price.amount>104.06</price.amount>", b"", "without one position"),
        (b"<resolution>PT60M</resolution>", b"<resolution>P1D</resolution>", "resolution 'P1D'"),
        (b"<start>2025-11-25T23:00Z</start>\n            ", b"", "without start or end"),
        (b"<position>2</position>", b"<position>99</position>", "outside 1..24"),
        (b"<position>2</position>", b"<position>1</position>", "repeats a position"),
        (b"<currency_Unit.name>EUR", b"<currency_Unit.name>CHF", "only EUR/MWH"),
    ],
)
def test_garbled_real_document_is_malformed_with_clear_message(recorded_server, old, new, message):
    body = fixture_bytes("entsoe", CH)
    assert old in body
    recorded_server.routes["/api"] = [Reply(200, body=body.replace(old, new, 1))]
    with pytest.raises(MalformedResponseError, match=message):
        fetch(recorded_server, "CH", ts(START), ts(END))
