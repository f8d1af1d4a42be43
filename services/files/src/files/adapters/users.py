"""The users service through RabbitMQ: the profile's avatar_url is the users service's, so the files
service asks it with a set_avatar command (a queued command survives a users outage)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from blazing_commands import CommandBus
from blazing_contracts import SetAvatar, make_command
from blazing_contracts.context import correlation_id_var


@dataclass(eq=False)
class CommandUsers:
    bus: CommandBus
    now: Callable[[], datetime] = lambda: datetime.now(UTC)

    async def set_avatar(self, user_id: uuid.UUID, url: str | None) -> None:
        await self.bus.send(
            make_command(
                SetAvatar(user_id=user_id, avatar_url=url),
                job_id=uuid.uuid4(),
                created_at=self.now(),
                correlation_id=correlation_id_var.get() or str(uuid.uuid4()),
                priority=3,
                max_attempts=10,
            )
        )
