"""Sending a command over a connection RabbitMQ just dropped: sent once more when the broker
answers again (a restart used to fail the sign-up that sent it with a 500), once only."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from aiormq.exceptions import AMQPConnectionError, ChannelInvalidStateError

from blazing_commands import CommandBus
from blazing_commands import bus as bus_module
from blazing_contracts import SendEmail, make_command


class Broker:
    def __init__(self, failures: list[Exception]) -> None:
        self.failures = failures
        self.published: list[bytes] = []
        self.pings = 0

    async def publish(self, body: bytes, **_: Any) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.published.append(body)

    async def ping(self, timeout: float) -> bool:  # noqa: ASYNC109 - the broker's signature
        self.pings += 1
        return self.pings > 2  # the connection comes back on the third look


def command() -> Any:
    return make_command(
        SendEmail(to_email="ada@example.org", to_name="Ada", template="welcome", variables={"first_name": "Ada"}),
        job_id=uuid.uuid4(),
        created_at=datetime.now(UTC),
        correlation_id="test",
    )


@pytest.mark.parametrize(
    "dropped",
    [ChannelInvalidStateError("channel closed"), AMQPConnectionError(111, "refused"), ConnectionResetError()],
    ids=lambda e: type(e).__name__,
)
async def test_a_dropped_connection_is_waited_for_and_the_command_sent_once_more(dropped: Exception) -> None:
    broker = Broker([dropped])
    await CommandBus(broker).send(command())  # type: ignore[arg-type]
    assert len(broker.published) == 1
    assert broker.pings == 3


async def test_only_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bus_module, "RECONNECT_WITHIN", 0.1)
    broker = Broker([ChannelInvalidStateError("closed"), ChannelInvalidStateError("still closed")])
    with pytest.raises(ChannelInvalidStateError):
        await CommandBus(broker).send(command())  # type: ignore[arg-type]
    assert broker.published == []
    assert broker.failures == []


async def test_other_errors_are_not_retried() -> None:
    broker = Broker([ValueError("not a connection problem")])
    with pytest.raises(ValueError, match="not a connection"):
        await CommandBus(broker).send(command())  # type: ignore[arg-type]
    assert broker.pings == 0
