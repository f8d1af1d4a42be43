"""Sending commands to the stack's services over RabbitMQ, as another service does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from faststream.rabbit import RabbitBroker

from blazing_commands import CommandBus
from blazing_testing.stack import StackEnv, stack_env


@asynccontextmanager
async def command_bus(env: StackEnv | None = None) -> AsyncIterator[CommandBus]:
    """A CommandBus on the stack's RabbitMQ, connected for the block."""
    broker = RabbitBroker((env or stack_env()).rabbitmq_url, logger=None)
    async with broker:
        await broker.start()
        yield CommandBus(broker)
