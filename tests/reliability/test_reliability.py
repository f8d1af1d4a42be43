"""SPEC §11 against the running stack: a short chaos run (faults under load, then the invariants) and
poison on every topic and queue (dead-lettered, consumers still running). Schemathesis against every
API: test_fuzz.py."""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import aio_pika
import pytest

from blazing_contracts import SendEmail, encode_command, make_command
from blazing_contracts.topology import ALL_JOBS, ALL_TOPICS, job_queue
from blazing_es.lag import LagMonitor
from blazing_testing import REPO_ROOT, stack_env
from blazing_testing.kafka import produce
from blazing_testing.maildir import find, wait_for_messages
from blazing_testing.ops import stored_dead_letters

sys.path.insert(0, str(Path(__file__).parent))
import chaos

pytestmark = pytest.mark.integration
ENV = stack_env()

# who consumes what (the dead letters each poison must produce)
KAFKA_CONSUMERS = {
    "user.events": ["auth", "ledger.user-events", "files.user-events"],
    "auth.events": ["users.auth-events"],
    "transaction.events": ["users.balance"],
    "events.dead_letter": ["ops.dead-letters"],
}
QUEUE_CONSUMERS = {"create_user": "create_user", "send_email": "send_email", "set_avatar": "set_avatar"}


async def test_a_short_chaos_run_keeps_every_invariant() -> None:
    result = await chaos.run(rounds=1, workers=6, services=chaos.SERVICES, infra=list(chaos.INFRA))
    (REPO_ROOT / "var" / "chaos-short.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    assert result["writes_checked"] > 0
    assert result["faults"] == len(chaos.SERVICES) + len(chaos.INFRA)
    assert result["violations"] == []


async def test_poison_on_every_topic_and_queue_ends_as_dead_letters_and_consumers_keep_running() -> None:
    marker = uuid.uuid4().hex
    poison = f"poison {marker} \xff".encode("utf-8", "surrogateescape")
    for topic in ALL_TOPICS:
        await produce(ENV.kafka_bootstrap, topic, [poison])
    connection = await aio_pika.connect_robust(ENV.rabbitmq_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        for job in ALL_JOBS:
            await channel.default_exchange.publish(aio_pika.Message(poison), routing_key=job_queue(job))
    for topic, groups in KAFKA_CONSUMERS.items():
        for group in groups:
            [letter] = await stored_dead_letters(
                ENV,
                "original_topic = %s AND consumer_group = %s AND position(%s in encode(value, 'escape')) > 0",
                (topic, group, marker),
                within=60,
            )
            assert letter["poison"] is True, (topic, group)
    for job, group in QUEUE_CONSUMERS.items():
        [letter] = await stored_dead_letters(
            ENV,
            "original_topic = %s AND position(%s in encode(value, 'escape')) > 0",
            (job_queue(job), marker),
            within=60,
        )
        assert (letter["consumer_group"], letter["poison"]) == (group, True)
    # still running: every Kafka group catches up with its topics, and a valid job after the poison is done
    lag = LagMonitor(ENV.kafka_bootstrap, ALL_TOPICS)
    deadline = time.monotonic() + 60
    while True:
        behind = {
            k: v
            for k, v in (await lag.measure()).items()
            if v and k[0] in {g for gs in KAFKA_CONSUMERS.values() for g in gs}
        }
        if not behind:
            break
        assert time.monotonic() < deadline, behind
        await asyncio.sleep(1)
    job_id = uuid.uuid4()
    command = make_command(
        SendEmail(
            to_email=f"after-poison-{marker[:8]}@example.org",
            to_name="Ada",
            template="welcome",
            variables={"first_name": "Ada"},
        ),
        job_id=job_id,
        created_at=datetime.now(UTC),
        correlation_id=marker,
        priority=3,
        max_attempts=3,
    )
    connection = await aio_pika.connect_robust(ENV.rabbitmq_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        await channel.default_exchange.publish(
            aio_pika.Message(encode_command(command)), routing_key=job_queue("send_email")
        )
    await asyncio.to_thread(wait_for_messages, ENV.maildir, lambda m: m["X-Job-Id"] == str(job_id), 1, 30)
    assert len(find(ENV.maildir, lambda m: m["X-Job-Id"] == str(job_id))) == 1
