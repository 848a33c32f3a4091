"""The exchange's signed event stream relayed to browsers over Socket.IO.

One background thread per web app instance keeps a WebSocket to the exchange open (reconnecting
with exponential backoff and jitter). With Redis, Socket.IO publishes through Redis so every
instance's browsers get every event; then only one instance may relay (else each event arrives
once per instance), so the relaying instance holds a lock in Redis that it renews.

Rooms: every signed-in browser joins ``all``; admins also join ``admins``. Order events of the
desk account (API_KEY's account, which all web app users trade as) go to ``all``; other
accounts' order events only to ``admins``. Trades, telemetry and market data are public.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import secrets
import ssl
import threading
import time
import uuid
from urllib.parse import urlencode

from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException
from websockets.sync.client import connect

from ..tls import client_context

log = logging.getLogger("phoenyra.webapp.relay")

ROOM_ALL = "all"
ROOM_ADMINS = "admins"
LOCK_TTL_MS = 15_000


def signed_ws_url(base_url: str, key_id: str, secret: str, now: float | None = None) -> str:
    ts = str(int(time.time() if now is None else now))
    nonce = secrets.token_hex(8)
    sig = hmac.new(secret.encode(), f"{key_id}:{ts}:{nonce}".encode(), hashlib.sha256).hexdigest()
    ws_base = base_url.rstrip("/").replace("https://", "wss://").replace("http://", "ws://")
    return f"{ws_base}/ws?" + urlencode({"key_id": key_id, "ts": ts, "nonce": nonce, "sig": sig})


class ExchangeRelay:
    def __init__(self, socketio, settings, exchange_client, redis_client=None) -> None:
        self.socketio = socketio
        self.settings = settings
        self.exchange = exchange_client
        self.redis = redis_client
        self.lock_key = f"{settings.redis_prefix}relay-leader"
        self.instance = uuid.uuid4().hex
        self.connected = False
        self.leader = redis_client is None
        self.events_relayed = 0
        self.last_error: str | None = None
        self.desk_account_id: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def status(self) -> dict:
        return {
            "connected": self.connected,
            "leader": self.leader,
            "events_relayed": self.events_relayed,
            "last_error": self.last_error,
        }

    def start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="exchange-relay", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._release()

    # -- leadership (only with Redis) ---------------------------------------------------
    def _hold_lock(self) -> bool:
        if self.redis is None:
            return True
        try:
            if self.redis.set(self.lock_key, self.instance, nx=True, px=LOCK_TTL_MS):
                self.leader = True
            elif self.redis.get(self.lock_key) in (self.instance, self.instance.encode()):
                self.redis.pexpire(self.lock_key, LOCK_TTL_MS)
                self.leader = True
            else:
                self.leader = False
        except Exception as exc:  # Redis down: do not relay twice, try again later
            self.last_error = f"redis: {exc}"
            self.leader = False
        return self.leader

    def _release(self) -> None:
        if self.redis is not None and self.leader:
            try:
                if self.redis.get(self.lock_key) in (self.instance, self.instance.encode()):
                    self.redis.delete(self.lock_key)
            except Exception:
                log.debug("could not release the relay lock", exc_info=True)
            self.leader = False

    # -- the loop -----------------------------------------------------------------------
    def _run(self) -> None:
        delay = 0.5
        while not self._stop.is_set():
            if not self._hold_lock():
                self._stop.wait(LOCK_TTL_MS / 3000)
                continue
            try:
                self._relay_once()
                delay = 0.5  # a session that ran ends normally; reconnect quickly
            except (OSError, WebSocketException, ValueError) as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("exchange event stream: %s; retrying in %.1f s", exc, delay)
            finally:
                if self.connected:
                    self.connected = False
                    self.socketio.emit("exchange_status", {"connected": False}, to=ROOM_ALL)
            self._stop.wait(delay * (0.5 + random.random()))
            delay = min(delay * 2, 30.0)

    def _relay_once(self) -> None:
        secret = self.settings.effective_hmac_secret or ""
        url = signed_ws_url(self.exchange.base_url, self.settings.ws_key_id, secret)
        # wss:// for an https exchange, verified against EXCHANGE_CA_FILE when one is set.
        ssl_context = None
        if url.startswith("wss://"):
            verify = client_context(self.settings.exchange_ca_file)
            ssl_context = verify if isinstance(verify, ssl.SSLContext) else None
        try:
            ws = connect(url, open_timeout=5, close_timeout=2, ssl=ssl_context)
        except InvalidStatus as exc:
            raise ValueError(f"the exchange refused the event stream: {exc}") from exc
        with ws:
            hello = json.loads(ws.recv(timeout=5))
            account = (hello.get("data") or {}).get("account") or {}
            if account.get("id") is not None:
                self.desk_account_id = int(account["id"])
                self.exchange.set_desk_account_id(self.desk_account_id)
            self.connected = True
            self.last_error = None
            self.socketio.emit("exchange_status", {"connected": True}, to=ROOM_ALL)
            renew_at = time.monotonic() + LOCK_TTL_MS / 3000
            while not self._stop.is_set():
                if time.monotonic() >= renew_at:
                    if not self._hold_lock():
                        return  # another instance took over
                    renew_at = time.monotonic() + LOCK_TTL_MS / 3000
                try:
                    raw = ws.recv(timeout=1)
                except TimeoutError:
                    continue
                except ConnectionClosed as exc:
                    raise ValueError(f"the exchange closed the event stream: {exc}") from exc
                self.dispatch(json.loads(raw))

    def dispatch(self, event: dict) -> None:
        kind, data = event.get("type"), event.get("data")
        if not kind or kind == "hello":
            return
        if kind == "order" and isinstance(data, dict):
            mine = data.get("account_id") == self.desk_account_id
            room = ROOM_ALL if mine else ROOM_ADMINS
        else:
            room = ROOM_ALL
        # Socket.IO event names are the exchange's types: order, trade, telemetry, market,
        # market.prices, config, overflow.
        self.socketio.emit(kind, data, to=room)
        self.events_relayed += 1
