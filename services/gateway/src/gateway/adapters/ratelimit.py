"""Fixed-window rate limits per client in Redis: one INCR per request (atomic with its EXPIRE)."""

from __future__ import annotations

import time

from redis.asyncio import Redis


class RateLimiter:
    def __init__(self, redis: Redis, window_seconds: int) -> None:
        self._redis = redis
        self._window = window_seconds

    async def hit(self, bucket: str, client: str, limit: int) -> int | None:
        """None when allowed; else the seconds until the window resets (Retry-After)."""
        window = int(time.time()) // self._window
        key = f"gateway:rl:{bucket}:{client}:{window}"
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, self._window + 1)
            count, _ = await pipe.execute()
        if int(count) > limit:
            return self._window - int(time.time()) % self._window
        return None
