"""argon2id off the event loop, never more hashes at once than the machine has cores."""

from __future__ import annotations

import asyncio
import os
import threading
import time

from auth.adapters.hashing import Argon2Hasher


async def test_no_more_hashes_run_at_once_than_there_are_cores() -> None:
    hasher = Argon2Hasher(memory_kib=8, time_cost=1, parallelism=1)
    running, most = 0, 0
    lock = threading.Lock()
    argon2 = hasher._ph

    class Counted:
        def hash(self, password: str) -> str:
            return argon2.hash(password)

        def verify(self, stored: str, password: str) -> bool:
            nonlocal running, most
            with lock:
                running += 1
                most = max(most, running)
            time.sleep(0.02)  # long enough for every free thread of the pool to take one
            with lock:
                running -= 1
            return argon2.verify(stored, password)

    hasher._ph = Counted()  # type: ignore[assignment]
    stored = await hasher.hash("pw")
    results = await asyncio.gather(*(hasher.verify(stored, "pw") for _ in range(4 * (os.cpu_count() or 1) + 8)))
    assert all(results)
    assert most == (os.cpu_count() or 1)
    assert not await hasher.verify(stored, "other")
    assert not await hasher.verify(None, "pw")
