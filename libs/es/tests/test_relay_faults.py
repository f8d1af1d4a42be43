"""The outbox relay survives kill -9 and a 30 s Kafka outage: every committed event arrives, in
order per aggregate, with duplicates within the stated bound (one batch per crash)."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import defaultdict
from pathlib import Path

import msgspec
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from psycopg import AsyncConnection

from blazing_es import EventStore, Outbox, OutboxRecord
from blazing_es.outbox import backlog
from blazing_testing import control, stack_env
from blazing_testing.kafka import scratch_topic
from blazing_testing.processes import start_relay

from .helpers import new_event

pytestmark = pytest.mark.integration
ENV = stack_env()
BATCH = 200
AGGREGATES = 20


class Mark(msgspec.Struct, frozen=True):
    aggregate: str
    version: int


async def writer(dsn: str, topic: str, stop: asyncio.Event, committed: list[Mark]) -> None:
    store, outbox = EventStore(), Outbox()
    versions = dict.fromkeys((f"agg-{i}" for i in range(AGGREGATES)), 0)
    async with await AsyncConnection.connect(dsn) as conn:
        while not stop.is_set():
            for aggregate in versions:
                version = versions[aggregate] + 1
                async with conn.transaction():
                    await store.append(conn, f"{topic}/{aggregate}", version - 1, [new_event()], aggregate_type="t")
                    mark = Mark(aggregate, version)
                    await outbox.add(
                        conn,
                        [
                            OutboxRecord(
                                topic=topic,
                                key=aggregate.encode(),
                                value=msgspec.json.encode(mark),
                                headers={},
                            )
                        ],
                    )
                versions[aggregate] = version
                committed.append(mark)
            await asyncio.sleep(0.05)


async def read_all(topic: str) -> list[Mark]:
    consumer = AIOKafkaConsumer(bootstrap_servers=ENV.kafka_bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(3)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        marks: list[Mark] = []

        async def behind() -> bool:
            return any([await consumer.position(tp) < ends[tp] for tp in tps])

        while await behind():
            for records in (await consumer.getmany(timeout_ms=500)).values():
                marks.extend(msgspec.json.decode(r.value, type=Mark) for r in records)
        return marks
    finally:
        await consumer.stop()


async def test_relay_kill_and_kafka_outage(es_dsn: str, tmp_path: Path) -> None:
    log = tmp_path / "relay.log"
    committed: list[Mark] = []
    stop = asyncio.Event()
    async with scratch_topic(ENV.kafka_bootstrap, "relay-faults") as topic:
        relay = start_relay(es_dsn, "fault-test", batch_size=BATCH, log=log)
        write = asyncio.create_task(writer(es_dsn, topic, stop, committed))
        try:
            await asyncio.sleep(3)
            os.kill(relay.pid, signal.SIGKILL)  # mid-stream
            relay.wait()
            await asyncio.sleep(2)
            relay = start_relay(es_dsn, "fault-test", batch_size=BATCH, log=log)
            await asyncio.sleep(2)
            await asyncio.to_thread(control, "stop", "kafka")
            outage_start = time.monotonic()
            await asyncio.sleep(30)
            await asyncio.to_thread(control, "start", "kafka")
            outage = time.monotonic() - outage_start
            await asyncio.sleep(2)
        finally:
            stop.set()
            await write
        drained_at = None
        async with await AsyncConnection.connect(es_dsn) as conn:
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                if (await backlog(conn))[0] == 0:
                    drained_at = time.monotonic()
                    break
                await asyncio.sleep(0.5)
        relay.send_signal(signal.SIGTERM)
        relay.wait(timeout=20)
        assert drained_at is not None, f"outbox did not drain; relay log:\n{log.read_text()[-3000:]}"
        published = await read_all(topic)

    print(  # the figures for the closing note (pytest -s)
        f"relay faults: committed={len(committed)} published={len(published)} "
        f"duplicates={len(published) - len(set(published))} outage={outage:.1f}s "
        f"drained {drained_at - outage_start - outage:.1f}s after Kafka returned"
    )
    assert outage >= 30
    assert len(committed) > 1000
    assert set(published) == set(committed), "every committed event reached Kafka, nothing else did"
    duplicates = len(published) - len(set(published))
    # one crash (kill -9) + one outage (producer restarted mid-batch): at most one batch each
    assert duplicates <= 2 * BATCH, duplicates
    per_aggregate: dict[str, list[int]] = defaultdict(list)
    for mark in published:
        per_aggregate[mark.aggregate].append(mark.version)
    for aggregate, versions in per_aggregate.items():
        first_seen = list(dict.fromkeys(versions))
        assert first_seen == sorted(first_seen), f"{aggregate} out of order"
        assert first_seen == list(range(1, len(first_seen) + 1)), f"{aggregate} has a gap"
