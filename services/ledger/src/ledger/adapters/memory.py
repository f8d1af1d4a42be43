"""The ledger's ports in memory, for application tests without a server — held to the same tests
as the PostgreSQL adapters (tests/integration/test_adapters.py)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime

import msgspec

from blazing_es.memory import TablesDatabase, TablesUnitOfWork
from ledger.application.ports import IdempotencyKeys, LedgerViews, Remembered, Row, TransactionFilter
from ledger.domain import ledger as lg


@dataclass
class LedgerTables:
    categories: dict[uuid.UUID, Row] = field(default_factory=dict)
    transactions: dict[uuid.UUID, Row] = field(default_factory=dict)
    balances: dict[uuid.UUID, Row] = field(default_factory=dict)
    keys: dict[tuple[uuid.UUID, str], Remembered] = field(default_factory=dict)


@dataclass(eq=False)
class InMemoryLedgerViews:
    t: LedgerTables

    async def apply(self, before: lg.Ledger, event: lg.Event, after: lg.Ledger, at: datetime) -> None:
        owner = {"user_id": after.user_id}
        match event:
            case lg.CategoryCreated() | lg.CategoryUpdated():
                c = after.categories[event.category_id]
                row = owner | {"name": c.name, "description": c.description}
                _upsert(self.t.categories, event.category_id, row, at)
            case lg.CategoryDeleted():
                self.t.categories.pop(event.category_id, None)
            case lg.TransactionDeleted():
                self.t.transactions.pop(event.transaction_id, None)
            case _:
                tx = after.transactions[event.transaction_id]
                _upsert(self.t.transactions, event.transaction_id, owner | msgspec.structs.asdict(tx), at)

    async def settle(self, state: lg.Ledger) -> None:
        self.t.balances[state.user_id] = {
            "balance": state.balance,
            "income_total": state.income_total,
            "expense_total": state.expense_total,
        }

    async def erase(self, user_id: uuid.UUID) -> None:
        for table in (self.t.categories, self.t.transactions):
            for key in [k for k, row in table.items() if row["user_id"] == user_id]:
                del table[key]
        self.t.balances.pop(user_id, None)


@dataclass(eq=False)
class InMemoryIdempotencyKeys:
    t: LedgerTables

    async def find(self, user_id: uuid.UUID, key: str) -> Remembered | None:
        return self.t.keys.get((user_id, key))

    async def keep(self, user_id: uuid.UUID, key: str, fingerprint: str, result: bytes) -> None:
        if (user_id, key) in self.t.keys:
            raise KeyError(f"idempotency key {key!r} is kept already")  # the primary key of the real table
        self.t.keys[(user_id, key)] = Remembered(fingerprint=fingerprint, result=result)

    async def erase(self, user_id: uuid.UUID) -> None:
        for k in [k for k in self.t.keys if k[0] == user_id]:
            del self.t.keys[k]


class InMemoryLedgerUnitOfWork(TablesUnitOfWork[LedgerTables]):
    def bind_tables(self, tables: LedgerTables) -> None:
        self.views: LedgerViews = InMemoryLedgerViews(tables)
        self.keys: IdempotencyKeys = InMemoryIdempotencyKeys(tables)


@dataclass(eq=False)
class InMemoryLedgerReads:
    db: TablesDatabase[LedgerTables]

    def _version(self, user_id: uuid.UUID) -> int:
        return len(self.db.streams.get(f"ledger-{user_id}", []))

    def _categories(self, user_id: uuid.UUID) -> list[Row]:
        t = self.db.tables
        out = []
        for row in t.categories.values():
            if row["user_id"] != user_id:
                continue
            mine = [x for x in t.transactions.values() if x["category_id"] == row["id"]]
            balance = sum(x["amount"] if x["type"] == "income" else -x["amount"] for x in mine)
            out.append({k: v for k, v in row.items() if k != "user_id"} | {"balance": balance})
        return sorted(out, key=lambda r: r["name"].lower())

    async def categories(self, user_id: uuid.UUID) -> tuple[list[Row], int]:
        return self._categories(user_id), self._version(user_id)

    async def category(self, user_id: uuid.UUID, category_id: uuid.UUID) -> tuple[Row | None, int]:
        found = next((c for c in self._categories(user_id) if c["id"] == category_id), None)
        return found, self._version(user_id)

    async def transaction(self, user_id: uuid.UUID, transaction_id: uuid.UUID) -> tuple[Row | None, int]:
        row = self.db.tables.transactions.get(transaction_id)
        mine = row if row is not None and row["user_id"] == user_id else None
        return _public(mine), self._version(user_id)

    async def transactions(self, user_id: uuid.UUID, f: TransactionFilter) -> tuple[list[Row], int, int]:
        def keep(r: Row) -> bool:
            text = f"{r['memo']} {r['description'] or ''}".lower()
            return (
                r["user_id"] == user_id
                and (f.date_from is None or r["occurred_on"] >= f.date_from)
                and (f.date_to is None or r["occurred_on"] <= f.date_to)
                and (f.category_id is None or r["category_id"] == f.category_id)
                and (f.kind is None or r["type"] == f.kind)
                and (f.min_amount is None or r["amount"] >= f.min_amount)
                and (f.max_amount is None or r["amount"] <= f.max_amount)
                and (not f.q or f.q.lower() in text)
            )

        rows = [r for r in self.db.tables.transactions.values() if keep(r)]
        field_name = f.sort.lstrip("-")
        rows.sort(key=lambda r: (r[field_name], r["created_at"]), reverse=f.sort.startswith("-"))
        page = [_public(r) for r in rows[f.offset : f.offset + f.limit]]
        return [r for r in page if r is not None], len(rows), self._version(user_id)

    async def balance(self, user_id: uuid.UUID) -> tuple[Row, int]:
        row = self.db.tables.balances.get(user_id, {"balance": 0, "income_total": 0, "expense_total": 0})
        categories = [{"id": c["id"], "name": c["name"], "balance": c["balance"]} for c in self._categories(user_id)]
        return {**row, "categories": categories}, self._version(user_id)

    async def monthly(self, user_id: uuid.UUID, date_from: date | None, date_to: date | None) -> list[Row]:
        months: dict[tuple[str, uuid.UUID], Row] = {}
        for r in self.db.tables.transactions.values():
            day: date = r["occurred_on"]
            if r["user_id"] != user_id or (date_from and day < date_from) or (date_to and day > date_to):
                continue
            category = self.db.tables.categories[r["category_id"]]
            key = (day.strftime("%Y-%m"), r["category_id"])
            row = months.setdefault(
                key,
                {"month": key[0], "category_id": key[1], "category": category["name"], "income": 0, "expense": 0},
            )
            row[r["type"]] += r["amount"]
        return sorted(months.values(), key=lambda r: (r["month"], r["category"]))


def _upsert(table: dict[uuid.UUID, Row], key: uuid.UUID, row: Row, at: datetime) -> None:
    """The row written at ``at``, keeping the creation time of the one it replaces."""
    created = table.get(key, {}).get("created_at", at)
    table[key] = {"id": key, **row, "created_at": created, "updated_at": at}


def _public(row: Row | None) -> Row | None:
    return None if row is None else {k: v for k, v in row.items() if k != "user_id"}
