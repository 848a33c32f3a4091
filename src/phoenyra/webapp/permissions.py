"""What each role may ask the exchange for through the web app.

The web app holds one exchange key (API_KEY, an admin key) and enforces the signed-in user's
role itself before passing a request through; the exchange sees every web app user as that one
account (the desk). Viewers and traders only ever see the desk's own orders.
"""

from __future__ import annotations

import re

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# /api/telemetry/config carries the telemetry secrets unmasked (it is the telemetry service's).
ADMIN_ONLY_PREFIXES = ("/api/config", "/api/accounts", "/api/telemetry/config")
# POSTs that only compute (the optimiser's plan places nothing): any signed-in role.
READ_ONLY_POSTS = ("/api/schedule/optimize",)
# A trader may place and cancel orders and have the optimiser plan and place them.
TRADER_WRITES = ("/api/orders", "/api/schedule/")
# Every exchange path is made of these; anything else is refused before a role is considered.
# Flask has decoded the path once and the exchange would decode it again: "%63onfig" arrives
# here as "%63onfig" and reaches the exchange as "config", a "%3F" arrives as "?" and the HTTP
# client cuts the path there. Checking one form and sending another is how a role check fails.
SAFE_PATH = re.compile(r"(?:/api)?(?:/[A-Za-z0-9._~-]+)+")


def refusal(role: str, method: str, path: str) -> str | None:
    """None when ``role`` may send ``method path``; else the reason it may not."""
    # The check must be about the path the exchange will see: the HTTP client resolves "." and
    # ".." segments, so /api/orders/../accounts would reach /api/accounts.
    if not SAFE_PATH.fullmatch(path) or any(seg in (".", "..") for seg in path.split("/")):
        return f"the path {path!r} is not allowed"
    if role == "admin":
        return None
    if path.startswith(ADMIN_ONLY_PREFIXES) and path != "/api/accounts/me":
        return f"only an admin may use {path}"
    if method in READ_METHODS or (method == "POST" and path in READ_ONLY_POSTS):
        return None
    if role == "trader" and path.startswith(TRADER_WRITES):
        return None
    return f"the role {role} may not {method} {path}"
