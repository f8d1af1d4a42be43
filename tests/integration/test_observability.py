"""Observability against the running stack: Prometheus scrapes every service and RabbitMQ, every
metric family of SPEC §8 and every Grafana panel returns data after a flow, system.events tell a
service's life, and consumer lag / outbox backlog rise while a consumer / Kafka is away and return
to zero after."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import httpx
import pytest
import yaml

from blazing_contracts import decode_event
from blazing_contracts.events.system import HealthCheck
from blazing_contracts.topology import DEAD_LETTER_TOPIC, SYSTEM_EVENTS, USER_EVENTS
from blazing_service.identity import Identity, sign
from blazing_testing import REPO_ROOT, edge_client, stack_env
from blazing_testing.accounts import PASSWORD, activated_account
from blazing_testing.kafka import KafkaTail, produce
from blazing_testing.stack import restarted, stopped

pytestmark = pytest.mark.integration
ENV = stack_env()
PROMETHEUS = f"http://127.0.0.1:{ENV['PROMETHEUS_PORT']}"
AUTH = f"http://127.0.0.1:{ENV['AUTH_PORT']}"
LEDGER = f"http://127.0.0.1:{ENV['LEDGER_PORT']}"
DASHBOARDS = {p.stem: p.read_text() for p in sorted((REPO_ROOT / "deploy/grafana/dashboards").glob("*.json"))}
SERVICES = {p.name for p in (REPO_ROOT / "services").iterdir() if (p / "src").exists()}
SCRAPED = SERVICES | {"rabbitmq", "prometheus"}

FAMILIES = {
    "http rate by route template": 'sum by (app_name, path) (rate(http_requests_total{path=~".*[{].*"}[5m]))',
    "http errors": 'sum by (app_name) (rate(http_requests_total{status_code=~"[45].."}[5m]))',
    "http latency": "histogram_quantile(0.99, sum by (app_name, le) (rate(http_request_duration_seconds_bucket[5m])))",
    "messages consumed": "sum by (service, group) (messages_consumed_total)",
    "messages published (events)": "sum by (service) (outbox_published_total)",
    "messages published (commands)": "sum by (job_type) (commands_published_total)",
    "messages failed": 'sum by (service) (messages_consumed_total{outcome="dead_lettered"})',
    "outbox backlog": "outbox_backlog",
    "outbox age": "outbox_oldest_age_seconds",
    "consumer lag per group and partition": 'kafka_consumer_lag{group="users.balance"}',
    "dead letters": "sum(dead_letters_total) + sum(ops_dead_letters)",
    "e-mails": "sum by (outcome) (emails_total)",
    "sign-ins": 'auth_sign_ins_total{outcome="success"}',
    "sign-in failures": 'auth_sign_ins_total{outcome="failure"}',
    "lockouts": "auth_lockouts_total > 0",
    "ledger writes": 'ledger_writes_total{outcome="ok"}',
}


async def query(expr: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(timeout=10) as client:
        body = (await client.get(f"{PROMETHEUS}/api/v1/query", params={"query": expr})).json()
    assert body["status"] == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


async def eventually(expr: str, predicate: Any = bool, within: float = 60) -> list[dict[str, Any]]:
    deadline = time.monotonic() + within
    while True:
        result = await query(expr)
        if predicate(result):
            return result
        assert time.monotonic() < deadline, f"{expr}: {result}"
        await asyncio.sleep(1)


def total(result: list[dict[str, Any]]) -> float:
    return sum(float(r["value"][1]) for r in result)


@pytest.fixture(scope="module")
async def flow() -> None:
    """A bit of everything: sign-up, activation, sign-ins (one account locked), reads and writes
    through the edge, a poison record on user.events."""
    async with httpx.AsyncClient(timeout=30) as client:
        email, session = await activated_account(client, base=AUTH, prefix="observed")
        victim, _ = await activated_account(client, base=AUTH, prefix="locked")
        for _ in range(5):
            await client.post(f"{AUTH}/api/v1/auth/sign-in", json={"email": victim, "password": "wrong-" + PASSWORD})
        assert (
            await client.post(f"{AUTH}/api/v1/auth/sign-in", json={"email": email, "password": PASSWORD})
        ).is_success
    headers = {"authorization": f"Bearer {session['access_token']}"}
    async with edge_client() as edge:
        assert (await edge.get("/api/v1/user")).status_code == 401
        category = (await edge.post("/api/v1/categories", json={"name": "observed"}, headers=headers)).json()
        for _ in range(3):
            r = await edge.post(
                "/api/v1/transactions",
                json={"category_id": category["category"]["id"], "type": "income", "amount": 5, "memo": "m"},
                headers=headers,
            )
            assert r.status_code == 201, r.text
            assert (await edge.get(f"/api/v1/transactions/{r.json()['transaction']['id']}", headers=headers)).is_success
    await produce(ENV.kafka_bootstrap, USER_EVENTS, [b"poison for the observability flow"])
    await asyncio.sleep(12)  # two scrapes at 5 s


async def test_prometheus_scrapes_every_service_and_rabbitmq() -> None:
    assert len(SERVICES) == 8
    deadline = time.monotonic() + 60
    while True:
        async with httpx.AsyncClient(timeout=10) as client:
            targets = (await client.get(f"{PROMETHEUS}/api/v1/targets")).json()["data"]["activeTargets"]
        health = {t["labels"]["job"]: t["health"] for t in targets}
        if set(health) >= SCRAPED and all(health[j] == "up" for j in SCRAPED):
            return
        assert time.monotonic() < deadline, health
        await asyncio.sleep(1)


@pytest.mark.parametrize("family", list(FAMILIES))
async def test_each_metric_family_returns_data_after_a_flow(flow: None, family: str) -> None:
    await eventually(FAMILIES[family])


@pytest.mark.parametrize("name", list(DASHBOARDS))
async def test_every_dashboard_panel_returns_data(flow: None, name: str) -> None:
    board = json.loads(DASHBOARDS[name])  # valid JSON
    assert len(DASHBOARDS) == 4
    assert board["uid"]
    assert board["panels"]
    for panel in board["panels"]:
        for target in panel["targets"]:
            assert await eventually(target["expr"], within=30), f"{name}: {panel['title']}"


async def test_system_events_tell_a_service_life_and_its_errors() -> None:
    async with KafkaTail(ENV.kafka_bootstrap, SYSTEM_EVENTS) as tail:
        async with restarted("svc-mailer", {"SYSTEM_HEALTH_INTERVAL_SECONDS": "1"}):
            await produce(ENV.kafka_bootstrap, DEAD_LETTER_TOPIC, [b"not a dead-letter record"])  # ops logs an error

            def seen(records: list[Any]) -> set[tuple[str, str, str]]:
                events = [decode_event(r.value) for r in records]
                return {
                    (e.event_type, e.payload.service, getattr(e.payload, "status", ""))  # type: ignore[attr-defined]
                    for e in events
                }

            wanted = {
                ("system.service_stopped", "mailer", ""),
                ("system.service_started", "mailer", ""),
                ("system.health_check", "mailer", "ok"),
                ("system.error", "ops", ""),
            }
            await tail.collect(lambda records: wanted <= seen(records), within=30)
        checks = [decode_event(r.value).payload for r in tail.records]
        assert all(set(c.checks) for c in checks if isinstance(c, HealthCheck)), "each names its checks"


async def ledger_writes(count: int) -> None:
    user = uuid.uuid4()

    def as_user() -> dict[str, str]:
        return sign(Identity(user_id=user, permissions=1), ENV["GATEWAY_IDENTITY_SECRET"])

    async with httpx.AsyncClient(base_url=LEDGER, timeout=30) as client:
        category = (await client.post("/api/v1/categories", json={"name": "lag"}, headers=as_user())).json()
        for _ in range(count):
            r = await client.post(
                "/api/v1/transactions",
                json={"category_id": category["category"]["id"], "type": "income", "amount": 1, "memo": "lag"},
                headers=as_user(),
            )
            assert r.status_code == 201, r.text


async def test_consumer_lag_rises_while_a_consumer_is_away_and_returns_to_zero() -> None:
    lag = 'sum(kafka_consumer_lag{group="users.balance"})'
    await eventually(lag, lambda r: r and total(r) == 0)
    async with stopped("svc-users"):
        await ledger_writes(10)
        await eventually(lag, lambda r: r and total(r) >= 10)
    await eventually(lag, lambda r: r and total(r) == 0)


async def test_outbox_backlog_rises_while_kafka_is_away_and_returns_to_zero() -> None:
    backlog = 'outbox_backlog{service="ledger"}'
    async with stopped("kafka"):
        await ledger_writes(5)
        await eventually(backlog, lambda r: r and total(r) >= 5)
    await eventually(backlog, lambda r: r and total(r) == 0, within=120)


def test_the_compose_prometheus_scrapes_every_service_and_rabbitmq() -> None:
    config = yaml.safe_load((REPO_ROOT / "deploy/prometheus/prometheus.yml").read_text())
    jobs = {c["job_name"] for c in config["scrape_configs"]}
    services = {p.name for p in (REPO_ROOT / "services").iterdir() if (p / "pyproject.toml").exists()}
    assert services | {"rabbitmq"} <= jobs
