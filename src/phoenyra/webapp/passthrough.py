"""The exchange's API on the web app: passed through under the signed-in user's rights."""

from __future__ import annotations

import json
import re

from flask import Blueprint, Response, current_app, g, request

from .auth import json_error
from .exchange_client import ExchangeResponse, ExchangeUnavailable
from .permissions import refusal

bp = Blueprint("passthrough", __name__)

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
# A connection test waits for the device up to the exchange's own limit (15 s): the web app's
# usual timeout would report the exchange as silent while it is still waiting for the device.
SLOW_PATHS = {"/api/config/test": 20.0}
_ORDER_PATH = re.compile(r"^/api/orders/(\d+)(/.*)?$")


def _to_flask(r: ExchangeResponse, body: bytes | None = None) -> Response:
    return Response(body if body is not None else r.body, status=r.status, headers=r.headers)


def _only_desk(payload, desk_id: int):
    """Drop other accounts' rows (orders, positions) from a list or a {"items": [...]} page."""

    def keep(row) -> bool:
        return not isinstance(row, dict) or row.get("account_id", desk_id) == desk_id

    if isinstance(payload, list):
        return [row for row in payload if keep(row)]
    if isinstance(payload, dict) and isinstance(payload.get("items"), list):
        return {**payload, "items": [row for row in payload["items"] if keep(row)]}
    if isinstance(payload, dict) and not keep(payload):
        return None
    return payload


def forward(path: str) -> Response:
    state = current_app.extensions["phoenyra"]
    user = g.user
    reason = refusal(user.role, request.method, path)
    if reason:
        return json_error(403, "FORBIDDEN", f"{user.name}: {reason}.")
    exchange = state.exchange
    try:
        if not user.is_admin:
            desk = exchange.desk_account_id()
            m = _ORDER_PATH.match(path)
            if m and request.method != "GET":
                # Only the desk's own orders may be cancelled or changed by a trader.
                owner = exchange.request("GET", f"/api/orders/{m.group(1)}")
                if owner.status == 200 and owner.json().get("account_id") != desk:
                    return json_error(404, "NOT_FOUND", f"Order {m.group(1)} does not exist.")
        r = exchange.request(
            request.method,
            path,
            params=list(request.args.items(multi=True)),
            content=request.get_data() or None,
            content_type=request.content_type,
            timeout=SLOW_PATHS.get(path),
        )
    except ExchangeUnavailable as exc:
        return json_error(502, exc.code, exc.message)
    if user.is_admin or request.method != "GET" or r.status != 200:
        return _to_flask(r)
    if "json" not in r.headers.get("content-type", ""):
        return _to_flask(r)
    filtered = _only_desk(r.json(), desk)
    if filtered is None:
        return json_error(404, "NOT_FOUND", "Not found.")
    return _to_flask(r, json.dumps(filtered).encode())


@bp.route("/api/<path:rest>", methods=METHODS)
def api(rest: str):
    return forward(f"/api/{rest}")


@bp.get("/orders")
def orders_page():
    return forward("/orders")


@bp.get("/trades")
def trades_page():
    return forward("/trades")


@bp.get("/market/prices")
def market_prices():
    return forward("/market/prices")
