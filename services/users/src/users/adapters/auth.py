"""Asks auth to end a user's sessions now (the revoke_sessions command, waiting for the reply), so
that a permission change or a deletion holds from the user's next request on — not when the access
token expires. When auth does not answer in time the command stays queued and is done later, and
user.permissions_changed / user.deleted make auth do it too: the change is never lost, only later."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import cast

from blazing_commands import CommandBus
from blazing_contracts import RevokeSessions, make_command
from blazing_contracts.types import Permission
from users.application.ports import Reason

log = logging.getLogger(__name__)


class AuthSessions:
    def __init__(
        self, bus: CommandBus, wait_seconds: float, now: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self._bus = bus
        self._wait = wait_seconds
        self._now = now

    async def revoke(
        self,
        user_id: uuid.UUID,
        reason: Reason,
        correlation_id: str,
        permissions: int | None = None,
        user_version: int = 0,
    ) -> bool:
        """True once auth confirmed every session of the user ended; False when it did not in time."""
        command = make_command(
            RevokeSessions(
                user_id=user_id,
                reason=reason,
                permissions=cast(Permission | None, permissions),
                user_version=user_version,
            ),
            job_id=uuid.uuid4(),
            created_at=self._now(),
            correlation_id=correlation_id or str(uuid.uuid4()),
            priority=5,
            max_attempts=20,
        )
        try:
            reply = await self._bus.call(command, self._wait)
        except Exception:  # not even queued: auth still follows the user event (the change is committed)
            log.exception("revoke_sessions for %s could not be sent", user_id)
            return False
        return reply is not None
