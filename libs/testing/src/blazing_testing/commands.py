"""Sending commands to the stack's services over RabbitMQ, as another service does."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from faststream.rabbit import RabbitBroker

from blazing_commands import CommandBus
from blazing_contracts import SendEmail, make_command
from blazing_testing.stack import StackEnv, stack_env


@asynccontextmanager
async def command_bus(env: StackEnv | None = None) -> AsyncIterator[CommandBus]:
    """A CommandBus on the stack's RabbitMQ, connected for the block."""
    broker = RabbitBroker((env or stack_env()).rabbitmq_url, logger=None)
    async with broker:
        await broker.start()
        yield CommandBus(broker)


def welcome_job(
    job_id: uuid.UUID,
    to_email: str,
    correlation_id: str,
    *,
    name: str = "Ada",
    variables: dict[str, str] | None = None,
    max_attempts: int = 3,
    priority: int = 3,
) -> Any:
    """A send_email job of the welcome mail to ``name`` at ``to_email``, as a service queues it."""
    return make_command(
        SendEmail(
            to_email=to_email,
            to_name=name,
            template="welcome",
            variables={"first_name": name} if variables is None else variables,
        ),
        job_id=job_id,
        created_at=datetime.now(UTC),
        correlation_id=correlation_id,
        max_attempts=max_attempts,
        priority=priority,
    )
