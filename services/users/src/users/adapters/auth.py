"""Asks auth to end a user's sessions now (the revoke_sessions command, waiting for the reply), so
that a permission change or a deletion holds from the user's next request on — not when the access
token expires. When auth does not answer in time the command stays queued and is done later, and
user.permissions_changed / user.deleted make auth do it too: the change is never lost, only later."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

from blazing_commands import CommandBus
from blazing_contracts import RevokeSessions, make_command
from blazing_contracts.types import Permission
from users.application.ports import Revocation

log = logging.getLogger(__name__)


@dataclass(eq=False)
class AuthSessions:
    bus: CommandBus
    wait_seconds: float
    now: Callable[[], datetime] = lambda: datetime.now(UTC)

    async def revoke(self, revocation: Revocation) -> bool:
        """True once auth confirmed every session of the user ended; False when it did not in time."""
        r = revocation
        command = make_command(
            RevokeSessions(
                user_id=r.user_id,
                reason=r.reason,
                permissions=cast(Permission | None, r.permissions),
                user_version=r.user_version,
            ),
            job_id=uuid.uuid4(),
            created_at=self.now(),
            correlation_id=r.correlation_id or str(uuid.uuid4()),
            priority=5,
            max_attempts=20,
        )
        try:
            reply = await self.bus.call(command, self.wait_seconds)
        except Exception:  # not even queued: auth still follows the user event (the change is committed)
            log.exception("revoke_sessions for %s could not be sent", r.user_id)
            return False
        return reply is not None
