"""Auth's state in Redis (the client from blazing_service.redis_client, which reconnects and retries
once after a Redis restart): the revocation list the gateway reads, the per-address allowance of
account mails, and failed sign-ins per client address. Keys hold no personal data."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final
from uuid import UUID

from redis.asyncio import Redis

log = logging.getLogger(__name__)
REVOKED: Final = "auth:revoked:sid:"
"""The gateway refuses an access token whose session id is under this prefix."""
MAIL_WINDOW_SECONDS: Final = 3600


class RedisRevocations:
    """Revoked sessions for the gateway, kept as long as their access tokens can be presented.
    PostgreSQL (sessions.revoked_at) is the truth: ResyncRevocations tells them again every minute,
    so a Redis restart that lost them is healed within a minute (the gateway also refuses tokens
    while Redis is unreachable)."""

    def __init__(self, redis: Redis, access_ttl_seconds: int) -> None:
        self._redis = redis
        self._ttl = access_ttl_seconds + 60

    async def publish(self, session_ids: Sequence[UUID]) -> None:
        if not session_ids:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for sid in session_ids:
                pipe.set(f"{REVOKED}{sid}", "1", ex=self._ttl)
            await pipe.execute()


@dataclass(eq=False)
class RedisMailAllowance:
    """At most N account mails (reset codes, "you already have an account", activation resends) to
    one address per hour. Over the limit the mail is skipped silently: the HTTP answer never depends
    on it (no enumeration), and nobody can flood an inbox or keep revoking its owner's fresh reset
    code through the API. The key is a hash of the address."""

    redis: Redis
    per_hour: int

    async def allow(self, email: str) -> bool:
        """Redis down: the mail goes (its owner asked for it; the gateway's per-client limits hold)."""
        key = "auth:mail:addr:" + hashlib.sha256(email.lower().encode()).hexdigest()
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.incr(key)
                pipe.expire(key, MAIL_WINDOW_SECONDS, nx=True)
                count, _ = await pipe.execute()
        except Exception:
            log.warning("mail limit unavailable (Redis); sending anyway", exc_info=True)
            return True
        if int(count) > self.per_hour:
            log.info("account mail skipped: the address reached %d mails this hour", self.per_hour)
            return False
        return True


@dataclass(eq=False)
class RedisFailedSignIns:
    """Failed sign-ins one client address may make per window before it must wait (429)."""

    redis: Redis
    limit: int
    window_seconds: int

    @staticmethod
    def _key(ip: str) -> str:
        return f"auth:failed:ip:{ip}"

    async def retry_after(self, ip: str) -> int | None:
        key = self._key(ip)
        count = await self.redis.get(key)
        if count is None or int(count) < self.limit:
            return None
        return max(int(await self.redis.ttl(key)), 1)

    async def count(self, ip: str) -> None:
        key = self._key(ip)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, self.window_seconds, nx=True)
            pipe.ttl(key)
            *_, ttl = await pipe.execute()
        if int(ttl) < 0:  # seen after Redis restarts: a count must never outlive its window
            await self.redis.expire(key, self.window_seconds)
