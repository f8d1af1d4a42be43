"""Auth's commands to other services on RabbitMQ (blazing_commands): send_email to the mailer and
create_user to users."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import msgspec

from auth.application.ports import Mail, NewUser
from blazing_commands import CommandBus
from blazing_contracts import AnyCommand, CreateUser, CreateUserResult, SendEmail, make_command


@dataclass(eq=False)
class RabbitMailer:
    bus: CommandBus
    now: Callable[[], datetime]

    async def send(self, mail: Mail) -> None:
        await self.bus.send(
            make_command(
                SendEmail(to_email=mail.to, to_name=mail.name, template=mail.template, variables=mail.variables),
                job_id=uuid.uuid4(),
                created_at=self.now(),
                correlation_id=mail.correlation_id,
                priority=mail.priority,
                max_attempts=8,
            )
        )


@dataclass(eq=False)
class RabbitUsers:
    bus: CommandBus
    now: Callable[[], datetime]

    def _command(self, user: NewUser, correlation_id: str) -> AnyCommand:
        # job_id = the user id: users creates the profile once however often it is asked
        return make_command(
            CreateUser(**msgspec.structs.asdict(user)),  # NewUser is the command's payload, field for field
            job_id=user.user_id,
            created_at=self.now(),
            correlation_id=correlation_id,
            priority=5,
            max_attempts=20,
        )

    async def create(self, user: NewUser, correlation_id: str, wait_seconds: float) -> bool:
        reply = await self.bus.call(self._command(user, correlation_id), wait_seconds)
        if reply is None:
            return False
        return msgspec.json.decode(reply, type=CreateUserResult).user_id == user.user_id

    async def create_later(self, user: NewUser, correlation_id: str) -> None:
        await self.bus.send(self._command(user, correlation_id))
