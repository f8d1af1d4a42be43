"""argon2id at OWASP parameters, always off the event loop (the PasswordHasher port).

The hashes run on a pool of one thread per core, not on asyncio's default pool (cores + 4
threads): argon2 is CPU- and memory-bound (19 MiB each), so more hashes at once than cores only
share the cores and evict each other's memory from the caches. Sign-ins queue for a thread instead.
"""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError


class Argon2Hasher:
    def __init__(self, memory_kib: int, time_cost: int, parallelism: int) -> None:
        self._ph = PasswordHasher(memory_cost=memory_kib, time_cost=time_cost, parallelism=parallelism)
        self._pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="argon2")
        # Verified against when there is no hash (unknown address, locked account, no password yet),
        # so that every sign-in costs one argon2 run.
        self.dummy_hash = self._ph.hash("not-a-real-password-only-for-equal-timing")

    async def hash(self, password: str) -> str:
        return await asyncio.get_running_loop().run_in_executor(self._pool, self._ph.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        def check() -> bool:
            try:
                return self._ph.verify(password_hash or self.dummy_hash, password) and password_hash is not None
            except (VerificationError, InvalidHashError):
                return False

        return await asyncio.get_running_loop().run_in_executor(self._pool, check)
