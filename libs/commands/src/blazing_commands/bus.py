"""Sending commands: durable, persistent, confirmed by the broker, with the job's priority.

``send`` is fire-and-forget once the broker confirmed the message. ``call`` also waits for the
handler's reply (RabbitMQ direct reply-to) up to a timeout; when the timeout passes the command is
still queued and will be processed later — an accepted request is never lost.

A publish that meets a dropped connection (RabbitMQ restarted; the robust connection is coming
back on its own) is sent once more when the broker answers again (waiting ``RECONNECT_WITHIN``
seconds at most): sending a command twice is safe (handlers are idempotent by ``job_id``),
failing the request that sends it is not.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from aiormq.exceptions import ChannelInvalidStateError
from faststream.exceptions import FastStreamException
from faststream.rabbit import ExchangeType, RabbitBroker, RabbitExchange
from opentelemetry import propagate
from prometheus_client import Counter

from blazing_contracts import CommandEnvelope, encode_command
from blazing_contracts.topology import COMMANDS_EXCHANGE

PUBLISHED = Counter("commands_published_total", "Commands published to RabbitMQ", ["job_type", "outcome"])
COMMANDS = RabbitExchange(COMMANDS_EXCHANGE, type=ExchangeType.DIRECT, durable=True, declare=False)
RECONNECT_WITHIN = 8.0
"""Longer than the robust connection's reconnect interval (5 s)."""
DROPPED: tuple[type[Exception], ...] = (ConnectionError, ChannelInvalidStateError)
"""A connection or channel that went away (aiormq's AMQPConnectionError is a ConnectionError)."""
T = TypeVar("T")


async def once_more_if_dropped(broker: RabbitBroker, publish: Callable[[], Awaitable[T]]) -> T:
    try:
        return await publish()
    except DROPPED:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(reconnected(broker), RECONNECT_WITHIN)
        return await publish()


async def reconnected(broker: RabbitBroker) -> None:
    while not await broker.ping(timeout=0.5):  # ping polls the connection until its timeout
        continue
    await asyncio.sleep(0.2)  # the connection answers first, then its channels are restored


def trace_headers() -> dict[str, str]:
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


@dataclass(eq=False)
class CommandBus:
    broker: RabbitBroker

    def _properties(self, command: CommandEnvelope[Any]) -> dict[str, Any]:
        return {
            "exchange": COMMANDS,
            "routing_key": command.job_type,
            "persist": True,
            "priority": command.priority,
            "message_id": str(command.job_id),
            "correlation_id": command.correlation_id,
            "content_type": "application/json",
            "mandatory": True,
            "headers": trace_headers(),  # the handler's span continues the sender's trace
        }

    async def send(self, command: CommandEnvelope[Any]) -> None:
        """Returns once the broker has the command safely (publisher confirm)."""
        body, properties = encode_command(command), self._properties(command)
        try:
            await once_more_if_dropped(self.broker, lambda: self.broker.publish(body, **properties))
        except Exception:
            PUBLISHED.labels(command.job_type, "failed").inc()
            raise
        PUBLISHED.labels(command.job_type, "ok").inc()

    async def call(self, command: CommandEnvelope[Any], wait_seconds: float) -> bytes | None:
        """Sends and waits for the reply; ``None`` when it did not come in time (still queued)."""
        PUBLISHED.labels(command.job_type, "ok").inc()
        body, properties = encode_command(command), self._properties(command)
        try:
            reply = await once_more_if_dropped(
                self.broker, lambda: self.broker.request(body, timeout=wait_seconds, **properties)
            )
        except (TimeoutError, FastStreamException):
            return None
        answer: bytes = reply.body
        return answer
