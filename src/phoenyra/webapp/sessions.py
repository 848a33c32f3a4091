"""Where the web app keeps its sessions: always on the server (Flask-Session), the browser
holding only a random session id. Sign-out deletes the session, so a copy of the cookie taken
before it no longer signs anyone in.

With ``REDIS_URL`` the sessions live in Redis, shared by every web app instance. Without it they
live in files under ``PHOENYRA_DATA_DIR/webapp-sessions`` (one host): Flask-Session's ``cachelib``
type with cachelib's FileSystemCache. Both use the same key prefix and the app's cookie settings
(``SESSION_COOKIE_*``, ``PERMANENT_SESSION_LIFETIME``).
"""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

from cachelib.file import FileSystemCache
from flask import Flask
from flask_session import Session

from ..config import ConfigError
from .settings import WebSettings

# At most this many session files. Each request rewrites its session with a fresh expiry
# (PERMANENT_SESSION_LIFETIME), and an expired file is never read again; when one more is needed,
# the expired ones are deleted and, if that is not enough, the least recently used sessions.
SESSION_FILE_LIMIT = 10_000


class SessionFiles(FileSystemCache):
    """cachelib's FileSystemCache in a directory only the web app's user may enter (0700), each
    file 0600, with its writes serialised within the process: the cache counts its files in a
    file of its own (read, then written), which concurrent requests would miscount, letting the
    directory grow past the limit or prune too early."""

    def __init__(self, directory: Path, limit: int = SESSION_FILE_LIMIT) -> None:
        self._lock = threading.RLock()  # re-entered: set() updates the count with set()
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        directory.chmod(0o700)  # also a directory made by hand or under a looser umask
        super().__init__(str(directory), threshold=limit, mode=0o600)

    def set(
        self,
        key: str,
        value: Any,
        timeout: int | timedelta | None = None,
        mgmt_element: bool = False,
    ) -> bool:
        with self._lock:
            return super().set(key, value, timeout, mgmt_element)

    def delete(self, key: str, mgmt_element: bool = False) -> bool:
        with self._lock:
            return super().delete(key, mgmt_element)

    def clear(self) -> bool:
        with self._lock:
            return super().clear()


def install_sessions(app: Flask, settings: WebSettings) -> Any | None:
    """Keep ``app``'s sessions server-side: in Redis with ``REDIS_URL`` (its client is returned),
    otherwise in files under the data directory (None is returned)."""
    redis_client = None
    app.config["SESSION_KEY_PREFIX"] = f"{settings.redis_prefix}session:"
    if settings.redis_url:
        import redis

        redis_client = redis.Redis.from_url(settings.redis_url)
        app.config.update(SESSION_TYPE="redis", SESSION_REDIS=redis_client)
    else:
        try:
            files = SessionFiles(settings.sessions_dir)
        except OSError as exc:  # e.g. a data directory the web app may not write to
            raise ConfigError(
                f"cannot keep the web app's sessions in {settings.sessions_dir}: {exc} "
                "(PHOENYRA_DATA_DIR must be writable by the web app's user; or set REDIS_URL)"
            ) from exc
        app.config.update(SESSION_TYPE="cachelib", SESSION_CACHELIB=files)
    Session(app)
    return redis_client
