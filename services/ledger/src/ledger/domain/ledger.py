"""A user's ledger as one aggregate (one stream per user): categories, transactions and the balance.

One aggregate per user because the invariant spans all of them: the balance never goes below zero.
A pure decider: one function per command (``create_category(state, …)``, ``change_transaction``,
…) returns the events it decides on, or raises a ``LedgerError`` instead of events that would break
a rule; ``evolve(state, event) -> state``; no clock and no ids of its own (they are arguments).
"""

from __future__ import annotations

import unicodedata
from datetime import date
from typing import Literal
from uuid import UUID

import msgspec

Kind = Literal["income", "expense"]


# ------------------------------------------------------------------ events (stored)


class CategoryCreated(msgspec.Struct, frozen=True, kw_only=True):
    category_id: UUID
    name: str
    description: str | None = None


class CategoryUpdated(msgspec.Struct, frozen=True, kw_only=True):
    category_id: UUID
    name: str
    description: str | None
    fields_changed: list[str]


class CategoryDeleted(msgspec.Struct, frozen=True, kw_only=True):
    category_id: UUID
    transactions_deleted: int = 0


class TransactionCreated(msgspec.Struct, frozen=True, kw_only=True):
    transaction_id: UUID
    category_id: UUID
    type: Kind
    amount: int
    memo: str
    occurred_on: date
    description: str | None = None


class TransactionUpdated(msgspec.Struct, frozen=True, kw_only=True):
    transaction_id: UUID
    type: Kind
    memo: str
    occurred_on: date
    description: str | None
    fields_changed: list[str]


class TransactionCategorized(msgspec.Struct, frozen=True, kw_only=True):
    transaction_id: UUID
    category_id: UUID


class TransactionAmountAdjusted(msgspec.Struct, frozen=True, kw_only=True):
    transaction_id: UUID
    amount: int


class TransactionDeleted(msgspec.Struct, frozen=True, kw_only=True):
    transaction_id: UUID


Event = (
    CategoryCreated
    | CategoryUpdated
    | CategoryDeleted
    | TransactionCreated
    | TransactionUpdated
    | TransactionCategorized
    | TransactionAmountAdjusted
    | TransactionDeleted
)
EVENT_TYPES: dict[str, type[Event]] = {
    "category_created": CategoryCreated,
    "category_updated": CategoryUpdated,
    "category_deleted": CategoryDeleted,
    "transaction_created": TransactionCreated,
    "transaction_updated": TransactionUpdated,
    "transaction_categorized": TransactionCategorized,
    "transaction_amount_adjusted": TransactionAmountAdjusted,
    "transaction_deleted": TransactionDeleted,
}


# ------------------------------------------------------------------ state


class Category(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    description: str | None = None
    income: int = 0
    expense: int = 0

    @property
    def balance(self) -> int:
        return self.income - self.expense


class Transaction(msgspec.Struct, frozen=True, kw_only=True):
    category_id: UUID
    type: Kind
    amount: int
    memo: str
    occurred_on: date
    description: str | None = None

    @property
    def signed(self) -> int:
        return self.amount if self.type == "income" else -self.amount


class Ledger(msgspec.Struct, frozen=True, kw_only=True):
    """Totals are kept as the events arrive, so no decision or answer sums the history."""

    user_id: UUID
    categories: dict[UUID, Category] = msgspec.field(default_factory=dict)
    transactions: dict[UUID, Transaction] = msgspec.field(default_factory=dict)
    income_total: int = 0
    expense_total: int = 0

    @property
    def balance(self) -> int:
        return self.income_total - self.expense_total

    def category_balance(self, category_id: UUID) -> int:
        category = self.categories.get(category_id)
        return 0 if category is None else category.balance


class LedgerError(Exception):
    """A command the ledger refuses; the message is for the caller."""


class NotFoundError(LedgerError):
    pass


class DuplicateNameError(LedgerError):
    pass


class OverdraftError(LedgerError):
    """The change would take the balance below zero: nothing is written (422)."""


# ------------------------------------------------------------------ evolve


def evolve(state: Ledger, event: Event) -> Ledger:  # noqa: PLR0911 - one branch per event
    r = msgspec.structs.replace
    match event:
        case CategoryCreated():
            category = Category(name=event.name, description=event.description)
            return r(state, categories={**state.categories, event.category_id: category})
        case CategoryUpdated():
            category = r(state.categories[event.category_id], name=event.name, description=event.description)
            return r(state, categories={**state.categories, event.category_id: category})
        case CategoryDeleted():
            return r(state, categories={k: v for k, v in state.categories.items() if k != event.category_id})
        case TransactionCreated():
            tx = Transaction(
                category_id=event.category_id,
                type=event.type,
                amount=event.amount,
                memo=event.memo,
                occurred_on=event.occurred_on,
                description=event.description,
            )
            return _replace_transaction(state, event.transaction_id, None, tx)
        case TransactionUpdated():
            old = state.transactions[event.transaction_id]
            new = r(old, type=event.type, memo=event.memo, occurred_on=event.occurred_on, description=event.description)
            return _replace_transaction(state, event.transaction_id, old, new)
        case TransactionCategorized():
            old = state.transactions[event.transaction_id]
            return _replace_transaction(state, event.transaction_id, old, r(old, category_id=event.category_id))
        case TransactionAmountAdjusted():
            old = state.transactions[event.transaction_id]
            return _replace_transaction(state, event.transaction_id, old, r(old, amount=event.amount))
        case TransactionDeleted():
            return _replace_transaction(state, event.transaction_id, state.transactions[event.transaction_id], None)


def _replace_transaction(state: Ledger, tid: UUID, old: Transaction | None, new: Transaction | None) -> Ledger:
    """Moves one transaction's amount out of the totals it was in and into the ones it is in now."""
    income, expense = state.income_total, state.expense_total
    categories = dict(state.categories)
    transactions = dict(state.transactions)
    for tx, sign in ((old, -1), (new, 1)):
        if tx is None:
            continue
        if tx.type == "income":
            income += sign * tx.amount
        else:
            expense += sign * tx.amount
        if (category := categories.get(tx.category_id)) is not None:
            categories[tx.category_id] = msgspec.structs.replace(
                category,
                income=category.income + sign * tx.amount * (tx.type == "income"),
                expense=category.expense + sign * tx.amount * (tx.type == "expense"),
            )
    if new is None:
        del transactions[tid]
    else:
        transactions[tid] = new
    return msgspec.structs.replace(
        state, categories=categories, transactions=transactions, income_total=income, expense_total=expense
    )


def fold(state: Ledger, events: list[Event]) -> Ledger:
    for event in events:
        state = evolve(state, event)
    return state


def _guard(state: Ledger, events: list[Event]) -> list[Event]:
    """The invariant, checked on the state the events would produce."""
    if fold(state, events).balance < 0:
        raise OverdraftError("The balance cannot go below zero")
    return events


# ------------------------------------------------------------------ decisions


def name_key(name: str) -> str:
    """What makes two category names the same name: compatibility-normalised (NFKC: a precomposed
    and a decomposed "Café", "Food" in fullwidth letters and "Food"), case-folded, trimmed."""
    return unicodedata.normalize("NFKC", name).strip().casefold()


def _name_taken(state: Ledger, name: str, other_than: UUID | None = None) -> bool:
    key = name_key(name)
    return any(name_key(c.name) == key for cid, c in state.categories.items() if cid != other_than)


def create_category(state: Ledger, category_id: UUID, name: str, description: str | None) -> list[Event]:
    if _name_taken(state, name):
        raise DuplicateNameError("A category with this name already exists")
    return [CategoryCreated(category_id=category_id, name=name, description=description)]


def update_category(
    state: Ledger, category_id: UUID, name: str | None, description: str | None, *, description_given: bool
) -> list[Event]:
    current = state.categories.get(category_id)
    if current is None:
        raise NotFoundError("Category not found")
    new_name = current.name if name is None else name
    new_description = description if description_given else current.description
    if name is not None and _name_taken(state, name, other_than=category_id):
        raise DuplicateNameError("A category with this name already exists")
    changed = [
        f
        for f, a, b in (("name", new_name, current.name), ("description", new_description, current.description))
        if a != b
    ]
    if not changed:
        return []
    return [
        CategoryUpdated(category_id=category_id, name=new_name, description=new_description, fields_changed=changed)
    ]


def delete_category(state: Ledger, category_id: UUID) -> list[Event]:
    """Deletes the category and, each with its own event, its transactions."""
    if category_id not in state.categories:
        raise NotFoundError("Category not found")
    events: list[Event] = [
        TransactionDeleted(transaction_id=tid) for tid, t in state.transactions.items() if t.category_id == category_id
    ]
    events.append(CategoryDeleted(category_id=category_id, transactions_deleted=len(events)))
    return _guard(state, events)


def create_transaction(state: Ledger, transaction_id: UUID, new: Transaction) -> list[Event]:
    if new.category_id not in state.categories:
        raise NotFoundError("Category not found")
    return _guard(
        state,
        [
            TransactionCreated(
                transaction_id=transaction_id,
                category_id=new.category_id,
                type=new.type,
                amount=new.amount,
                memo=new.memo,
                occurred_on=new.occurred_on,
                description=new.description,
            )
        ],
    )


class TransactionChange(msgspec.Struct, frozen=True, kw_only=True):
    category_id: UUID | None = None
    type: Kind | None = None
    amount: int | None = None
    memo: str | None = None
    occurred_on: date | None = None
    description: str | None = None
    description_given: bool = False


def change_transaction(state: Ledger, transaction_id: UUID, change: TransactionChange) -> list[Event]:
    """Amount → amount_adjusted, category → categorized, the rest → updated (SPEC §4.3)."""
    current = state.transactions.get(transaction_id)
    if current is None:
        raise NotFoundError("Transaction not found")
    events: list[Event] = []
    if change.category_id is not None and change.category_id != current.category_id:
        if change.category_id not in state.categories:
            raise NotFoundError("Category not found")
        events.append(TransactionCategorized(transaction_id=transaction_id, category_id=change.category_id))
    if change.amount is not None and change.amount != current.amount:
        events.append(TransactionAmountAdjusted(transaction_id=transaction_id, amount=change.amount))
    new_type = change.type or current.type
    new_memo = change.memo if change.memo is not None else current.memo
    new_date = change.occurred_on or current.occurred_on
    new_description = change.description if change.description_given else current.description
    changed = [
        f
        for f, a, b in (
            ("type", new_type, current.type),
            ("memo", new_memo, current.memo),
            ("occurred_on", new_date, current.occurred_on),
            ("description", new_description, current.description),
        )
        if a != b
    ]
    if changed:
        events.append(
            TransactionUpdated(
                transaction_id=transaction_id,
                type=new_type,
                memo=new_memo,
                occurred_on=new_date,
                description=new_description,
                fields_changed=changed,
            )
        )
    return _guard(state, events)


def delete_transaction(state: Ledger, transaction_id: UUID) -> list[Event]:
    if transaction_id not in state.transactions:
        raise NotFoundError("Transaction not found")
    return _guard(state, [TransactionDeleted(transaction_id=transaction_id)])
