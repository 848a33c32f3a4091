"""The OpenAPI schema documents every field of the wire contracts, numbers with their unit."""

from __future__ import annotations

import re

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
