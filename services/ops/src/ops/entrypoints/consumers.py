"""The dead-letter processor: every record of ``events.dead_letter`` and every message of the
RabbitMQ ``jobs.dead_letter`` queue ends up stored in the ops database — nothing is dropped.

Kafka: batches, stored in one transaction, offsets committed after it (a failure seeks back and the
batch comes again; storing is idempotent by dead-letter id). A record that is not a dead-letter
record is stored too, as poison of the dead-letter topic. RabbitMQ: acknowledged after it is stored;
if storing fails the message is requeued after a pause.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage
from faststream.rabbit import Channel, RabbitBroker, RabbitMessage, RabbitQueue
from prometheus_client import Counter

from blazing_commands.consumer import raw_body as raw_job
from blazing_contracts import ContractError, decode_dead_letter
from blazing_contracts.topology import DEAD_LETTER_TOPIC, JOBS_DEAD_LETTER_QUEUE
from blazing_es.consumer import raw_body
from ops.application.dead_letters import StoreDeadLetters
from ops.domain.dead_letters import DeadLetter, from_kafka, from_rabbitmq, unreadable_kafka

log = logging.getLogger(__name__)

RECEIVED = Counter("ops_dead_letters_received_total", "Dead letters stored by the ops service", ["source"])
GROUP_ID = "ops.dead-letters"


def subscribe_kafka(broker: KafkaBroker, store: StoreDeadLetters) -> None:
    async def consume(msg: KafkaMessage) -> None:
        items: list[DeadLetter] = []
        for raw in msg.raw_message:
            value: bytes = raw.value or b""
            try:
                items.append(from_kafka(decode_dead_letter(value)))
            except ContractError as exc:
                log.error("%s[%d]@%d is not a dead-letter record: %s", raw.topic, raw.partition, raw.offset, exc)
                at = datetime.fromtimestamp(raw.timestamp / 1000, UTC)
                items.append(unreadable_kafka(value, raw.key, raw.topic, raw.partition, raw.offset, str(exc), at))
        RECEIVED.labels("kafka").inc(await store(items))

    broker.subscriber(
        DEAD_LETTER_TOPIC,
        group_id=GROUP_ID,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        batch=True,
        max_records=1000,
        decoder=raw_body,
    )(consume)


def subscribe_rabbitmq(broker: RabbitBroker, store: StoreDeadLetters) -> None:
    queue = RabbitQueue(JOBS_DEAD_LETTER_QUEUE, durable=True, declare=False)

    async def consume(msg: RabbitMessage) -> None:
        raw: Any = msg.raw_message
        item = from_rabbitmq(bytes(raw.body), dict(raw.headers or {}), raw.message_id, datetime.now(UTC))
        try:
            RECEIVED.labels("rabbitmq").inc(await store([item]))
        except Exception:
            log.exception("storing a jobs dead letter failed; it is requeued")
            await asyncio.sleep(1)
            await msg.nack(requeue=True)
            return
        await msg.ack()

    broker.subscriber(
        queue, channel=Channel(prefetch_count=64), ack_policy=AckPolicy.MANUAL, no_reply=True, decoder=raw_job
    )(consume)
