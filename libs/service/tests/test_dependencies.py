"""A dependency's outage is told once when it begins and once when it ends, whatever its clients'
reconnect loops log in between; which records report which dependency."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator

import aiormq
import psycopg
import pytest
import redis.exceptions
from aiokafka.errors import KafkaConnectionError
from psycopg import errors

from blazing_service.dependencies import (
    DEPENDENCY_UP,
    OUTAGES,
    Dependencies,
    DependencyFilter,
    addresses,
    dependency_of,
    outage_of,
)
from blazing_service.logs import JsonFormatter


def record(
    logger: str, message: str, level: int = logging.ERROR, exc: BaseException | None = None
) -> logging.LogRecord:
    exc_info = (type(exc), exc, exc.__traceback__) if exc else None
    return logging.LogRecord(logger, level, __file__, 1, message, None, exc_info)


@pytest.mark.parametrize(
    ("logged", "dependency"),
    [
        (record("aiokafka", "Unable connect to node with id 1: [Errno 111] Connection refused"), "kafka"),
        (record("aiokafka", "Unable to update metadata from [1]"), "kafka"),
        (record("aiokafka.consumer.fetcher", "Failed fetch messages from 1: NodeNotReadyError: …"), "kafka"),
        (record("aiokafka.producer.sender", "Got error produce response: NodeNotReadyError", logging.WARNING), "kafka"),
        (record("aiokafka.consumer.group_coordinator", "Marking the coordinator dead (node 1)for group g."), "kafka"),
        (record("blazing_es.outbox", "outbox relay failed", exc=KafkaConnectionError("Unable to bootstrap")), "kafka"),
        (record("aiormq.connection", "error when creating transport: <AMQPConnectionError: (111, …)>"), "rabbitmq"),
        (record("aio_pika.robust_connection", "Connection attempt to amqp://… failed", logging.WARNING), "rabbitmq"),
        (record("x", "publish failed", exc=aiormq.exceptions.AMQPConnectionError(111, "refused")), "rabbitmq"),
        (record("psycopg.pool", "discarding closed connection: <…[BAD]>", logging.WARNING), "postgres"),
        (record("blazing_service.errors", "unhandled error", exc=psycopg.OperationalError("closed")), "postgres"),
        (record("x", "boom", exc=errors.AdminShutdown("terminating connection: administrator command")), "postgres"),
        (record("x", "boom", exc=errors.CannotConnectNow("the database system is starting up")), "postgres"),
        (record("gateway.entrypoints.proxy", "x", exc=redis.exceptions.ConnectionError("refused")), "redis"),
        (record("auth", "sign-in failed", exc=redis.exceptions.TimeoutError("timeout")), "redis"),
        (record("blazing_es.outbox", "could not publish", logging.WARNING), None),
        (record("aiokafka.consumer.group_coordinator", "Heartbeat failed: rebalancing", logging.WARNING), None),
        (
            record(
                "aiokafka.consumer.group_coordinator",
                "Heartbeat failed for group auth: coordinator (node 1) is either not started or not valid",
                logging.WARNING,
            ),
            "kafka",
        ),
        (
            record(
                "aiokafka.consumer.group_coordinator",
                "Heartbeat failed for group users: coordinator (node None) is either not started or not valid",
                logging.WARNING,
            ),
            "kafka",
        ),
        (record("aiokafka", "Unable connect to node with id 1", logging.INFO), None),
        (record("blazing_service.errors", "unhandled error", exc=ValueError("a bug")), None),
        (record("x", "a query was cancelled", exc=errors.QueryCanceled("canceling statement")), None),
    ],
)
def test_which_dependency_a_record_reports(logged: logging.LogRecord, dependency: str | None) -> None:
    assert dependency_of(logged) == dependency


def test_a_named_dependency_or_a_cause_decides() -> None:
    named = record("blazing_es.outbox", "could not publish", logging.WARNING)
    named.dependency = "kafka"
    assert dependency_of(named) == "kafka"
    outer = RuntimeError("sign-in failed")
    outer.__cause__ = redis.exceptions.ConnectionError("Connection closed by server.")
    assert dependency_of(record("auth", "x", exc=outer)) == "redis"
    assert outage_of(outer) == "redis"
    assert outage_of(RuntimeError("a bug")) is None


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u:p@db.local:5433/auth", [("db.local", 5433)]),
        ("postgresql://u:p@127.0.0.1/auth", [("127.0.0.1", 5432)]),
        ("host=10.0.0.1 port=6543 dbname=x", [("10.0.0.1", 6543)]),
        ("redis://user:pw@127.0.0.1:6379/0", [("127.0.0.1", 6379)]),
        ("amqp://app:pw@rabbit:5672/%2F", [("rabbit", 5672)]),
        ("127.0.0.1:9092,kafka2:19092", [("127.0.0.1", 9092), ("kafka2", 19092)]),
    ],
)
def test_addresses(url: str, expected: list[tuple[str, int]]) -> None:
    assert addresses(url) == expected


@pytest.fixture
def written() -> Iterator[tuple[logging.Logger, io.StringIO, Dependencies]]:
    """A logger writing JSON lines through the dependency filter, as a service's does."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter("svc"))
    dependencies = Dependencies(quiet=0.3, probe_every=0.1)
    handler.addFilter(DependencyFilter(dependencies))
    root = logging.getLogger("storm")
    root.addHandler(handler)
    logging.getLogger("blazing_service.dependencies").addHandler(handler)
    root.setLevel(logging.DEBUG)
    told = logging.getLogger("blazing_service.dependencies")
    level, told.level = told.level, logging.INFO
    try:
        yield root, out, dependencies
    finally:
        root.removeHandler(handler)
        told.removeHandler(handler)
        told.setLevel(level)


def lines(out: io.StringIO) -> list[dict[str, str]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


async def test_a_storm_of_reconnect_errors_is_one_line_then_one_when_it_is_back(
    written: tuple[logging.Logger, io.StringIO, Dependencies],
) -> None:
    logger, out, dependencies = written
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    dependencies.watch("kafka", [("127.0.0.1", 1)])  # nobody listens on port 1: down
    assert DEPENDENCY_UP.labels("kafka")._value.get() == 1
    outages = OUTAGES.labels("kafka")._value.get()
    for _ in range(2000):
        logging.getLogger("storm.aiokafka").handle(
            record("aiokafka", "Unable connect to node with id 1: [Errno 111] Connection refused")
        )
    logger.warning("an unrelated warning")
    told = lines(out)
    assert [(e["level"], e["message"].split(":")[0]) for e in told] == [
        ("warning", "kafka unreachable"),
        ("warning", "an unrelated warning"),
    ]
    assert "Unable connect to node" in told[0]["message"]
    assert DEPENDENCY_UP.labels("kafka")._value.get() == 0
    assert OUTAGES.labels("kafka")._value.get() == outages + 1
    await asyncio.sleep(0.6)
    assert dependencies.is_down("kafka"), "the probe finds nobody listening: still down"
    dependencies.locate("kafka", [server.sockets[0].getsockname()[:2]])  # it answers again
    for _ in range(50):
        if not dependencies.is_down("kafka"):
            break
        await asyncio.sleep(0.1)
    server.close()
    told = lines(out)
    assert len(told) == 3
    assert told[2]["level"] == "info"
    assert told[2]["message"].startswith("kafka is back after")
    assert "1999 client errors were not logged" in told[2]["message"]
    assert DEPENDENCY_UP.labels("kafka")._value.get() == 1


async def test_it_is_not_back_while_its_clients_still_fail(
    written: tuple[logging.Logger, io.StringIO, Dependencies],
) -> None:
    _, out, dependencies = written
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    dependencies.watch("redis", [server.sockets[0].getsockname()[:2]])
    for _ in range(10):  # failing for a second while the port is open
        logging.getLogger("storm.auth").handle(
            record("auth", "x", exc=redis.exceptions.ConnectionError("Connection refused"))
        )
        await asyncio.sleep(0.1)
    assert dependencies.is_down("redis")
    await asyncio.sleep(0.6)
    assert not dependencies.is_down("redis")
    server.close()
    assert [e["message"].split(" ")[:2] for e in lines(out)] == [["redis", "unreachable:"], ["redis", "is"]]


def test_a_long_outage_gets_a_reminder_a_minute_not_a_line_per_retry(
    written: tuple[logging.Logger, io.StringIO, Dependencies],
) -> None:
    _, out, dependencies = written
    dependencies.remind_every = 0.0  # "a minute" from now on
    dependencies.down("rabbitmq", "refused")
    dependencies.down("rabbitmq", "refused")
    assert [e["message"][:29] for e in lines(out)] == ["rabbitmq unreachable: refused", "rabbitmq still unreachable af"]
