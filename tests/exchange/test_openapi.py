"""The OpenAPI schema documents every field of the wire contracts, numbers with their unit; its
Swagger UI page (/docs) is served whole by the exchange, without a CDN."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest

UNIT = re.compile(r"MWh|EUR|MW\b|percent|%|°C|seconds|count|number of", re.I)
CONTRACTS = [
    "OrderIn",
    "OrderOut",
    "OrderWithTrades",
    "TradeOut",
    "PositionOut",
    "BookLevel",
    "TelemetryIn",
    "BatteryStatus",
    "BatteryLimitsIn",
    "AccountIn",
    "AccountCreated",
    "KeyRotated",
    "ErrorBody",
]


@pytest.fixture(scope="module")
def schemas(exchange):
    doc = exchange.client("").get("/openapi.json").json()
    return doc["components"]["schemas"]


@pytest.mark.parametrize("name", CONTRACTS)
def test_every_field_is_described_and_numbers_name_their_unit(schemas, name):
    props = schemas[name]["properties"]
    for field, spec in props.items():
        assert spec.get("description"), f"{name}.{field} has no description"
        types = {spec.get("type")} | {s.get("type") for s in spec.get("anyOf", [])}
        if "number" in types:
            assert UNIT.search(spec["description"]), f"{name}.{field}: no unit in description"


def test_documented_paths_cover_the_spec_endpoints(exchange):
    paths = exchange.client("").get("/openapi.json").json()["paths"]
    for path, method in [
        ("/api/orders", "post"),
        ("/api/orders", "get"),
        ("/api/orders/{order_id}", "get"),
        ("/api/orders/{order_id}", "delete"),
        ("/api/trades", "get"),
        ("/orders", "get"),
        ("/trades", "get"),
        ("/api/positions", "get"),
        ("/api/accounts", "post"),
        ("/api/accounts/{account_id}/rotate-key", "post"),
        ("/api/bess/telemetry", "post"),
        ("/api/telemetry", "post"),
        ("/api/bess/status", "get"),
        ("/api/bess-status", "get"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/metrics", "get"),
    ]:
        assert method in paths.get(path, {}), f"{method.upper()} {path} is not documented"


class _Refs(HTMLParser):
    """The URLs a page loads: its scripts' src, its links' href (stylesheets, icons)."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[str] = []
        self.links: list[tuple[str, str]] = []  # (rel, href)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script" and a.get("src"):
            self.scripts.append(a["src"])
        elif tag == "link" and a.get("href"):
            self.links.append((a.get("rel") or "", a["href"]))


# What each kind of reference must be served as.
_TYPES = {
    "script": ("text/javascript", "application/javascript"),
    "stylesheet": ("text/css",),
    "icon": ("image/",),
}


def test_docs_page_loads_swagger_ui_from_the_exchange_itself(exchange):
    """An offline control room gets the whole API docs page from the exchange: no URL of another
    host anywhere in it, and each script, stylesheet and icon it names is served here."""
    with exchange.client("") as c:
        r = c.get("/docs")
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("text/html")
        page = r.text
        origin = urlsplit(exchange.base_url).netloc
        foreign = [
            u for u in re.findall(r"(?:https?:)?//[\w.:-]+", page) if urlsplit(u).netloc != origin
        ]
        assert foreign == [], f"/docs names other hosts: {foreign}"
        assert "url: '/openapi.json'" in page  # the schema it renders is ours

        refs = _Refs()
        refs.feed(page)
        wanted = [("script", src) for src in refs.scripts]
        for rel, href in refs.links:
            kind = "stylesheet" if rel == "stylesheet" else "icon" if "icon" in rel else rel
            wanted.append((kind, href))
        kinds = {kind for kind, _ in wanted}
        assert {"script", "stylesheet"} <= kinds, f"no Swagger UI script or stylesheet: {wanted}"
        for kind, ref in wanted:
            url = urljoin(exchange.base_url + "/docs", ref)
            assert urlsplit(url).netloc == origin, f"{ref} is not on the exchange"
            got = c.get(url)
            assert got.status_code == 200, f"{ref}: {got.status_code}"
            ctype = got.headers["content-type"]
            assert ctype.startswith(_TYPES[kind]), f"{ref} is served as {ctype}"
            assert len(got.content) > 0, f"{ref} is empty"
