"""transaction.events — the ledger's money movements.

Every balance-changing event carries ``balance_after``, the owner's balance (cents) once it
applied, so read models in other contexts need no arithmetic of their own.
"""

from __future__ import annotations

from datetime import date
from uuid import UUID

from blazing_contracts.registry import EventPayload, event
from blazing_contracts.topology import TRANSACTION_EVENTS
from blazing_contracts.types import Cents, TransactionType

AGGREGATE = "ledger"


@event("transaction.created", topic=TRANSACTION_EVENTS, aggregate_type=AGGREGATE)
class TransactionCreated(EventPayload, frozen=True, kw_only=True):
    transaction_id: UUID
    user_id: UUID
    category_id: UUID
    type: TransactionType
    amount: Cents
    memo: str
    occurred_on: date
    balance_after: int
    description: str | None = None


@event("transaction.updated", topic=TRANSACTION_EVENTS, aggregate_type=AGGREGATE)
class TransactionUpdated(EventPayload, frozen=True, kw_only=True):
    """Memo, description, date or type changed; ``fields_changed`` names which."""

    transaction_id: UUID
    user_id: UUID
    category_id: UUID
    fields_changed: list[str]
    type: TransactionType
    amount: Cents
    memo: str
    occurred_on: date
    balance_after: int
    description: str | None = None


@event("transaction.deleted", topic=TRANSACTION_EVENTS, aggregate_type=AGGREGATE)
class TransactionDeleted(EventPayload, frozen=True, kw_only=True):
    transaction_id: UUID
    user_id: UUID
    category_id: UUID
    type: TransactionType
    amount: Cents
    balance_after: int


@event("transaction.categorized", topic=TRANSACTION_EVENTS, aggregate_type=AGGREGATE)
class TransactionCategorized(EventPayload, frozen=True, kw_only=True):
    transaction_id: UUID
    user_id: UUID
    from_category_id: UUID
    to_category_id: UUID


@event("transaction.amount_adjusted", topic=TRANSACTION_EVENTS, aggregate_type=AGGREGATE)
class TransactionAmountAdjusted(EventPayload, frozen=True, kw_only=True):
    transaction_id: UUID
    user_id: UUID
    category_id: UUID
    type: TransactionType
    previous_amount: Cents
    amount: Cents
    balance_after: int
