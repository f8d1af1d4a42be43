"""What other contexts learn of the ledger: the contract events each stored event stands for, and
the ledger as an aggregate of the one event-sourced write (blazing_es.runner)."""

from __future__ import annotations

import uuid
from typing import Any

from blazing_contracts import EventPayload
from blazing_contracts.events import category as ce
from blazing_contracts.events import transaction as te
from blazing_es.codec import EventCodec
from blazing_es.runner import Aggregate
from ledger.domain import ledger as lg


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


LEDGER: Aggregate[lg.Ledger, Any] = Aggregate(
    name="ledger",
    codec=EventCodec.of(lg.EVENT_TYPES),
    initial=lambda user_id: lg.Ledger(user_id=user_id),
    evolve=lg.evolve,
    publish=published,
    state_type=lg.Ledger,
    state_schema=2,  # 2: totals kept in the state
    snapshot_every=100,
)
