"""The order form's refusals in the page's language.

The exchange answers a refusal as ``{"error": {"code", "message", ...figures}}``: the message is
an English sentence for API clients, the figures (tick, lot, SoC, limits, retry-after, the
fields of a VALIDATION_ERROR) are fields beside it. The operator reads a sentence per known code
built from those figures, numbers in the page's locale; an unknown code (or one without its
figures) falls back to the exchange's own message. ``fields`` names the form's inputs to mark
invalid.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import datetime

from flask_babel import format_datetime, format_decimal, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

# The order form's inputs in the operator's words, as the subject of a sentence.
FIELDS = {
    "quantity": _l("the quantity"),
    "price": _l("the price"),
    "market": _l("the market"),
    "side": _l("the side"),
    "time_in_force": _l("the time in force"),
    "delivery_start": _l("the delivery quarter-hour"),
}
NUMBER_TYPES = {
    "float_type",
    "float_parsing",
    "finite_number",
    "int_type",
    "int_parsing",
    "int_from_float",
    "decimal_type",
    "decimal_parsing",
}


def num(value) -> str:
    """A figure in the page's locale with the decimals it has (0.01 → 0,01; 50.005 → 50,005)."""
    return format_decimal(value, format="#,##0.##########")


def num2(value) -> str:
    """A figure with two decimals (stored energy, a battery's room)."""
    return format_decimal(value, format="#,##0.00")


def signed2(value) -> str:
    return ("+" if value >= 0 else "") + num2(value)


# A delivery quarter-hour's start, in UTC, 24-hour as everywhere on the pages (Babel's "short"
# English pattern is the US one: 11/30/26, 1:00 PM).
WHEN_PATTERNS = {"de": "dd.MM.yyyy HH:mm"}
WHEN_DEFAULT = "yyyy-MM-dd HH:mm"


def when(iso: str) -> str:
    """A delivery quarter-hour's start, ISO 8601 UTC, in the page's language (in UTC)."""
    dt = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    locale = get_locale()
    pattern = WHEN_PATTERNS.get(locale.language if locale else "", WHEN_DEFAULT)
    return format_datetime(dt, pattern, rebase=False) + " UTC"


def is_number(value) -> bool:
    """A finite int or float (not a bool): a figure the page can show in its locale."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _figures(err: Mapping, *names: str) -> bool:
    return all(is_number(err.get(n)) for n in names)


# -- one sentence per code ----------------------------------------------------------------------
def _tick(e):
    return _(
        "The price %(price)s EUR/MWh is not a multiple of the tick size %(tick)s EUR/MWh "
        "on %(market)s.",
        price=num(e["price"]),
        tick=num(e["tick"]),
        market=e.get("market", ""),
    )


def _lot(e):
    return _(
        "The quantity %(quantity)s MWh is not a multiple of the lot size %(lot)s MWh on "
        "%(market)s.",
        quantity=num(e["quantity"]),
        lot=num(e["lot"]),
        market=e.get("market", ""),
    )


def _bounds(e):
    return _(
        "The price %(price)s EUR/MWh is outside the bounds of %(market)s (%(min)s to %(max)s "
        "EUR/MWh).",
        price=num(e["price"]),
        min=num(e["min_price"]),
        max=num(e["max_price"]),
        market=e.get("market", ""),
    )


def _too_large(e):
    return _(
        "The quantity %(quantity)s MWh exceeds the per-order maximum of %(max)s MWh on %(market)s.",
        quantity=num(e["quantity"]),
        max=num(e["max_quantity"]),
        market=e.get("market", ""),
    )


def _soc(e):
    if e.get("side") == "BUY" and _figures(e, "soc_max_percent"):
        return _(
            "Buying charges the battery, and battery %(battery)s is at %(soc)s %% state of "
            "charge, above its maximum of %(limit)s %%.",
            battery=e.get("battery_id", ""),
            soc=format_decimal(e["soc_percent"], format="#,##0.0#"),
            limit=num(e["soc_max_percent"]),
        )
    if e.get("side") == "SELL" and _figures(e, "soc_min_percent"):
        return _(
            "Selling discharges the battery, and battery %(battery)s is at %(soc)s %% state of "
            "charge, below its minimum of %(limit)s %%.",
            battery=e.get("battery_id", ""),
            soc=format_decimal(e["soc_percent"], format="#,##0.0#"),
            limit=num(e["soc_min_percent"]),
        )
    return None


def _energy_sentence(e):
    figures = {
        "quantity": num(e["quantity"]),
        "battery": e.get("battery_id", ""),
        "capacity": num(e["capacity_mwh"]),
        "stored": num2(e["stored_mwh"]),
        "traded": signed2(e["traded_mwh"]),
        "open": num2(e["open_mwh"]),
        "max": num2(e["max_quantity"]),
    }
    later = e.get("limit_at")  # the moment the battery would pass its limit, when not now
    if e.get("side") == "BUY" and _figures(e, "soc_max_percent"):
        if later:
            return _(
                "Buying %(quantity)s MWh would charge battery %(battery)s past %(limit)s %% of "
                "its %(capacity)s MWh by %(at)s: with %(stored)s MWh stored, %(traded)s MWh "
                "already traded and %(open)s MWh in open buy orders delivered by then, at most "
                "%(max)s MWh can be bought.",
                limit=num(e["soc_max_percent"]),
                at=when(later),
                **figures,
            )
        return _(
            "Buying %(quantity)s MWh would charge battery %(battery)s past %(limit)s %% of its "
            "%(capacity)s MWh: with %(stored)s MWh stored, %(traded)s MWh already traded and "
            "%(open)s MWh in open buy orders, at most %(max)s MWh can be bought.",
            limit=num(e["soc_max_percent"]),
            **figures,
        )
    if e.get("side") == "SELL" and _figures(e, "soc_min_percent"):
        if later:
            return _(
                "Selling %(quantity)s MWh would discharge battery %(battery)s below %(limit)s "
                "%% of its %(capacity)s MWh by %(at)s: with %(stored)s MWh stored, %(traded)s "
                "MWh already traded and %(open)s MWh in open sell orders delivered by then, at "
                "most %(max)s MWh can be sold.",
                limit=num(e["soc_min_percent"]),
                at=when(later),
                **figures,
            )
        return _(
            "Selling %(quantity)s MWh would discharge battery %(battery)s below %(limit)s %% of "
            "its %(capacity)s MWh: with %(stored)s MWh stored, %(traded)s MWh already traded and "
            "%(open)s MWh in open sell orders, at most %(max)s MWh can be sold.",
            limit=num(e["soc_min_percent"]),
            **figures,
        )
    return None


def _energy(e):
    sentence = _energy_sentence(e)
    if sentence is None:
        return None
    return " ".join([sentence, *_energy_notes(e)])


def _energy_notes(e) -> list[str]:
    """Why the figures of an ENERGY_LIMIT sentence do not simply add up to the room: the limit
    is reached inside the order's own quarter-hour, or the battery's losses count."""
    notes = []
    share = e.get("delivered_share")
    if is_number(share) and 0 < share < 1:
        notes.append(
            _(
                "By then %(share)s %% of the order's quarter-hour is delivered.",
                share=format_decimal(share * 100, format="#,##0"),
            )
        )
    eta = e.get("discharge_efficiency")  # a SELL's
    if is_number(eta) and 0 < eta < 1:
        notes.append(
            _(
                "Counted with a discharge efficiency of %(eta)s %%: %(per)s MWh leaves the "
                "battery per MWh sold.",
                eta=num(eta * 100),
                per=num2(1 / eta),
            )
        )
    eta = e.get("charge_efficiency")  # a BUY's, or a SELL's that bought fills counted with
    if is_number(eta) and 0 < eta < 1:
        notes.append(
            _(
                "Counted with a charge efficiency of %(eta)s %%: %(per)s MWh is stored per MWh "
                "bought.",
                eta=num(eta * 100),
                per=num2(eta),
            )
        )
    return notes


def _power(e):
    figures = {
        "battery": e.get("battery_id", ""),
        "power": num(e["power_mw"]),
        "max": num2(e["max_quarter_hour_mwh"]),
        "start": when(e["delivery_start"]),
        "quantity": num(e["quantity"]),
    }
    if e.get("side") == "BUY":
        return _(
            "Battery %(battery)s is rated %(power)s MW, so it can charge at most %(max)s MWh in "
            "the quarter-hour starting %(start)s; with the energy already traded and open in "
            "that product, %(quantity)s MWh more is too much.",
            **figures,
        )
    return _(
        "Battery %(battery)s is rated %(power)s MW, so it can discharge at most %(max)s MWh in "
        "the quarter-hour starting %(start)s; with the energy already traded and open in that "
        "product, %(quantity)s MWh more is too much.",
        **figures,
    )


def _stale(e):
    return _(
        "The last status of battery %(battery)s is %(age)s s old (limit %(limit)s s): orders are "
        "refused until fresh telemetry arrives.",
        battery=e.get("battery_id", ""),
        age=format_decimal(round(e["age_s"]), format="#,##0"),
        limit=num(e["max_age_s"]),
    )


def _unknown_status(e):
    return _(
        "No status is known for battery %(battery)s: its orders are refused until its telemetry "
        "reports its state of charge.",
        battery=e.get("battery_id", ""),
    )


def _throttled(e):
    return _(
        "Too many orders on %(market)s: at most %(rate)s per second (bursts of %(burst)s). "
        "Retry in %(seconds)s s.",
        market=e.get("market", ""),
        rate=num(e["rate_per_s"]),
        burst=num(e["burst"]),
        seconds=format_decimal(e["retry_after"], format="#,##0.00"),
    )


def _closed(e):
    return _(
        "The %(market)s product starting %(start)s has passed gate closure (%(minutes)s minutes "
        "before delivery).",
        market=e.get("market", ""),
        start=when(e["delivery_start"]),
        minutes=num(e["gate_closure_minutes"]),
    )


def _delivery(e):
    reason = e.get("reason")
    if reason == "not_quarter_hour":
        return _("The delivery must start on a quarter-hour (minute 00, 15, 30 or 45).")
    if reason == "past":
        return _("The delivery quarter-hour has begun already.")
    if reason == "too_far_ahead" and _figures(e, "max_horizon_days"):
        return _(
            "The delivery quarter-hour is too far ahead: products trade at most %(days)s days "
            "before delivery.",
            days=num(e["max_horizon_days"]),
        )
    return None


# code → (the figures it needs, its sentence, the inputs it concerns)
SENTENCES: dict[str, tuple[tuple[str, ...], Callable[[Mapping], str | None], tuple[str, ...]]] = {
    "INVALID_TICK": (("price", "tick"), _tick, ("price",)),
    "INVALID_LOT": (("quantity", "lot"), _lot, ("quantity",)),
    "PRICE_OUT_OF_BOUNDS": (("price", "min_price", "max_price"), _bounds, ("price",)),
    "QUANTITY_TOO_LARGE": (("quantity", "max_quantity"), _too_large, ("quantity",)),
    "INVALID_PRICE": ((), lambda e: _("The price must be a finite number in EUR/MWh."), ("price",)),
    "INVALID_QUANTITY": (
        (),
        lambda e: _("The quantity must be a positive number of MWh."),
        ("quantity",),
    ),
    "SOC_LIMIT": (("soc_percent",), _soc, ()),
    "ENERGY_LIMIT": (
        ("quantity", "capacity_mwh", "stored_mwh", "traded_mwh", "open_mwh", "max_quantity"),
        _energy,
        ("quantity",),
    ),
    "POWER_LIMIT": (("power_mw", "max_quarter_hour_mwh", "quantity"), _power, ("quantity",)),
    "BATTERY_STATUS_STALE": (("age_s", "max_age_s"), _stale, ()),
    "BATTERY_STATUS_UNKNOWN": ((), _unknown_status, ()),
    "THROTTLED": (("retry_after", "rate_per_s", "burst"), _throttled, ()),
    "MARKET_CLOSED": (("gate_closure_minutes",), _closed, ("delivery_start",)),
    "INVALID_DELIVERY": ((), _delivery, ("delivery_start",)),
    "UNKNOWN_MARKET": ((), lambda e: _("The exchange does not trade this market."), ("market",)),
    "NOT_READY": (
        (),
        lambda e: _("The exchange is starting, stopping or recovering: try again shortly."),
        (),
    ),
    "STORAGE_UNAVAILABLE": (
        (),
        lambda e: _(
            "The exchange's database failed while the order was being stored, so it is not "
            "confirmed: check the active orders before placing it again."
        ),
        (),
    ),
}


def _problem(detail: Mapping, field: str) -> str:
    kind = detail.get("type")
    if kind == "missing":
        return _("%(field)s is missing", field=field)
    if kind in NUMBER_TYPES:
        return _("%(field)s is not a number", field=field)
    if kind == "greater_than" and is_number(detail.get("gt")):
        return _("%(field)s must be greater than %(limit)s", field=field, limit=num(detail["gt"]))
    if kind in ("enum", "literal_error"):
        return _("%(field)s is not one of the choices", field=field)
    return _("%(field)s is not valid", field=field)


def _validation(err: Mapping) -> tuple[str | None, list[str]]:
    details = err.get("details")
    if not isinstance(details, list) or not details:
        return None, []
    parts, fields = [], []
    for d in details:
        name = d.get("field") if isinstance(d, Mapping) else None
        if name not in FIELDS:  # another field than the form's: the exchange says it best
            return None, []
        if name not in fields:
            fields.append(name)
        parts.append(_problem(d, str(FIELDS[name])))
    text = "; ".join(parts)
    return text[:1].upper() + text[1:] + ".", fields


def describe(err: Mapping) -> tuple[str | None, list[str]]:
    """The refusal ``err`` (the exchange's ``error`` object) as (a sentence in the page's
    language, the form inputs it concerns); (None, []) for a code without a sentence here or
    without the figures it needs: show the exchange's message then."""
    code = err.get("code")
    if code == "VALIDATION_ERROR":
        return _validation(err)
    entry = SENTENCES.get(code) if isinstance(code, str) else None
    if entry is None:
        return None, []
    needs, sentence, fields = entry
    if not _figures(err, *needs):
        return None, []
    try:
        text = sentence(err)
    except (KeyError, TypeError, ValueError):  # a figure of an unexpected shape
        return None, []
    return (text, list(fields)) if text else (None, [])


def unavailable(code: str, base_url: str, timeout_s: float | None) -> str:
    """The web app's own EXCHANGE_TIMEOUT / EXCHANGE_UNAVAILABLE, in the page's language."""
    if code == "EXCHANGE_TIMEOUT" and timeout_s is not None:
        return _(
            "The exchange at %(url)s did not answer within %(seconds)s s.",
            url=base_url,
            seconds=num(timeout_s),
        )
    return _("The exchange at %(url)s cannot be reached.", url=base_url)
