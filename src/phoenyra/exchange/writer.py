"""Group commit: every acknowledged change is committed first, many requests per transaction.

Requests hand their rows to the writer and await a future. The writer commits what has gathered
while the previous transaction was running, so the cost of a commit (and its fsync) is shared by
every request in the batch. Batches commit in arrival order, so an acknowledged request implies
that everything before it is durable too.

Two backends do the committing; either way a batch's future resolves only after its commit has
returned:

- ``process`` (the default on a SQLite file, Linux): a child process (``sqlite_writer.py``)
  with its own interpreter. The loop pickles the batch's row tuples into a pipe (C code, about
  a microsecond a row) and the child binds, writes and fsyncs on the other core, outside the
  loop's GIL.
- ``thread``: ``Store.write_batch`` in one thread (PostgreSQL, where the driver's network waits
  release the GIL; in-memory SQLite; or chosen with ``PHOENYRA_DB_WRITER=thread``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import pickle
import select
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .store import Store

CHILD = Path(__file__).with_name("sqlite_writer.py")
HEADER_SIZE = 4  # frames: a 4-byte big-endian length, then the body
START_TIMEOUT_S = 30.0
PIPE_BYTES = 1 << 20  # where the system allows it, a batch of thousands of rows fits the pipe


class WriteFailed(Exception):
    pass


def process_writer_possible(store: Store) -> bool:
    return store.sqlite_file is not None and sys.platform.startswith("linux")


class GroupCommitWriter:
    """One batch in flight at a time; the next one gathers while it commits.

    An idle writer starts a commit inside ``submit`` itself, so the event loop goes on with
    other requests (the next batch) while the backend commits: CPU and fsync overlap. The next
    batch starts from the commit's completion callback, with whatever gathered meanwhile.
    """

    def __init__(
        self,
        store: Store,
        observe: Callable[[float], None] | None = None,
        mode: str = "auto",
    ) -> None:
        self.store = store
        if mode == "auto":
            mode = "process" if process_writer_possible(store) else "thread"
        elif mode == "process" and not process_writer_possible(store):
            raise ValueError(
                "PHOENYRA_DB_WRITER=process needs a SQLite database file on Linux; "
                "use thread (or auto) for PostgreSQL and in-memory SQLite"
            )
        self.mode = mode
        self._backend = ProcessBackend(store) if mode == "process" else ThreadBackend(store)
        self.observe = observe  # receives each commit's duration in seconds
        self._orders: dict[int, tuple] = {}  # by order id
        self._trades: list[tuple] = []
        self._waiters: list[asyncio.Future] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._inflight: asyncio.Future | None = None
        self._failed: WriteFailed | None = None
        self._closed = False
        self.batches = 0
        self.rows = 0

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._backend.start(self._loop)

    async def stop(self) -> None:
        if self._loop is not None:
            # After a failure nothing more can be made durable; the next start reloads storage.
            with contextlib.suppress(WriteFailed):
                # Requests submitted while a flush commits are launched after it: flush until
                # nothing is queued or in flight, then refuse whatever comes later.
                while True:
                    await self.flush()
                    if self._inflight is None and not self._waiters:
                        break
            self._closed = True
            self._loop = None
        self._backend.close()

    @property
    def process_pid(self) -> int | None:
        """The writer process's id while it runs (None with the thread backend)."""
        return self._backend.pid

    def submit(self, order_rows: list[tuple], trade_rows: list[tuple]) -> asyncio.Future:
        if self._closed:
            fut = asyncio.get_running_loop().create_future()
            fut.set_exception(WriteFailed("the exchange is stopping; nothing more is stored"))
            return fut
        pending = self._orders
        for row in order_rows:
            pending[row[0]] = row  # a later state of the same order replaces the earlier one
        if trade_rows:
            self._trades.extend(trade_rows)
        fut = self._loop.create_future()
        self._waiters.append(fut)
        if self._failed is not None:
            fut.set_exception(self._failed)  # computed on state that is being rebuilt
            self._orders, self._trades, self._waiters = {}, [], []
        elif self._inflight is None:
            self._launch()
        elif not len(self._waiters) & 3:
            # The loop sees a finished commit only between its iterations, and one iteration
            # may run many requests. Looking every fourth request lets the finished batch's
            # requests go and the next batch start with what has gathered, so the backend
            # commits while the loop works instead of the two taking turns.
            self._backend.poll()
        return fut

    @property
    def failed(self) -> bool:
        return self._failed is not None

    def recovered(self) -> None:
        """The service rebuilt its state from storage after a failure: accept writes again."""
        self._failed = None

    async def flush(self) -> None:
        """Wait until everything submitted so far is durable."""
        await self.submit([], [])

    def _launch(self) -> None:
        orders, trades, waiters = self._orders, self._trades, self._waiters
        self._orders, self._trades, self._waiters = {}, [], []
        self._inflight = (waiters, len(orders) + len(trades), time.perf_counter())
        self._backend.send(list(orders.values()), trades, self._finished)

    def _finished(self, exc: BaseException | None) -> None:
        """The backend's answer for the batch in flight (called once per batch, on the loop)."""
        waiters, rows, started = self._inflight
        self._inflight = None
        if exc is not None:  # the service decides how to recover
            err = WriteFailed(f"database write failed: {exc}")
            # What gathered meanwhile was computed on top of the failed batch: fail it too,
            # and everything submitted until the service has rebuilt its state.
            self._failed = err
            waiters.extend(self._waiters)
            self._orders, self._trades, self._waiters = {}, [], []
            for w in waiters:
                if not w.done():
                    w.set_exception(err)
            return
        if self.observe is not None:
            self.observe(time.perf_counter() - started)
        self.batches += 1
        self.rows += rows
        for w in waiters:
            if not w.done():
                w.set_result(None)
        if self._waiters:
            self._launch()


class ThreadBackend:
    """``Store.write_batch`` in one thread."""

    pid = None

    def __init__(self, store: Store) -> None:
        self.store = store
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="db-writer")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._job: concurrent.futures.Future | None = None
        self._on_done: Callable[[BaseException | None], None] | None = None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def send(self, order_rows: list[tuple], trade_rows: list[tuple], on_done) -> None:
        job = self._executor.submit(self.store.write_batch, order_rows, trade_rows)
        self._job, self._on_done = job, on_done
        job.add_done_callback(lambda j: self._loop.call_soon_threadsafe(self._complete, j))

    def poll(self) -> None:
        job = self._job
        if job is not None and job.done():
            self._complete(job)

    def _complete(self, job: concurrent.futures.Future) -> None:
        if job is not self._job:
            return  # already answered by poll()
        on_done, self._job, self._on_done = self._on_done, None, None
        on_done(job.exception())

    def close(self) -> None:
        self._executor.shutdown(wait=True)


class ProcessBackend:
    """One batch at a time to the ``sqlite_writer.py`` child; its answer resolves the future.

    A child that dies fails the batch in flight (the service then rebuilds its state from
    storage) and a new child is started for the next batch.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self._loop: asyncio.AbstractEventLoop | None = None
        self._proc: subprocess.Popen | None = None
        # Called with None or the error once the batch in flight is answered.
        self._on_done: Callable[[BaseException | None], None] | None = None
        self._buf = bytearray()
        self._ready = None  # a select.poll() on the answer pipe while a child runs

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._spawn()

    def _spawn(self) -> None:
        # -I: the child imports the standard library only, never a module beside its file.
        proc = subprocess.Popen(
            [
                sys.executable,
                "-I",
                str(CHILD),
                self.store.sqlite_file,
                self.store.sqlite_synchronous,
                str(os.getpid()),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            # Its own session: a Ctrl-C or a service manager's stop signal to the exchange's
            # process group must not end the writer before the exchange has flushed; it ends
            # when its input closes, and with the exchange (PR_SET_PDEATHSIG).
            start_new_session=True,
        )
        self._proc = proc
        self._buf.clear()
        with contextlib.suppress(OSError):  # a larger pipe where the system allows it
            import fcntl

            fcntl.fcntl(proc.stdin.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        try:
            self._send(self.store.sqlite_statements())
            kind, text = self._read_blocking()
        except OSError as exc:
            kind, text = b"ER", f"{type(exc).__name__}: {exc}"
        if kind != b"OK":
            self._reap()
            raise RuntimeError(f"the SQLite writer process did not start: {text}")
        fd = proc.stdout.fileno()
        os.set_blocking(fd, False)
        self._loop.add_reader(fd, self._readable)
        # For ``poll``: asks whether an answer waits without a read that raises when none does.
        self._ready = select.poll()
        self._ready.register(fd, select.POLLIN)

    def _send(self, obj) -> None:
        body = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        # A blocking write: the child is idle and reading whenever a batch is sent.
        stdin = self._proc.stdin
        stdin.write(len(body).to_bytes(HEADER_SIZE, "big") + body)
        stdin.flush()

    def _read_blocking(self) -> tuple[bytes, str]:
        """The child's first answer (start-up), waited for outside the loop."""
        fd = self._proc.stdout.fileno()
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            answer = self._parse()
            if answer is not None:
                return answer
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return b"ER", "no answer in time"
            data = os.read(fd, 65536)
            if not data:
                return b"ER", f"exited with code {self._proc.wait()}"
            self._buf += data

    def _parse(self) -> tuple[bytes, str] | None:
        buf = self._buf
        if len(buf) < 2 + HEADER_SIZE:
            return None
        end = 2 + HEADER_SIZE + int.from_bytes(buf[2 : 2 + HEADER_SIZE], "big")
        if len(buf) < end:
            return None
        kind, text = bytes(buf[:2]), buf[2 + HEADER_SIZE : end].decode("utf-8", "replace")
        del buf[:end]
        return kind, text

    def _readable(self) -> None:
        """Read what the child answered (the loop's reader callback, and ``poll``)."""
        try:
            data = os.read(self._proc.stdout.fileno(), 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._child_gone()
            return
        self._buf += data
        while (answer := self._parse()) is not None:
            kind, text = answer
            self._answer(None if kind == b"OK" else RuntimeError(text))

    def poll(self) -> None:
        if self._on_done is not None and self._proc is not None and self._ready.poll(0):
            self._readable()

    def _answer(self, exc: BaseException | None) -> None:
        on_done, self._on_done = self._on_done, None
        if on_done is not None:
            on_done(exc)

    def _child_gone(self) -> None:
        code = self._reap()
        self._answer(RuntimeError(f"the SQLite writer process exited (code {code})"))

    def _reap(self) -> int | None:
        proc, self._proc = self._proc, None
        if proc is None:
            return None
        if self._loop is not None and not self._loop.is_closed():
            with contextlib.suppress(Exception):
                self._loop.remove_reader(proc.stdout.fileno())
        for f in (proc.stdin, proc.stdout):
            with contextlib.suppress(OSError):
                f.close()
        try:
            return proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait()

    def send(self, order_rows: list[tuple], trade_rows: list[tuple], on_done) -> None:
        try:
            if self._proc is None:
                self._spawn()  # the previous child died; the service has rebuilt its state
            self._on_done = on_done
            self._send((order_rows, trade_rows))
        except Exception as exc:  # a dead pipe or a child that cannot start: fail this batch
            self._on_done = None
            if self._proc is not None:
                # A child that cannot take a batch is not trusted with the next one either.
                with contextlib.suppress(OSError):
                    self._proc.kill()
                self._reap()
            # Answered from the loop, never from inside the writer's own launch.
            self._loop.call_soon(on_done, exc)

    def close(self) -> None:
        # End of input: the child finishes (nothing is in flight after the writer's flush).
        self._reap()
        self._answer(RuntimeError("the writer process was stopped"))
