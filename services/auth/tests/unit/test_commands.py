"""Auth's commands to other services (adapters/commands.py), on a bus that only records."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, cast

from auth.adapters.commands import RabbitUsers
from auth.application.ports import NewUser
from blazing_commands import CommandBus
from blazing_contracts import AnyCommand, CreateUser

T0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


class RecordingBus:
    def __init__(self) -> None:
        self.sent: list[AnyCommand] = []

    async def send(self, command: AnyCommand) -> Any:
        self.sent.append(command)


async def test_create_user_carries_the_new_user_field_for_field_with_the_user_id_as_job_id() -> None:
    bus = RecordingBus()
    user = NewUser(
        user_id=uuid.uuid4(), email="ada@example.org", first_name="Ada", last_name="Lovelace", permissions=50
    )
    await RabbitUsers(cast(CommandBus, bus), lambda: T0).create_later(user, "corr-1")
    [command] = bus.sent
    assert command.payload == CreateUser(
        user_id=user.user_id, email="ada@example.org", first_name="Ada", last_name="Lovelace", permissions=50
    )
    assert (command.job_type, command.job_id, command.created_at, command.correlation_id) == (
        "create_user",
        user.user_id,
        T0,
        "corr-1",
    )
    assert (command.priority, command.max_attempts) == (5, 20)
