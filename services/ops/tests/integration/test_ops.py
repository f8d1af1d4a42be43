"""The ops service against the real stack: dead letters from Kafka and RabbitMQ stored, grouped,
replayed after the fault is fixed (processed exactly once), bulk replay jobs with progress, cancel,
resume and a rate limit, quarantine, discard, access control and the audit log."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import httpx
import psycopg
import pytest
from faststream.kafka import KafkaBroker

from blazing_commands import CommandBus
from blazing_contracts import (
    AnyEvent,
    ContractError,
    decode_event,
    encode_event,
    make_event,
    record_headers,
)
from blazing_contracts.events.system import HealthCheck
from blazing_contracts.topology import DEAD_LETTER_TOPIC
from blazing_es import BrokerDeadLetterSink, ConsumerRunner, Inbox, RecordInfo, RetryPolicy, install, subscribe
from blazing_service.identity import Identity, sign
from blazing_testing import stack_env
from blazing_testing.accounts import activated_account, admin_account
from blazing_testing.commands import welcome_job as welcome_command
from blazing_testing.kafka import produce, record_count, scratch_topic
from blazing_testing.maildir import find, wait_for_messages
from blazing_testing.ops import dead_letter_record, stored_dead_letters
from blazing_testing.postgres import scratch_database
from blazing_testing.stack import stopped

pytestmark = pytest.mark.integration
ENV = stack_env()
AUTH = f"http://127.0.0.1:{ENV['AUTH_PORT']}"
OPS = f"http://127.0.0.1:{ENV['OPS_PORT']}"


@pytest.fixture(scope="module")
async def admin() -> dict[str, str]:
    async with httpx.AsyncClient(timeout=30) as client:
        _email, session = await admin_account(client, base=AUTH)
    return {"authorization": f"Bearer {session['access_token']}"}


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
        r = await edge.get("/ops/api/dead-letters", params={**query, "limit": "100"}, headers=admin)
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


def welcome_job(max_attempts: int, variables: dict[str, str] | None = None) -> tuple[uuid.UUID, Any]:
    job_id = uuid.uuid4()
    address, correlation_id = f"ops-{job_id.hex[:8]}@example.org", f"ops-test-{job_id}"
    return job_id, welcome_command(job_id, address, correlation_id, variables=variables, max_attempts=max_attempts)


async def replay_ids(edge: httpx.AsyncClient, admin: dict[str, str], *ids: str) -> dict[str, Any]:
    r = await edge.post("/ops/api/replays", json={"filter": {"ids": list(ids)}}, headers=admin)
    assert r.status_code == 202, r.text
    return await wait_job(edge, admin, r.json()["job"]["job_id"])


async def test_a_job_that_failed_while_smtp_was_down_goes_back_to_its_queue_and_is_sent_once(
    edge: httpx.AsyncClient, admin: dict[str, str], bus: CommandBus
) -> None:
    job_id, command = welcome_job(max_attempts=1)
    async with stopped("smtp"):  # started again after: the fault is fixed
        await bus.send(command)
        [letter] = await stored_dead_letters(ENV, "event_id = %s", (job_id,), within=60)
    assert (letter["source"], letter["original_topic"], letter["consumer_group"]) == (
        "rabbitmq",
        "jobs.send_email",
        "send_email",
    )
    assert letter["headers"]["x-error-reason"] == "exhausted"

    def of_job(m: Any) -> bool:
        return bool(m["X-Job-Id"] == str(job_id))

    assert (await replay_ids(edge, admin, str(letter["dead_letter_id"])))["replayed"] == 1
    await asyncio.to_thread(wait_for_messages, ENV.maildir, of_job, 1, 30)
    assert (await replay_ids(edge, admin, str(letter["dead_letter_id"])))["replayed"] == 1
    await asyncio.sleep(2)
    assert len(find(ENV.maildir, of_job)) == 1, "the second replay had no second effect"


async def test_a_job_that_keeps_failing_is_quarantined_after_the_configured_replays(
    edge: httpx.AsyncClient, admin: dict[str, str], bus: CommandBus
) -> None:
    job_id, command = welcome_job(max_attempts=3, variables={})  # a variable is missing: fails every time
    await bus.send(command)
    for replays in range(3):  # OPS_MAX_REPLAYS = 3: each failed replay comes back counting on
        letters = await stored_dead_letters(ENV, "event_id = %s", (job_id,), count=replays + 1, within=30)
        newest = letters[-1]
        assert newest["replay_count"] == replays
        assert (await replay_ids(edge, admin, str(newest["dead_letter_id"])))["replayed"] == 1
    letters = await stored_dead_letters(ENV, "event_id = %s", (job_id,), count=4, within=30)
    job = await replay_ids(edge, admin, str(letters[-1]["dead_letter_id"]))
    assert (job["replayed"], job["quarantined"]) == (0, 1)
    one = (await edge.get(f"/ops/api/dead-letters/{letters[-1]['dead_letter_id']}", headers=admin)).json()
    assert one["dead_letter"]["status"] == "quarantined"
    again = await edge.post(
        "/ops/api/replays", json={"filter": {"ids": [str(letters[-1]["dead_letter_id"])]}}, headers=admin
    )
    assert (again.status_code, again.json()["message"][:17]) == (422, "Nothing to replay"), "a quarantined one stays"


async def test_bulk_replay_of_10000_runs_as_a_job_with_progress_cancel_resume_and_its_rate(
    edge: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    total, rate = 10_000, 2_000
    group = f"bulk-{uuid.uuid4().hex[:8]}"
    async with scratch_topic(ENV.kafka_bootstrap, "ops-bulk") as topic:
        await produce(
            ENV.kafka_bootstrap, DEAD_LETTER_TOPIC, [dead_letter_record(topic, group, n) for n in range(total)]
        )
        deadline = time.monotonic() + 60
        while True:
            groups = (await edge.get("/ops/api/groups", params={"consumer_group": group}, headers=admin)).json()
            if groups["groups"] and groups["groups"][0]["total"] == total:
                break
            assert time.monotonic() < deadline, f"stored: {groups}"
            await asyncio.sleep(0.5)
        listed_page = (await edge.get("/ops/api/dead-letters", params={"consumer_group": group}, headers=admin)).json()
        shown = str(listed_page["items"])
        assert not re.search(r"\d+@example\.org", shown), "personal data is masked in lists"
        assert re.search(r"\d•••@example\.org", listed_page["items"][0]["error_message"])

        selector = {"filter": {"consumer_group": group}}
        dry = await edge.post("/ops/api/replays", json={**selector, "dry_run": True}, headers=admin)
        assert (dry.status_code, dry.json()["count"]) == (200, total)
        assert await record_count(ENV.kafka_bootstrap, topic) == 0, "a dry run sends nothing"

        r = await edge.post("/ops/api/replays", json={**selector, "rate_per_s": rate}, headers=admin)
        job_id = r.json()["job"]["job_id"]
        seen: list[int] = []
        while not seen or seen[-1] < total // 4:
            job = (await edge.get(f"/ops/api/replays/{job_id}", headers=admin)).json()["job"]
            seen.append(job["replayed"])
            await asyncio.sleep(0.1)
        cancelled = await edge.post(f"/ops/api/replays/{job_id}/cancel", headers=admin)
        assert cancelled.json()["job"]["status"] == "cancelled"
        assert any(0 < n < total for n in seen), "progress was visible while it ran"
        await asyncio.sleep(1)
        stopped_at = (await edge.get(f"/ops/api/replays/{job_id}", headers=admin)).json()["job"]["replayed"]
        await asyncio.sleep(1)
        assert (await edge.get(f"/ops/api/replays/{job_id}", headers=admin)).json()["job"]["replayed"] == stopped_at
        assert stopped_at < total

        resumed_at = time.monotonic()
        assert (await edge.post(f"/ops/api/replays/{job_id}/resume", headers=admin)).status_code == 200
        job = await wait_job(edge, admin, job_id, within=120)
        took = time.monotonic() - resumed_at
        assert (job["status"], job["replayed"], job["total"]) == ("completed", total, total)
        assert (total - stopped_at) / took <= rate * 1.1, f"kept to {rate}/s: {total - stopped_at} in {took:.2f} s"
        assert await record_count(ENV.kafka_bootstrap, topic) == total, "each replayed exactly once"


async def test_every_ops_route_refuses_anonymous_and_non_admin_callers(edge: httpx.AsyncClient) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        _email, session = await activated_account(client, base=AUTH, prefix="ops-user")
    user = {"authorization": f"Bearer {session['access_token']}"}
    some = str(uuid.uuid4())
    api = [
        ("GET", "/ops/api/dead-letters"),
        ("GET", "/ops/api/groups"),
        ("GET", f"/ops/api/dead-letters/{some}"),
        ("POST", "/ops/api/replays"),
        ("GET", "/ops/api/replays"),
        ("GET", f"/ops/api/replays/{some}"),
        ("POST", f"/ops/api/replays/{some}/cancel"),
        ("POST", f"/ops/api/replays/{some}/resume"),
        ("POST", "/ops/api/discard"),
        ("GET", "/ops/api/audit"),
    ]
    pages = [
        ("GET", "/ops/"),
        ("GET", f"/ops/dead-letters/{some}"),
        ("GET", "/ops/replays"),
        ("GET", "/ops/audit"),
        ("POST", "/ops/actions/replay"),
        ("POST", "/ops/actions/discard"),
        ("POST", f"/ops/replays/{some}/cancel"),
    ]
    body = {"filter": {"topic": "x"}}
    for method, path in api:
        assert (await edge.request(method, path, json=body)).status_code == 401, path
        assert (await edge.request(method, path, json=body, headers=user)).status_code == 403, path
        forged = sign(Identity(user_id=uuid.uuid4(), permissions=100), "a-guessed-secret")
        assert (await edge.request(method, path, json=body, headers=forged)).status_code == 401, path
        direct = httpx.AsyncClient(base_url=OPS, timeout=10)
        async with direct:
            assert (await direct.request(method, path, json=body, headers=forged)).status_code == 401, path
    as_cookie = {"cookie": f"bs_ops={session['access_token']}"}
    for method, path in pages:
        anonymous = await edge.request(method, path, data={"topic": "x"})
        assert (anonymous.status_code, anonymous.headers.get("location")) == (302, "/ops/sign-in"), path
        assert (await edge.request(method, path, data={"topic": "x"}, headers=as_cookie)).status_code == 403, path
    stale = await edge.get("/ops/", headers={"cookie": "bs_ops=not-a-token"})
    assert stale.status_code == 302, "a stale cookie means: sign in again"


async def test_actions_are_in_the_append_only_audit_log_with_who_when_what_and_how_many(
    edge: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    group = f"audit-{uuid.uuid4().hex[:8]}"
    await produce(
        ENV.kafka_bootstrap, DEAD_LETTER_TOPIC, [dead_letter_record("test.nowhere", group, n) for n in range(3)]
    )
    await listed(edge, admin, 3, consumer_group=group)
    selector = {"filter": {"consumer_group": group}}
    assert (await edge.post("/ops/api/replays", json={**selector, "dry_run": True}, headers=admin)).json()["count"] == 3
    assert (await edge.post("/ops/api/discard", json=selector, headers=admin)).json()["count"] == 3
    assert (await edge.post("/ops/api/discard", json={"filter": {}}, headers=admin)).status_code == 400
    before = datetime.now(UTC)
    entries = (await edge.get("/ops/api/audit", params={"limit": "20"}, headers=admin)).json()["entries"]
    mine = [e for e in entries if e["target"].get("filter") == {"consumer_group": group}]
    assert [(e["action"], e["count"]) for e in mine] == [("discard", 3), ("replay_dry_run", 3)]
    me = (await edge.get("/ops/api/replays", headers=admin)).json()["jobs"]
    for e in mine:
        assert e["actor_id"] is not None
        assert datetime.fromisoformat(e["at"]) <= before
    assert me is not None
    async with await psycopg.AsyncConnection.connect(ENV.database_url("ops"), autocommit=True) as conn:
        for statement in ("UPDATE audit_log SET count = 0", "DELETE FROM audit_log", "TRUNCATE audit_log"):
            with pytest.raises(psycopg.errors.RaiseException):
                await conn.execute(statement)


async def test_a_deleted_users_dead_letters_keep_none_of_their_data(
    edge: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """SPEC: user.deleted erases the user's data in dead letters' payloads (here an event of the
    user's own stream, its aggregate the user)."""
    _, session = await activated_account(edge, prefix="ops-erased")
    user_id = session["user"]["id"]
    await produce(
        ENV.kafka_bootstrap, DEAD_LETTER_TOPIC, [dead_letter_record("user.events", "x.test", 1, instance=user_id)]
    )
    [stored] = await stored_dead_letters(ENV, "aggregate_id = %s", (user_id,))
    bearer = {"authorization": f"Bearer {session['access_token']}"}
    assert (await edge.delete(f"/api/v1/user/{user_id}", headers=bearer)).status_code in (200, 202)
    deadline = time.monotonic() + 30
    while True:
        one = (await edge.get(f"/ops/api/dead-letters/{stored['dead_letter_id']}", headers=admin)).json()["dead_letter"]
        if one["payload"] == {"erased": "user.deleted"}:
            break
        assert time.monotonic() < deadline, f"not erased 30 s after the deletion: {one['payload']}"
        await asyncio.sleep(0.5)
    assert (one["status"], one["key"], one["headers"]) == ("discarded", None, [])
    assert one["error_message"] == "(erased with the user's data)", "its error text named someone too"
