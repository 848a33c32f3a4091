"""Where the web app keeps its sessions: always on the server (Flask-Session), the browser
holding only a random session id. Sign-out deletes the session, so a copy of the cookie taken
before it no longer signs anyone in.

With ``REDIS_URL`` the sessions live in Redis, shared by every web app instance. Without it they
live in files under ``PHOENYRA_DATA_DIR/webapp-sessions`` (one host): Flask-Session's ``cachelib``
type with cachelib's FileSystemCache. Both use the same key prefix and the app's cookie settings
(``SESSION_COOKIE_*``, ``PERMANENT_SESSION_LIFETIME``).

A session is written back when a request changed it, and otherwise at most once per
``SESSION_REFRESH_S`` (five minutes) to push its expiry forward: the 12-hour idle timeout still
slides with use (a session ends 12 hours after its last write, so between 11 h 55 min and 12 h
after the last request), but a page polling every few seconds no longer rewrites its session
file (or Redis key) on every request; the cookie is re-sent only with a write.

A session read from the store is written back only while it is still there: a request that was
in flight when the same session signed out (or signed in again under a new id) does not bring
the ended session back. In Redis that is one ``SET ... XX``; in files a check and write under
the lock that deletions take too (one process; a second process on the same directory leaves a
window of one file write).
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from cachelib.file import FileSystemCache
from flask import Flask, Request
from flask_session.base import ServerSideSession, ServerSideSessionInterface
from flask_session.cachelib import CacheLibSessionInterface
from flask_session.redis import RedisSessionInterface

from ..config import ConfigError
from .settings import WebSettings

# At most this many session files. A session in use is rewritten with a fresh expiry
# (PERMANENT_SESSION_LIFETIME) at least every SESSION_REFRESH_S, and an expired file is never
# read again; when one more is needed, the expired ones are deleted and, if that is not enough,
# the sessions written longest ago.
SESSION_FILE_LIMIT = 10_000
# An unchanged session is written back (its expiry pushed forward) at most this often.
SESSION_REFRESH_S = 300.0
WRITTEN_AT = "_written_at"  # in the session: when it was last stored (epoch seconds)


class SessionFiles(FileSystemCache):
    """cachelib's FileSystemCache in a directory only the web app's user may enter (0700), each
    file 0600, with its writes serialised within the process: the cache counts its files in a
    file of its own (read, then written), which concurrent requests would miscount, letting the
    directory grow past the limit or prune too early."""

    def __init__(self, directory: Path, limit: int = SESSION_FILE_LIMIT) -> None:
        self.lock = threading.RLock()  # re-entered: set() updates the count with set()
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
        with self.lock:
            return super().set(key, value, timeout, mgmt_element)

    def delete(self, key: str, mgmt_element: bool = False) -> bool:
        with self.lock:
            return super().delete(key, mgmt_element)

    def clear(self) -> bool:
        with self.lock:
            return super().clear()


class _WriteBackWhileStored(ServerSideSessionInterface):
    """Marks a session read from the store (``from_store``), so that saving it updates the
    stored one and never creates it again once it has been deleted."""

    def open_session(self, app: Flask, request: Request) -> ServerSideSession:
        session = super().open_session(app, request)
        # The store had it when its id is the cookie's: an unknown id gets a new one.
        session.from_store = session.sid == request.cookies.get(self.get_cookie_name(app))
        return session

    def regenerate(self, session: ServerSideSession) -> None:
        super().regenerate(session)  # the old id is deleted; the new one is created on save
        if session:
            session.from_store = False

    def should_set_storage(self, app: Flask, session: ServerSideSession) -> bool:
        """Called just before a session would be written: whether to write it."""
        now = time.time()
        if not session.modified and getattr(session, "from_store", False):
            # Unchanged: refresh the stored expiry only once the last write is old enough.
            every = app.config.get("SESSION_REFRESH_S", SESSION_REFRESH_S)
            written_at = session.get(WRITTEN_AT)
            if isinstance(written_at, float) and now - written_at < every:
                session.refresh_skipped = True
                return False
        session[WRITTEN_AT] = now
        return True

    def stored(self, sid: str) -> dict | None:
        """The stored data of session ``sid``, or None once it has ended (or expired)."""
        return self._retrieve_session_data(self._get_store_id(sid))

    def should_set_cookie(self, app: Flask, session) -> bool:
        # A session that was not written back has ended: its id is not sent to the browser
        # again, where it would replace the id of the session that ended it (a sign-in).
        # A session whose write was skipped keeps the cookie it has: a fresh expiry on the
        # cookie would outlast the stored session's.
        if getattr(session, "ended", False) or getattr(session, "refresh_skipped", False):
            return False
        return super().should_set_cookie(app, session)


class RedisSessions(_WriteBackWhileStored, RedisSessionInterface):
    def _upsert_session(self, session_lifetime, session, store_id) -> None:
        if not getattr(session, "from_store", False):
            return super()._upsert_session(session_lifetime, session, store_id)
        written = self.client.set(  # XX: only if the key still exists, atomically
            name=store_id,
            value=self.serializer.encode(session),
            ex=session_lifetime,
            xx=True,
        )
        session.ended = not written
        return None


class FileSessions(_WriteBackWhileStored, CacheLibSessionInterface):
    cache: SessionFiles

    def _upsert_session(self, session_lifetime, session, store_id) -> None:
        if not getattr(session, "from_store", False):
            return super()._upsert_session(session_lifetime, session, store_id)
        with self.cache.lock:  # deletions take it too: the check holds until the write
            session.ended = not self.cache.has(store_id)
            if not session.ended:
                super()._upsert_session(session_lifetime, session, store_id)
        return None


def install_sessions(app: Flask, settings: WebSettings) -> Any | None:
    """Keep ``app``'s sessions server-side: in Redis with ``REDIS_URL`` (its client is returned),
    otherwise in files under the data directory (None is returned)."""
    # Flask-Session's defaults otherwise: permanent sessions, random ids, an unsigned cookie.
    common = {"app": app, "key_prefix": f"{settings.redis_prefix}session:"}
    if settings.redis_url:
        import redis

        redis_client = redis.Redis.from_url(settings.redis_url)
        app.session_interface = RedisSessions(client=redis_client, **common)
        return redis_client
    try:
        files = SessionFiles(settings.sessions_dir)
    except OSError as exc:  # e.g. a data directory the web app may not write to
        raise ConfigError(
            f"cannot keep the web app's sessions in {settings.sessions_dir}: {exc} "
            "(PHOENYRA_DATA_DIR must be writable by the web app's user; or set REDIS_URL)"
        ) from exc
    app.session_interface = FileSessions(client=files, **common)
    return None
