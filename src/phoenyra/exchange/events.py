"""In-process event bus: what the exchange committed, fanned out to WebSocket subscribers."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from .auth import CAN_READ, Account

# What a role may read over REST it receives over the stream, and no more: orders and trades
# for the roles that read them (an account's own orders; admins and viewers every order).
PRIVATE = frozenset({"order", "trade"})


@dataclass(eq=False)
class Subscriber:
    account: Account
    queue: asyncio.Queue = field(default_factory=lambda: asyncio.Queue(maxsize=2000))
    overflowed: bool = False

    def wants(self, event: dict) -> bool:
        kind = event["type"]
        if kind in PRIVATE and self.account.role not in CAN_READ:
            return False
        if kind == "order" and not self.account.sees_all:
            return event["data"]["account_id"] == self.account.id
        return True


class EventBus:
    def __init__(self) -> None:
        self.subscribers: set[Subscriber] = set()

    def subscribe(self, account: Account) -> Subscriber:
        sub = Subscriber(account)
        self.subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)

    def publish(self, event: dict) -> None:
        for sub in list(self.subscribers):
            if sub.overflowed or not sub.wants(event):
                continue
            try:
                sub.queue.put_nowait(event)
            except asyncio.QueueFull:
                # A client that cannot keep up is cut off rather than slowing everyone down;
                # it reconnects and re-reads state over REST.
                sub.overflowed = True
                sub.queue = asyncio.Queue(maxsize=1)
                sub.queue.put_nowait({"type": "overflow", "data": {}})
