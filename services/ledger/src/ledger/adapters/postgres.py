"""The ledger on PostgreSQL: its unit of work (event store, outbox, inbox, read models and
idempotency keys on one connection, one transaction), the read models' SQL, and the queries."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final

from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from blazing_es.events import ERASED
from blazing_es.postgres import PostgresUnitOfWork
from ledger.application.ports import IdempotencyKeys, LedgerViews, Remembered, Row, TransactionFilter
from ledger.application.publishing import LEDGER
from ledger.domain import ledger as lg


class PostgresLedgerUnitOfWork(PostgresUnitOfWork):
    def bind(self, conn: AsyncConnection[Any]) -> None:
        self.views: LedgerViews = PostgresLedgerViews(conn)
        self.keys: IdempotencyKeys = PostgresIdempotencyKeys(conn)


_ERASE: Final = [
    sql.SQL("DELETE FROM {} WHERE user_id = %s").format(sql.Identifier(table))
    for table in ("transactions", "categories", "balances")
]


@dataclass(eq=False)
class PostgresLedgerViews:
    conn: AsyncConnection[Any]

    async def apply(self, before: lg.Ledger, event: lg.Event, after: lg.Ledger, at: datetime) -> None:
        """Brings the category and transaction rows from ``before`` to ``after`` for one event."""
        user = after.user_id
        match event:
            case lg.CategoryCreated():
                await self.conn.execute(
                    "INSERT INTO categories (category_id, user_id, name, description, created_at, updated_at)"
                    " VALUES (%s, %s, %s, %s, %s, %s)",
                    (event.category_id, user, event.name, event.description, at, at),
                )
            case lg.CategoryUpdated():
                await self.conn.execute(
                    "UPDATE categories SET name = %s, description = %s, updated_at = %s WHERE category_id = %s",
                    (event.name, event.description, at, event.category_id),
                )
            case lg.CategoryDeleted():
                await self.conn.execute("DELETE FROM categories WHERE category_id = %s", (event.category_id,))
            case lg.TransactionCreated():
                await self.conn.execute(
                    "INSERT INTO transactions (transaction_id, user_id, category_id, type, amount, memo, description,"
                    " occurred_on, created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    (
                        event.transaction_id,
                        user,
                        event.category_id,
                        event.type,
                        event.amount,
                        event.memo,
                        event.description,
                        event.occurred_on,
                        at,
                        at,
                    ),
                )
            case lg.TransactionDeleted():
                await self.conn.execute("DELETE FROM transactions WHERE transaction_id = %s", (event.transaction_id,))
            case lg.TransactionUpdated() | lg.TransactionCategorized() | lg.TransactionAmountAdjusted():
                tx = after.transactions[event.transaction_id]
                await self.conn.execute(
                    "UPDATE transactions SET category_id = %s, type = %s, amount = %s, memo = %s, description = %s,"
                    " occurred_on = %s, updated_at = %s WHERE transaction_id = %s",
                    (
                        tx.category_id,
                        tx.type,
                        tx.amount,
                        tx.memo,
                        tx.description,
                        tx.occurred_on,
                        at,
                        event.transaction_id,
                    ),
                )

    async def settle(self, state: lg.Ledger) -> None:
        """The balances row, once per write: a write's intermediate states are not balances anyone had."""
        await self.conn.execute(
            "INSERT INTO balances (user_id, balance, income_total, expense_total) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (user_id) DO UPDATE SET balance = excluded.balance, income_total = excluded.income_total,"
            " expense_total = excluded.expense_total",
            (state.user_id, state.balance, state.income_total, state.expense_total),
            prepare=True,
        )

    async def erase(self, user_id: uuid.UUID) -> None:
        for statement in _ERASE:
            await self.conn.execute(statement, (user_id,))


@dataclass(eq=False)
class PostgresIdempotencyKeys:
    conn: AsyncConnection[Any]

    async def find(self, user_id: uuid.UUID, key: str) -> Remembered | None:
        row = await (
            await self.conn.execute(
                "SELECT request, result FROM idempotency_keys WHERE user_id = %s AND key = %s", (user_id, key)
            )
        ).fetchone()
        return None if row is None else Remembered(fingerprint=row[0], result=None if row[1] is None else bytes(row[1]))

    async def keep(self, user_id: uuid.UUID, key: str, fingerprint: str, result: bytes) -> None:
        await self.conn.execute(
            "INSERT INTO idempotency_keys (user_id, key, request, result) VALUES (%s, %s, %s, %s)",
            (user_id, key, fingerprint, result),
        )

    async def erase(self, user_id: uuid.UUID) -> None:
        await self.conn.execute("DELETE FROM idempotency_keys WHERE user_id = %s", (user_id,))


_VERSION: Final = "SELECT coalesce(max(version), 0) FROM es_events WHERE stream_id = %s"
_CATEGORIES: Final = (
    "SELECT c.category_id AS id, c.name, c.description, c.created_at, c.updated_at,"
    " coalesce(sum(CASE WHEN t.type = 'income' THEN t.amount ELSE -t.amount END), 0)::bigint AS balance"
    " FROM categories c LEFT JOIN transactions t ON t.category_id = c.category_id"
    " WHERE c.user_id = %s {extra} GROUP BY c.category_id ORDER BY lower(c.name)"
)
_TX_COLUMNS: Final = (
    "transaction_id AS id, category_id, type, amount, memo, description, occurred_on, created_at, updated_at"
)
_SORT_ORDERS: Final = {
    "occurred_on": "occurred_on ASC, created_at ASC",
    "-occurred_on": "occurred_on DESC, created_at DESC",
    "amount": "amount ASC, created_at ASC",
    "-amount": "amount DESC, created_at DESC",
    "created_at": "created_at ASC",
    "-created_at": "created_at DESC",
}


# One statement per sort order, built from constants only (the WHERE clause is bound separately).
_LIST_TRANSACTIONS: Final = {
    key: f"SELECT {_TX_COLUMNS} FROM transactions WHERE {{}} ORDER BY {order} LIMIT %s OFFSET %s"  # noqa: S608
    for key, order in _SORT_ORDERS.items()
}


@dataclass(eq=False)
class PostgresLedgerReads:
    pool: AsyncConnectionPool

    async def _version(self, conn: AsyncConnection[Any], user_id: uuid.UUID) -> int:
        row = await (await conn.execute(_VERSION, (f"ledger-{user_id}",))).fetchone()
        return int(row[0]) if row else 0

    async def categories(self, user_id: uuid.UUID) -> tuple[list[Row], int]:
        async with self.pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            rows = await (await cur.execute(_CATEGORIES.format(extra=""), (user_id,))).fetchall()
            return rows, await self._version(conn, user_id)

    async def category(self, user_id: uuid.UUID, category_id: uuid.UUID) -> tuple[Row | None, int]:
        async with self.pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            row = await (
                await cur.execute(_CATEGORIES.format(extra="AND c.category_id = %s"), (user_id, category_id))
            ).fetchone()
            return row, await self._version(conn, user_id)

    async def transaction(self, user_id: uuid.UUID, transaction_id: uuid.UUID) -> tuple[Row | None, int]:
        async with self.pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            row = await (
                await cur.execute(
                    f"SELECT {_TX_COLUMNS} FROM transactions WHERE user_id = %s AND transaction_id = %s",  # noqa: S608
                    (user_id, transaction_id),
                )
            ).fetchone()
            return row, await self._version(conn, user_id)

    async def transactions(self, user_id: uuid.UUID, f: TransactionFilter) -> tuple[list[Row], int, int]:
        where: list[str] = ["user_id = %s"]
        params: list[Any] = [user_id]
        for clause, value in (
            ("occurred_on >= %s", f.date_from),
            ("occurred_on <= %s", f.date_to),
            ("category_id = %s", f.category_id),
            ("type = %s", f.kind),
            ("amount >= %s", f.min_amount),
            ("amount <= %s", f.max_amount),
        ):
            if value is not None:
                where.append(clause)
                params.append(value)
        if f.q:
            like = "%" + f.q.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_") + "%"
            where.append("(memo ILIKE %s OR description ILIKE %s)")
            params += [like, like]
        condition = sql.SQL(" AND ".join(where))  # fixed fragments; values are bound parameters
        async with self.pool.connection() as conn:
            total = await (
                await conn.execute(sql.SQL("SELECT count(*) FROM transactions WHERE {}").format(condition), params)
            ).fetchone()
            cur = conn.cursor(row_factory=dict_row)
            rows = await (
                await cur.execute(
                    sql.SQL(_LIST_TRANSACTIONS[f.sort]).format(condition),
                    [*params, f.limit, f.offset],
                )
            ).fetchall()
            return rows, int(total[0]) if total else 0, await self._version(conn, user_id)

    async def balance(self, user_id: uuid.UUID) -> tuple[Row, int]:
        async with self.pool.connection() as conn:
            row = await (
                await conn.execute(
                    "SELECT balance, income_total, expense_total FROM balances WHERE user_id = %s", (user_id,)
                )
            ).fetchone()
            categories, version = await self.categories(user_id)
        balance, income, expense = row if row else (0, 0, 0)
        return {
            "balance": balance,
            "income_total": income,
            "expense_total": expense,
            "categories": [{"id": c["id"], "name": c["name"], "balance": c["balance"]} for c in categories],
        }, version

    async def monthly(self, user_id: uuid.UUID, date_from: date | None, date_to: date | None) -> list[Row]:
        async with self.pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            rows = await (
                await cur.execute(
                    "SELECT to_char(date_trunc('month', t.occurred_on), 'YYYY-MM') AS month, t.category_id,"
                    " c.name AS category, sum(t.amount) FILTER (WHERE t.type = 'income')::bigint AS income,"
                    " sum(t.amount) FILTER (WHERE t.type = 'expense')::bigint AS expense"
                    " FROM transactions t JOIN categories c USING (category_id)"
                    " WHERE t.user_id = %s AND (%s::date IS NULL OR t.occurred_on >= %s)"
                    " AND (%s::date IS NULL OR t.occurred_on <= %s)"
                    " GROUP BY 1, 2, 3 ORDER BY 1, 3",
                    (user_id, date_from, date_from, date_to, date_to),
                )
            ).fetchall()
        return [{**r, "income": r["income"] or 0, "expense": r["expense"] or 0} for r in rows]


async def rebuild(pool: AsyncConnectionPool) -> int:
    """Empties the read models and replays every ledger stream, in one transaction (readers see the
    old models until it commits); returns how many events it applied."""
    count = 0
    async with PostgresLedgerUnitOfWork(pool) as uow:
        await uow.conn.execute("LOCK TABLE categories, transactions, balances IN EXCLUSIVE MODE")
        await uow.conn.execute("TRUNCATE categories, transactions, balances")
        streams = await (
            await uow.conn.execute("SELECT DISTINCT stream_id FROM es_events WHERE aggregate_type = 'ledger'")
        ).fetchall()
        for (stream_id,) in streams:
            stored = [e for e in await uow.events.read_stream(stream_id) if e.data != ERASED]
            if not stored:  # an erased user's stream
                continue
            state = LEDGER.initial(uuid.UUID(stream_id.removeprefix("ledger-")))
            for record in stored:
                event = LEDGER.codec.decode(record)
                after = LEDGER.evolve(state, event)
                await uow.views.apply(state, event, after, record.occurred_at)
                state = after
                count += 1
            await uow.views.settle(state)
    return count
