"""Live events over WebSocket, authorised by an HMAC-SHA256 signature."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import orjson
from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from ...core.errors import Reject
from ..auth import verify_ws
from ..deps import json_response

router = APIRouter(tags=["events"])
log = logging.getLogger("phoenyra.exchange.ws")
# How often an open stream checks that its key still works: a key cut off (rotated with no
# overlap, or its overlap ended) ends its streams within this time.
KEY_CHECK_S = 1.0


async def _refuse(ws: WebSocket, refusal: Reject) -> None:
    """An HTTP answer in place of the handshake (401 with the error as JSON, as over REST)
    where the server supports it; otherwise a close with code 4401 and the reason."""
    body = {"error": {"code": refusal.code, "message": refusal.message}}
    if "websocket.http.response" in ws.scope.get("extensions", {}):
        await ws.send_denial_response(json_response(body, refusal.status))
        return
    await ws.accept()
    await ws.close(code=4401, reason=f"{refusal.code}: {refusal.message}"[:120])


@router.websocket("/ws")
async def events(ws: WebSocket):
    """Query: key_id, ts (epoch s), nonce, sig = hex HMAC-SHA256(HMAC_SECRET, 'key_id:ts:nonce')."""
    service = ws.app.state.service
    q = ws.query_params
    key_id = q.get("key_id")

    def verify():
        return verify_ws(
            service.settings.effective_hmac_secret or "",
            service.keyring,
            service.nonces,
            key_id,
            q.get("ts"),
            q.get("nonce"),
            q.get("sig"),
            time.time(),
        )

    try:
        try:
            account = verify()
        except Reject as refusal:
            # The signature is right but this process does not know the key (yet): the CLI
            # may have made it. Read it once; the nonce is only spent by a success.
            if refusal.code != "INVALID_API_KEY" or not await service.key_still_live(key_id):
                raise
            account = verify()
    except Reject as refusal:
        service.metrics.errors.labels(refusal.code).inc()
        await _refuse(ws, refusal)
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
    get = None
    try:
        while not reader.done():
            if get is None:
                get = asyncio.create_task(sub.queue.get())
            done, _ = await asyncio.wait(
                {get, reader}, timeout=KEY_CHECK_S, return_when=asyncio.FIRST_COMPLETED
            )
            try:
                live = await service.key_still_live(key_id)
            except Exception:  # storage unreachable: keep what was known, look again later
                log.warning("could not re-read a stream's key", exc_info=True)
                live = True
            if not live:
                get.cancel()
                service.metrics.errors.labels("KEY_EXPIRED").inc()
                await ws.close(code=4401, reason="KEY_EXPIRED: this stream's key was cut off")
                break
            if reader in done:
                get.cancel()
                break
            if get not in done:
                continue  # no event within the check interval
            event, get = get.result(), None
            await ws.send_text(orjson.dumps(event).decode())
            if event["type"] == "overflow":
                await ws.close(code=4408, reason="too slow: reconnect and re-read state")
                break
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        if get is not None:
            get.cancel()
        reader.cancel()
        service.bus.unsubscribe(sub)
        service.metrics.ws_clients.dec()
