"""The ops service against the real stack: dead letters from Kafka and RabbitMQ stored, grouped,
replayed after the fault is fixed (processed exactly once), bulk replay jobs with progress, cancel,
resume and a rate limit, quarantine, discard, access control and the audit log."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import psycopg
import pytest
from faststream.kafka import KafkaBroker

from blazing_contracts import (
    AnyEvent,
    ContractError,
    decode_event,
    encode_event,
    make_event,
    record_headers,
)
from blazing_contracts.events.system import HealthCheck
from blazing_es import BrokerDeadLetterSink, ConsumerRunner, Inbox, RecordInfo, RetryPolicy, install, subscribe
from blazing_testing import edge_client, stack_env
from blazing_testing.accounts import admin_account
from blazing_testing.kafka import scratch_topic
from blazing_testing.postgres import scratch_database

pytestmark = pytest.mark.integration
ENV = stack_env()
AUTH = f"http://127.0.0.1:{ENV['AUTH_PORT']}"
OPS = f"http://127.0.0.1:{ENV['OPS_PORT']}"


@pytest.fixture(scope="module")
async def admin() -> dict[str, str]:
    async with httpx.AsyncClient(timeout=30) as client:
        _email, session = await admin_account(client, base=AUTH)
    return {"authorization": f"Bearer {session['access_token']}"}


@pytest.fixture
async def edge() -> AsyncIterator[httpx.AsyncClient]:
    async with edge_client() as client:
        yield client


async def wait_job(edge: httpx.AsyncClient, admin: dict[str, str], job_id: str, within: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while True:
        job = (await edge.get(f"/ops/api/replays/{job_id}", headers=admin)).json()["job"]
        if job["status"] in ("completed", "failed", "cancelled"):
            return job
        assert time.monotonic() < deadline, f"replay job still {job['status']}: {job}"
        await asyncio.sleep(0.2)


async def listed(edge: httpx.AsyncClient, admin: dict[str, str], count: int, **query: str) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 30
    while True:
        r = await edge.get("/ops/api/dead-letters", params={**query, "limit": "500"}, headers=admin)
        assert r.status_code == 200, r.text
        items: list[dict[str, Any]] = r.json()["items"]
        if len(items) >= count:
            return items
        assert time.monotonic() < deadline, f"{len(items)} of {count} dead letters listed for {query}"
        await asyncio.sleep(0.2)


def health_event(version: int = 1) -> AnyEvent:
    instance = f"ops-test-{uuid.uuid4().hex[:8]}"
    return make_event(
        HealthCheck(service="ops-test", instance=instance, status="ok", checks={}),
        event_id=uuid.uuid4(),
        aggregate_id=instance,
        aggregate_version=version,
        occurred_at=datetime.now(UTC),
        producer="ops-test",
        correlation_id=f"ops-test-{instance}",
    )


class Consumer:
    """A consumer as a service runs it (ConsumerRunner + Inbox in its own database), with a fault
    that can be fixed: while ``broken`` its handler raises, and its decoder refuses events whose
    aggregate version is 2 (as a consumer too old for a new event version would)."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.broken = True
        self.deliveries: Counter[uuid.UUID] = Counter()
        self.effects: Counter[uuid.UUID] = Counter()
        self.replay_headers: list[dict[str, bytes]] = []
        self.inbox = Inbox("ops-test")

    def decode(self, value: bytes) -> AnyEvent:
        event = decode_event(value)
        if self.broken and event.aggregate_version == 2:
            raise ContractError("aggregate_version 2 is not understood by this consumer")
        return event

    async def handle(self, event: AnyEvent, info: RecordInfo) -> None:
        if self.broken:
            raise RuntimeError("the handler's dependency is down")
        self.deliveries[event.event_id] += 1
        self.replay_headers.append({k: v for k, v in info.headers if k.startswith("replay")})
        async with await psycopg.AsyncConnection.connect(self.database_url) as conn, conn.transaction():
            if await self.inbox.claim(conn, event.event_id):
                self.effects[event.event_id] += 1


async def test_kafka_dead_letters_are_grouped_replayed_once_fixed_and_processed_exactly_once(
    edge: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    async with scratch_database(ENV, "ops_consumer") as url, scratch_topic(ENV.kafka_bootstrap, "ops") as topic:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            await install(conn)
        consumer = Consumer(url)
        group = f"ops-test-{uuid.uuid4().hex[:8]}"
        broker = KafkaBroker(ENV.kafka_bootstrap, logger=None)
        runner = ConsumerRunner(
            service="ops-test",
            group_id=group,
            handler=consumer.handle,
            dead_letters=BrokerDeadLetterSink(broker),
            policy=RetryPolicy(max_attempts=2, first_delay=0.05, max_delay=0.1),
            decode=consumer.decode,
        )
        subscribe(broker, [topic], runner)
        failing, poison = health_event(1), health_event(2)
        async with broker:
            await broker.start()
            for event in (failing, poison):
                await broker.publish(
                    encode_event(event), topic=topic, key=event.aggregate_id.encode(), headers=record_headers(event)
                )
            items = await listed(edge, admin, 2, topic=topic)
            by_event = {i["event_type"]: i for i in items}
            assert set(by_event) == {"system.health_check", None}, "the poison one has no readable type"
            assert by_event[None]["poison"] is True
            assert by_event[None]["error_type"] == "ContractError"
            assert by_event["system.health_check"]["error_type"] == "RuntimeError"
            assert by_event["system.health_check"]["attempts"] == 2

            groups = (await edge.get("/ops/api/groups", params={"topic": topic}, headers=admin)).json()["groups"]
            assert sorted(g["error_type"] for g in groups) == ["ContractError", "RuntimeError"]
            assert all(g["total"] == 1 and g["consumer_group"] == group for g in groups)

            consumer.broken = False  # the fault is fixed
            for g in groups:  # replay group by group
                r = await edge.post(
                    "/ops/api/replays", json={"filter": {"fingerprint": g["fingerprint"]}}, headers=admin
                )
                assert r.status_code == 202, r.text
                job = await wait_job(edge, admin, r.json()["job"]["job_id"])
                assert (job["status"], job["total"], job["replayed"]) == ("completed", 1, 1)

            deadline = time.monotonic() + 30
            while set(consumer.effects) != {failing.event_id, poison.event_id}:
                assert time.monotonic() < deadline, f"replays not processed: {consumer.effects}"
                await asyncio.sleep(0.1)
            assert consumer.replay_headers[0]["replay_count"] == b"1"

            # the same dead letter replayed again: delivered again, no second effect
            again = by_event["system.health_check"]["dead_letter_id"]
            r = await edge.post("/ops/api/replays", json={"filter": {"ids": [again]}}, headers=admin)
            assert (await wait_job(edge, admin, r.json()["job"]["job_id"]))["replayed"] == 1
            deadline = time.monotonic() + 30
            while consumer.deliveries[failing.event_id] < 2:
                assert time.monotonic() < deadline, "the second replay never arrived"
                await asyncio.sleep(0.1)
            await asyncio.sleep(0.5)
            assert consumer.effects == Counter({failing.event_id: 1, poison.event_id: 1}), "exactly once"

            one = (await edge.get(f"/ops/api/dead-letters/{again}", headers=admin)).json()["dead_letter"]
            assert (one["status"], one["replay_count"]) == ("replayed", 2)
            assert [h["action"] for h in one["history"]] == ["received", "replayed", "replayed"]
            assert one["payload"]["event_id"] == str(failing.event_id)
            assert {"name": "replay_count", "value": "1"} not in one["headers"], "stored as received"
