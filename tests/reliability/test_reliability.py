"""SPEC §11 against the running stack: a short chaos run (faults under load, then the invariants);
after each fault (kill -9 of every service, restart of PostgreSQL, Kafka, RabbitMQ, Redis) and its
recovery window, no 5xx on any route family; an outage of each dependency logged once when it
begins and once when it ends; poison on every topic and queue (dead-lettered, consumers still
running). Schemathesis against every API: test_fuzz.py."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import aio_pika
import httpx
import pytest

from blazing_contracts import encode_command
from blazing_contracts.topology import ALL_JOBS, ALL_TOPICS, job_queue
from blazing_es.lag import LagMonitor
from blazing_testing import REPO_ROOT, control, edge_client, stack_env
from blazing_testing.accounts import PASSWORD, new_email
from blazing_testing.commands import welcome_job
from blazing_testing.kafka import produce
from blazing_testing.maildir import find, wait_for_messages
from blazing_testing.ops import stored_dead_letters

sys.path.insert(0, str(Path(__file__).parent))
import chaos

pytestmark = pytest.mark.integration
ENV = stack_env()

# who consumes what (the dead letters each poison must produce)
KAFKA_CONSUMERS = {
    "user.events": [
        "auth.user-events",
        "ledger.user-events",
        "files.user-events",
        "mailer.user-events",
        "ops.user-events",
    ],
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


@pytest.fixture(scope="module")
async def prober() -> chaos.Prober:
    return await chaos.Prober.make()


@pytest.mark.timeout(240)
@pytest.mark.parametrize("fault", chaos.FAULTS)
async def test_no_route_family_answers_a_5xx_once_the_recovery_window_after_a_fault_passed(
    fault: str, prober: chaos.Prober
) -> None:
    """SPEC §11: a fault is over once the component is up again; ``RECOVERY_WINDOW_S`` later every
    route family answers without a 5xx. The probes before the fault fill every pool (auth's and the
    gateway's Redis clients, the services' PostgreSQL pools, the proxies' keep-alive connections)
    with connections the fault then kills; nothing probes during the window, so nothing heals them
    but the clients themselves."""
    before = await prober.probe()
    took = await chaos.inflict(fault) if not chaos.server_errors(before) else 0.0
    running = chaos.pids()
    await asyncio.sleep(chaos.RECOVERY_WINDOW_S)
    after = await prober.probe()
    record = {"fault": fault, "fault_s": round(took, 1), "window_s": chaos.RECOVERY_WINDOW_S}
    if chaos.server_errors(after) and (restarted := {s for s, p in chaos.pids().items() if running.get(s) != p}):
        # someone else restarted a service meanwhile (a shared stack): not this fault's doing, once more
        record["restarted_by_someone_else"] = sorted(restarted)
        running = chaos.pids()
        await asyncio.sleep(chaos.RECOVERY_WINDOW_S)
        after = await prober.probe()
        if chaos.pids() != running:
            pytest.skip(f"services restarted by someone else during the window: {sorted(restarted)}")
    record |= {"before": chaos.server_errors(before), "after": chaos.server_errors(after)}
    with (REPO_ROOT / "var" / "recovery.jsonl").open("a") as out:
        out.write(json.dumps(record) + "\n")
    assert chaos.server_errors(before) == {}, f"5xx before the fault (a previous one's remains?): {before}"
    assert chaos.server_errors(after) == {}, f"{fault}: 5xx {chaos.RECOVERY_WINDOW_S:.0f} s after recovery: {after}"


OUTAGE_S = {"kafka": 15.0, "rabbitmq": 8.0, "redis": 8.0, "postgres": 8.0}
MENTIONS = {  # what a log line about each dependency's outage says
    "kafka": r"kafka|9092|node|coordinator|metadata|produce|fetch|outbox relay",
    "rabbitmq": r"rabbit|amqp|aio_pika|aiormq|5672|channel",
    "redis": r"redis|6379",
    "postgres": r"postgres|psycopg|5432|database|OperationalError|outbox relay|connection",
}


def log_lines(service: str, offset: int) -> list[dict[str, Any]]:
    with (ENV.var / "log" / f"svc-{service}.log").open("rb") as f:
        f.seek(offset)
        lines = f.read().decode("utf-8", "replace").splitlines()
    parsed = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except ValueError:
            parsed.append({"level": "error" if "error" in line.lower() else "info", "message": line})
    return parsed


async def dependency_up(service: str, dependency: str) -> float | None:
    """The service's gauge ``dependency_up`` of ``dependency`` (None: no such series, or no answer)."""
    port = ENV["APP_PORT"] if service == "gateway" else ENV[f"{service.upper()}_PORT"]
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            text = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
    except httpx.HTTPError:
        return None
    found = re.search(rf'^dependency_up{{dependency="{dependency}"}} (\S+)$', text, re.MULTILINE)
    return float(found.group(1)) if found else None


async def traffic() -> None:
    """A request of each kind that reaches Redis (the gateway's rate limit, auth's sign-in counter),
    PostgreSQL and RabbitMQ (a sign-up); whatever they answer."""
    sign_up = {"email": new_email("outage"), "password": PASSWORD, "confirm_password": PASSWORD}
    async with edge_client(timeout=5) as edge:
        for method, path, body in (
            ("GET", "/api/v1/user", None),
            ("POST", "/api/v1/auth/sign-in", {"email": "nobody@example.org", "password": PASSWORD}),
            ("POST", "/api/v1/auth/sign-up", {**sign_up, "first_name": "Out", "last_name": "Age"}),
        ):
            with contextlib.suppress(httpx.HTTPError):
                await edge.request(method, path, json=body)


@pytest.mark.timeout(180)
@pytest.mark.parametrize("dependency", list(OUTAGE_S))
async def test_an_outage_is_logged_once_when_it_begins_and_once_when_it_ends(dependency: str) -> None:
    """While a dependency is down each service writes one line that it went away and one that it is
    back (and the gauge dependency_up says so), not a line per retry of its clients (a 15 s Kafka
    outage wrote 650 to 4,700 WARNING / ERROR lines per service, 15,500 in all)."""
    offsets = {s: (ENV.var / "log" / f"svc-{s}.log").stat().st_size for s in chaos.SERVICES}
    running = chaos.pids()
    await asyncio.to_thread(control, "stop", dependency)
    try:
        until = time.monotonic() + OUTAGE_S[dependency]
        while time.monotonic() < until:  # some traffic, as a live system has: its clients find out
            await traffic()
            await asyncio.sleep(1)
        during = {s: await dependency_up(s, dependency) for s in chaos.SERVICES}
    finally:
        await asyncio.to_thread(control, "start", dependency)
    # a service someone else restarted meanwhile (a shared stack) is not judged; one that could not
    # start during the outage (services refuse to start without their brokers) is started again
    services = [s for s in chaos.SERVICES if chaos.pids().get(s) == running.get(s)]
    await chaos.revive([s for s in chaos.SERVICES if s not in services])
    back = re.compile(rf"{dependency} is back", re.IGNORECASE)
    about = re.compile(MENTIONS[dependency], re.IGNORECASE)
    deadline = time.monotonic() + 45
    while True:
        lines = {s: log_lines(s, offsets[s]) for s in services}
        noticed = {s for s in services if during[s] == 0.0}
        if all(any(back.search(line["message"]) for line in lines[s]) for s in noticed) or time.monotonic() > deadline:
            break
        await asyncio.sleep(1)
    await asyncio.sleep(3)  # what the clients still say once it is back counts too
    services = [s for s in services if chaos.pids().get(s) == running.get(s)]
    noticed &= set(services)
    lines = {s: log_lines(s, offsets[s]) for s in services}
    loud = {
        s: [
            f"{line.get('logger')}: {line['message'][:120]}"
            for line in found
            if line.get("level") in ("warning", "error", "critical")
            and about.search(f"{line.get('logger')} {line['message']} {line.get('exception', '')}")
        ]
        for s, found in lines.items()
    }
    counts = {s: len(v) for s, v in loud.items()}
    with (REPO_ROOT / "var" / "outage-logs.jsonl").open("a") as out:
        judged = {"dependency": dependency, "outage_s": OUTAGE_S[dependency], "lines": counts}
        out.write(json.dumps(judged | {"not_judged": sorted(set(chaos.SERVICES) - set(services))}) + "\n")
    assert all(n <= 3 for n in counts.values()), {s: (n, loud[s][:5]) for s, n in counts.items() if n > 3}
    if dependency == "kafka":  # every service has Kafka clients (at least its system events)
        assert noticed == set(services), during
    assert noticed, f"no service noticed that {dependency} was down: {during}"
    for s in noticed:
        assert any(back.search(line["message"]) for line in lines[s]), f"{s}: no line that {dependency} is back"
        assert await dependency_up(s, dependency) == 1.0


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
    command = welcome_job(job_id, f"after-poison-{marker[:8]}@example.org", marker)
    connection = await aio_pika.connect_robust(ENV.rabbitmq_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        await channel.default_exchange.publish(
            aio_pika.Message(encode_command(command)), routing_key=job_queue("send_email")
        )
    await asyncio.to_thread(wait_for_messages, ENV.maildir, lambda m: m["X-Job-Id"] == str(job_id), 1, 30)
    assert len(find(ENV.maildir, lambda m: m["X-Job-Id"] == str(job_id))) == 1
