"""Live events over WebSocket, authorised by an HMAC-SHA256 signature."""

from __future__ import annotations

import asyncio
import contextlib
import time

import orjson
from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from ...core.errors import Reject
from ..auth import verify_ws

router = APIRouter(tags=["events"])


@router.websocket("/ws")
async def events(ws: WebSocket):
    """Query: key_id, ts (epoch s), nonce, sig = hex HMAC-SHA256(HMAC_SECRET, 'key_id:ts:nonce')."""
    service = ws.app.state.service
    q = ws.query_params
    try:
        account = verify_ws(
            service.settings.effective_hmac_secret or "",
            service.keyring,
            service.nonces,
            q.get("key_id"),
            q.get("ts"),
            q.get("nonce"),
            q.get("sig"),
            time.time(),
        )
    except Reject as refusal:
        service.metrics.errors.labels(refusal.code).inc()
        await ws.close(code=4401, reason=f"{refusal.code}: {refusal.message}"[:120])
        return
    await ws.accept()
    sub = service.bus.subscribe(account)
    service.metrics.ws_clients.inc()
    await ws.send_bytes(orjson.dumps({"type": "hello", "data": {"account": account.to_wire()}}))

    async def drain_client() -> None:
        # Reading notices the disconnect; clients send nothing we act on.
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                await ws.receive_text()

    reader = asyncio.create_task(drain_client())
    try:
        while not reader.done():
            get = asyncio.create_task(sub.queue.get())
            done, _ = await asyncio.wait({get, reader}, return_when=asyncio.FIRST_COMPLETED)
            if get not in done:
                get.cancel()
                break
            event = get.result()
            await ws.send_text(orjson.dumps(event).decode())
            if event["type"] == "overflow":
                await ws.close(code=4408, reason="too slow: reconnect and re-read state")
                break
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        reader.cancel()
        service.bus.unsubscribe(sub)
        service.metrics.ws_clients.dec()
