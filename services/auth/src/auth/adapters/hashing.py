"""argon2id at OWASP parameters, always off the event loop (the PasswordHasher port)."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError


class Argon2Hasher:
    def __init__(self, memory_kib: int, time_cost: int, parallelism: int) -> None:
        self._ph = PasswordHasher(memory_cost=memory_kib, time_cost=time_cost, parallelism=parallelism)
        # Verified against when there is no hash (unknown address, locked account, no password yet),
        # so that every sign-in costs one argon2 run.
        self.dummy_hash = self._ph.hash("not-a-real-password-only-for-equal-timing")

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._ph.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        def check() -> bool:
            try:
                return self._ph.verify(password_hash or self.dummy_hash, password) and password_hash is not None
            except (VerificationError, InvalidHashError):
                return False

        return await asyncio.to_thread(check)
