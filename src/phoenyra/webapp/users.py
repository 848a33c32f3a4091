"""The web app's users: names, password hashes and roles in a small SQLite file.

SQLite rather than a JSON file: updates are atomic and safe with several worker processes on one
machine, and it needs nothing beyond the standard library. Passwords are hashed with Werkzeug's
scrypt (salted, memory-hard), which ships with Flask.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from werkzeug.security import check_password_hash, generate_password_hash

ROLES = ("viewer", "trader", "admin")
MIN_PASSWORD_LENGTH = 8
USER_NAME = re.compile(r"[A-Za-z0-9._@-]{1,64}")
# Checked when the user does not exist, so a wrong name takes as long as a wrong password.
_DUMMY_HASH = generate_password_hash("not-a-real-password")


class UserError(ValueError):
    """A user that cannot be created or changed; the message says why."""


def _stamp(password_hash: str) -> str:
    """Names one setting of a user's password: a sign-in records it, and a session whose stamp
    no longer matches was signed in with a password that has since been changed. Derived from
    the salted hash, so setting even the same password again gives a new one."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class User:
    name: str
    role: str
    stamp: str = field(default="", compare=False, repr=False)

    def may_trade(self) -> bool:
        return self.role in ("trader", "admin")

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


class UserStore:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")  # kept by the file: set once, not per request
            db.execute(
                "CREATE TABLE IF NOT EXISTS users ("
                " name TEXT PRIMARY KEY, password_hash TEXT NOT NULL,"
                " role TEXT NOT NULL CHECK (role IN ('viewer', 'trader', 'admin')),"
                " created_at REAL NOT NULL)"
            )

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=10)

    def add(self, name: str, password: str, role: str) -> User:
        name = name.strip()
        if not USER_NAME.fullmatch(name):
            raise UserError(
                "user name: 1-64 letters, digits, '.', '_', '@' or '-' (no spaces or markup)"
            )
        if role not in ROLES:
            raise UserError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        if len(password) < MIN_PASSWORD_LENGTH:
            raise UserError(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
        with self._lock, self._connect() as db:
            same = db.execute(
                "SELECT name FROM users WHERE lower(name) = lower(?)", (name,)
            ).fetchone()
            if same is not None:  # "Viewer1" beside "viewer1" would pass for the same person
                raise UserError(
                    f"user {same[0]!r} already exists (names are compared without case)"
                )
            password_hash = generate_password_hash(password)
            try:
                db.execute(
                    "INSERT INTO users (name, password_hash, role, created_at) VALUES (?, ?, ?, ?)",
                    (name, password_hash, role, time.time()),
                )
            except sqlite3.IntegrityError as exc:
                raise UserError(f"user {name!r} already exists") from exc
        return User(name, role, _stamp(password_hash))

    def set_password(self, name: str, password: str) -> None:
        if len(password) < MIN_PASSWORD_LENGTH:
            raise UserError(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
        with self._lock, self._connect() as db:
            cur = db.execute(
                "UPDATE users SET password_hash = ? WHERE name = ?",
                (generate_password_hash(password), name),
            )
            if cur.rowcount == 0:
                raise UserError(f"user {name!r} does not exist")

    def get(self, name: str) -> User | None:
        with self._connect() as db:
            row = db.execute(
                "SELECT name, role, password_hash FROM users WHERE name = ?", (name,)
            ).fetchone()
        return User(row[0], row[1], _stamp(row[2])) if row else None

    def all(self) -> list[User]:
        with self._connect() as db:
            rows = db.execute("SELECT name, role FROM users ORDER BY name").fetchall()
        return [User(*r) for r in rows]

    def authenticate(self, name: str, password: str) -> User | None:
        with self._connect() as db:
            row = db.execute(
                "SELECT name, role, password_hash FROM users WHERE name = ?", (name.strip(),)
            ).fetchone()
        if row is None:
            check_password_hash(_DUMMY_HASH, password)
            return None
        if not check_password_hash(row[2], password):
            return None
        return User(row[0], row[1], _stamp(row[2]))

    def ensure_admin(self, name: str, password: str) -> None:
        """The first admin comes from WEBAPP_ADMIN_PASSWORD; the environment stays the source
        of truth for that account's password, so changing the variable resets it."""
        if self.authenticate(name, password) is not None:
            return
        existing = self.get(name)
        if existing is None:
            self.add(name, password, "admin")
        else:
            self.set_password(name, password)
            with self._lock, self._connect() as db:
                db.execute("UPDATE users SET role = 'admin' WHERE name = ?", (name,))
