"""Reads from the ledger's read models, each with the stream version (the ETag)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any, Final

from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

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


class Queries:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def _version(self, conn: AsyncConnection[Any], user_id: uuid.UUID) -> int:
        row = await (await conn.execute(_VERSION, (f"ledger-{user_id}",))).fetchone()
        return int(row[0]) if row else 0

    async def categories(self, user_id: uuid.UUID) -> tuple[list[dict[str, Any]], int]:
        async with self.pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            rows = await (await cur.execute(_CATEGORIES.format(extra=""), (user_id,))).fetchall()
            return rows, await self._version(conn, user_id)

    async def category(self, user_id: uuid.UUID, category_id: uuid.UUID) -> tuple[dict[str, Any] | None, int]:
        async with self.pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            row = await (
                await cur.execute(_CATEGORIES.format(extra="AND c.category_id = %s"), (user_id, category_id))
            ).fetchone()
            return row, await self._version(conn, user_id)

    async def transaction(self, user_id: uuid.UUID, transaction_id: uuid.UUID) -> tuple[dict[str, Any] | None, int]:
        async with self.pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            row = await (
                await cur.execute(
                    f"SELECT {_TX_COLUMNS} FROM transactions WHERE user_id = %s AND transaction_id = %s",  # noqa: S608
                    (user_id, transaction_id),
                )
            ).fetchone()
            return row, await self._version(conn, user_id)

    async def transactions(
        self,
        user_id: uuid.UUID,
        *,
        date_from: date | None,
        date_to: date | None,
        category_id: uuid.UUID | None,
        kind: str | None,
        min_amount: int | None,
        max_amount: int | None,
        q: str | None,
        sort: str,
        limit: int,
        offset: int,
    ) -> tuple[list[dict[str, Any]], int, int]:
        where: list[str] = ["user_id = %s"]
        params: list[Any] = [user_id]
        for clause, value in (
            ("occurred_on >= %s", date_from),
            ("occurred_on <= %s", date_to),
            ("category_id = %s", category_id),
            ("type = %s", kind),
            ("amount >= %s", min_amount),
            ("amount <= %s", max_amount),
        ):
            if value is not None:
                where.append(clause)
                params.append(value)
        if q:
            like = "%" + q.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_") + "%"
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
                    sql.SQL(_LIST_TRANSACTIONS[sort]).format(condition),
                    [*params, limit, offset],
                )
            ).fetchall()
            return rows, int(total[0]) if total else 0, await self._version(conn, user_id)

    async def balance(self, user_id: uuid.UUID) -> tuple[dict[str, Any], int]:
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

    async def monthly(self, user_id: uuid.UUID, date_from: date | None, date_to: date | None) -> list[dict[str, Any]]:
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
