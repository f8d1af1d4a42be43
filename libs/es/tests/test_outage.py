"""A handler that fails because a dependency is unreachable is not the record's fault: the record
waits for the dependency (its partition with it, in order) instead of using up its attempts and
being dead-lettered — a PostgreSQL restart used to dead-letter the events in hand (AdminShutdown)."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import errors

from blazing_contracts import AnyEvent, DeadLetterRecord, encode_event
from blazing_es import ConsumerRunner, RecordInfo, RetryPolicy
from blazing_es.consumer import is_outage
from blazing_testing.events import health_check


class Sink:
    def __init__(self) -> None:
        self.letters: list[DeadLetterRecord] = []

    async def send(self, record: DeadLetterRecord) -> None:
        self.letters.append(record)


def info() -> RecordInfo:
    event = health_check("i", service="t")
    return RecordInfo(topic="t", partition=0, offset=1, key=b"i", value=encode_event(event), headers=[])


OUTAGES = [
    psycopg.OperationalError("server closed the connection unexpectedly"),
    errors.AdminShutdown("terminating connection due to administrator command"),
    errors.CannotConnectNow("the database system is starting up"),
    ConnectionRefusedError(111, "Connection refused"),
]


@pytest.mark.parametrize("outage", OUTAGES, ids=lambda e: type(e).__name__)
async def test_a_dependency_outage_longer_than_every_attempt_waits_instead_of_dead_lettering(
    outage: Exception,
) -> None:
    failures = 12  # far more than max_attempts
    seen: list[int] = []

    async def handler(event: AnyEvent, _: RecordInfo) -> None:
        seen.append(1)
        if len(seen) <= failures:
            raise outage

    sink = Sink()
    runner = ConsumerRunner(
        service="t",
        group_id="g",
        handler=handler,
        dead_letters=sink,
        policy=RetryPolicy(max_attempts=3, first_delay=0.001, max_delay=0.002),
    )
    await runner.handle(info())
    assert sink.letters == []
    assert len(seen) == failures + 1


@pytest.mark.parametrize(
    "error",
    [errors.QueryCanceled("canceling statement due to statement timeout"), RuntimeError("a bug"), ValueError("x")],
    ids=lambda e: type(e).__name__,
)
async def test_other_errors_still_use_up_their_attempts(error: Exception) -> None:
    async def handler(event: AnyEvent, _: RecordInfo) -> None:
        raise error

    sink = Sink()
    runner = ConsumerRunner(
        service="t", group_id="g", handler=handler, dead_letters=sink, policy=RetryPolicy(max_attempts=3, first_delay=0)
    )
    await runner.handle(info())
    assert [(d.attempts, d.error_type) for d in sink.letters] == [(3, type(error).__name__)]
    assert not is_outage(error)
