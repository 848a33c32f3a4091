"""The dashboard, the order form, user administration and health checks."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)

from .auth import json_error
from .exchange_client import ExchangeUnavailable
from .users import ROLES, UserError

bp = Blueprint("views", __name__)

MARKETS = ("epex_at", "epex_de", "epex_ch", "epex_it")
TIME_IN_FORCE = ("GTC", "IOC", "FOK")


@bp.get("/")
def dashboard():
    return render_template("dashboard.html", markets=MARKETS, time_in_force=TIME_IN_FORCE)


def _number(form, name: str) -> float | str:
    # Unparseable input goes to the exchange as typed, so its message names the field.
    raw = form.get(name, "").strip().replace(",", ".")
    try:
        return float(raw)
    except ValueError:
        return raw


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


def _describe(order: dict) -> str:
    side, qty, price = order.get("side"), order.get("quantity"), order.get("price")
    head = f"Order #{order.get('id')} {side} {qty} MWh @ {price} EUR/MWh on {order.get('market')}"
    status = order.get("status")
    trades = order.get("trades") or []
    if status == "FILLED":
        return f"{head}: filled {order.get('filled')} MWh in {len(trades)} trade(s)."
    if status == "PARTIALLY_FILLED":
        return (
            f"{head}: partially filled {order.get('filled')} MWh, "
            f"{order.get('remaining')} MWh resting in the book."
        )
    if status == "ACCEPTED":
        return f"{head}: accepted, resting in the book."
    return f"{head}: {status}."


@bp.post("/order")
def place_order():
    back = redirect(url_for("views.dashboard"))
    if not g.user.may_trade():
        flash(f"Order refused: the role {g.user.role} may not place orders.", "error")
        return back
    f = request.form
    body = {
        "market": f.get("market", "").strip(),
        "side": f.get("side", "").strip().upper(),
        "quantity": _number(f, "quantity"),
        "price": _number(f, "price"),
        "time_in_force": (f.get("time_in_force") or "GTC").strip().upper(),
    }
    delivery = _delivery_start(f.get("delivery_start", ""))
    if delivery:
        body["delivery_start"] = delivery
    try:
        r = current_app.extensions["phoenyra"].exchange.request("POST", "/api/orders", json=body)
    except ExchangeUnavailable as exc:
        flash(f"Order not sent: {exc.message}", "error")
        return back
    payload = r.json() if r.body else {}
    if r.status == 201:
        flash(_describe(payload), "success")
    else:
        err = (payload or {}).get("error") or {}
        flash(
            f"Order refused: {err.get('message', r.body.decode(errors='replace'))}"
            f" ({err.get('code', r.status)})",
            "error",
        )
    return back


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
