"""English and German (Flask-Babel): the language comes from the operator's choice (a cookie set
by /lang/<code>), else the browser's Accept-Language, else English.

Templates use ``_()``; the strings the browser scripts need are gathered in ``js_strings()`` and
handed to the page as JSON, so one catalogue (translations/de/LC_MESSAGES/messages.po) holds
every word the operator sees.
"""

from __future__ import annotations

from flask import Blueprint, Flask, make_response, redirect, request
from flask_babel import Babel, format_decimal, get_locale, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from .auth import safe_next

LANGUAGES = ("en", "de")
COOKIE = "phoenyra_lang"

bp = Blueprint("i18n", __name__)


def select_locale() -> str:
    chosen = request.cookies.get(COOKIE)
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(LANGUAGES) or "en"


def init_app(app: Flask) -> None:
    Babel(app, locale_selector=select_locale)
    app.register_blueprint(bp)
    # {{ 0.5|decimal }} → 0.5 / 0,5: numbers written into a page in its language.
    app.add_template_filter(
        lambda v, pattern="#,##0.0##": format_decimal(v, format=pattern), "decimal"
    )

    @app.context_processor
    def inject_language():
        return {"lang": str(get_locale() or "en"), "languages": LANGUAGES}


@bp.get("/lang/<code>")
def set_language(code: str):
    response = make_response(redirect(safe_next(request.args.get("next"))))
    if code in LANGUAGES:
        response.set_cookie(COOKIE, code, max_age=365 * 86400, samesite="Lax", httponly=True)
    return response


# An order's status and side in words (the exchange's codes are for machines).
ORDER_STATUSES = {
    "ACCEPTED": _l("Accepted"),
    "PARTIALLY_FILLED": _l("Partially filled"),
    "FILLED": _l("Filled"),
    "CANCELLED": _l("Cancelled"),
    "EXPIRED": _l("Expired"),
    "REJECTED": _l("Rejected"),
}
SIDES = {"BUY": _l("Buy"), "SELL": _l("Sell")}  # as in the tables


def order_status(code) -> str:
    return str(ORDER_STATUSES.get(code, code))


def side_name(code) -> str:
    return str(SIDES.get(code, code))


def js_strings() -> dict[str, str]:
    """Words the dashboard's scripts put on screen, in the page's language."""
    return {
        "live": _("Live"),
        "connecting": _("Connecting…"),
        "polling": _("Polling every 10 s"),
        "offline": _("Exchange unreachable"),
        "online": _("Online"),
        "offline_battery": _("Offline"),
        "charging": _("Charging"),
        "discharging": _("Discharging"),
        "idle": _("Idle"),
        "dispatch_now": _(
            "Trades: %(direction)s %(mw)s MW until %(until)s",
            direction="{direction}",
            mw="{mw}",
            until="{until}",
        ),
        "dispatch_next": _(
            "Trades: %(direction)s %(mw)s MW from %(at)s",
            direction="{direction}",
            mw="{mw}",
            at="{at}",
        ),
        "dispatch_none": _("Trades: nothing to deliver"),
        "dispatch_charge": _("charge"),
        "dispatch_discharge": _("discharge"),
        "not_reported": _("not reported"),
        "updated": _("updated"),
        "ago_s": _("%(n)s s ago", n="{n}"),
        "ago_min": _("%(n)s min ago", n="{n}"),
        "no_orders": _("No active orders."),
        "no_trades": _("No trades yet."),
        "no_trades_match": _("No trades match these filters."),
        "range_reversed": _("'Until' must be a later day than 'From'."),
        "side_means_ours": _("A side is ours: with a side chosen, only our trades are shown."),
        "no_positions": _("No position yet: your trades build it."),
        "no_prices": _("No prices received yet."),
        # The day-ahead data's provider, and why the market data is stale (the exchange's
        # stale_code; its English stale_reason for any other code).
        "source_entsoe": _("EPEX Spot day-ahead (ENTSO-E)"),
        "source_awattar": _("EPEX Spot day-ahead (aWattar)"),
        "source_csv": _("CSV import"),
        "source_synthetic": _("Synthetic demo prices"),
        "stale_NO_FEED": _("No prices have been received from the market feed."),
        "stale_FEED_STALE": _(
            "The market feed last delivered prices %(age)s s ago (limit %(limit)s s).",
            age="{age}",
            limit="{limit}",
        ),
        "stale_NO_TRADE": _("No trade yet to take the mark from."),
        "stale_NO_PRICE_NOW": _("No day-ahead price covers the current period."),
        "no_vwap": _("No trades in the last 96 quarter-hours."),
        "cancel": _("Cancel"),
        "cancelled": _("Order #%(id)s cancelled.", id="{id}"),
        "cancel_failed": _("Cancel failed"),
        "cancel_not_open": _(
            "order #%(id)s is %(status)s already and can no longer be cancelled",
            id="{id}",
            status="{status}",
        ),
        "cancel_not_found": _("order #%(id)s does not exist", id="{id}"),
        "cancel_forbidden": _(
            "only the order's account or an admin can cancel order #%(id)s", id="{id}"
        ),
        "continuous": _("continuous"),
        "mark": _("Mark"),
        "ema": _("EMA (α 0.2)"),
        "vwap": _("VWAP"),
        "vwap_qh": _("VWAP per 15 min"),
        "volume": _("Volume"),
        "price": _("Price"),
        "now": _("now"),
        "simulated": _("Simulated"),
        "stale": _("Stale"),
        "sending": _("Sending…"),
        "request_failed": _("The request failed"),
        "webapp_unreachable": _("The web app cannot be reached."),
        "session_expired": _(
            "Not sent: the session may have ended or the page is too old. Reload it."
        ),
        "testing": _("Testing…"),
        "saved": _("Saved"),
        "buy": _("Buy"),
        "sell": _("Sell"),
        "you": _("you"),
        # The schedule's power bars: charging is buying, discharging is selling.
        "schedule_charge": _("Charge = buy"),
        "schedule_discharge": _("Discharge = sell"),
        "schedule_soc": _("State of charge"),
        "no_schedule": _("No schedule yet."),
        "sources": _("data source"),
        "schedule_meta": _(
            "%(start)s – %(end)s · SoC %(soc0)s %% → %(soc1)s %% · solved in %(ms)s ms",
            start="{start}",
            end="{end}",
            soc0="{soc0}",
            soc1="{soc1}",
            ms="{ms}",
        ),
        "schedule_placed": _(
            "%(placed)s orders placed, %(refused)s refused%(why)s.",
            placed="{placed}",
            refused="{refused}",
            why="{why}",
        ),
        "schedule_held_back": _(
            "Those refused with ENERGY_LIMIT wait for earlier orders of the plan to fill: the "
            "battery cannot hold every charge (or discharge) of the plan at once. The automatic "
            "loop places them as orders fill."
        ),
        "schedule_replaced": _(
            "%(n)s open orders of the previous plan were replaced; orders placed by hand stay.",
            n="{n}",
        ),
        "price_axis": _("Price"),
        # configuration page
        "f_soc": _("State of charge"),
        "f_power": _("Power"),
        "f_temp": _("Temperature"),
        "f_status": _("Status word"),
        "f_capacity": _("Capacity"),
        "f_setpoint": _("Power setpoint"),
        "optional": _("optional"),
        "address": _("address"),
        "table": _("table"),
        "type": _("type"),
        "word_order": _("word order"),
        "scale": _("scale"),
        "scale_factor": _("scale-factor register"),
        "unit": _("unit"),
        "topic": _("topic"),
        "json_path": _("JSON path"),
        "plain_number": _("plain number"),
        "custom_map": _("Custom register map"),
        "custom_map_info": _(
            "A register map of your own: enter where each value lives on your device."
        ),
        "map_source": _("Register map from"),
        "sunspec_note": _(
            "SunSpec: addresses are offsets in their model, found by the SunS marker."
        ),
        "now_custom": _("The map now differs from the preset: it is saved as a custom map."),
        "address_required": _("%(field)s needs a register address.", field="{field}"),
        "topic_required": _("%(field)s needs a topic.", field="{field}"),
        "for_dispatch": _("for dispatch"),
        "setpoint_topic_required": _(
            "Dispatch over MQTT needs a topic for the power setpoint in the topic mapping."
        ),
        "not_saved": _("not saved yet"),
        "from_environment": _("not saved yet · from the environment"),
        "confirm_stop_source": _(
            "The battery is being read over %(source)s now, and this configuration turns that "
            "off. Unless another interface delivers its readings, the battery goes offline "
            "within three update intervals and its orders are refused. Save anyway?",
            source="{source}",
        ),
        "loaded": _("Configuration version %(v)s loaded.", v="{version}"),
        "saved_version": _("Configuration saved as version %(v)s.", v="{version}"),
        "not_saved_because": _("Not saved:"),
        "test_ok": _("Connected and read"),
        "test_failed": _("Connection test failed"),
        "details": _("Details"),
        "telemetry_key": _("telemetry key"),
        # What each kind of failed test means, before the device's own (technical) words.
        "test_kind_refused": _(
            "The device refused the connection: is its server switched on, and are host and "
            "port right?"
        ),
        "test_kind_timeout": _(
            "No answer in time: check the address, the network and any firewall in between."
        ),
        "test_kind_illegal_address": _(
            "The device has no register at an address of the map: check the preset or the map."
        ),
        "test_kind_wrong_unit_id": _("Nothing answers under this unit id: check the unit id."),
        "test_kind_bad_payload": _(
            "The answer is not a valid reading: check the map's types and scales, or the JSON "
            "path of the payload."
        ),
        "test_kind_out_of_range": _(
            "A value is outside what a battery can report (SoC 0–100 %, power within 1.2 × "
            "rated): check the scale factors."
        ),
        "test_kind_config_invalid": _("The configuration is not complete or not valid."),
        "f_interval": _("Poll interval (s)"),
        "f_rated": _("Rated power (MW)"),
        "value_required": _("%(field)s is missing.", field="{field}"),
        "at_least": _("%(field)s must be at least %(limit)s.", field="{field}", limit="{limit}"),
        "more_than": _("%(field)s must be more than %(limit)s.", field="{field}", limit="{limit}"),
        "at_most": _("%(field)s must be at most %(limit)s.", field="{field}", limit="{limit}"),
        "less_than": _("%(field)s must be less than %(limit)s.", field="{field}", limit="{limit}"),
        "f_port": _("Port"),
        "f_timeout": _("Timeout (s)"),
        "f_host": _("Host"),
        "f_broker": _("Broker"),
        "confirm_rotate": _(
            "Issue a new key for %(name)s? The device must be given the new key: the old one "
            "stops working after the overlap.",
            name="{name}",
        ),
        "rotate": _("Rotate key"),
        "old_valid_until": _("The previous key works until %(at)s.", at="{at}"),
        "key_for": _("Telemetry key for %(name)s.", name="{name}"),
        "copied": _("Copied."),
        # trade history
        "load_more": _("Load more"),
        # ngettext's two forms; the script picks one by the language's plural rule (app.js tn).
        "rows_shown_one": ngettext("%(n)s trade shown", "%(n)s trades shown", 1, n="{n}"),
        "rows_shown_other": ngettext("%(n)s trade shown", "%(n)s trades shown", 2, n="{n}"),
        # order statuses, the order form's checks and a battery without a current status
        **{f"status_{code}": str(label) for code, label in ORDER_STATUSES.items()},
        "off_tick": _(
            "The price is not on the %(tick)s EUR/MWh tick: the exchange will refuse it.",
            tick="{tick}",
        ),
        "off_lot": _(
            "The quantity is not a multiple of %(lot)s MWh: the exchange will refuse it.",
            lot="{lot}",
        ),
        "stale_value": _("Last known value, read at %(at)s", at="{at}"),
        "stale_since": _("No current reading: the last arrived at %(at)s.", at="{at}"),
        "stale_never": _("No reading has arrived."),
        "stale_orders_refused": _(
            "Orders for the battery are refused until fresh telemetry arrives "
            "(BATTERY_STATUS_STALE)."
        ),
    }
