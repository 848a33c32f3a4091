"""API keys (stored hashed, compared in constant time, rotated with overlap) and HMAC signatures.

A key looks like ``phx_<key id>_<secret>``: the key id is public (it names the key in logs and in
WebSocket signatures), the whole string is the secret. Keys are random 256-bit values, so one
SHA-256 is the right hash (a slow password hash buys nothing for high-entropy secrets).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass

from ..core.errors import Reject

ROLES = ("admin", "trader", "viewer", "telemetry", "feed")
# What each role may do; admin may do everything.
CAN_TRADE = frozenset({"admin", "trader"})
CAN_READ = frozenset({"admin", "trader", "viewer"})
CAN_SEND_TELEMETRY = frozenset({"admin", "telemetry"})
CAN_ADMIN = frozenset({"admin"})
CAN_PUSH_PRICES = frozenset({"admin", "feed"})


# Letters, digits, . _ @ - and inner spaces: " " or "alice " would pass for another account.
ACCOUNT_NAME_PATTERN = r"^[A-Za-z0-9._@-](?:[A-Za-z0-9._@\- ]*[A-Za-z0-9._@-])?$"
ACCOUNT_NAME_MAX = 100


@dataclass(slots=True, frozen=True)
class Account:
    id: int
    name: str
    role: str
    battery_id: str | None

    @property
    def sees_all(self) -> bool:
        return self.role in ("admin", "viewer")

    def to_wire(self) -> dict:
        return {"id": self.id, "name": self.name, "role": self.role, "battery_id": self.battery_id}


@dataclass(slots=True)
class StoredKey:
    key_id: str
    account_id: int
    key_hash: str
    expires_at: float | None
    loaded_at: float = 0.0  # when read from storage; re-read after KEY_REFRESH_S


# Keys changed by another process (the CLI) take effect within this many seconds.
KEY_REFRESH_S = 30.0


def key_id_of(presented: str | None) -> str | None:
    if presented and presented.startswith("phx_"):
        parts = presented.split("_", 2)
        if len(parts) == 3 and parts[1]:
            return parts[1]
    return None


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> tuple[str, str]:
    """A fresh (key id, full key)."""
    key_id = secrets.token_hex(6)
    return key_id, f"phx_{key_id}_{secrets.token_urlsafe(32)}"


class KeyRing:
    def __init__(self) -> None:
        self.accounts: dict[int, Account] = {}
        self.keys: dict[str, StoredKey] = {}
        # Keys configured in the environment (API_KEY, BESS_API_KEY): (hash, key id, account).
        self._configured: list[tuple[str, str, int]] = []

    def add_account(self, account: Account) -> None:
        self.accounts[account.id] = account

    def add_key(self, key: StoredKey) -> None:
        self.keys[key.key_id] = key

    def expire_keys(self, account_id: int, at: float, except_key: str) -> None:
        for key in self.keys.values():
            live_past = key.expires_at is None or key.expires_at > at
            if key.account_id == account_id and key.key_id != except_key and live_past:
                key.expires_at = at

    def configure(self, key: str, key_id: str, account_id: int) -> None:
        self._configured.append((hash_key(key), key_id, account_id))

    def configured_for(self, account_id: int) -> bool:
        """Whether the account has a key from the environment (API_KEY, BESS_API_KEY, ...),
        which lives as long as the setting does: a rotation cannot end it."""
        return any(acct == account_id for _, _, acct in self._configured)

    def authenticate(self, presented: str | None, now: float) -> tuple[Account, str]:
        """The account and key id for a presented key; Reject 401 otherwise."""
        if not presented:
            raise Reject("UNAUTHENTICATED", "Send your API key in the X-API-Key header.", 401)
        digest = hash_key(presented)
        key_id = key_id_of(presented)
        if key_id is not None:
            stored = self.keys.get(key_id)
            if stored is not None and hmac.compare_digest(stored.key_hash, digest):
                if stored.expires_at is not None and stored.expires_at <= now:
                    raise Reject(
                        "KEY_EXPIRED",
                        "This API key was rotated and its overlap period has ended; "
                        "use the new key.",
                        401,
                    )
                return self.accounts[stored.account_id], stored.key_id
        for key_hash, key_id, account_id in self._configured:
            if hmac.compare_digest(key_hash, digest):
                return self.accounts[account_id], key_id
        raise Reject("INVALID_API_KEY", "The API key is not valid.", 401)

    def key_is_live(self, key_id: str, now: float) -> Account | None:
        stored = self.keys.get(key_id)
        if stored is not None:
            if stored.expires_at is not None and stored.expires_at <= now:
                return None
            return self.accounts.get(stored.account_id)
        for _, cid, account_id in self._configured:
            if cid == key_id:
                return self.accounts.get(account_id)
        return None


def require(account: Account, allowed: frozenset[str], action: str) -> None:
    if account.role not in allowed:
        raise Reject(
            "FORBIDDEN",
            f"Role {account.role!r} may not {action}; "
            f"it needs one of: {', '.join(sorted(allowed))}.",
            403,
        )


def ws_signature(secret: str, key_id: str, timestamp: str, nonce: str) -> str:
    """HMAC-SHA256 over ``key_id:timestamp:nonce``, hex encoded."""
    msg = f"{key_id}:{timestamp}:{nonce}".encode()
    return hmac.new(secret.encode(), msg, hashlib.sha256).hexdigest()


class NonceCache:
    """Nonces seen within the signature window; a nonce is accepted once."""

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self._seen: dict[str, float] = {}

    def accept(self, nonce: str, now: float) -> bool:
        if len(self._seen) > 10_000:
            cutoff = now - 2 * self.window_s
            self._seen = {n: t for n, t in self._seen.items() if t > cutoff}
        if nonce in self._seen:
            return False
        self._seen[nonce] = now
        return True


def verify_ws(
    secret: str,
    ring: KeyRing,
    nonces: NonceCache,
    key_id: str | None,
    timestamp: str | None,
    nonce: str | None,
    signature: str | None,
    now: float,
) -> Account:
    if not (key_id and timestamp and nonce and signature):
        raise Reject(
            "UNAUTHENTICATED",
            "Connect with key_id, ts, nonce and sig query parameters "
            "(sig = hex HMAC-SHA256 of 'key_id:ts:nonce' with HMAC_SECRET).",
            401,
        )
    try:
        ts = float(timestamp)
    except ValueError:
        ts = math.nan
    if not math.isfinite(ts):  # nan would pass any window: abs(now - nan) > w is False
        raise Reject("BAD_SIGNATURE", "ts must be epoch seconds (a finite number).", 401)
    if abs(now - ts) > nonces.window_s:
        raise Reject(
            "SIGNATURE_EXPIRED",
            f"The signature timestamp is more than {nonces.window_s:g} s from the server's clock.",
            401,
        )
    if len(nonce) < 8 or len(nonce) > 128:
        raise Reject("BAD_SIGNATURE", "The nonce must be 8 to 128 characters.", 401)
    expected = ws_signature(secret, key_id, timestamp, nonce)
    if not hmac.compare_digest(expected, signature):
        raise Reject("BAD_SIGNATURE", "The signature does not match.", 401)
    account = ring.key_is_live(key_id, now)
    if account is None:
        raise Reject("INVALID_API_KEY", f"Key id {key_id!r} is unknown or expired.", 401)
    if not nonces.accept(nonce, now):
        raise Reject("REPLAYED_NONCE", "This nonce was already used.", 401)
    return account
