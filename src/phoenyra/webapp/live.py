"""Live-update sockets end with the session that opened them.

A Socket.IO connection is checked once, when it opens; the events it then receives come from
the relay, not from requests, so a session that signs out (or whose password is changed, or
whose user is removed) would go on receiving them. ``LiveSockets`` remembers which session
opened each socket: a sign-out disconnects that session's sockets at once (on this instance),
and ``sweep`` (every ``SWEEP_S`` seconds, on every instance) disconnects the sockets whose
session is no longer stored or no longer valid for its user.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from .auth import signed_in_user

log = logging.getLogger("phoenyra.webapp.live")

SWEEP_S = 5.0


class LiveSockets:
    def __init__(self, socketio: Any, app: Any, users: Any) -> None:
        self.socketio = socketio
        self.app = app
        self.users = users
        self._lock = threading.Lock()
        self._open: dict[str, str] = {}  # socket id → id of the session that opened it
        self._stop = threading.Event()

    def opened(self, socket_id: str, session_id: str) -> None:
        with self._lock:
            self._open[socket_id] = session_id

    def closed(self, socket_id: str) -> None:
        with self._lock:
            self._open.pop(socket_id, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._open)

    def end_session(self, session_id: str) -> int:
        """Disconnect the sockets opened by ``session_id`` (it signed out)."""
        with self._lock:
            ended = [s for s, sid in self._open.items() if sid == session_id]
        return self._disconnect(ended, "signed out")

    def sweep(self) -> int:
        """Disconnect every socket whose session has ended; returns how many."""
        with self._lock:
            items = list(self._open.items())
        interface = self.app.session_interface
        live: dict[str, bool] = {}  # by session: one look-up however many sockets it has
        for session_id in {sid for _, sid in items}:
            data = interface.stored(session_id)
            live[session_id] = data is not None and signed_in_user(data, self.users) is not None
        ended = [socket_id for socket_id, sid in items if not live[sid]]
        return self._disconnect(ended, "session ended")

    def _disconnect(self, socket_ids: list[str], why: str) -> int:
        for socket_id in socket_ids:
            self.closed(socket_id)
            self.socketio.server.disconnect(socket_id, namespace="/")
        if socket_ids:
            log.info("live sockets disconnected: %s", why, extra={"sockets": len(socket_ids)})
        return len(socket_ids)

    def run(self) -> None:
        """Sweep every ``SWEEP_S`` seconds until ``stop``."""
        while not self._stop.wait(SWEEP_S):
            try:
                self.sweep()
            except Exception:  # a store that is briefly unavailable: the next sweep retries
                log.exception("checking the live sockets' sessions failed")

    def start(self) -> None:
        threading.Thread(target=self.run, name="live-sockets", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
