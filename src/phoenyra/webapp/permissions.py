"""What each role may ask the exchange for through the web app.

The web app holds one exchange key (API_KEY, an admin key) and enforces the signed-in user's
role itself before passing a request through; the exchange sees every web app user as that one
account (the desk). Viewers and traders only ever see the desk's own orders.
"""

from __future__ import annotations

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ADMIN_ONLY_PREFIXES = ("/api/config", "/api/accounts")
# A trader may place and cancel orders and have the optimiser plan and place them.
TRADER_WRITES = ("/api/orders", "/api/schedule/")


def refusal(role: str, method: str, path: str) -> str | None:
    """None when ``role`` may send ``method path``; else the reason it may not."""
    if role == "admin":
        return None
    if path.startswith(ADMIN_ONLY_PREFIXES) and path != "/api/accounts/me":
        return f"only an admin may use {path}"
    if method in READ_METHODS:
        return None
    if role == "trader" and path.startswith(TRADER_WRITES):
        return None
    return f"the role {role} may not {method} {path}"
