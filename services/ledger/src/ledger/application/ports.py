"""What the ledger's use cases need, as protocols: PostgreSQL implements them in adapters/postgres.py,
the in-memory fakes in adapters/memory.py (both held to tests/integration/test_adapters.py)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Literal, Protocol

import msgspec

from blazing_es.ports import UnitOfWork
from ledger.domain import ledger as lg

Sort = Literal["occurred_on", "-occurred_on", "amount", "-amount", "created_at", "-created_at"]


class Remembered(msgspec.Struct, frozen=True, kw_only=True):
    """The first result of a write, kept under its Idempotency-Key."""

    fingerprint: str
    result: bytes | None
    """None: kept by an older version of the service, in a shape this one cannot give back."""


class LedgerViews(Protocol):
    """The read models, written in the same transaction as the events they come from."""

    async def apply(self, before: lg.Ledger, event: lg.Event, after: lg.Ledger, at: datetime) -> None: ...

    async def settle(self, state: lg.Ledger) -> None:
        """The user's balances row, once per write (a write's intermediate states are nobody's balance)."""

    async def erase(self, user_id: uuid.UUID) -> None: ...


class IdempotencyKeys(Protocol):
    async def find(self, user_id: uuid.UUID, key: str) -> Remembered | None: ...

    async def keep(self, user_id: uuid.UUID, key: str, fingerprint: str, result: bytes) -> None: ...

    async def erase(self, user_id: uuid.UUID) -> None: ...


class LedgerUnitOfWork(UnitOfWork, Protocol):
    views: LedgerViews
    keys: IdempotencyKeys


class TransactionFilter(msgspec.Struct, frozen=True, kw_only=True):
    date_from: date | None = None
    date_to: date | None = None
    category_id: uuid.UUID | None = None
    kind: lg.Kind | None = None
    min_amount: int | None = None
    max_amount: int | None = None
    q: str | None = None
    sort: Sort = "-occurred_on"
    limit: int = 20
    offset: int = 0


Row = dict[str, Any]


class LedgerReads(Protocol):
    """The read models, read; each answer with the stream version it reflects (the ETag)."""

    async def categories(self, user_id: uuid.UUID) -> tuple[list[Row], int]: ...

    async def category(self, user_id: uuid.UUID, category_id: uuid.UUID) -> tuple[Row | None, int]: ...

    async def transaction(self, user_id: uuid.UUID, transaction_id: uuid.UUID) -> tuple[Row | None, int]: ...

    async def transactions(self, user_id: uuid.UUID, f: TransactionFilter) -> tuple[list[Row], int, int]: ...

    async def balance(self, user_id: uuid.UUID) -> tuple[Row, int]: ...

    async def monthly(self, user_id: uuid.UUID, date_from: date | None, date_to: date | None) -> list[Row]: ...
