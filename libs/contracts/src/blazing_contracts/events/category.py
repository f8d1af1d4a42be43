"""category.events — the ledger's categories."""

from __future__ import annotations

from uuid import UUID

from blazing_contracts.registry import EventPayload, event
from blazing_contracts.topology import CATEGORY_EVENTS

AGGREGATE = "ledger"


@event("category.created", topic=CATEGORY_EVENTS, aggregate_type=AGGREGATE)
class CategoryCreated(EventPayload, frozen=True, kw_only=True):
    category_id: UUID
    user_id: UUID
    name: str
    description: str | None = None


@event("category.updated", topic=CATEGORY_EVENTS, aggregate_type=AGGREGATE)
class CategoryUpdated(EventPayload, frozen=True, kw_only=True):
    category_id: UUID
    user_id: UUID
    fields_changed: list[str]
    name: str
    description: str | None = None


@event("category.deleted", topic=CATEGORY_EVENTS, aggregate_type=AGGREGATE)
class CategoryDeleted(EventPayload, frozen=True, kw_only=True):
    category_id: UUID
    user_id: UUID
    transactions_deleted: int = 0


@event("category.balance_recalculated", topic=CATEGORY_EVENTS, aggregate_type=AGGREGATE)
class CategoryBalanceRecalculated(EventPayload, frozen=True, kw_only=True):
    category_id: UUID
    user_id: UUID
    balance: int
    income_total: int
    expense_total: int
