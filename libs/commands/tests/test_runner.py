"""The command runner's failure policy without a broker: what is retried, what is dead-lettered at
once (a fake broker records what the runner publishes)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import msgspec
import psycopg
import pytest

from blazing_commands import CommandRunner, PermanentFailure, TransientFailure
from blazing_commands.consumer import is_permanent
from blazing_contracts import SendEmail, encode_command, make_command
from blazing_contracts.topology import DEAD_LETTER_EXCHANGE


class Broker:
    def __init__(self) -> None:
        self.published: list[dict[str, Any]] = []

    async def publish(self, body: bytes, **options: Any) -> None:
        self.published.append({"body": body, **options})


class Message:
    def __init__(self, body: bytes) -> None:
        self.body = body
        self.correlation_id = "test"
        self.raw_message = SimpleNamespace(headers={}, priority=3, message_id="m", reply_to=None)
        self.acked = False

    async def ack(self) -> None:
        self.acked = True


def delivery(attempt: int = 1, max_attempts: int = 8) -> Message:
    command = make_command(
        SendEmail(to_email="ada@example.org", to_name="Ada", template="welcome", variables={"first_name": "Ada"}),
        job_id=uuid.uuid4(),
        created_at=datetime.now(UTC),
        correlation_id="test",
        max_attempts=max_attempts,
    )
    return Message(encode_command(msgspec.structs.replace(command, attempt=attempt)))


async def outcome(error: BaseException, attempt: int = 1) -> tuple[str, Any]:
    """Where the runner sends a delivery whose handler raised ``error``."""

    async def handler(*_: Any) -> bytes | None:
        raise error

    broker = Broker()
    runner = CommandRunner(broker, service="test", job_type="send_email", handler=handler)  # type: ignore[arg-type]
    message = delivery(attempt)
    await runner.handle(message)  # type: ignore[arg-type]
    assert message.acked
    [published] = broker.published
    exchange = published["exchange"].name
    if exchange == DEAD_LETTER_EXCHANGE:
        return "dead letter", published["headers"]
    return "retry", published["headers"]


PERMANENT = [
    PermanentFailure("refused"),
    ValueError("Header values may not contain linefeed or carriage return characters"),
    UnicodeEncodeError("ascii", "ä", 0, 1, "ordinal not in range(128)"),
    msgspec.ValidationError("Expected `str`"),
    TypeError("bad type"),
    KeyError("first_name"),
    psycopg.DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes"),
]
TRANSIENT = [
    TransientFailure("SMTP 451"),
    ConnectionRefusedError(111, "Connection refused"),
    ConnectionResetError(),
    TimeoutError(),
    OSError("network unreachable"),
    RuntimeError("anything unforeseen"),
    psycopg.OperationalError("server closed the connection unexpectedly"),  # unknown: retried, bounded by max_attempts
]


@pytest.mark.parametrize("error", PERMANENT, ids=lambda e: type(e).__name__)
async def test_a_permanent_error_is_dead_lettered_after_its_first_attempt(error: BaseException) -> None:
    where, headers = await outcome(error)
    assert where == "dead letter"
    assert (headers["x-error-reason"], headers["x-attempts"]) == ("permanent", 1)
    assert is_permanent(error)


@pytest.mark.parametrize("error", TRANSIENT, ids=lambda e: type(e).__name__)
async def test_a_transient_error_is_retried_until_the_attempts_run_out(error: BaseException) -> None:
    assert not is_permanent(error)
    assert (await outcome(error))[0] == "retry"
    where, headers = await outcome(error, attempt=8)
    assert (where, headers["x-error-reason"], headers["x-attempts"]) == ("dead letter", "exhausted", 8)


def test_an_explicit_failure_decides_whatever_caused_it() -> None:
    permanent, transient = PermanentFailure("SMTP 550"), TransientFailure("SMTP 421")
    permanent.__cause__, transient.__cause__ = ConnectionResetError(), ValueError("x")
    assert is_permanent(permanent)
    assert not is_permanent(transient)
