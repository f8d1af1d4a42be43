"""The swarm stack running on this machine (`make swarm-test`: deploy/swarm/swarm.sh deploys the stack and
points BLAZING_SWARM_ENV at its env file, BLAZING_SWARM_EDGE at the edge relay; collected only then:
tests/deploy/conftest.py), tested black-box: every service with all its replicas healthy, three Kafka
brokers holding every topic with replication factor 3 and min.insync.replicas=2, the job queues quorum
queues, the journey through the swarm nginx over HTTPS, then

- a Kafka broker lost under ledger writes: writers add incomes through the edge; one broker's service
  is scaled to 0 for BROKER_DOWN_SECONDS and back. Every write that got a 2xx is in the ledger, and the
  users service's balance projection (fed by the ledger's events through Kafka) converges on the
  ledger's balance: no acknowledged write lost, the consumers went on;
- a rolling update (`docker service update --force`, start-first) of the ledger and of the gateway
  (SWARM_ROLLING_SERVICES) under the same load: no answer but a 2xx (SWARM_ROLLING_MAX_FAILED, 0 by
  default: the stopped tasks drain themselves first, DRAIN_SECONDS), the same invariants hold.

Every phase is bounded in time; the figures are printed (pytest -s) and written to var/swarm/results.json.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import subprocess
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from blazing_testing.journey import category, edge_client, journey, signed_in_account
from blazing_testing.services import services

ENV_FILE = Path(os.environ.get("BLAZING_SWARM_ENV", "var/swarm/.env"))
OUT = ENV_FILE.parent
EDGE = os.environ.get("BLAZING_SWARM_EDGE", "127.0.0.1:18443")
STACK = os.environ.get("BLAZING_SWARM_STACK", "blazing-swarm")
BROKER = os.environ.get("SWARM_LOST_BROKER", "kafka-2")
BROKER_DOWN_SECONDS = float(os.environ.get("SWARM_BROKER_DOWN_SECONDS", "20"))
ROLLING = os.environ.get("SWARM_ROLLING_SERVICES", "ledger gateway").split()
ROLLING_MAX_FAILED = int(os.environ.get("SWARM_ROLLING_MAX_FAILED", "0"))
WRITERS = int(os.environ.get("SWARM_WRITERS", "4"))
TOPICS = ("user.events", "auth.events", "transaction.events", "category.events", "system.events", "events.dead_letter")
RESULTS: dict[str, Any] = {}


def docker(*args: str, timeout: float = 120) -> str:
    done = subprocess.run(["docker", *args], capture_output=True, text=True, check=False, timeout=timeout)
    assert done.returncode == 0, f"docker {' '.join(args)}: {done.stderr}"
    return done.stdout


def service_replicas() -> dict[str, str]:
    rows = docker("service", "ls", "--filter", f"label=com.docker.stack.namespace={STACK}", "--format", "{{json .}}")
    found = [json.loads(line) for line in rows.splitlines() if line.strip()]
    return {row["Name"].removeprefix(f"{STACK}_"): row["Replicas"] for row in found}


def containers_of(service: str) -> list[dict[str, Any]]:
    ids = docker("ps", "-q", "--filter", f"label=com.docker.swarm.service.name={STACK}_{service}").split()
    return list(json.loads(docker("inspect", *ids))) if ids else []


def container_of(service: str) -> str:
    running = containers_of(service)
    assert running, f"no running container of {service}"
    return str(running[0]["Id"])


def record(name: str, figures: dict[str, Any]) -> None:
    RESULTS[name] = figures
    print(f"\n[swarm] {name}: {json.dumps(figures)}")
    (OUT / "results.json").write_text(json.dumps(RESULTS, indent=2) + "\n")


@pytest.fixture(scope="module")
def certificate() -> Path:
    return OUT / "tls" / "server.crt"


@pytest.fixture
async def edge(certificate: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with edge_client(f"https://{EDGE}", certificate) as client:
        yield client


def test_every_service_runs_its_replicas_healthy() -> None:
    replicas = service_replicas()
    for service in services():
        assert replicas.get(service.name) == "2/2", (service.name, replicas.get(service.name))
        running = containers_of(service.name)
        assert len(running) == 2, service.name
        for container in running:
            assert container["State"]["Health"]["Status"] == "healthy", service.name
            variables = dict(v.split("=", 1) for v in container["Config"]["Env"])
            assert variables["APP_ENV"] == "production", service.name
    assert replicas.get("nginx") == "2/2"
    for infra in ("postgres", "redis", "rabbitmq", "kafka-1", "kafka-2", "kafka-3", "smtp"):
        assert replicas.get(infra) == "1/1", (infra, replicas.get(infra))
    record("replicas", replicas)


def test_kafka_runs_three_brokers_and_topics_replicated_three_times() -> None:
    described = docker(
        "exec", container_of("kafka-1"), "/opt/kafka/bin/kafka-topics.sh", "--bootstrap-server", "localhost:9092",
        "--describe", timeout=180,
    )  # fmt: skip
    heads = {m.group(1): m.group(0) for m in re.finditer(r"^Topic: (\S+)\s+TopicId.*$", described, re.MULTILINE)}
    for topic in TOPICS:
        assert topic in heads, f"{topic} missing"
        assert "ReplicationFactor: 3" in heads[topic], heads[topic]
    replicas = re.findall(r"Replicas: ([\d,]+)\s+Isr: ([\d,]+)", described)
    assert replicas
    assert all(sorted(r.split(",")) == ["1", "2", "3"] for r, _ in replicas), replicas
    config = docker("exec", container_of("kafka-1"), "cat", "/opt/kafka/config/server.properties")
    assert "min.insync.replicas=2" in config.splitlines()
    assert "default.replication.factor=3" in config.splitlines()


def test_job_queues_are_quorum_queues() -> None:
    listed = docker("exec", container_of("rabbitmq"), "rabbitmqctl", "-q", "list_queues", "name", "type", timeout=120)
    types = dict(line.split()[:2] for line in listed.splitlines() if line.startswith("jobs."))
    assert {"jobs.create_user", "jobs.send_email", "jobs.set_avatar", "jobs.dead_letter"} <= set(types), types
    assert set(types.values()) == {"quorum"}, types
    record("rabbitmq queues", types)


async def test_a_person_signs_up_keeps_a_ledger_and_signs_out(edge: httpx.AsyncClient) -> None:
    await journey(edge, OUT / "mail", "swarm")


# --------------------------------------------------------------------------- load and its invariants


@dataclass
class Writer:
    """One account adding incomes of 1..n: what the edge acknowledged, what it did not."""

    headers: dict[str, str]
    category_id: str
    acknowledged: dict[str, int] = field(default_factory=dict)  # transaction id → amount
    statuses: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)

    async def run(self, edge: httpx.AsyncClient, stop: asyncio.Event) -> None:
        n = 0
        while not stop.is_set():
            n += 1
            started = time.monotonic()
            try:
                answer = await edge.post(
                    "/api/v1/transactions",
                    headers=self.headers,
                    json={"category_id": self.category_id, "type": "income", "amount": n, "memo": f"load {n}"},
                )
            except httpx.HTTPError as error:
                self.statuses[type(error).__name__] += 1
                await asyncio.sleep(0.2)
                continue
            self.latencies.append(time.monotonic() - started)
            self.statuses[str(answer.status_code)] += 1
            if 200 <= answer.status_code < 300:
                self.acknowledged[answer.json()["transaction"]["id"]] = n
            else:
                await asyncio.sleep(0.2)


async def writers(edge: httpx.AsyncClient, prefix: str) -> list[Writer]:
    made = []
    for _ in range(WRITERS):
        headers = await signed_in_account(edge, OUT / "mail", prefix)
        made.append(Writer(headers, await category(edge, headers, "Load")))
    return made


@contextlib.asynccontextmanager
async def load(edge: httpx.AsyncClient, team: list[Writer]) -> AsyncIterator[None]:
    stop = asyncio.Event()
    tasks = [asyncio.create_task(w.run(edge, stop)) for w in team]
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 60)


async def ledger_ids(edge: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, int]:
    found: dict[str, int] = {}
    offset = 0
    while True:
        page = await edge.get("/api/v1/transactions", headers=headers, params={"limit": 100, "offset": offset})
        assert page.status_code == 200, page.text
        items = page.json()["items"]
        found.update({item["id"]: item["amount"] for item in items})
        offset += len(items)
        if not items or offset >= page.json()["total"]:
            return found


async def check_invariants(edge: httpx.AsyncClient, team: list[Writer], within: float = 180) -> dict[str, Any]:
    """Every acknowledged write is in the ledger; the users projection converges on the ledger's balance."""
    lost = 0
    unacknowledged_kept = 0
    converged_after = 0.0
    started = time.monotonic()
    for writer in team:
        stored = await ledger_ids(edge, writer.headers)
        lost += len(set(writer.acknowledged) - set(stored))
        unacknowledged_kept += len(set(stored) - set(writer.acknowledged))
        balance = await edge.get("/api/v1/balance", headers=writer.headers)
        assert balance.status_code == 200, balance.text
        ledger_balance = balance.json()["balance"]
        assert ledger_balance == sum(stored.values())
        projected = None
        while time.monotonic() - started < within:
            user = await edge.get("/api/v1/user", headers=writer.headers)
            if user.status_code == 200:
                body = user.json()
                projected = (body.get("user") or body).get("balance")
                if projected == ledger_balance:
                    break
            await asyncio.sleep(1)
        assert projected == ledger_balance, f"the users projection says {projected}, the ledger {ledger_balance}"
        converged_after = time.monotonic() - started
    assert lost == 0, f"{lost} acknowledged writes are not in the ledger"
    return {
        "lost": lost,
        "stored_without_2xx": unacknowledged_kept,
        "projection_converged_s": round(converged_after, 1),
    }


def figures(team: list[Writer], seconds: float) -> dict[str, Any]:
    statuses: Counter[str] = Counter()
    for writer in team:
        statuses.update(writer.statuses)
    latencies = sorted(x for w in team for x in w.latencies)
    acknowledged = sum(len(w.acknowledged) for w in team)
    return {
        "seconds": round(seconds, 1),
        "writes": sum(statuses.values()),
        "acknowledged": acknowledged,
        "non_2xx": sum(n for s, n in statuses.items() if not s.startswith("2")),
        "statuses": dict(statuses),
        "p99_ms": round(1000 * latencies[int(0.99 * (len(latencies) - 1))]) if latencies else None,
    }


async def wait_replicas(service: str, want: str, within: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < within:
        if (await asyncio.to_thread(service_replicas)).get(service) == want:
            return time.monotonic() - started
        await asyncio.sleep(2)
    raise AssertionError(f"{service} did not reach {want} replicas within {within} s")


async def test_a_kafka_broker_lost_under_ledger_writes_loses_no_acknowledged_write(edge: httpx.AsyncClient) -> None:
    team = await writers(edge, "swarm-broker")
    started = time.monotonic()
    async with load(edge, team):
        await asyncio.sleep(5)
        await asyncio.to_thread(docker, "service", "scale", "--detach", f"{STACK}_{BROKER}=0")
        stopped = await wait_replicas(BROKER, "0/0", 60)
        await asyncio.sleep(BROKER_DOWN_SECONDS)
        await asyncio.to_thread(docker, "service", "scale", "--detach", f"{STACK}_{BROKER}=1")
        await asyncio.sleep(10)
    seconds = time.monotonic() - started
    back = await wait_replicas(BROKER, "1/1", 300)
    result = {
        **figures(team, seconds),
        "broker": BROKER,
        "down_s": BROKER_DOWN_SECONDS,
        "stop_took_s": round(stopped, 1),
    }
    result["broker_healthy_again_after_load_s"] = round(back, 1)
    record("kafka broker lost", result)  # the load's figures, whatever the invariants say
    result.update(await check_invariants(edge, team))
    record("kafka broker lost", result)


@pytest.mark.parametrize("service", ROLLING)
async def test_a_rolling_update_under_load(edge: httpx.AsyncClient, service: str) -> None:
    team = await writers(edge, f"swarm-rolling-{service}")
    started = time.monotonic()
    async with load(edge, team):
        await asyncio.sleep(3)
        update_started = time.monotonic()
        await asyncio.to_thread(docker, "service", "update", "--force", "--quiet", f"{STACK}_{service}", timeout=600)
        update = time.monotonic() - update_started
        await asyncio.sleep(3)
    seconds = time.monotonic() - started
    result = {**figures(team, seconds), "service": service, "update_s": round(update, 1)}
    record(f"rolling update of {service}", result)
    result.update(await check_invariants(edge, team))
    record(f"rolling update of {service}", result)
    assert service_replicas()[service] == "2/2"
    assert result["non_2xx"] <= ROLLING_MAX_FAILED, result
