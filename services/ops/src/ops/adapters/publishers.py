"""Where replays go: the original Kafka topic (original key and headers, plus replay id and count)
or the original RabbitMQ queue (original body and headers without the failure's, plus the same)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import Any

import aio_pika
from aiokafka import AIOKafkaProducer

from blazing_contracts.topology import HEADER_REPLAY_COUNT, HEADER_REPLAY_ID
from ops.domain.dead_letters import original_message_id, rabbit_headers
from ops.domain.replays import Replayable

_REPLAY_HEADERS = {HEADER_REPLAY_ID, HEADER_REPLAY_COUNT}


def kafka_headers(item: Replayable, job_id: uuid.UUID) -> list[tuple[str, bytes]]:
    kept = [(k, v) for k, v in item.headers if k not in _REPLAY_HEADERS]
    return [
        *kept,
        (HEADER_REPLAY_ID, str(job_id).encode()),
        (HEADER_REPLAY_COUNT, str(item.replay_count + 1).encode()),
    ]


class KafkaPublisher:
    """Started by its first batch (Kafka away at the service's start fails a job, which can be
    resumed, instead of the service)."""

    def __init__(self, bootstrap: str) -> None:
        self._bootstrap = bootstrap
        self._producer: AIOKafkaProducer | None = None

    async def _started(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = AIOKafkaProducer(
                bootstrap_servers=self._bootstrap,
                client_id="ops-replay",
                acks="all",
                enable_idempotence=True,
                linger_ms=5,
                max_batch_size=1 << 20,
            )
            try:
                await producer.start()
            except BaseException:
                await producer.stop()
                raise
            self._producer = producer
        return self._producer

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def publish(self, items: Sequence[Replayable], job_id: uuid.UUID) -> None:
        producer = await self._started()
        sent = [
            await producer.send(i.original_topic, i.value, key=i.key, headers=kafka_headers(i, job_id)) for i in items
        ]
        await asyncio.gather(*sent)  # every record acknowledged, or this raises


class RabbitPublisher:
    """Publishes with publisher confirms through the default exchange to the original queue
    (connected by its first batch)."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._connection: Any = None
        self._channel: Any = None

    async def start(self) -> None:
        self._connection = await aio_pika.connect_robust(self._url, client_properties={"connection_name": "ops-replay"})
        self._channel = await self._connection.channel(publisher_confirms=True)

    async def stop(self) -> None:
        if self._connection is not None:
            await self._connection.close()

    async def publish(self, items: Sequence[Replayable], job_id: uuid.UUID) -> None:
        if self._channel is None:
            await self.start()
        exchange = self._channel.default_exchange
        confirms = [
            exchange.publish(
                aio_pika.Message(
                    i.value,
                    headers={
                        **rabbit_headers(i.headers),
                        f"x-{HEADER_REPLAY_ID}": str(job_id),
                        f"x-{HEADER_REPLAY_COUNT}": i.replay_count + 1,
                    },
                    content_type="application/json",
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    message_id=original_message_id(i.headers),
                ),
                routing_key=i.original_topic,
                mandatory=True,
            )
            for i in items
        ]
        await asyncio.gather(*confirms)  # each one confirmed (and routed: mandatory) or this raises
