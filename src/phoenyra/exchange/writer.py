"""Group commit: every acknowledged change is committed first, many requests per transaction.

Requests hand their rows to the writer and await a future. One thread commits what has gathered
while the previous transaction was running, so the cost of a commit (and its fsync) is shared by
every request in the batch. Batches commit in arrival order, so an acknowledged request implies
that everything before it is durable too.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from .store import Store


class WriteFailed(Exception):
    pass


class GroupCommitWriter:
    """One batch in flight at a time; the next one gathers while it commits.

    An idle writer starts a commit inside ``submit`` itself, so the event loop goes on with
    other requests (the next batch) while the thread commits: CPU and fsync overlap. The next
    batch starts from the commit's completion callback, with whatever gathered meanwhile.
    """

    def __init__(self, store: Store, observe: Callable[[float], None] | None = None) -> None:
        self.store = store
        self.observe = observe  # receives each commit's duration in seconds
        self._orders: dict[int, dict] = {}
        self._trades: list[dict] = []
        self._waiters: list[asyncio.Future] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._inflight: asyncio.Future | None = None
        self._failed: WriteFailed | None = None
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="db-writer")
        self.batches = 0
        self.rows = 0

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()

    async def stop(self) -> None:
        if self._loop is not None:
            # After a failure nothing more can be made durable; the next start reloads storage.
            with contextlib.suppress(WriteFailed):
                await self.flush()
            self._loop = None
        self._executor.shutdown(wait=True)

    def submit(self, order_rows: list[dict], trade_rows: list[dict]) -> asyncio.Future:
        pending = self._orders
        for row in order_rows:
            pending[row["id"]] = row  # a later state of the same order replaces the earlier one
        if trade_rows:
            self._trades.extend(trade_rows)
        fut = self._loop.create_future()
        self._waiters.append(fut)
        if self._failed is not None:
            fut.set_exception(self._failed)  # computed on state that is being rebuilt
            self._orders, self._trades, self._waiters = {}, [], []
        elif self._inflight is None:
            self._launch()
        return fut

    @property
    def failed(self) -> bool:
        return self._failed is not None

    def recovered(self) -> None:
        """The service rebuilt its state from storage after a failure: accept writes again."""
        self._failed = None

    async def commit(self, order_rows: list[dict], trade_rows: list[dict]) -> None:
        await self.submit(order_rows, trade_rows)

    async def flush(self) -> None:
        """Wait until everything submitted so far is durable."""
        await self.submit([], [])

    def _launch(self) -> None:
        orders, trades, waiters = self._orders, self._trades, self._waiters
        self._orders, self._trades, self._waiters = {}, [], []
        started = time.perf_counter()
        inflight = self._loop.run_in_executor(
            self._executor, self.store.write_batch, list(orders.values()), trades
        )
        self._inflight = inflight

        def done(f: asyncio.Future) -> None:
            exc = f.exception()
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
            else:
                if self.observe is not None:
                    self.observe(time.perf_counter() - started)
                self.batches += 1
                self.rows += len(orders) + len(trades)
                for w in waiters:
                    if not w.done():
                        w.set_result(None)
            self._inflight = None
            if self._waiters:
                self._launch()

        inflight.add_done_callback(done)
