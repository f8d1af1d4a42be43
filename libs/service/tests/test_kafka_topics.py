"""A service's Kafka broker never creates a topic: the deployment creates them with the cluster's
partitions and replication factor (deploy/compose/kafka/entrypoint.sh, deploy/local/kafka_topics.py).
FastStream's default would create a subscribed topic that is missing with 1 partition and
replication factor 1; on the swarm's three brokers that raced the entrypoint and left four of the
six topics unreplicated."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import UnknownTopicOrPartitionError
from faststream.kafka import KafkaBroker

from blazing_service.runtime import Runtime
from blazing_service.settings import ServiceSettings
from blazing_testing import stack_env

pytestmark = pytest.mark.integration
ENV = stack_env()


@pytest.fixture
async def admin() -> AsyncIterator[AIOKafkaAdminClient]:
    client = AIOKafkaAdminClient(bootstrap_servers=ENV.kafka_bootstrap, request_timeout_ms=5000)
    await client.start()
    try:
        yield client
    finally:
        await client.close()


def subscribe(broker: KafkaBroker) -> str:
    """Subscribes ``broker`` to a topic nobody made; returns its name."""
    topic = f"test.absent-{uuid.uuid4().hex[:12]}"

    @broker.subscriber(topic, group_id=f"test-{uuid.uuid4()}")
    async def handle(body: bytes) -> None:
        return None

    return topic


async def exists_within(admin: AIOKafkaAdminClient, topic: str, seconds: float) -> bool:
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline:
        if topic in await admin.list_topics():
            return True
        await asyncio.sleep(0.25)
    return False


async def test_a_services_subscriber_waits_for_a_missing_topic_and_never_makes_it(admin: AIOKafkaAdminClient) -> None:
    settings = ServiceSettings(service="test", port=0, identity_secret="x" * 32, kafka_bootstrap=ENV.kafka_bootstrap)
    broker = Runtime(settings).kafka
    topic = subscribe(broker)
    starting = asyncio.create_task(broker.start())
    try:
        assert not await exists_within(admin, topic, 3.0), "the service's broker created a topic"
        assert not starting.done(), "the consumer gave up on a topic that is merely not there yet"
        await admin.create_topics([NewTopic(name=topic, num_partitions=1, replication_factor=1)])
        await asyncio.wait_for(starting, timeout=20)  # and starts once the deployment made it
    finally:
        starting.cancel()
        with contextlib.suppress(BaseException):
            await starting
        await broker.stop()
        with contextlib.suppress(UnknownTopicOrPartitionError):
            await admin.delete_topics([topic])


async def test_faststreams_default_broker_would_have_made_it(admin: AIOKafkaAdminClient) -> None:
    """What the test above guards against, shown on the same Kafka: without the setting a
    subscriber creates the topic (1 partition, replication factor 1), so the check above can fail."""
    broker = KafkaBroker(ENV.kafka_bootstrap, logger=None)
    topic = subscribe(broker)
    try:
        await asyncio.wait_for(broker.start(), timeout=20)
        assert await exists_within(admin, topic, 3.0)
    finally:
        await broker.stop()
        with contextlib.suppress(UnknownTopicOrPartitionError):
            await admin.delete_topics([topic])
