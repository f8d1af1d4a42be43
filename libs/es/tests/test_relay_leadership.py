"""Two relay instances: only the leader publishes; the standby takes over when it stops."""

from __future__ import annotations

import asyncio

import pytest

from blazing_es import OutboxRelay, kafka_producer
from blazing_testing import stack_env

pytestmark = pytest.mark.integration
ENV = stack_env()


async def wait_for(check: object, within: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not check():  # type: ignore[operator]
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def test_one_leader_at_a_time_and_failover(es_dsn: str) -> None:
    def relay() -> OutboxRelay:
        return OutboxRelay(
            es_dsn,
            lambda: kafka_producer(ENV.kafka_bootstrap, "leader-test"),
            service="leader-test",
            poll_interval=0.1,
        )

    first, second = relay(), relay()
    t1 = asyncio.create_task(first.run())
    await wait_for(lambda: first.is_leader)
    t2 = asyncio.create_task(second.run())
    await asyncio.sleep(1.0)
    assert first.is_leader
    assert not second.is_leader, "the second instance waits as a standby"
    first.stop()
    await t1
    await wait_for(lambda: second.is_leader)
    second.stop()
    await t2
