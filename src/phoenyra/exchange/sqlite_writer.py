"""The SQLite group-commit writer as a child process (run by path, standard library only).

Why a process: a writer thread has to take the GIL back after every call into SQLite, and the
event loop holds it while it works, so a thread writer and the loop take turns on one core. In
its own process the writer's work (binding, B-tree updates, commit, fsync) runs on another core
while the loop matches the next batch.

Protocol over stdin and stdout, one batch at a time (the parent sends the next batch only after
the answer to the previous one):

- start: one frame holding ``{"orders": sql, "trades": sql}``, the positional INSERT texts; the
  child answers ``OK`` once the database is open, or ``ER`` with the reason;
- batch: one frame holding ``(order_rows, trade_rows)`` (tuples in column order); the child
  writes both in one transaction and commits (fsynced per ``PRAGMA synchronous``), then answers
  ``OK``; on an error it rolls back and answers ``ER`` with the error. Nothing is answered
  before the commit has returned.

Checkpoints (copying the WAL back into the database file, with its fsync) run in a second
thread on its own connection, ``PASSIVE`` so they never block a commit, and a commit waits for
its own WAL write and fsync only. SQLite starts the WAL over only when a checkpoint has copied
every frame before the next write, which a background checkpoint racing steady commits rarely
achieves; so the committing connection keeps an automatic checkpoint as a bound
(``WAL_BOUND_PAGES``): it runs between two batches, finds most frames copied already, and lets
the WAL restart. ``journal_size_limit`` then truncates the file.

A frame from the parent is a 4-byte big-endian length and a pickle (the parent is the only
writer of the pipe). An answer is two bytes of kind, a 4-byte length and UTF-8 text. The child
ends at end of input and, on Linux, is killed with its parent (``PR_SET_PDEATHSIG``): a writer
that outlived a killed exchange could otherwise commit after a restarted exchange has read the
database.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import pickle
import sqlite3
import sys
import threading

HEADER_SIZE = 4
OK = b"OK"
ER = b"ER"
PR_SET_PDEATHSIG = 1
CHECKPOINT_EVERY_S = 0.05
WAL_BOUND_PAGES = 4096  # 16 MiB of 4 KiB pages
WAL_FILE_LIMIT = 64 << 20  # bytes kept of the WAL file after it restarts


def _die_with_parent(parent_pid: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, 9)  # SIGKILL when the parent thread ends
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)


def _read_frame(f):
    head = f.read(HEADER_SIZE)
    if len(head) < HEADER_SIZE:
        return None  # end of input: the parent closed the pipe or died
    size = int.from_bytes(head, "big")
    body = f.read(size)
    if len(body) < size:
        return None
    return pickle.loads(body)


def _answer(out, kind: bytes, text: str = "") -> None:
    body = text.encode("utf-8", "replace")
    out.write(kind + len(body).to_bytes(HEADER_SIZE, "big") + body)
    out.flush()


def _open(path: str, synchronous: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    return conn


def _checkpoints(conn: sqlite3.Connection, stop: threading.Event) -> None:
    """Copy committed WAL frames into the database while the writer goes on committing."""
    while not stop.wait(CHECKPOINT_EVERY_S):
        with contextlib.suppress(sqlite3.Error):  # busy now: the next round catches up
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
    conn.close()


def main(argv: list[str]) -> int:
    path, synchronous, parent_pid = argv[1], argv[2], int(argv[3])
    _die_with_parent(parent_pid)
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    statements = _read_frame(inp)
    if statements is None:
        return 0
    try:
        conn = _open(path, synchronous)
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute(f"PRAGMA wal_autocheckpoint={WAL_BOUND_PAGES}")
        conn.execute(f"PRAGMA journal_size_limit={WAL_FILE_LIMIT}")
        checkpointer = _open(path, synchronous)
    except Exception as exc:  # the parent reports it
        _answer(out, ER, f"{type(exc).__name__}: {exc}")
        return 1
    stop = threading.Event()
    threading.Thread(target=_checkpoints, args=(checkpointer, stop), daemon=True).start()
    _answer(out, OK)
    order_sql, trade_sql = statements["orders"], statements["trades"]
    while True:
        batch = _read_frame(inp)
        if batch is None:
            stop.set()
            conn.close()
            return 0
        order_rows, trade_rows = batch
        try:
            conn.execute("BEGIN")
            if order_rows:
                conn.executemany(order_sql, order_rows)
            if trade_rows:
                conn.executemany(trade_sql, trade_rows)
            conn.execute("COMMIT")
        except Exception as exc:
            with contextlib.suppress(Exception):
                conn.execute("ROLLBACK")
            _answer(out, ER, f"{type(exc).__name__}: {exc}")
            continue
        _answer(out, OK)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
