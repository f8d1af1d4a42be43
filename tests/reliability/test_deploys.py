"""#20 on the local stack: `stack.sh rolling NAME` (make deploy-local SERVICE=NAME) replaces a running
service under load through nginx — a second instance started and taken in, the first drained
(it refuses new connections, which the gateway and nginx pass on to the other), stopped once its
callers let go of their connections and started again, the second drained and stopped — with not
one request answered other than 2xx, and every invariant of the reliability checker (chaos.check)
holding once the system settled."""

from __future__ import annotations

import asyncio
import random
import sys
import uuid
from collections import Counter
from pathlib import Path

import httpx
import pytest

from blazing_testing import control, edge_client
from blazing_testing.accounts import PASSWORD, activated_account

sys.path.insert(0, str(Path(__file__).parent))
import chaos

pytestmark = pytest.mark.integration
DEPLOYED = ("users", "auth", "ledger", "gateway")
PAUSE = 0.08
"""Between a worker's requests: about 12 a second, under the per-client limit (1,200 a minute)."""


async def load(pool: list[chaos.Account], tally: chaos.Tally, stop: asyncio.Event, worker: int) -> None:
    """Writes (each with its Idempotency-Key), reads and, now and then, a sign-in (from an address of
    its own: the strict limit is per client) — through nginx."""
    rng = random.Random(worker)
    async with edge_client(timeout=15) as edge:
        while not stop.is_set():
            account = rng.choice(pool)
            bearer = {"authorization": f"Bearer {account.token}"}
            kind = rng.choices(["write", "read", "sign_in"], weights=[5, 4, 1])[0]
            tally.sent[kind] += 1
            try:
                if kind == "write":
                    r = await edge.post(
                        "/api/v1/transactions",
                        json={"category_id": account.category, "type": "income", "amount": 1, "memo": "deploy"},
                        headers={**bearer, "idempotency-key": uuid.uuid4().hex},
                    )
                    if r.status_code == 201:
                        tally.writes.append((account.user_id, r.json()["transaction"]["id"]))
                elif kind == "read":
                    r = await edge.get("/api/v1/user", headers=bearer)
                else:
                    async with edge_client(timeout=15) as other:
                        r = await other.post(
                            "/api/v1/auth/sign-in", json={"email": account.email, "password": PASSWORD}
                        )
                (tally.ok if r.status_code < 300 else tally.failed)[f"{kind} {r.status_code}"] += 1
            except (httpx.HTTPError, OSError) as exc:
                tally.failed[f"{kind} {type(exc).__name__}"] += 1
            await asyncio.sleep(PAUSE)


async def ready(within: float = 120) -> None:
    """Until the gateway's readiness (Redis, every service) holds: the deploys start from a stack at
    rest, not from what an earlier test left recovering."""
    deadline = asyncio.get_running_loop().time() + within
    async with httpx.AsyncClient(timeout=5) as client:
        while True:
            try:
                if (await client.get(f"http://127.0.0.1:{chaos.ENV['APP_PORT']}/ready")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert asyncio.get_running_loop().time() < deadline, "the stack did not become ready"
            await asyncio.sleep(1)


@pytest.fixture(scope="module")
async def pool() -> list[chaos.Account]:
    await ready()
    return await chaos.accounts(4)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("service", DEPLOYED)
async def test_a_rolling_deploy_under_load_fails_no_request_and_loses_nothing(
    service: str, pool: list[chaos.Account]
) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        _, session = await activated_account(client, base=chaos.AUTH, prefix="deploy-revoked")
    async with edge_client() as edge:
        bearer = {"authorization": f"Bearer {session['access_token']}"}
        (await edge.post("/api/v1/auth/sign-out", headers=bearer)).raise_for_status()
    tally, stop = chaos.Tally(), asyncio.Event()
    workers = [asyncio.create_task(load(pool, tally, stop, n)) for n in range(4)]
    try:
        await asyncio.sleep(2)
        await asyncio.to_thread(control, "rolling", service)
        await asyncio.sleep(2)
    finally:
        stop.set()
        await asyncio.gather(*workers)
    print(f"deploy of {service}: {dict(tally.ok)} answered 2xx, {dict(tally.failed)} not")
    assert sum(tally.ok.values()) > 50, tally
    assert tally.failed == Counter(), f"answers other than 2xx during the deploy of {service}: {tally.failed}"
    await chaos.settle(pool)
    assert await chaos.check(pool, tally, session["access_token"]) == []


def served_writes(port: int) -> float:
    """POST /api/v1/transactions answered by the ledger instance on ``port`` (its /metrics)."""
    metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("http_requests_total{") and 'method="POST"' in line and "/api/v1/transactions" in line
    )


async def test_two_ledger_instances_accept_forty_of_a_hundred_concurrent_expenses_against_forty() -> None:
    """The ledger as two instances behind the gateway (its second one, svc-ledger-2): one user's
    100 concurrent expenses of 250 against a balance of 40 x 250, spread over both, are accepted
    exactly 40 times — the stream's lock and version hold across processes."""
    await ready()
    [account] = await chaos.accounts(1)
    ports = (int(chaos.ENV["LEDGER_PORT"]), int(chaos.ENV["LEDGER_PORT"]) + 100)
    await asyncio.to_thread(control, "start", "svc-ledger-2")
    try:
        await asyncio.sleep(3)  # the gateway's probe takes it in (within 2 s)
        before = [served_writes(p) for p in ports]
        bearer = {"authorization": f"Bearer {account.token}"}

        async def expense(edge: httpx.AsyncClient, kind: str, amount: int) -> int:
            body = {"category_id": account.category, "type": kind, "amount": amount, "memo": "two ledgers"}
            return (await edge.post("/api/v1/transactions", json=body, headers=bearer)).status_code

        async with edge_client(timeout=60) as edge:
            assert await expense(edge, "income", 40 * 250) == 201
            statuses = await asyncio.gather(*(expense(edge, "expense", 250) for _ in range(100)))
            balance = (await edge.get("/api/v1/balance", headers=bearer)).json()["balance"]
        assert (statuses.count(201), statuses.count(422)) == (40, 60), Counter(statuses)
        assert balance == 0
        served = [served_writes(p) - b for p, b in zip(ports, before, strict=True)]
        assert all(n >= 20 for n in served), f"writes each instance answered: {served}"
    finally:
        await asyncio.to_thread(control, "stop", "svc-ledger-2")
