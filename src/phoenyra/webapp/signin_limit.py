"""Failed sign-ins counted per user name and per client address over a sliding window.

Before a password is checked the attempt takes a place in both windows, atomically, so that
parallel requests cannot all slip past the count while the (slow, scrypt) checks run. A name or
address that already has its limit of failures within the window is refused without checking
the password, until enough of those failures are older than the window. A failed attempt keeps
its place; a successful one clears the name's failures and gives the address its place back.
Unknown names are counted like real ones, so the answers never tell whether a name exists.

With Redis (``REDIS_URL``) the windows are sorted sets shared by every web app instance, kept
across restarts and timed by Redis's clock; otherwise they live in this process.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import math
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, Protocol

log = logging.getLogger("phoenyra.webapp.signin")

SCOPES = ("user", "address")


@dataclass(frozen=True, slots=True)
class Limits:
    per_user: int
    per_address: int
    window_s: int


@dataclass(frozen=True, slots=True)
class Locked:
    """Refused without a password check: ``scope`` is the name or the address."""

    scope: str
    retry_after_s: int


@dataclass(frozen=True, slots=True)
class Attempt:
    """A password check that took its place in both windows."""

    name: str
    address: str
    keys: tuple[str, str]
    token: str
    failures: tuple[int, int]  # in each window, this attempt included


class SignInLimitUnavailable(RuntimeError):
    """The shared counters cannot be read (Redis down): sign-in fails closed."""


class Windows(Protocol):
    def reserve(
        self, keys: tuple[str, str], limits: tuple[int, int], window_s: int, token: str
    ) -> tuple[bool, tuple[float, float]]:
        """Take a place in both windows and return (True, failures per window), or, when
        either is full, take none and return (False, seconds until each has room)."""

    def release(self, user_key: str, address_key: str, token: str) -> None:
        """A success: forget the name's failures and this attempt's place for the address."""


class MemoryWindows:
    """The windows in this process (no Redis): lists of (time, token) per key."""

    SWEEP_EVERY = 256

    def __init__(self, clock=time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[str, list[tuple[float, str]]] = {}
        self._calls = 0

    def reserve(self, keys, limits, window_s, token):
        now = self._clock()
        with self._lock:
            self._calls += 1
            if self._calls % self.SWEEP_EVERY == 0:  # names an attacker tried once, long ago
                self._sweep(now - window_s)
            waits = []
            for key, limit in zip(keys, limits, strict=True):
                recent = [e for e in self._entries.get(key, ()) if e[0] > now - window_s]
                self._entries[key] = recent
                full = len(recent) >= limit
                waits.append(recent[len(recent) - limit][0] + window_s - now if full else 0.0)
            if any(w > 0 for w in waits):
                return False, tuple(waits)
            for key in keys:
                self._entries[key].append((now, token))
            return True, tuple(float(len(self._entries[key])) for key in keys)

    def release(self, user_key, address_key, token):
        with self._lock:
            self._entries.pop(user_key, None)
            entries = self._entries.get(address_key)
            if entries:
                self._entries[address_key] = [e for e in entries if e[1] != token]

    def _sweep(self, cutoff: float) -> None:
        for key in [k for k, v in self._entries.items() if not v or v[-1][0] <= cutoff]:
            del self._entries[key]


# KEYS: the name's and the address's sorted sets (member: attempt token, score: time in ms).
# ARGV: window in ms, the name's limit, the address's limit, the attempt's token.
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
local limits = {tonumber(ARGV[2]), tonumber(ARGV[3])}
local waits = {0, 0}
local full = false
for i = 1, 2 do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window)
  local n = redis.call('ZCARD', KEYS[i])
  if n >= limits[i] then
    local oldest = redis.call('ZRANGE', KEYS[i], n - limits[i], n - limits[i], 'WITHSCORES')
    waits[i] = math.max(1, tonumber(oldest[2]) + window - now)
    full = true
  end
end
if full then
  return {0, waits[1], waits[2]}
end
local counts = {}
for i = 1, 2 do
  redis.call('ZADD', KEYS[i], now, ARGV[4])
  redis.call('PEXPIRE', KEYS[i], window)
  counts[i] = redis.call('ZCARD', KEYS[i])
end
return {1, counts[1], counts[2]}
"""


class RedisWindows:
    """The windows in Redis, shared by the web app's instances."""

    def __init__(self, redis_client: Any) -> None:
        import redis

        self._redis = redis_client
        self._errors = (redis.RedisError, OSError)
        self._reserve = redis_client.register_script(_RESERVE)

    def reserve(self, keys, limits, window_s, token):
        try:
            ok, first, second = self._reserve(
                keys=list(keys), args=[window_s * 1000, limits[0], limits[1], token]
            )
        except self._errors as exc:
            raise SignInLimitUnavailable(f"redis: {exc}") from exc
        if ok:
            return True, (float(first), float(second))
        return False, (first / 1000, second / 1000)

    def release(self, user_key, address_key, token):
        try:
            pipe = self._redis.pipeline()
            pipe.delete(user_key)
            pipe.zrem(address_key, token)
            pipe.execute()
        except self._errors as exc:
            raise SignInLimitUnavailable(f"redis: {exc}") from exc


def address_of(remote_addr: str | None) -> str:
    """The address failures are counted for: an IPv6 client by its /64 (one host usually has a
    whole /64 to pick addresses from), an IPv4-mapped one as IPv4."""
    try:
        ip = ipaddress.ip_address(remote_addr or "")
    except ValueError:
        return remote_addr or "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


class SignInLimiter:
    def __init__(self, limits: Limits, windows: Windows, key_prefix: str = "") -> None:
        self.limits = limits
        self.windows = windows
        self.key_prefix = key_prefix
        self._lock = threading.Lock()
        self.lockouts = dict.fromkeys(SCOPES, 0)  # read by the metrics collector

    @classmethod
    def for_settings(cls, settings, redis_client: Any | None) -> SignInLimiter:
        limits = Limits(
            settings.signin_max_failures_per_user,
            settings.signin_max_failures_per_address,
            settings.signin_failure_window_s,
        )
        windows = RedisWindows(redis_client) if redis_client is not None else MemoryWindows()
        return cls(limits, windows, f"{settings.redis_prefix}signin-failures:")

    def _keys(self, name: str, address: str) -> tuple[str, str]:
        # Names compare without case and surrounding spaces, as the user store's do; hashed so
        # that whatever was typed as a name never becomes part of a key.
        digest = hashlib.sha256(name.strip().casefold().encode()).hexdigest()[:32]
        return f"{self.key_prefix}user:{digest}", f"{self.key_prefix}address:{address}"

    def begin(self, name: str, remote_addr: str | None) -> Attempt | Locked:
        """Take a place for a password check, or say how long the name or address is locked.
        Raises SignInLimitUnavailable when the counters cannot be reached."""
        address = address_of(remote_addr)
        keys = self._keys(name, address)
        token = uuid.uuid4().hex
        limits = (self.limits.per_user, self.limits.per_address)
        ok, values = self.windows.reserve(keys, limits, self.limits.window_s, token)
        if ok:
            return Attempt(name, address, keys, token, (int(values[0]), int(values[1])))
        # Both may be locked: the answer is the longer wait.
        wait, scope = max((w, s) for w, s in zip(values, SCOPES, strict=True))
        return Locked(scope, max(1, math.ceil(wait)))

    def failed(self, attempt: Attempt) -> tuple[str, ...]:
        """The password was wrong: the attempt stays counted. Returns the scopes this failure
        locked (and logs and counts each lockout)."""
        limits = (self.limits.per_user, self.limits.per_address)
        locked = tuple(
            scope
            for scope, n, limit in zip(SCOPES, attempt.failures, limits, strict=True)
            if n >= limit
        )
        for scope in locked:
            with self._lock:
                self.lockouts[scope] += 1
            log.warning(
                "sign-in locked after too many failures",
                extra={
                    "scope": scope,
                    "user": attempt.name[:64],
                    "client": attempt.address,
                    "failures": attempt.failures[SCOPES.index(scope)],
                    "window_s": self.limits.window_s,
                },
            )
        return locked

    def succeeded(self, attempt: Attempt) -> None:
        try:
            self.windows.release(*attempt.keys, attempt.token)
        except SignInLimitUnavailable as exc:
            # The user is signed in; the stale failures expire with the window.
            log.warning("could not clear failed sign-ins: %s", exc)
