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
    def __init__(self, store: Store, observe: Callable[[float], None] | None = None) -> None:
        self.store = store
        self.observe = observe  # receives each commit's duration in seconds
        self._orders: dict[int, dict] = {}
        self._trades: list[dict] = []
        self._waiters: list[asyncio.Future] = []
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task | None = None
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="db-writer")
        self.batches = 0
        self.rows = 0

    def start(self) -> None:
        self._wake = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="group-commit")

    async def stop(self) -> None:
        if self._task is not None:
            await self.flush()
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._executor.shutdown(wait=True)

    def submit(self, order_rows: list[dict], trade_rows: list[dict]) -> asyncio.Future:
        pending = self._orders
        for row in order_rows:
            pending[row["id"]] = row  # a later state of the same order replaces the earlier one
        if trade_rows:
            self._trades.extend(trade_rows)
        fut = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        self._wake.set()
        return fut

    async def commit(self, order_rows: list[dict], trade_rows: list[dict]) -> None:
        await self.submit(order_rows, trade_rows)

    async def flush(self) -> None:
        """Wait until everything submitted so far is durable."""
        await self.submit([], [])

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            if not self._waiters:
                continue
            orders, trades, waiters = self._orders, self._trades, self._waiters
            self._orders, self._trades, self._waiters = {}, [], []
            started = time.perf_counter()
            try:
                await loop.run_in_executor(
                    self._executor, self.store.write_batch, list(orders.values()), trades
                )
            except Exception as exc:  # the service decides how to recover
                err = WriteFailed(f"database write failed: {exc}")
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
