"""The ledger's read use cases, on its read models (each answer with the stream version, the ETag)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from blazing_app import Invalid, NotFound
from ledger.application.ports import LedgerReads, Row, TransactionFilter

Bound = tuple[str, str, Any, Any]
"""A range in a query: the names of its lower and upper parameters, and their values."""


def ordered(*ranges: Bound) -> None:
    """Each range's lower bound is not above its upper one: an inverted range is a mistake to point
    at (a field error on the lower bound), not an empty answer."""
    errors = {
        low: [f"Must not be after {high}"] for low, high, a, b in ranges if a is not None and b is not None and a > b
    }
    if errors:
        raise Invalid(errors)


@dataclass(eq=False)
class LedgerQueries:
    reads: LedgerReads

    async def categories(self, user_id: uuid.UUID) -> tuple[list[Row], int]:
        return await self.reads.categories(user_id)

    async def category(self, user_id: uuid.UUID, category_id: uuid.UUID) -> tuple[Row, int]:
        row, version = await self.reads.category(user_id, category_id)
        if row is None:
            raise NotFound("Category not found")
        return row, version

    async def transaction(self, user_id: uuid.UUID, transaction_id: uuid.UUID) -> tuple[Row, int]:
        row, version = await self.reads.transaction(user_id, transaction_id)
        if row is None:
            raise NotFound("Transaction not found")
        return row, version

    async def transactions(self, user_id: uuid.UUID, f: TransactionFilter) -> tuple[list[Row], int, int]:
        ordered(("from", "to", f.date_from, f.date_to), ("min_amount", "max_amount", f.min_amount, f.max_amount))
        return await self.reads.transactions(user_id, f)

    async def balance(self, user_id: uuid.UUID) -> tuple[Row, int]:
        return await self.reads.balance(user_id)

    async def monthly(self, user_id: uuid.UUID, date_from: date | None, date_to: date | None) -> list[Row]:
        ordered(("from", "to", date_from, date_to))
        return await self.reads.monthly(user_id, date_from, date_to)
