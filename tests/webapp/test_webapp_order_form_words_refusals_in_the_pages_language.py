"""POST /order: a refusal is a sentence in the page's language, built from the refusal's
figures (numbers in the page's locale), naming the form's inputs it concerns; an unknown code
falls back to the exchange's own message."""

from __future__ import annotations

import json
import re
import socket
import time
from datetime import UTC, datetime, timedelta

import pytest

from phoenyra.webapp.exchange_client import ExchangeResponse
from support import LOSSLESS, ExchangeProcess, set_soc

FORM = {"market": "epex_at", "side": "BUY", "quantity": "0.1", "price": "1", "time_in_force": "GTC"}
# Words of the exchange's English messages that must not reach a German page.
ENGLISH = (
    "is not a multiple",
    "Input should",
    "Field required",
    "outside the bounds",
    "exceeds",
    "Buying",
    "Selling",
    "is rated",
    "orders are refused",
    "gate closure",
    "Retry in",
)


@pytest.fixture(scope="module")
def exchange(tmp_path_factory):
    """This module's exchange: epex_de closes its products two hours before delivery, so an
    order for the quarter-hour after next finds its book closed."""
    proc = ExchangeProcess(
        tmp_path_factory.mktemp("exchange"),
        PHOENYRA_MARKETS=json.dumps({"epex_de": {"gate_closure_s": 7200}}),
        **LOSSLESS,  # the sentences' figures; the losses' own note is tested below
    ).start()
    yield proc
    proc.stop()


@pytest.fixture
def german(client_as):
    client, token = client_as("trader")
    client.set_cookie("phoenyra_lang", "de")
    return client, token


def _order(client, token, **fields) -> tuple[int, dict]:
    r = client.post(
        "/order",
        data={**FORM, **fields, "csrf_token": token},
        headers={"Accept": "application/json"},
    )
    return r.status_code, r.get_json()


def _german_refusal(client, token, code: str, **fields) -> dict:
    status, body = _order(client, token, **fields)
    assert 400 <= status < 600, body
    assert body["message"].startswith("Order abgelehnt: "), body
    assert body["message"].endswith(f"({code})"), body
    for english in ENGLISH:
        assert english not in body["message"], body
    assert body["category"] == "error" and body.get("code") == code, body
    return body


def _next_quarter_hours(n: int) -> list[str]:
    now = datetime.now(UTC)
    first = now.replace(minute=now.minute - now.minute % 15, second=0, microsecond=0)
    return [(first + timedelta(minutes=15 * (i + 1))).isoformat() for i in range(n)]


def test_off_tick_price_is_refused_in_german_with_decimal_commas(german):
    body = _german_refusal(*german, "INVALID_TICK", price="50,005")
    assert (
        "Der Preis 50,005 EUR/MWh ist kein Vielfaches der Tick-Größe 0,01 EUR/MWh"
        in (body["message"])
    )
    assert body["fields"] == ["price"]


def test_quantity_not_a_number_and_missing_price_name_both_inputs_in_german(german):
    body = _german_refusal(*german, "VALIDATION_ERROR", quantity="abc", price="")
    assert "Die Menge ist keine Zahl; der Preis fehlt." in body["message"], body
    assert body["fields"] == ["quantity", "price"]
    body = _german_refusal(*german, "VALIDATION_ERROR", quantity="0")
    assert "Die Menge muss größer als 0 sein." in body["message"], body
    assert body["fields"] == ["quantity"]


@pytest.mark.parametrize(
    ("code", "fields", "words", "inputs"),
    [
        (
            "INVALID_LOT",
            {"quantity": "0,15"},
            ["Die Menge 0,15 MWh", "Lot-Größe 0,1 MWh"],
            ["quantity"],
        ),
        (
            "PRICE_OUT_OF_BOUNDS",
            {"price": "5000"},
            ["Der Preis 5.000 EUR/MWh liegt außerhalb", "(-500 bis 4.000 EUR/MWh)"],
            ["price"],
        ),
        (
            "QUANTITY_TOO_LARGE",
            {"quantity": "20000"},
            ["Die Menge 20.000 MWh übersteigt das Maximum von 10.000 MWh"],
            ["quantity"],
        ),
        (
            "ENERGY_LIMIT",
            {"quantity": "1,5"},
            ["Ein Kauf von 1,5 MWh würde Batterie default über 90 %", "höchstens 0,80 MWh"],
            ["quantity"],
        ),
        (
            "ENERGY_LIMIT",
            {"quantity": "1,5", "side": "SELL"},
            ["Ein Verkauf von 1,5 MWh", "unter 15 %", "höchstens 0,70 MWh verkauft"],
            ["quantity"],
        ),
    ],
)
def test_market_and_battery_refusals_are_german_sentences(german, code, fields, words, inputs):
    body = _german_refusal(*german, code, **fields)
    for word in words:
        assert word in body["message"], body
    assert body["fields"] == inputs


def test_soc_limit_in_german(german, exchange):
    set_soc(exchange, 95.5)
    body = _german_refusal(*german, "SOC_LIMIT")
    assert "Ein Kauf lädt die Batterie" in body["message"]
    assert "95,5 % Ladezustand, über ihrem Maximum von 90 %" in body["message"], body
    set_soc(exchange, 50.0)


def test_power_limit_and_gate_closure_in_german(german):
    client, token = german
    # 1 MW moves at most 0.25 MWh in a quarter-hour; the energy limit leaves 0.8 MWh.
    late = _next_quarter_hours(12)[-1]
    body = _german_refusal(
        client, token, "POWER_LIMIT", quantity="0,3", delivery_start=late, market="epex_at"
    )
    assert "hat 1 MW Nennleistung und kann in der Viertelstunde ab" in body["message"], body
    assert "höchstens 0,25 MWh laden" in body["message"] and "0,3 MWh mehr" in body["message"]
    start = datetime.fromisoformat(late)
    assert f"ab {start:%d.%m.%Y %H:%M} UTC" in body["message"], body  # 24-hour, 4-digit year
    soon = _next_quarter_hours(2)[-1]  # epex_de closes two hours ahead
    body = _german_refusal(client, token, "MARKET_CLOSED", market="epex_de", delivery_start=soon)
    assert "ist der Handelsschluss vorbei (120 Minuten vor Lieferung)" in body["message"], body
    assert body["fields"] == ["delivery_start"]


def test_an_energy_limit_reached_later_names_its_moment_in_german(german, exchange):
    """Three open quarter-hour buys of 0.2 MWh leave 0.2 MWh of the 0.8 MWh room (2 MWh at
    50 %, max 90 %); a fourth of 0.3 MWh would pass the limit when it is delivered, not now."""
    set_soc(exchange, 50.0)
    client, token = german
    quarters = _next_quarter_hours(8)[-4:]
    placed = []
    with exchange.client() as op:
        try:
            for start in quarters[:3]:
                r = op.post(
                    "/api/orders",
                    json={
                        "market": "epex_at",
                        "side": "BUY",
                        "quantity": 0.2,
                        "price": -400.0,
                        "time_in_force": "GTC",
                        "delivery_start": start,
                    },
                )
                assert r.status_code == 201, r.text
                placed.append(r.json()["id"])
            body = _german_refusal(
                client,
                token,
                "ENERGY_LIMIT",
                quantity="0,3",
                price="-400",
                market="epex_at",
                delivery_start=quarters[3],
            )
        finally:
            for order_id in placed:
                op.delete(f"/api/orders/{order_id}")
    end = datetime.fromisoformat(quarters[3]) + timedelta(minutes=15)
    message = body["message"]
    assert f"würde Batterie default bis {end:%d.%m.%Y %H:%M} UTC über 90 %" in message, body
    assert "0,60 MWh in offenen Kauforders, die bis dahin geliefert werden" in message, body
    assert "höchstens 0,20 MWh gekauft" in message, body


def test_a_refusal_flashed_without_script_is_german_too(german):
    client, token = german
    r = client.post("/order", data={**FORM, "price": "10.001", "csrf_token": token})
    assert r.status_code == 302
    page = client.get("/").get_data(as_text=True)
    assert "Der Preis 10,001 EUR/MWh ist kein Vielfaches der Tick-Größe 0,01 EUR/MWh" in page
    assert "is not a multiple" not in page


def test_english_page_keeps_english_sentences(client_as):
    client, token = client_as("trader")
    client.set_cookie("phoenyra_lang", "en")
    status, body = _order(client, token, price="50.005")
    assert status == 422 and body["fields"] == ["price"]
    assert (
        "The price 50.005 EUR/MWh is not a multiple of the tick size 0.01 EUR/MWh"
        in (body["message"])
    )
    status, body = _order(client, token, quantity="abc", price="")
    assert "The quantity is not a number; the price is missing." in body["message"], body
    late = _next_quarter_hours(12)[-1]
    status, body = _order(client, token, quantity="0.3", delivery_start=late, market="epex_at")
    start = datetime.fromisoformat(late)
    assert f"starting {start:%Y-%m-%d %H:%M} UTC" in body["message"], body  # not 1:00 PM


def test_an_unknown_code_falls_back_to_the_exchanges_message(make_app, client_as, exchange):
    app = make_app(exchange)
    client, token = client_as("trader", app=app)
    client.set_cookie("phoenyra_lang", "de")
    refusal = {"error": {"code": "SOMETHING_NEW", "message": "A rule added later said no."}}
    app.extensions["phoenyra"].exchange.request = lambda *a, **k: ExchangeResponse(
        422, json.dumps(refusal).encode(), {}
    )
    status, body = _order(client, token)
    assert status == 422
    assert body["message"] == "Order abgelehnt: A rule added later said no. (SOMETHING_NEW)"
    assert body["fields"] == []
    # A known code without the figures it needs (an older exchange) falls back the same way.
    refusal = {"error": {"code": "INVALID_TICK", "message": "Price 1.001 is off the tick."}}
    status, body = _order(client, token)
    assert body["message"] == "Order abgelehnt: Price 1.001 is off the tick. (INVALID_TICK)"


def test_stale_battery_and_throttling_in_german(make_app, client_as, tmp_path):
    quiet = ExchangeProcess(
        tmp_path / "quiet", PHOENYRA_THROTTLE_RATE="0.01", PHOENYRA_THROTTLE_BURST="1"
    ).start()
    try:
        app = make_app(quiet)
        client, token = client_as("trader", app=app)
        client.set_cookie("phoenyra_lang", "de")
        with quiet.client("demo-bess") as c:
            old = (datetime.now(UTC) - timedelta(seconds=300)).isoformat()
            r = c.post(
                "/api/bess/telemetry",
                json={
                    "battery_id": "default",
                    "soc_percent": 50,
                    "power_mw": 0,
                    "temperature_c": 25,
                    "timestamp": old,
                },
            )
            assert r.status_code == 202, r.text
        body = _german_refusal(client, token, "BATTERY_STATUS_STALE")
        assert re.search(
            r"Der letzte Status von Batterie default ist 30\d s alt \(Grenze 90 s\)",
            body["message"],
        ), body
        set_soc(quiet, 95.0)  # fresh again; the refused order took the burst's one token
        body = _german_refusal(client, token, "THROTTLED")
        assert (
            "Zu viele Orders auf epex_at: höchstens 0,01 pro Sekunde (Spitzen bis 1)."
            in (body["message"])
        ), body
        assert re.search(r"Erneut versuchen in \d+,\d\d s\.", body["message"]), body
    finally:
        quiet.stop()


def test_exchange_down_or_silent_is_said_in_german(make_app, client_as):
    client, token = client_as("trader", app=make_app(None))  # a closed port
    client.set_cookie("phoenyra_lang", "de")
    status, body = _order(client, token)
    assert status == 502 and body["code"] == "EXCHANGE_UNAVAILABLE"
    assert body["message"] == (
        "Order nicht gesendet: Die Börse unter http://127.0.0.1:9 ist nicht erreichbar."
    )
    with socket.socket() as silent:  # accepts connections and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        app = make_app(None, EXCHANGE_BASE_URL=url, WEBAPP_EXCHANGE_TIMEOUT_S="0.5")
        client, token = client_as("admin", app=app)  # the same user store: another user
        client.set_cookie("phoenyra_lang", "de")
        started = time.monotonic()
        status, body = _order(client, token)
    assert time.monotonic() - started < 5
    assert status == 502 and body["code"] == "EXCHANGE_TIMEOUT"
    assert body["message"] == (
        f"Order nicht gesendet: Die Börse unter {url} hat nicht innerhalb von 0,5 s geantwortet."
    )


def test_an_energy_limit_says_why_its_figures_do_not_simply_add_up_in_german(
    make_app, client_as, exchange
):
    """The exchange's figures for a sale reached inside its own quarter-hour, with losses: the
    German sentence names the delivered share and the discharge efficiency."""
    app = make_app(exchange)
    client, token = client_as("trader", app=app)
    client.set_cookie("phoenyra_lang", "de")
    refusal = {
        "error": {
            "code": "ENERGY_LIMIT",
            "message": "Selling 0.1 MWh would ...",
            "battery_id": "default",
            "side": "SELL",
            "quantity": 0.1,
            "capacity_mwh": 2.0,
            "stored_mwh": 0.4,
            "traded_mwh": -0.02,
            "open_mwh": 0.0,
            "max_quantity": 0.0667,
            "soc_min_percent": 15.0,
            "limit_at": "2026-12-01T02:11:00.000Z",
            "delivered_share": 0.7333,
            "discharge_efficiency": 0.8,
        }
    }
    app.extensions["phoenyra"].exchange.request = lambda *a, **k: ExchangeResponse(
        422, json.dumps(refusal).encode(), {}
    )
    status, body = _order(client, token, side="SELL")
    assert status == 422 and body["code"] == "ENERGY_LIMIT"
    message = body["message"]
    assert "höchstens 0,07 MWh verkauft werden." in message, message
    assert "Bis dahin ist die Viertelstunde der Order zu 73 % geliefert." in message, message
    assert (
        "Gerechnet mit 80 % Entladewirkungsgrad: Je verkaufter MWh verlassen 1,25 MWh die "
        "Batterie." in message
    ), message
