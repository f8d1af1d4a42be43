"""The ledger's ports on PostgreSQL and in memory, held to one contract: the same writes give the same
read models, queries and idempotency answers — so application tests on the fakes say something
about the real service."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pytest
from psycopg_pool import AsyncConnectionPool

from blazing_app import Refused
from blazing_es.memory import TablesDatabase
from blazing_es.runner import Context
from ledger.adapters.memory import InMemoryLedgerReads, InMemoryLedgerUnitOfWork, LedgerTables
from ledger.adapters.postgres import PostgresLedgerReads, PostgresLedgerUnitOfWork
from ledger.application.commands import EraseLedger, Idempotency, LedgerWrites, Write
from ledger.application.ports import LedgerReads, TransactionFilter
from ledger.bootstrap import ledgers
from ledger.domain import ledger as lg

pytestmark = pytest.mark.integration


@pytest.fixture(params=["memory", "postgres"])
def backend(request: pytest.FixtureRequest, pool: AsyncConnectionPool) -> tuple[LedgerWrites, LedgerReads, Any]:
    streams = ledgers()
    if request.param == "memory":
        db = TablesDatabase(tables=LedgerTables())
        return (
            LedgerWrites(lambda: InMemoryLedgerUnitOfWork(db), streams),
            InMemoryLedgerReads(db),
            (lambda: InMemoryLedgerUnitOfWork(db)),
        )
    return (
        LedgerWrites(lambda: PostgresLedgerUnitOfWork(pool), streams),
        PostgresLedgerReads(pool),
        (lambda: PostgresLedgerUnitOfWork(pool)),
    )


def scrub(value: Any) -> Any:
    """Timestamps come from each clock; everything else must agree."""
    if isinstance(value, list):
        return [scrub(v) for v in value]
    if isinstance(value, dict):
        return {k: scrub(v) for k, v in value.items() if k not in ("created_at", "updated_at")}
    return value


async def scenario(writes: LedgerWrites, user: uuid.UUID) -> dict[str, uuid.UUID]:
    def w(**options: Any) -> Write:
        return Write(user_id=user, context=Context(correlation_id="contract"), **options)

    salary = (await writes.create_category(w(), "Salary", "monthly")).category
    food = (await writes.create_category(w(), "food", None)).category
    assert salary is not None
    assert food is not None
    day = date(2026, 10, 15)
    pay = await writes.create_transaction(
        w(idempotency=Idempotency("pay", "r")),
        lg.Transaction(category_id=salary.id, type="income", amount=10_000, memo="October pay", occurred_on=day),
    )
    for i, amount in enumerate((1_250, 300, 4_000)):
        await writes.create_transaction(
            w(),
            lg.Transaction(
                category_id=food.id, type="expense", amount=amount, memo=f"lunch {i}", occurred_on=date(2026, 11, i + 1)
            ),
        )
    assert pay.transaction is not None
    await writes.change_transaction(w(), pay.transaction.id, lg.TransactionChange(memo="Pay, October", amount=11_000))
    return {"salary": salary.id, "food": food.id, "pay": pay.transaction.id}


async def test_the_same_writes_read_the_same(backend: tuple[LedgerWrites, LedgerReads, Any]) -> None:
    writes, reads, _ = backend
    user = uuid.uuid4()
    ids = await scenario(writes, user)
    categories, version = await reads.categories(user)
    assert version == 8, "2 categories, 4 transactions, one change of amount and memo"
    assert scrub(categories) == [
        {"id": ids["food"], "name": "food", "description": None, "balance": -5_550},
        {"id": ids["salary"], "name": "Salary", "description": "monthly", "balance": 11_000},
    ]
    balance, _ = await reads.balance(user)
    assert (balance["balance"], balance["income_total"], balance["expense_total"]) == (5_450, 11_000, 5_550)
    one, _ = await reads.transaction(user, ids["pay"])
    assert scrub(one) == {
        "id": ids["pay"],
        "category_id": ids["salary"],
        "type": "income",
        "amount": 11_000,
        "memo": "Pay, October",
        "description": None,
        "occurred_on": date(2026, 10, 15),
    }
    assert await reads.transaction(uuid.uuid4(), ids["pay"]) == (None, 0), "not another user's"
    filters = [
        TransactionFilter(),
        TransactionFilter(kind="expense", sort="amount"),
        TransactionFilter(q="LUNCH", sort="-amount", limit=2, offset=1),
        TransactionFilter(date_from=date(2026, 11, 2), date_to=date(2026, 11, 30), sort="occurred_on"),
        TransactionFilter(category_id=ids["salary"], min_amount=100, max_amount=20_000),
    ]
    expected = [(4, 4), (3, 3), (3, 2), (2, 2), (1, 1)]
    for f, (total, shown) in zip(filters, expected, strict=True):
        rows, counted, _ = await reads.transactions(user, f)
        assert (counted, len(rows)) == (total, shown), f
    by_amount, _, _ = await reads.transactions(user, TransactionFilter(kind="expense", sort="amount"))
    assert [r["amount"] for r in by_amount] == [300, 1_250, 4_000]
    months = await reads.monthly(user, None, None)
    assert scrub(months) == [
        {"month": "2026-10", "category_id": ids["salary"], "category": "Salary", "income": 11_000, "expense": 0},
        {"month": "2026-11", "category_id": ids["food"], "category": "food", "income": 0, "expense": 5_550},
    ]


async def test_idempotency_keys_and_erasure_behave_alike(backend: tuple[LedgerWrites, LedgerReads, Any]) -> None:
    writes, reads, uow = backend
    user = uuid.uuid4()
    ids = await scenario(writes, user)
    again = await writes.create_transaction(
        Write(user_id=user, context=Context(correlation_id="x"), idempotency=Idempotency("pay", "r")),
        lg.Transaction(category_id=ids["salary"], type="income", amount=10_000, memo="x", occurred_on=date.today()),
    )
    assert again.replayed
    assert again.transaction is not None
    assert again.transaction.id == ids["pay"]
    with pytest.raises(Refused):
        await writes.create_transaction(
            Write(user_id=user, context=Context(correlation_id="x"), idempotency=Idempotency("pay", "other")),
            lg.Transaction(category_id=ids["salary"], type="income", amount=1, memo="x", occurred_on=date.today()),
        )
    erase = EraseLedger(uow, f"contract-{uuid.uuid4()}", ledgers=ledgers())
    assert await erase(uuid.uuid4(), user)
    assert (await reads.categories(user))[0] == []
    assert (await reads.transactions(user, TransactionFilter()))[1] == 0
    assert (await reads.balance(user))[0]["balance"] == 0
