"""At most N account mails (reset codes, "you already have an account", activation resends) to one
address per hour, counted in Redis. Over the limit the mail is skipped silently: the HTTP answer
never depends on it (no enumeration), and nobody can flood an inbox or keep revoking its owner's
fresh reset code through the API. The key is a hash of the address (no personal data in Redis)."""

from __future__ import annotations

import hashlib
import logging

from redis.asyncio import Redis

log = logging.getLogger(__name__)
WINDOW_SECONDS = 3600


class MailLimit:
    def __init__(self, redis: Redis, per_hour: int) -> None:
        self._redis = redis
        self._per_hour = per_hour

    async def allow(self, email: str) -> bool:
        """Counts one mail to ``email``; False once this hour's allowance is spent. Redis down:
        the mail goes (its owner asked for it; the gateway's per-client limits still hold)."""
        key = "auth:mail:addr:" + hashlib.sha256(email.lower().encode()).hexdigest()
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.incr(key)
                pipe.expire(key, WINDOW_SECONDS, nx=True)
                count, _ = await pipe.execute()
        except Exception:
            log.warning("mail limit unavailable (Redis); sending anyway", exc_info=True)
            return True
        if int(count) > self._per_hour:
            log.info("account mail skipped: the address reached %d mails this hour", self._per_hour)
            return False
        return True
