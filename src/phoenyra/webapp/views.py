"""The dashboard, the order form, user administration and health checks."""

from __future__ import annotations

import csv
import io
import math
import re
from datetime import UTC, datetime

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import format_decimal, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from . import refusals
from .auth import json_error
from .exchange_client import ExchangeUnavailable
from .i18n import js_strings, order_status, side_name
from .preset_words import preset_words
from .users import ROLES, UserError

bp = Blueprint("views", __name__)

MARKETS = ("epex_at", "epex_de", "epex_ch", "epex_it")
MARKET_NAMES = {
    "epex_at": _l("Austria (AT)"),
    "epex_de": _l("Germany–Luxembourg (DE-LU)"),
    "epex_ch": _l("Switzerland (CH)"),
    "epex_it": _l("Italy North (IT-NORD)"),
}
TIME_IN_FORCE = ("GTC", "IOC", "FOK")
# The trade history's filters: what the exchange's /trades takes, plus whose trades.
TRADE_FILTERS = ("market", "since", "until", "side")
HISTORY_FILTERS = (*TRADE_FILTERS, "mine")
# The CSV export reads the exchange's pages of 1000; this caps one download.
CSV_MAX_ROWS = 200_000


def _page_context() -> dict:
    state = current_app.extensions["phoenyra"]
    return {
        "markets": MARKETS,
        "market_names": MARKET_NAMES,
        "default_market": state.settings.market,
        "js_strings": js_strings(),
        "live_page": True,  # its script opens the live connection: the header shows its state
    }


@bp.get("/")
def dashboard():
    return render_template("dashboard.html", time_in_force=TIME_IN_FORCE, **_page_context())


@bp.get("/config")
def config_page():
    if not g.user.is_admin:  # its API calls are admin-only too; the page would only fail
        message = _(
            "Only an admin may configure telemetry (signed in as %(role)s).", role=g.user.role
        )
        return render_template("error.html", message=message), 403
    settings = current_app.extensions["phoenyra"].settings
    return render_template(
        "config.html",
        exchange_url=settings.device_exchange_url,
        preset_words=preset_words(),
        **_page_context(),
    )


@bp.get("/history")
def history_page():
    filters = {k: v for k, v in request.args.items() if k in HISTORY_FILTERS and v}
    return render_template("history.html", filters=filters, **_page_context())


def _history_params(args) -> dict[str, str]:
    """The exchange's /trades filters from the page's query (empty ones dropped)."""
    out = {}
    for name in TRADE_FILTERS:
        value = (args.get(name) or "").strip()
        if value and name in ("since", "until") and len(value) == 10:
            value += "T00:00:00Z"  # the page's date fields: midnight UTC
        if value:
            out[name] = value
    if args.get("mine", "true") != "false" or "side" in out:
        out["mine"] = "true"
    return out


@bp.get("/history.csv")
def history_csv():
    """Every trade matching the page's filters as CSV (UTC timestamps, EUR/MWh, MWh)."""
    state = current_app.extensions["phoenyra"]
    params = _history_params(request.args)
    try:  # fail before the download starts, with the exchange's own reason
        first = state.exchange.request("GET", "/trades", params={**params, "limit": 1000})
    except ExchangeUnavailable as exc:
        return json_error(502, exc.code, exc.message)
    if first.status != 200:
        return Response(first.body, status=first.status, headers=first.headers)

    def rows():
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(
            [
                "id",
                "executed_at",
                "market",
                "delivery_start",
                "side",
                "quantity_mwh",
                "price_eur_mwh",
                "value_eur",
                "aggressor_side",
                "buy_order_id",
                "sell_order_id",
            ]
        )
        page, sent = first.json(), 0
        while True:
            for t in page["items"]:
                w.writerow(
                    [
                        t["id"],
                        t["executed_at"],
                        t["market"],
                        t["delivery_start"] or "",
                        t.get("side") or "",
                        t["quantity"],
                        t["price"],
                        round(t["price"] * t["quantity"], 2),
                        t["aggressor_side"],
                        t["buy_order_id"],
                        t["sell_order_id"],
                    ]
                )
                sent += 1
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
            if not page["next"]:
                return
            if sent >= CSV_MAX_ROWS:
                yield f"# export stopped at {CSV_MAX_ROWS} rows: narrow the dates for the rest\n"
                return
            # The header is sent: a failure is said in the file rather than cutting it short.
            try:
                r = state.exchange.request(
                    "GET", "/trades", params={**params, "limit": 1000, "cursor": page["next"]}
                )
            except ExchangeUnavailable as exc:
                yield f"# export stopped: {exc.message}\n"
                return
            if r.status != 200:
                yield f"# export stopped: the exchange answered {r.status}\n"
                return
            page = r.json()

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return Response(
        stream_with_context(rows()),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="phoenyra-trades-{stamp}.csv"'},
    )


# A plain decimal number, with a point or (German) a comma: float() alone also takes "nan",
# "inf", "1_000" and non-ASCII digits.
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:[.,][0-9]*)?|[.,][0-9]+)(?:[eE][+-]?[0-9]+)?")


def _number(form, name: str) -> float | str | None:
    # Anything else goes to the exchange as typed, so its refusal names the field; an empty
    # field (None) is left out, so the refusal says it is missing.
    raw = form.get(name, "").strip()
    if not raw:
        return None
    if not _DECIMAL.fullmatch(raw):
        return raw
    value = float(raw.replace(",", "."))
    return value if math.isfinite(value) else raw


def _delivery_start(raw: str) -> str | None:
    """The form's delivery quarter-hour: ISO 8601; a value without an offset is UTC."""
    raw = raw.strip()
    if not raw:
        return None
    try:
        dt = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return raw
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.isoformat()


def _decimal(value, pattern: str = "#,##0.0##") -> str:
    """A number in the page's language (0.5 / 0,5); anything else as it came."""
    if refusals.is_number(value):
        return format_decimal(value, format=pattern)
    return str(value)


def _price(value) -> str:
    """A price as the tables show it: 50.00, 45.815 (a trade between two ticks)."""
    return _decimal(value, "#,##0.00#")


def _describe(order: dict) -> str:
    head = _(
        "Order #%(id)s %(side)s %(qty)s MWh @ %(price)s EUR/MWh on %(market)s",
        id=order.get("id"),
        side=side_name(order.get("side")),
        qty=_decimal(order.get("quantity")),
        price=_price(order.get("price")),
        market=order.get("market"),
    )
    status = order.get("status")
    filled, trades = _decimal(order.get("filled")), len(order.get("trades") or [])
    if status == "FILLED":
        tail = ngettext(
            "filled %(filled)s MWh in %(num)d trade.",
            "filled %(filled)s MWh in %(num)d trades.",
            trades,
            filled=filled,
        )
    elif status == "PARTIALLY_FILLED":
        tail = _(
            "partially filled %(filled)s MWh, %(rest)s MWh resting in the book.",
            filled=filled,
            rest=_decimal(order.get("remaining")),
        )
    elif status == "ACCEPTED":
        tail = _("accepted, resting in the book.")
    elif status == "CANCELLED":
        tail = _(
            "%(tif)s: %(filled)s MWh filled, the rest was cancelled (no matching offer).",
            tif=order.get("time_in_force"),
            filled=filled,
        )
    else:
        tail = f"{order_status(status)}."
    return f"{head}: {tail}"


def _answer(
    category: str,
    message: str,
    order: dict | None = None,
    status: int = 200,
    code: str | None = None,
    fields: list[str] | None = None,
):
    """The form's answer: a flash and back to the dashboard, or JSON for the page's script
    (Accept: application/json), which shows the same message without a reload and marks the
    inputs named in ``fields`` invalid."""
    if request.accept_mimetypes.best == "application/json":
        body = {
            "category": category,
            "message": message,
            "order": order,
            "code": code,
            "fields": fields or [],
        }
        return jsonify(body), status
    flash(message, category)
    return redirect(url_for("views.dashboard"))


@bp.post("/order")
def place_order():
    if not g.user.may_trade():
        return _answer(
            "error",
            _("Order refused: the role %(role)s may not place orders.", role=g.user.role),
            status=403,
        )
    f = request.form
    body = {
        "market": f.get("market", "").strip(),
        "side": f.get("side", "").strip().upper(),
        "quantity": _number(f, "quantity"),
        "price": _number(f, "price"),
        "time_in_force": (f.get("time_in_force") or "GTC").strip().upper(),
    }
    body = {k: v for k, v in body.items() if v is not None}
    delivery = _delivery_start(f.get("delivery_start", ""))
    if delivery:
        body["delivery_start"] = delivery
    try:
        r = current_app.extensions["phoenyra"].exchange.request("POST", "/api/orders", json=body)
    except ExchangeUnavailable as exc:
        reason = refusals.unavailable(exc.code, exc.base_url, exc.timeout_s)
        return _answer(
            "error", _("Order not sent: %(reason)s", reason=reason), status=502, code=exc.code
        )
    try:
        payload = r.json() if r.body else {}
    except ValueError:  # not JSON: a proxy's error page
        payload = {}
    if r.status == 201:
        return _answer("success", _describe(payload), payload, 201)
    err = payload.get("error") if isinstance(payload, dict) else None
    err = err if isinstance(err, dict) else {}
    # A sentence in the page's language for the codes known here, else the exchange's own.
    reason, fields = refusals.describe(err)
    if reason is None:
        reason = err.get("message") or r.body.decode(errors="replace")
    code = err.get("code", r.status)
    return _answer(
        "error",
        _("Order refused: %(reason)s (%(code)s)", reason=reason, code=code),
        status=r.status,
        code=str(code),
        fields=fields,
    )


@bp.post("/admin/users")
def add_user():
    """Admin only: create a user; JSON or form body {username, password, role}."""
    if not g.user.is_admin:
        return json_error(403, "FORBIDDEN", "Only an admin may create users.")
    data = request.get_json(silent=True) or request.form
    try:
        user = current_app.extensions["phoenyra"].users.add(
            str(data.get("username", "")), str(data.get("password", "")), str(data.get("role"))
        )
    except UserError as exc:
        return json_error(422, "INVALID_USER", str(exc))
    return jsonify({"username": user.name, "role": user.role, "roles": ROLES}), 201


@bp.get("/me")
def me():
    return jsonify({"username": g.user.name, "role": g.user.role})


@bp.get("/favicon.ico")
def favicon():
    # Browsers ask for it whatever the page links; send them to the one we have.
    return redirect(url_for("static", filename="favicon.svg"), 301)


@bp.get("/healthz")
def healthz():
    return jsonify({"status": "ok", "service": "webapp"})


@bp.get("/readyz")
def readyz():
    state = current_app.extensions["phoenyra"]
    checks: dict[str, str] = {}
    try:
        r = state.exchange.request("GET", "/readyz")
        checks["exchange"] = "ok" if r.status == 200 else f"not ready ({r.status})"
    except ExchangeUnavailable as exc:
        checks["exchange"] = exc.message
    if state.redis is not None:
        try:
            state.redis.ping()
            checks["redis"] = "ok"
        except Exception as exc:  # any Redis client error means not ready
            checks["redis"] = f"{type(exc).__name__}: {exc}"
    ok = all(v == "ok" for v in checks.values())
    body = {
        "status": "ok" if ok else "unavailable",
        "service": "webapp",
        "checks": checks,
        "relay": state.relay.status(),
    }
    return jsonify(body), 200 if ok else 503
