"""The ledger through https://localhost with real tokens: routes, rules, concurrency, idempotency,
rebuild, and the balance reaching the users service through Kafka."""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import psycopg
import pytest

from blazing_contracts import decode_event
from blazing_contracts.topology import CATEGORY_EVENTS, TRANSACTION_EVENTS
from blazing_testing import REPO_ROOT, edge_client, stack_env
from blazing_testing.accounts import activated_account
from blazing_testing.kafka import KafkaTail

pytestmark = pytest.mark.integration
ENV = stack_env()
AUTH = f"http://127.0.0.1:{ENV['AUTH_PORT']}"


class Account:
    def __init__(self, client: httpx.AsyncClient, token: str, user_id: str) -> None:
        self.client, self.headers, self.user_id = client, {"authorization": f"Bearer {token}"}, user_id

    async def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return await self.client.request(method, path, headers=headers, **kwargs)

    async def category(self, name: str | None = None) -> str:
        r = await self.call("POST", "/api/v1/categories", json={"name": name or f"cat-{uuid.uuid4().hex[:6]}"})
        assert r.status_code == 201, r.text
        return str(r.json()["category"]["id"])

    async def transaction(self, category: str, kind: str, amount: int, **extra: Any) -> httpx.Response:
        return await self.call(
            "POST",
            "/api/v1/transactions",
            json={"category_id": category, "type": kind, "amount": amount, "memo": "m", **extra},
        )


@pytest.fixture
async def account() -> AsyncIterator[Account]:
    async with httpx.AsyncClient(timeout=30) as direct:
        _email, session = await activated_account(direct, base=AUTH, prefix="ledger")
    async with edge_client(limits=httpx.Limits(max_connections=100)) as client:
        yield Account(client, session["access_token"], session["user"]["id"])


async def test_categories_and_transactions_through_every_route(account: Account) -> None:
    food = await account.category("Food")
    salary = await account.category("Salary")
    dup = await account.call("POST", "/api/v1/categories", json={"name": "  fOOD"})
    assert dup.status_code == 409
    listed = await account.call("GET", "/api/v1/categories")
    assert {c["name"] for c in listed.json()["items"]} == {"Food", "Salary"}
    assert listed.headers["etag"]

    assert (await account.transaction(food, "expense", 100)).status_code == 422, "no balance yet"
    pay = (await account.transaction(salary, "income", 10_000, occurred_on="2026-10-15", memo="October pay")).json()
    tid = pay["transaction"]["id"]
    assert pay["transaction"]["balance"] == 10_000
    lunch = await account.transaction(food, "expense", 1_250, description="with Ada")
    assert lunch.status_code == 201
    assert lunch.json()["transaction"]["balance"] == 8_750

    got = await account.call("GET", f"/api/v1/transactions/{tid}")
    assert got.json()["transaction"]["memo"] == "October pay"
    etag = got.headers["etag"]
    assert (
        await account.call("PATCH", f"/api/v1/transactions/{tid}", json={"amount": 12_000}, headers={"if-match": '"1"'})
    ).status_code == 412
    changed = await account.call(
        "PATCH", f"/api/v1/transactions/{tid}", json={"amount": 12_000}, headers={"if-match": etag}
    )
    assert changed.json()["transaction"]["balance"] == 10_750
    recat = await account.call("PATCH", f"/api/v1/transactions/{tid}", json={"category_id": food})
    assert recat.json()["transaction"]["category_id"] == food

    filtered = (
        await account.call(
            "GET",
            "/api/v1/transactions",
            params={"type": "income", "from": "2026-10-01", "to": "2026-10-31", "q": "october", "min_amount": 100},
        )
    ).json()
    assert filtered["total"] == 1
    assert filtered["items"][0]["id"] == tid
    in_food = (await account.call("GET", "/api/v1/transactions", params={"category_id": food})).json()
    assert {t["id"] for t in in_food["items"]} == {tid, lunch.json()["transaction"]["id"]}
    assert (await account.call("GET", "/api/v1/transactions", params={"category_id": salary})).json()["total"] == 0
    small = (await account.call("GET", "/api/v1/transactions", params={"max_amount": 2_000})).json()
    assert [t["amount"] for t in small["items"]] == [1_250]
    second = (await account.call("GET", "/api/v1/transactions", params={"sort": "amount", "offset": 1})).json()
    assert [t["amount"] for t in second["items"]] == [12_000]
    assert (await account.call("GET", "/api/v1/transactions", params={"limit": 101})).status_code == 400
    assert (await account.call("GET", "/api/v1/transactions", params={"sort": "memo"})).status_code == 400
    by_amount = (await account.call("GET", "/api/v1/transactions", params={"sort": "amount", "limit": 1})).json()
    assert by_amount["items"][0]["amount"] == 1_250
    assert by_amount["total"] == 2

    balance = (await account.call("GET", "/api/v1/balance")).json()
    assert (balance["balance"], balance["income_total"], balance["expense_total"]) == (10_750, 12_000, 1_250)
    report = (await account.call("GET", "/api/v1/reports/monthly", params={"from": "2026-10-01"})).json()
    october = [m for m in report["months"] if m["month"] == "2026-10"]
    assert october[0]["income"] == 12_000

    renamed = await account.call("PATCH", f"/api/v1/categories/{salary}", json={"name": "Wages"})
    assert renamed.json()["category"]["name"] == "Wages"
    assert (await account.call("DELETE", f"/api/v1/transactions/{tid}")).status_code == 422, "it was spent"
    assert (await account.call("DELETE", f"/api/v1/categories/{salary}")).json()["balance"] == 10_750
    gone = await account.call("DELETE", f"/api/v1/categories/{food}")
    assert gone.status_code == 200
    assert (await account.call("GET", "/api/v1/balance")).json()["balance"] == 0
    assert (await account.call("GET", "/api/v1/transactions")).json()["total"] == 0


@pytest.mark.parametrize(
    "body",
    [
        {"type": "income", "amount": 0, "memo": "m"},
        {"type": "income", "amount": -5, "memo": "m"},
        {"type": "income", "amount": 1.5, "memo": "m"},
        {"type": "income", "amount": "100", "memo": "m"},
        {"type": "gift", "amount": 100, "memo": "m"},
        {"type": "income", "amount": 100, "memo": ""},
        {"type": "income", "amount": 100, "memo": "m", "occurred_on": "2026-02-30"},
        {"type": "income", "amount": 100, "memo": "m", "occurred_on": "yesterday"},
        {"type": "income", "amount": 100, "memo": "m", "balance": 5},
    ],
)
async def test_invalid_transactions_are_400(account: Account, body: dict[str, Any]) -> None:
    category = await account.category()
    r = await account.call("POST", "/api/v1/transactions", json={"category_id": category, **body})
    assert r.status_code == 400, r.text
    assert r.json()["message"] == "Validation failed"


async def test_another_users_data_is_not_found(account: Account) -> None:
    category = await account.category()
    tid = (await account.transaction(category, "income", 500)).json()["transaction"]["id"]
    async with httpx.AsyncClient(timeout=30) as direct:
        _email, session = await activated_account(direct, base=AUTH, prefix="ledger-other")
    other = Account(account.client, session["access_token"], session["user"]["id"])
    assert (await other.call("GET", f"/api/v1/categories/{category}")).status_code == 404
    assert (await other.call("PATCH", f"/api/v1/categories/{category}", json={"name": "x"})).status_code == 404
    assert (await other.call("DELETE", f"/api/v1/categories/{category}")).status_code == 404
    assert (await other.call("GET", f"/api/v1/transactions/{tid}")).status_code == 404
    assert (await other.call("PATCH", f"/api/v1/transactions/{tid}", json={"amount": 1})).status_code == 404
    assert (await other.call("DELETE", f"/api/v1/transactions/{tid}")).status_code == 404
    assert (await other.transaction(category, "income", 5)).status_code == 404
    assert (await account.client.get("/api/v1/balance")).status_code == 401


async def test_hundred_concurrent_expenses_against_forty(account: Account) -> None:
    category = await account.category()
    assert (await account.transaction(category, "income", 40 * 250)).status_code == 201
    results = await asyncio.gather(*(account.transaction(category, "expense", 250) for _ in range(100)))
    statuses = [r.status_code for r in results]
    assert statuses.count(201) == 40, statuses
    assert statuses.count(422) == 60
    balance = (await account.call("GET", "/api/v1/balance")).json()
    assert balance["balance"] == 0
    assert (await account.call("GET", "/api/v1/transactions", params={"type": "expense"})).json()["total"] == 40


async def test_one_idempotency_key_ten_times_concurrently(account: Account) -> None:
    category = await account.category()
    key = str(uuid.uuid4())
    results = await asyncio.gather(
        *(
            account.call(
                "POST",
                "/api/v1/transactions",
                headers={"idempotency-key": key},
                json={"category_id": category, "type": "income", "amount": 700, "memo": "once"},
            )
            for _ in range(10)
        )
    )
    assert {r.status_code for r in results} == {201}
    assert len({r.content for r in results}) == 1, "the same body every time"
    assert (await account.call("GET", "/api/v1/transactions")).json()["total"] == 1
    other = await account.call(
        "POST",
        "/api/v1/transactions",
        headers={"idempotency-key": key},
        json={"category_id": category, "type": "income", "amount": 1, "memo": "different"},
    )
    assert other.status_code == 422


async def test_rebuild_gives_identical_results(account: Account) -> None:
    category = await account.category()
    for amount in (300, 200, 100):
        await account.transaction(category, "income", amount)
    before = [
        (await account.call("GET", p)).json()
        for p in ("/api/v1/categories", "/api/v1/transactions", "/api/v1/balance", "/api/v1/reports/monthly")
    ]
    done = await asyncio.to_thread(
        subprocess.run, ["make", "-s", "rebuild", "SERVICE=ledger"], cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    after = [
        (await account.call("GET", p)).json()
        for p in ("/api/v1/categories", "/api/v1/transactions", "/api/v1/balance", "/api/v1/reports/monthly")
    ]
    assert after == before


async def test_users_balance_follows_the_ledger(account: Account) -> None:
    category = await account.category()
    await account.transaction(category, "income", 50_000)
    await asyncio.gather(*(account.transaction(category, "expense", 100 + i) for i in range(30)))
    expected = (await account.call("GET", "/api/v1/balance")).json()["balance"]
    for _ in range(100):
        profile = (await account.call("GET", "/api/v1/user")).json()["user"]
        if profile["balance"] == expected:
            break
        await asyncio.sleep(0.1)
    assert profile["balance"] == expected


async def test_every_published_ledger_event_carries_its_stored_events_version(account: Account) -> None:
    """aggregate_version is the ledger stream's version: each stored event's contract events (one,
    plus the category balances it moved) carry its version, and nothing is published without one."""
    kinds = {
        "category_created": {"category.created"},
        "transaction_created": {"transaction.created", "category.balance_recalculated"},
        "transaction_amount_adjusted": {"transaction.amount_adjusted", "category.balance_recalculated"},
        "transaction_deleted": {"transaction.deleted", "category.balance_recalculated"},
        "category_deleted": {"category.deleted"},
    }
    async with (
        KafkaTail(ENV.kafka_bootstrap, TRANSACTION_EVENTS) as transactions,
        KafkaTail(ENV.kafka_bootstrap, CATEGORY_EVENTS) as categories,
    ):
        category = await account.category()
        created = (await account.transaction(category, "income", 500)).json()["transaction"]["id"]
        r = await account.call("PATCH", f"/api/v1/transactions/{created}", json={"amount": 700})
        assert r.status_code == 200, r.text
        assert (await account.call("DELETE", f"/api/v1/transactions/{created}")).status_code == 200
        assert (await account.call("DELETE", f"/api/v1/categories/{category}")).status_code == 200

        def mine(records: list[Any]) -> list[Any]:
            return [e for e in (decode_event(r.value) for r in records) if e.aggregate_id == account.user_id]

        await categories.collect(lambda rs: any(e.event_type == "category.deleted" for e in mine(rs)), within=30)
        await transactions.collect(lambda rs: any(e.event_type == "transaction.deleted" for e in mine(rs)), within=30)
        await categories.settle(1.0)
        await transactions.settle(1.0)
        published: dict[int, set[str]] = {}
        for event in mine([*transactions.records, *categories.records]):
            published.setdefault(event.aggregate_version, set()).add(event.event_type)
    async with await psycopg.AsyncConnection.connect(ENV.database_url("ledger")) as conn:
        stored = await (
            await conn.execute(
                "SELECT version, event_type FROM es_events WHERE stream_id = %s ORDER BY version",
                (f"ledger-{account.user_id}",),
            )
        ).fetchall()
    assert [kind for _, kind in stored] == list(kinds)
    assert published == {version: kinds[kind] for version, kind in stored}
