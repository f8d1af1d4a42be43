"""Sending commands: durable, persistent, confirmed by the broker, with the job's priority.

``send`` is fire-and-forget once the broker confirmed the message. ``call`` also waits for the
handler's reply (RabbitMQ direct reply-to) up to a timeout; when the timeout passes the command is
still queued and will be processed later — an accepted request is never lost.
"""

from __future__ import annotations

from typing import Any

from faststream.exceptions import FastStreamException
from faststream.rabbit import ExchangeType, RabbitBroker, RabbitExchange
from opentelemetry import propagate
from prometheus_client import Counter

from blazing_contracts import CommandEnvelope, encode_command
from blazing_contracts.topology import COMMANDS_EXCHANGE

PUBLISHED = Counter("commands_published_total", "Commands published to RabbitMQ", ["job_type", "outcome"])
COMMANDS = RabbitExchange(COMMANDS_EXCHANGE, type=ExchangeType.DIRECT, durable=True, declare=False)


def trace_headers() -> dict[str, str]:
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


class CommandBus:
    def __init__(self, broker: RabbitBroker) -> None:
        self._broker = broker

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
        try:
            await self._broker.publish(encode_command(command), **self._properties(command))
        except Exception:
            PUBLISHED.labels(command.job_type, "failed").inc()
            raise
        PUBLISHED.labels(command.job_type, "ok").inc()

    async def call(self, command: CommandEnvelope[Any], wait_seconds: float) -> bytes | None:
        """Sends and waits for the reply; ``None`` when it did not come in time (still queued)."""
        PUBLISHED.labels(command.job_type, "ok").inc()
        try:
            reply = await self._broker.request(
                encode_command(command), timeout=wait_seconds, **self._properties(command)
            )
        except (TimeoutError, FastStreamException):
            return None
        body: bytes = reply.body
        return body
