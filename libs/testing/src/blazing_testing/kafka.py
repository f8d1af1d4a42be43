"""Reading what a test caused on a Kafka topic, without reading the topic's history; writing events
there as a service's outbox relay does."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from blazing_contracts import AnyEvent, encode_event, record_headers


class KafkaTail:
    """Remembers a topic's end offsets on start; ``collect`` returns records produced after that."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.topic = topic
        self._consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        self.records: list[ConsumerRecord[bytes, bytes]] = []

    async def __aenter__(self) -> KafkaTail:
        await self._consumer.start()
        cluster = await self._consumer._client.fetch_all_metadata()
        partitions = cluster.partitions_for_topic(self.topic) or set()
        tps = [TopicPartition(self.topic, p) for p in sorted(partitions)]
        self._consumer.assign(tps)
        ends = await self._consumer.end_offsets(tps)
        for tp in tps:
            self._consumer.seek(tp, ends[tp])
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._consumer.stop()

    async def collect(
        self, until: Callable[[list[ConsumerRecord[bytes, bytes]]], bool], within: float = 30.0
    ) -> list[ConsumerRecord[bytes, bytes]]:
        deadline = time.monotonic() + within
        while not until(self.records):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{self.topic}: condition not met; {len(self.records)} records seen")
            batch: dict[Any, list[ConsumerRecord[bytes, bytes]]] = await self._consumer.getmany(
                timeout_ms=int(min(remaining, 0.5) * 1000)
            )
            for records in batch.values():
                self.records.extend(records)
        return self.records

    async def settle(self, seconds: float) -> list[ConsumerRecord[bytes, bytes]]:
        """Keeps reading for ``seconds`` (to catch late duplicates)."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            batch = await self._consumer.getmany(timeout_ms=200)
            for records in batch.values():
                self.records.extend(records)
            await asyncio.sleep(0)
        return self.records


@asynccontextmanager
async def scratch_topic(bootstrap: str, prefix: str, partitions: int = 3) -> AsyncIterator[str]:
    """A topic of the test's own (so consumers read no history); deleted afterwards."""
    name = f"test.{prefix}.{uuid.uuid4().hex[:10]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name=name, num_partitions=partitions, replication_factor=1)])
        yield name
    finally:
        with contextlib.suppress(Exception):
            await admin.delete_topics([name])
        await admin.close()


async def record_count(bootstrap: str, topic: str) -> int:
    """How many records a topic holds (the sum of its partitions' end offsets; for a scratch topic,
    which nothing compacts or expires, that is how many were ever written)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        ends = await consumer.end_offsets(partitions)
        return sum(ends.values())
    finally:
        await consumer.stop()


async def produce(bootstrap: str, topic: str, values: list[bytes]) -> None:
    """Writes ``values`` to ``topic`` and waits until every one is acknowledged."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    try:
        await asyncio.gather(*[await producer.send(topic, v) for v in values])
    finally:
        await producer.stop()


async def publish(bootstrap: str, topic: str, events: Iterable[AnyEvent]) -> None:
    """Writes ``events`` to ``topic`` one after the other, as the outbox relay does (key = the
    aggregate id, the envelope's headers), each acknowledged by every replica before the next."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for event in events:
            await producer.send_and_wait(
                topic,
                encode_event(event),
                key=event.aggregate_id.encode(),
                headers=[(k, v.encode()) for k, v in record_headers(event).items()],
            )
    finally:
        await producer.stop()
