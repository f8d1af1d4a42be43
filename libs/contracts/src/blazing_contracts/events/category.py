"""category.events — the ledger's categories."""

from __future__ import annotations

from uuid import UUID

from blazing_contracts.registry import EventPayload, event
from blazing_contracts.topology import CATEGORY_EVENTS

AGGREGATE = "ledger"


class CategoryEvent(EventPayload, frozen=True, kw_only=True):
    """Names the category and its owner."""

    TOPIC = CATEGORY_EVENTS
    AGGREGATE_TYPE = AGGREGATE
    category_id: UUID
    user_id: UUID


@event("category.created")
class CategoryCreated(CategoryEvent, frozen=True, kw_only=True):
    name: str
    description: str | None = None


@event("category.updated")
class CategoryUpdated(CategoryEvent, frozen=True, kw_only=True):
    fields_changed: list[str]
    name: str
    description: str | None = None


@event("category.deleted")
class CategoryDeleted(CategoryEvent, frozen=True, kw_only=True):
    transactions_deleted: int = 0


@event("category.balance_recalculated")
class CategoryBalanceRecalculated(CategoryEvent, frozen=True, kw_only=True):
    balance: int
    income_total: int
    expense_total: int
