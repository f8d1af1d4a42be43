"""The ledger's read use cases, on its read models (each answer with the stream version, the ETag)."""

from __future__ import annotations

import uuid
from datetime import date

from blazing_app import BadInput, NotFound
from ledger.application.ports import LedgerReads, Row, TransactionFilter


class LedgerQueries:
    def __init__(self, reads: LedgerReads) -> None:
        self.reads = reads

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
        return await self.reads.transactions(user_id, f)

    async def balance(self, user_id: uuid.UUID) -> tuple[Row, int]:
        return await self.reads.balance(user_id)

    async def monthly(self, user_id: uuid.UUID, date_from: date | None, date_to: date | None) -> list[Row]:
        if date_from and date_to and date_from > date_to:
            raise BadInput("'from' must not be after 'to'")
        return await self.reads.monthly(user_id, date_from, date_to)
