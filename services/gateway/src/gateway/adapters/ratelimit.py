"""Fixed-window rate limits per client in Redis: one INCR per request (atomic with its EXPIRE)."""

from __future__ import annotations

import time

from redis.asyncio import Redis


class RateLimiter:
    def __init__(self, redis: Redis, window_seconds: int) -> None:
        self._redis = redis
        self._window = window_seconds

    async def hit(
        self, bucket: str, client: str, limit: int, also_exists: str | None = None
    ) -> tuple[int | None, bool]:
        """(None when allowed, else the seconds until the window resets; whether ``also_exists``
        exists) — the gateway's whole Redis work for a request in one round trip."""
        now = time.time()
        key = f"gateway:rl:{bucket}:{client}:{int(now) // self._window}"
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.incr(key)
            pipe.expire(key, self._window + 1)
            if also_exists:
                pipe.exists(also_exists)
            results = await pipe.execute()
        retry_after = self._window - int(now) % self._window if int(results[0]) > limit else None
        return retry_after, bool(also_exists and results[2])
