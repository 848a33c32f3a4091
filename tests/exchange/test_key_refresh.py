"""API keys re-read from the database (changes made by the CLI) never undo a rotation."""

from __future__ import annotations

import asyncio
import time

import pytest

from phoenyra.core.errors import Reject
from phoenyra.exchange.auth import KEY_REFRESH_S
from support import sqlite_service


def test_a_key_cut_off_while_it_is_being_re_read_stays_cut_off(tmp_path):
    """The periodic re-read of a key (for the CLI's changes) reads the database in a thread; a
    rotation that ends the key meanwhile must win over the row read before it."""
    service, _ = sqlite_service(tmp_path)

    async def scenario():
        await service.start()
        try:
            made = await service.create_account("leaky", "trader", None)
            key = made["api_key"]
            key_id = next(k for k, v in service.keyring.keys.items() if v.account_id == made["id"])
            row_before_rotation = await asyncio.to_thread(service._read_key, key_id)
            await service.rotate_key(made["id"], 0)  # cut off now
            # The stale row lands after the rotation, as a slow re-read's would.
            service._refresh_key(key_id, row_before_rotation, time.time())
            with pytest.raises(Reject) as refused:
                await service.authenticate(key)
            assert refused.value.code == "KEY_EXPIRED"
            # And a re-read after the refresh period agrees with the database.
            service.keyring.keys[key_id].loaded_at -= KEY_REFRESH_S + 1
            with pytest.raises(Reject) as refused:
                await service.authenticate(key)
            assert refused.value.code == "KEY_EXPIRED"
        finally:
            await service.stop()

    asyncio.run(scenario())
