"""Revoked sessions, published to Redis for the gateway. PostgreSQL (sessions.revoked_at) is the
source of truth: the recent revocations are re-published at start and every minute, so a Redis
restart that lost them is healed within a minute (and the gateway also refuses tokens while
Redis is unreachable)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from redis.asyncio import Redis

PREFIX = "auth:revoked:sid:"


class Revocations:
    def __init__(self, redis: Redis, ttl_seconds: int) -> None:
        self._redis = redis
        self._ttl = ttl_seconds + 60

    async def publish(self, session_ids: Iterable[UUID]) -> None:
        ids = list(session_ids)
        if not ids:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for sid in ids:
                pipe.set(f"{PREFIX}{sid}", "1", ex=self._ttl)
            await pipe.execute()

    async def resync(self, conn: AsyncConnection[Any]) -> int:
        rows = await (
            await conn.execute(
                "SELECT session_id FROM sessions WHERE revoked_at > now() - make_interval(secs => %s)", (self._ttl,)
            )
        ).fetchall()
        await self.publish(r[0] for r in rows)
        return len(rows)
