"""transaction.events — the ledger's money movements.

Every balance-changing event is a ``BalanceChange``: it carries ``balance_after``, the owner's
balance (cents) once it applied, so read models in other contexts need no arithmetic of their own.
"""

from __future__ import annotations

from datetime import date
from uuid import UUID

from blazing_contracts.registry import EventPayload, event
from blazing_contracts.topology import TRANSACTION_EVENTS
from blazing_contracts.types import Cents, TransactionType

AGGREGATE = "ledger"


class TransactionEvent(EventPayload, frozen=True, kw_only=True):
    """Names the transaction and its owner."""

    TOPIC = TRANSACTION_EVENTS
    AGGREGATE_TYPE = AGGREGATE
    transaction_id: UUID
    user_id: UUID


class BalanceChange(TransactionEvent, frozen=True, kw_only=True):
    """A transaction event that moved its owner's balance."""

    category_id: UUID
    type: TransactionType
    amount: Cents
    balance_after: int
    """The owner's balance (cents) once the event applied."""


@event("transaction.created")
class TransactionCreated(BalanceChange, frozen=True, kw_only=True):
    memo: str
    occurred_on: date
    description: str | None = None


@event("transaction.updated")
class TransactionUpdated(BalanceChange, frozen=True, kw_only=True):
    """Memo, description, date or type changed; ``fields_changed`` names which."""

    fields_changed: list[str]
    memo: str
    occurred_on: date
    description: str | None = None


@event("transaction.deleted")
class TransactionDeleted(BalanceChange, frozen=True, kw_only=True):
    pass


@event("transaction.categorized")
class TransactionCategorized(TransactionEvent, frozen=True, kw_only=True):
    from_category_id: UUID
    to_category_id: UUID


@event("transaction.amount_adjusted")
class TransactionAmountAdjusted(BalanceChange, frozen=True, kw_only=True):
    previous_amount: Cents
