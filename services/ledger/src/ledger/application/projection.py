"""The ledger's read models (categories, transactions, balances) and the contract events, both
derived from the stored events — inline after each append, or for every stream in a rebuild."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection

from blazing_contracts import EventPayload
from blazing_contracts.events import category as ce
from blazing_contracts.events import transaction as te
from ledger.domain import ledger as lg


async def apply(conn: AsyncConnection[Any], before: lg.Ledger, event: lg.Event, after: lg.Ledger, at: datetime) -> None:
    """Brings the category and transaction rows from ``before`` to ``after`` for one event."""
    user = after.user_id
    match event:
        case lg.CategoryCreated():
            await conn.execute(
                "INSERT INTO categories (category_id, user_id, name, description, created_at, updated_at)"
                " VALUES (%s, %s, %s, %s, %s, %s)",
                (event.category_id, user, event.name, event.description, at, at),
            )
        case lg.CategoryUpdated():
            await conn.execute(
                "UPDATE categories SET name = %s, description = %s, updated_at = %s WHERE category_id = %s",
                (event.name, event.description, at, event.category_id),
            )
        case lg.CategoryDeleted():
            await conn.execute("DELETE FROM categories WHERE category_id = %s", (event.category_id,))
        case lg.TransactionCreated():
            await conn.execute(
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
            await conn.execute("DELETE FROM transactions WHERE transaction_id = %s", (event.transaction_id,))
        case lg.TransactionUpdated() | lg.TransactionCategorized() | lg.TransactionAmountAdjusted():
            tx = after.transactions[event.transaction_id]
            await conn.execute(
                "UPDATE transactions SET category_id = %s, type = %s, amount = %s, memo = %s, description = %s,"
                " occurred_on = %s, updated_at = %s WHERE transaction_id = %s",
                (tx.category_id, tx.type, tx.amount, tx.memo, tx.description, tx.occurred_on, at, event.transaction_id),
            )


async def apply_balance(conn: AsyncConnection[Any], state: lg.Ledger) -> None:
    """The balances row, once per commit: a commit's intermediate states are not balances anyone had."""
    await conn.execute(
        "INSERT INTO balances (user_id, balance, income_total, expense_total) VALUES (%s, %s, %s, %s)"
        " ON CONFLICT (user_id) DO UPDATE SET balance = excluded.balance, income_total = excluded.income_total,"
        " expense_total = excluded.expense_total",
        (state.user_id, state.balance, state.income_total, state.expense_total),
    )


def published(before: lg.Ledger, event: lg.Event, after: lg.Ledger) -> list[EventPayload]:  # noqa: PLR0911
    """The contract events one stored event stands for (and the category balances it moved)."""
    user, bal = after.user_id, after.balance
    match event:
        case lg.CategoryCreated():
            return [
                ce.CategoryCreated(
                    category_id=event.category_id, user_id=user, name=event.name, description=event.description
                )
            ]
        case lg.CategoryUpdated():
            return [
                ce.CategoryUpdated(
                    category_id=event.category_id,
                    user_id=user,
                    fields_changed=event.fields_changed,
                    name=event.name,
                    description=event.description,
                )
            ]
        case lg.CategoryDeleted():
            return [
                ce.CategoryDeleted(
                    category_id=event.category_id, user_id=user, transactions_deleted=event.transactions_deleted
                )
            ]
        case lg.TransactionCreated():
            return [
                te.TransactionCreated(
                    transaction_id=event.transaction_id,
                    user_id=user,
                    category_id=event.category_id,
                    type=event.type,
                    amount=event.amount,
                    memo=event.memo,
                    occurred_on=event.occurred_on,
                    balance_after=bal,
                    description=event.description,
                ),
                *_recalculated(before, after, {event.category_id}),
            ]
        case lg.TransactionUpdated():
            tx = after.transactions[event.transaction_id]
            return [
                te.TransactionUpdated(
                    transaction_id=event.transaction_id,
                    user_id=user,
                    category_id=tx.category_id,
                    fields_changed=event.fields_changed,
                    type=tx.type,
                    amount=tx.amount,
                    memo=tx.memo,
                    occurred_on=tx.occurred_on,
                    balance_after=bal,
                    description=tx.description,
                ),
                *_recalculated(before, after, {tx.category_id}),
            ]
        case lg.TransactionCategorized():
            old = before.transactions[event.transaction_id]
            return [
                te.TransactionCategorized(
                    transaction_id=event.transaction_id,
                    user_id=user,
                    from_category_id=old.category_id,
                    to_category_id=event.category_id,
                ),
                *_recalculated(before, after, {old.category_id, event.category_id}),
            ]
        case lg.TransactionAmountAdjusted():
            old = before.transactions[event.transaction_id]
            return [
                te.TransactionAmountAdjusted(
                    transaction_id=event.transaction_id,
                    user_id=user,
                    category_id=old.category_id,
                    type=old.type,
                    previous_amount=old.amount,
                    amount=event.amount,
                    balance_after=bal,
                ),
                *_recalculated(before, after, {old.category_id}),
            ]
        case lg.TransactionDeleted():
            old = before.transactions[event.transaction_id]
            return [
                te.TransactionDeleted(
                    transaction_id=event.transaction_id,
                    user_id=user,
                    category_id=old.category_id,
                    type=old.type,
                    amount=old.amount,
                    balance_after=bal,
                ),
                *_recalculated(before, after, {old.category_id}),
            ]


def _recalculated(before: lg.Ledger, after: lg.Ledger, categories: set[uuid.UUID]) -> list[EventPayload]:
    out: list[EventPayload] = []
    for cid in sorted(categories, key=str):
        category = after.categories.get(cid)
        if category is None or before.category_balance(cid) == category.balance:
            continue
        out.append(
            ce.CategoryBalanceRecalculated(
                category_id=cid,
                user_id=after.user_id,
                balance=category.balance,
                income_total=category.income,
                expense_total=category.expense,
            )
        )
    return out
