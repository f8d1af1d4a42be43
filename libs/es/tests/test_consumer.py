"""The consumer failure policy and the inbox, through the real Kafka and FastStream."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from faststream.kafka import KafkaBroker
from psycopg import AsyncConnection

from blazing_contracts import AnyEvent, decode_dead_letter, decode_event, encode_event
from blazing_contracts.topology import DEAD_LETTER_TOPIC
from blazing_es import (
    BrokerDeadLetterSink,
    ConsumerRunner,
    Inbox,
    PermanentError,
    RecordInfo,
    RetryPolicy,
    subscribe,
)
from blazing_es.consumer import DeadLetterSink, EventHandler
from blazing_testing import stack_env
from blazing_testing.events import health_check
from blazing_testing.kafka import KafkaTail, scratch_topic

pytestmark = pytest.mark.integration
ENV = stack_env()


@pytest.fixture
async def topic() -> AsyncIterator[str]:
    async with scratch_topic(ENV.kafka_bootstrap, "consumer") as name:
        yield name


def group_runner(handler: EventHandler, dead_letters: DeadLetterSink, **options: Any) -> ConsumerRunner:
    """A consumer in a group of its own, so it reads the topic from its beginning."""
    return ConsumerRunner(
        service="consumer-test",
        group_id=f"test-{uuid.uuid4()}",
        handler=handler,
        dead_letters=dead_letters,
        **options,
    )


async def wait_until(check: Any, within: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.05)


async def test_failing_handler_dead_letters_after_retries_and_the_partition_flows(topic: str) -> None:
    key = f"agg-{uuid.uuid4()}"
    before, bad, after = health_check(key), health_check(key, "failing"), health_check(key)
    applied: list[uuid.UUID] = []
    attempts: list[uuid.UUID] = []

    async def handler(event: AnyEvent, info: RecordInfo) -> None:
        attempts.append(event.event_id)
        if event.event_id == bad.event_id:
            raise RuntimeError("handler always fails for this one")
        applied.append(event.event_id)

    broker = KafkaBroker(ENV.kafka_bootstrap, enable_idempotence=True)
    runner = group_runner(handler, BrokerDeadLetterSink(broker), policy=RetryPolicy(max_attempts=3, first_delay=0.01))
    subscribe(broker, [topic], runner)
    async with KafkaTail(ENV.kafka_bootstrap, DEAD_LETTER_TOPIC) as dlt, broker:
        await broker.start()
        for event in (before, bad):
            await broker.publish(encode_event(event), topic=topic, key=key.encode(), headers={"x-test": "1"})
        await broker.publish(b"\xff not an event", topic=topic, key=key.encode())
        await broker.publish(encode_event(after), topic=topic, key=key.encode())
        await wait_until(lambda: after.event_id in applied)
        records = await dlt.collect(
            lambda rs: sum(decode_dead_letter(r.value).original_topic == topic for r in rs) >= 2
        )
    letters = [decode_dead_letter(r.value) for r in records]
    letters = [d for d in letters if d.original_topic == topic]
    failed = next(d for d in letters if not d.poison)
    poison = next(d for d in letters if d.poison)

    assert applied == [before.event_id, after.event_id], "records after the failing one are processed"
    assert attempts.count(bad.event_id) == 3
    assert failed.event_id == bad.event_id
    assert failed.attempts == 3
    assert failed.error_type == "RuntimeError"
    assert "handler always fails" in failed.error_message
    assert failed.traceback is not None
    assert "RuntimeError" in failed.traceback
    assert failed.key == key.encode()
    assert failed.value == encode_event(bad)
    assert ("x-test", b"1") in [(h.name, h.value) for h in failed.headers]
    assert failed.consumer_group == runner.group_id
    assert failed.service == "consumer-test"
    assert failed.offset >= 0
    assert failed.partition >= 0
    assert failed.first_failure_at <= failed.last_failure_at
    assert poison.value == b"\xff not an event"
    assert poison.attempts == 0
    assert poison.event_id is None
    assert poison.offset == failed.offset + 1


async def test_permanent_error_skips_the_retries() -> None:
    sent = []

    class Sink:
        async def send(self, record: Any) -> None:
            sent.append(record)

    calls = 0

    async def handler(event: AnyEvent, info: RecordInfo) -> None:
        nonlocal calls
        calls += 1
        raise PermanentError("cannot ever work")

    runner = ConsumerRunner(service="t", group_id="g", handler=handler, dead_letters=Sink())
    event = health_check("x")
    info = RecordInfo(topic="t", partition=0, offset=5, key=b"x", value=encode_event(event), headers=[])
    await runner.handle(info)
    assert calls == 1
    assert sent[0].attempts == 1
    assert sent[0].error_type == "PermanentError"


async def test_dead_letter_write_failure_propagates_so_the_record_is_redelivered() -> None:
    class DownSink:
        async def send(self, record: Any) -> None:
            raise ConnectionError("kafka is down")

    async def handler(event: AnyEvent, info: RecordInfo) -> None:
        raise PermanentError("bad")

    runner = ConsumerRunner(service="t", group_id="g", handler=handler, dead_letters=DownSink())
    info = RecordInfo(topic="t", partition=0, offset=1, key=None, value=b"garbage", headers=[])
    with pytest.raises(ConnectionError):
        await runner.handle(info)


async def test_same_event_twice_is_applied_once(es_dsn: str, topic: str) -> None:
    table = f"effects_{uuid.uuid4().hex[:8]}"
    async with await AsyncConnection.connect(es_dsn, autocommit=True) as setup:
        await setup.execute(f"CREATE TABLE {table} (event_id uuid, n int)")
    inbox = Inbox(f"inbox-test-{uuid.uuid4()}")
    seen = 0

    async def handler(event: AnyEvent, info: RecordInfo) -> None:
        nonlocal seen
        seen += 1
        async with await AsyncConnection.connect(es_dsn) as conn, conn.transaction():
            if await inbox.claim(conn, event.event_id):
                await conn.execute(f"INSERT INTO {table} VALUES (%s, 1)", (event.event_id,))

    broker = KafkaBroker(ENV.kafka_bootstrap)
    runner = group_runner(handler, BrokerDeadLetterSink(broker))
    subscribe(broker, [topic], runner)
    event = health_check("dup")
    async with broker:
        await broker.start()
        for _ in range(2):  # a redelivery: the same record published twice
            await broker.publish(encode_event(event), topic=topic, key=b"dup")
        await wait_until(lambda: seen >= 2)
    # a replay straight into the handler
    await runner.handle(
        RecordInfo(topic=topic, partition=0, offset=99, key=b"dup", value=encode_event(event), headers=[])
    )
    assert seen == 3
    async with await AsyncConnection.connect(es_dsn) as conn:
        rows = await (await conn.execute(f"SELECT count(*) FROM {table}")).fetchone()
    assert rows == (1,)


async def test_a_consumer_of_some_types_passes_the_others_by_undecoded(topic: str) -> None:
    """#19: a record whose event_type header names a known type the consumer does not act on is
    not decoded (a garbage body under such a header is neither handled nor dead-lettered); a
    record without the header or naming an unknown type is decoded, and its poison dead-lettered."""
    wanted, key = health_check("wanted"), b"k"
    handled: list[uuid.UUID] = []
    decoded = 0
    letters: list[Any] = []

    class Sink:
        async def send(self, record: Any) -> None:
            letters.append(record)

    def counting_decode(data: bytes) -> AnyEvent:
        nonlocal decoded
        decoded += 1
        return decode_event(data)

    async def handler(event: AnyEvent, info: RecordInfo) -> None:
        handled.append(event.event_id)

    broker = KafkaBroker(ENV.kafka_bootstrap, enable_idempotence=True)
    runner = group_runner(handler, Sink(), decode=counting_decode, event_types=["system.health_check"])
    subscribe(broker, [topic], runner)
    async with broker:
        await broker.start()
        await broker.publish(b"not decoded", topic=topic, key=key, headers={"event_type": "system.service_started"})
        await broker.publish(b"no header", topic=topic, key=key)
        await broker.publish(b"unknown type", topic=topic, key=key, headers={"event_type": "system.nonsense"})
        await broker.publish(encode_event(wanted), topic=topic, key=key, headers={"event_type": "system.health_check"})
        await wait_until(lambda: wanted.event_id in handled)
    assert handled == [wanted.event_id]
    assert decoded == 3
    assert sorted(letter.value for letter in letters) == [b"no header", b"unknown type"]
    assert all(letter.poison for letter in letters)


def test_a_consumer_names_only_types_the_contracts_know() -> None:
    async def handler(event: AnyEvent, info: RecordInfo) -> None: ...

    with pytest.raises(ValueError, match=r"system\.nonsense"):
        ConsumerRunner(service="t", group_id="g", handler=handler, dead_letters=None, event_types=["system.nonsense"])  # type: ignore[arg-type]


async def test_a_consumer_that_may_wait_takes_a_trickle_in_few_batches(topic: str) -> None:
    """#19: ten records 40 ms apart were about ten fetches, batches and offset commits for a
    consumer that takes each as it comes; one that may wait 0.6 s takes them in one or two."""
    events = [health_check(f"trickle-{n}") for n in range(10)]
    batches: list[asyncio.Task[Any] | None] = []  # a batch's records are handled in one task

    async def handler(event: AnyEvent, info: RecordInfo) -> None:
        batches.append(asyncio.current_task())

    broker = KafkaBroker(ENV.kafka_bootstrap, enable_idempotence=True)
    runner = group_runner(handler, None)  # type: ignore[arg-type]
    subscribe(broker, [topic], runner, wait=0.6)
    async with broker:
        await broker.start()
        await asyncio.sleep(1)  # the group is joined before the trickle starts
        for event in events:
            await broker.publish(encode_event(event), topic=topic, key=b"one-partition")
            await asyncio.sleep(0.04)
        await wait_until(lambda: len(batches) == len(events))
    assert len({id(task) for task in batches}) <= 2
