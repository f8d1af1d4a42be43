"""What other contexts learn of the ledger: the contract events each stored event stands for, and
the ledger as an aggregate of the one event-sourced write (blazing_es.runner)."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec

from blazing_contracts import EventPayload
from blazing_contracts.events import category as ce
from blazing_contracts.events import transaction as te
from blazing_es.codec import EventCodec
from blazing_es.runner import Aggregate
from ledger.domain import ledger as lg

TransactionEvent = (
    lg.TransactionCreated
    | lg.TransactionUpdated
    | lg.TransactionCategorized
    | lg.TransactionAmountAdjusted
    | lg.TransactionDeleted
)

_CATEGORY_EVENTS: dict[type[lg.Event], type[EventPayload]] = {
    lg.CategoryCreated: ce.CategoryCreated,
    lg.CategoryUpdated: ce.CategoryUpdated,
    lg.CategoryDeleted: ce.CategoryDeleted,
}
"""A stored category event carries the fields of its contract event but the owner's id."""


def published(before: lg.Ledger, event: lg.Event, after: lg.Ledger) -> list[EventPayload]:
    """The contract events one stored event stands for (and the category balances it moved)."""
    match event:
        case lg.CategoryCreated() | lg.CategoryUpdated() | lg.CategoryDeleted():
            return [_CATEGORY_EVENTS[type(event)](user_id=after.user_id, **msgspec.structs.asdict(event))]
        case _:
            tid = event.transaction_id
            moved = {
                tx.category_id for tx in (before.transactions.get(tid), after.transactions.get(tid)) if tx is not None
            }
            return [_transaction_event(before, event, after), *_recalculated(before, after, moved)]


def _transaction_event(before: lg.Ledger, event: TransactionEvent, after: lg.Ledger) -> EventPayload:
    """The contract event of one stored transaction event: where the contract carries the whole
    transaction, its fields are those of the state's ``Transaction`` after the event."""
    ids: dict[str, Any] = {"transaction_id": event.transaction_id, "user_id": after.user_id}
    balance_after = after.balance
    match event:
        case lg.TransactionCreated():
            tx = msgspec.structs.asdict(after.transactions[event.transaction_id])
            return te.TransactionCreated(**ids, **tx, balance_after=balance_after)
        case lg.TransactionUpdated():
            tx = msgspec.structs.asdict(after.transactions[event.transaction_id])
            return te.TransactionUpdated(**ids, **tx, fields_changed=event.fields_changed, balance_after=balance_after)
        case lg.TransactionCategorized():
            old = before.transactions[event.transaction_id]
            return te.TransactionCategorized(**ids, from_category_id=old.category_id, to_category_id=event.category_id)
        case lg.TransactionAmountAdjusted():
            old = before.transactions[event.transaction_id]
            return te.TransactionAmountAdjusted(
                **ids,
                category_id=old.category_id,
                type=old.type,
                previous_amount=old.amount,
                amount=event.amount,
                balance_after=balance_after,
            )
        case lg.TransactionDeleted():
            old = before.transactions[event.transaction_id]
            return te.TransactionDeleted(
                **ids, category_id=old.category_id, type=old.type, amount=old.amount, balance_after=balance_after
            )


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
