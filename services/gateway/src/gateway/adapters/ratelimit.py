"""Fixed-window rate limits per client in Redis: one INCR per request (atomic with its EXPIRE)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from redis.asyncio import Redis


@dataclass(eq=False)
class RateLimiter:
    redis: Redis
    window_seconds: int

    async def hit(
        self, bucket: str, client: str, limit: int, also_exists: str | None = None
    ) -> tuple[int | None, bool]:
        """(None when allowed, else the seconds until the window resets; whether ``also_exists``
        exists) — the gateway's whole Redis work for a request in one round trip."""
        now = time.time()
        key = f"gateway:rl:{bucket}:{client}:{int(now) // self.window_seconds}"
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.incr(key)
            pipe.expire(key, self.window_seconds + 1)
            if also_exists:
                pipe.exists(also_exists)
            results = await pipe.execute()
        retry_after = self.window_seconds - int(now) % self.window_seconds if int(results[0]) > limit else None
        return retry_after, bool(also_exists and results[2])
