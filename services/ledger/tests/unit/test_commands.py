"""The ledger's use cases on the in-memory fakes: every rule of every write, what is stored, what is
published and what the read models show — no server."""

from __future__ import annotations

import uuid
from datetime import date

import msgspec
import pytest

from blazing_app import Conflict, Invalid, NotFound, Refused, Stale
from blazing_es.memory import TablesDatabase
from blazing_es.runner import Context
from ledger.adapters.memory import InMemoryLedgerReads, InMemoryLedgerUnitOfWork, LedgerTables
from ledger.application.commands import EraseLedger, Idempotency, LedgerWrites, Write, Written
from ledger.application.ports import TransactionFilter
from ledger.application.queries import LedgerQueries
from ledger.bootstrap import ledgers
from ledger.domain import ledger as lg

DAY = date(2026, 11, 30)


class Ledger:
    def __init__(self) -> None:
        self.db = TablesDatabase(tables=LedgerTables())
        self.streams = ledgers()
        self.writes = LedgerWrites(lambda: InMemoryLedgerUnitOfWork(self.db), self.streams)
        self.queries = LedgerQueries(InMemoryLedgerReads(self.db))
        self.user = uuid.uuid4()

    def write(self, **options: object) -> Write:
        return Write(user_id=self.user, context=Context(correlation_id="c", actor_id=self.user), **options)  # type: ignore[arg-type]

    async def category(self, name: str = "Salary") -> uuid.UUID:
        written = await self.writes.create_category(self.write(), name, None)
        assert written.category is not None
        return written.category.id

    async def transaction(self, category: uuid.UUID, kind: lg.Kind, amount: int, **options: object) -> Written:
        new = lg.Transaction(category_id=category, type=kind, amount=amount, memo="m", occurred_on=DAY)
        return await self.writes.create_transaction(self.write(**options), new)

    @property
    def published(self) -> list[str]:
        return [e.event_type for e in self.db.published]


@pytest.fixture
def ledger() -> Ledger:
    return Ledger()


async def test_a_category_then_an_income_then_an_expense(ledger: Ledger) -> None:
    salary = await ledger.category()
    income = await ledger.transaction(salary, "income", 10_000)
    expense = await ledger.transaction(salary, "expense", 2_500)
    assert (income.balance, expense.balance, expense.version) == (10_000, 7_500, 3)
    assert ledger.published == [
        "category.created",
        "transaction.created",
        "category.balance_recalculated",
        "transaction.created",
        "category.balance_recalculated",
    ]
    balance, version = await ledger.queries.balance(ledger.user)
    assert (balance["balance"], balance["income_total"], balance["expense_total"], version) == (7_500, 10_000, 2_500, 3)
    assert balance["categories"] == [{"id": salary, "name": "Salary", "balance": 7_500}]


async def test_the_balance_never_goes_below_zero_and_a_refusal_writes_nothing(ledger: Ledger) -> None:
    salary = await ledger.category()
    with pytest.raises(Refused, match="below zero"):
        await ledger.transaction(salary, "expense", 1)
    assert len(ledger.db.streams[ledger.streams.stream_id(ledger.user)]) == 1
    assert ledger.published == ["category.created"]


async def test_category_names_are_unique_per_user_whatever_the_case(ledger: Ledger) -> None:
    await ledger.category("Food")
    with pytest.raises(Conflict):
        await ledger.category("  fOOD")
    other = Ledger()
    other.db = ledger.db
    other.writes = LedgerWrites(lambda: InMemoryLedgerUnitOfWork(ledger.db), ledger.streams)
    assert await other.category("Food"), "another user's names do not count"


async def test_another_users_or_unknown_category_is_not_found(ledger: Ledger) -> None:
    with pytest.raises(NotFound):
        await ledger.transaction(uuid.uuid4(), "income", 5)
    with pytest.raises(NotFound):
        await ledger.queries.category(ledger.user, uuid.uuid4())


async def test_if_match_must_be_the_current_version(ledger: Ledger) -> None:
    salary = await ledger.category()
    with pytest.raises(Stale):
        await ledger.transaction(salary, "income", 5, expected_version=0)
    written = await ledger.transaction(salary, "income", 5, expected_version=1)
    assert written.version == 2


async def test_an_idempotency_key_gives_the_first_result_again_and_writes_once(ledger: Ledger) -> None:
    salary = await ledger.category()
    key = Idempotency("k-1", "POST /api/v1/transactions {...}")
    first = await ledger.transaction(salary, "income", 700, idempotency=key)
    again = await ledger.transaction(salary, "income", 700, idempotency=key)
    assert again.replayed
    assert not first.replayed
    assert again.transaction == first.transaction
    _items, total, _version = await ledger.queries.transactions(ledger.user, TransactionFilter())
    assert total == 1
    with pytest.raises(Refused, match="different request"):
        await ledger.transaction(salary, "income", 1, idempotency=Idempotency("k-1", "another body"))


async def test_deleting_a_category_deletes_its_transactions_each_with_its_event(ledger: Ledger) -> None:
    salary, food = await ledger.category("Salary"), await ledger.category("Food")
    await ledger.transaction(salary, "income", 1_000)
    await ledger.transaction(food, "expense", 100)
    await ledger.transaction(food, "expense", 200)
    before = len(ledger.published)
    written = await ledger.writes.delete_category(ledger.write(), food)
    assert written.balance == 1_000
    published = [t for t in ledger.published[before:] if t != "category.balance_recalculated"]
    assert published == ["transaction.deleted", "transaction.deleted", "category.deleted"]
    deleted = ledger.db.published[-1]
    assert deleted.payload.transactions_deleted == 2
    with pytest.raises(NotFound):
        await ledger.transaction(food, "expense", 1)


async def test_changing_a_transaction_publishes_what_changed(ledger: Ledger) -> None:
    salary, bonus = await ledger.category("Salary"), await ledger.category("Bonus")
    created = await ledger.transaction(salary, "income", 1_000)
    tid = created.transaction.id
    change = lg.TransactionChange(category_id=bonus, amount=900, memo="renamed")
    written = await ledger.writes.change_transaction(ledger.write(), tid, change)
    assert written.transaction is not None
    assert (written.transaction.category_id, written.transaction.amount, written.balance) == (bonus, 900, 900)
    assert {"transaction.categorized", "transaction.amount_adjusted", "transaction.updated"} <= set(ledger.published)
    row, _ = await ledger.queries.transaction(ledger.user, tid)
    assert (row["category_id"], row["amount"], row["memo"]) == (bonus, 900, "renamed")


async def test_each_transaction_event_carries_what_its_contract_names(ledger: Ledger) -> None:
    salary, bonus = await ledger.category("Salary"), await ledger.category("Bonus")
    created = await ledger.transaction(salary, "income", 1_000)
    assert created.transaction is not None
    tid = created.transaction.id
    change = lg.TransactionChange(
        category_id=bonus, amount=900, memo="renamed", description="d", description_given=True
    )
    await ledger.writes.change_transaction(ledger.write(), tid, change)
    await ledger.writes.delete_transaction(ledger.write(), tid)
    payloads = {e.event_type: msgspec.to_builtins(e.payload) for e in ledger.db.published}
    ids = {"transaction_id": str(tid), "user_id": str(ledger.user)}
    income = {"type": "income", "occurred_on": "2026-11-30"}
    assert payloads["transaction.created"] == {
        **ids,
        **income,
        "category_id": str(salary),
        "amount": 1_000,
        "memo": "m",
        "description": None,
        "balance_after": 1_000,
    }
    assert payloads["transaction.categorized"] == {**ids, "from_category_id": str(salary), "to_category_id": str(bonus)}
    assert payloads["transaction.amount_adjusted"] == {
        **ids,
        "category_id": str(bonus),
        "type": "income",
        "previous_amount": 1_000,
        "amount": 900,
        "balance_after": 900,
    }
    assert payloads["transaction.updated"] == {
        **ids,
        **income,
        "category_id": str(bonus),
        "amount": 900,
        "memo": "renamed",
        "description": "d",
        "fields_changed": ["memo", "description"],
        "balance_after": 900,
    }
    assert payloads["transaction.deleted"] == {
        **ids,
        "category_id": str(bonus),
        "type": "income",
        "amount": 900,
        "balance_after": 0,
    }
    assert payloads["category.created"] == {
        "category_id": str(bonus),
        "user_id": str(ledger.user),
        "name": "Bonus",
        "description": None,
    }


async def test_published_events_carry_the_version_of_their_stored_event(ledger: Ledger) -> None:
    salary = await ledger.category()
    await ledger.transaction(salary, "income", 10)
    stored = {e.version for e in ledger.db.streams[ledger.streams.stream_id(ledger.user)]}
    assert {e.aggregate_version for e in ledger.db.published} == stored == {1, 2}
    assert {e.aggregate_id for e in ledger.db.published} == {str(ledger.user)}


async def test_erasure_empties_the_read_models_and_runs_once(ledger: Ledger) -> None:
    salary = await ledger.category()
    await ledger.transaction(salary, "income", 10, idempotency=Idempotency("k", "r"))
    erase = EraseLedger(lambda: InMemoryLedgerUnitOfWork(ledger.db), "ledger.user-events", ledgers=ledger.streams)
    event_id = uuid.uuid4()
    assert await erase(event_id, ledger.user)
    assert not await erase(event_id, ledger.user), "the inbox: a redelivery has no second effect"
    assert await ledger.queries.categories(ledger.user) == ([], 2)
    assert ledger.db.tables.keys == {}
    async with InMemoryLedgerUnitOfWork(ledger.db) as uow:
        state, _ = await ledger.streams.load(uow, ledger.user)
    assert state.categories == {}


async def test_an_inverted_range_is_a_field_error_on_its_lower_bound(ledger: Ledger) -> None:
    """The monthly report answered a bare message (no field named), the transactions list an empty
    page: both name the parameter at fault, in the one validation shape."""
    with pytest.raises(Invalid) as monthly:
        await ledger.queries.monthly(ledger.user, date(2026, 2, 1), date(2026, 1, 1))
    assert monthly.value.errors == {"from": ["Must not be after to"]}
    inverted = TransactionFilter(date_from=date(2026, 2, 1), date_to=date(2026, 1, 1), min_amount=500, max_amount=100)
    with pytest.raises(Invalid) as listing:
        await ledger.queries.transactions(ledger.user, inverted)
    assert listing.value.errors == {"from": ["Must not be after to"], "min_amount": ["Must not be after max_amount"]}
    same_day = TransactionFilter(date_from=date(2026, 1, 1), date_to=date(2026, 1, 1), min_amount=5, max_amount=5)
    assert (await ledger.queries.transactions(ledger.user, same_day))[1] == 0
