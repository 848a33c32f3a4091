"""The header's live indicator ("Connecting…") only on pages whose script opens the live
connection; the sign-in page of a development app without passwords leads to the dashboard."""

from __future__ import annotations

import json
import re


def test_sign_in_and_error_pages_have_no_live_indicator(make_app, client_as, exchange):
    client = make_app(exchange).test_client()
    page = client.get("/login").get_data(as_text=True)
    assert 'id="connection-state"' not in page and "Connecting" not in page
    client, _token = client_as("trader")
    assert 'id="connection-state"' in client.get("/").get_data(as_text=True)
    assert 'id="connection-state"' in client.get("/history").get_data(as_text=True)
    missing = client.get("/no-such-page")
    assert missing.status_code == 404
    assert 'id="connection-state"' not in missing.get_data(as_text=True)


def test_without_passwords_the_sign_in_page_leads_to_the_dashboard(make_app, exchange):
    client = make_app(exchange, WEBAPP_ADMIN_PASSWORD="").test_client()  # development
    r = client.get("/login?next=/history")
    assert r.status_code == 302 and r.headers["Location"] == "/history"
    assert client.get("/login").headers["Location"] == "/"


def _js_strings(page: str) -> dict:
    match = re.search(r'<script type="application/json" id="phx-i18n">(.*?)</script>', page)
    assert match
    return json.loads(match.group(1))


def test_the_trade_count_has_a_singular_and_a_plural_in_both_languages(client_as):
    client, _token = client_as("viewer")
    strings = _js_strings(client.get("/history").get_data(as_text=True))
    assert strings["rows_shown_one"] == "{n} trade shown"
    assert strings["rows_shown_other"] == "{n} trades shown"
    client.set_cookie("phoenyra_lang", "de")
    strings = _js_strings(client.get("/history").get_data(as_text=True))
    assert strings["rows_shown_one"] == "{n} Trade angezeigt"
    assert strings["rows_shown_other"] == "{n} Trades angezeigt"
    assert strings["status_ACCEPTED"] == "Angenommen"
