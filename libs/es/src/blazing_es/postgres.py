"""The storage ports on PostgreSQL: one connection and one transaction per unit of work.

A service's unit of work subclasses ``PostgresUnitOfWork`` and binds its own read-model
repositories to the same connection in ``bind`` — so a use case's appends, outbox records, inbox
claims and read-model rows commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final, Self
from uuid import UUID

from psycopg import AsyncConnection, AsyncTransaction, sql
from psycopg_pool import AsyncConnectionPool

from blazing_contracts import AnyEvent
from blazing_es.inbox import Inbox
from blazing_es.outbox import Outbox
from blazing_es.ports import EventStorePort, InboxPort, OutboxPort
from blazing_es.store import EventStore, NewEvent, Snapshot, StoredEvent

_LOCK: Final = sql.SQL("SELECT pg_advisory_xact_lock(hashtext(%s))")
_DROP_SNAPSHOT: Final = sql.SQL("DELETE FROM es_snapshots WHERE stream_id = %s")
_REDACT: Final = sql.SQL(
    "UPDATE es_events SET data = jsonb_build_object('erased', true) WHERE stream_id = %s AND NOT (event_type = ANY(%s))"
)
_store = EventStore()
_outbox = Outbox()


@dataclass(eq=False)
class PostgresEventStore:
    conn: AsyncConnection[Any]

    async def read_stream(self, stream_id: str, after_version: int = 0) -> list[StoredEvent]:
        return await _store.read_stream(self.conn, stream_id, after_version)

    async def append(
        self, stream_id: str, expected_version: int, events: Sequence[NewEvent], *, aggregate_type: str
    ) -> int:
        return await _store.append(self.conn, stream_id, expected_version, events, aggregate_type=aggregate_type)

    async def read_snapshot(self, stream_id: str) -> Snapshot | None:
        return await _store.read_snapshot(self.conn, stream_id)

    async def write_snapshot(self, snapshot: Snapshot) -> None:
        await _store.write_snapshot(self.conn, snapshot)

    async def redact(self, stream_id: str, keep: Sequence[str] = ()) -> None:
        await self.conn.execute(_DROP_SNAPSHOT, (stream_id,))
        await self.conn.execute(_REDACT, (stream_id, list(keep)))


@dataclass(eq=False)
class PostgresOutbox:
    conn: AsyncConnection[Any]

    async def add_events(self, events: Sequence[AnyEvent]) -> None:
        await _outbox.add_events(self.conn, events)


@dataclass(eq=False)
class PostgresInbox:
    conn: AsyncConnection[Any]

    async def claim(self, consumer: str, event_id: UUID) -> bool:
        return await Inbox(consumer).claim(self.conn, event_id)


class PostgresUnitOfWork:
    """``async with PostgresUnitOfWork(pool) as uow:`` — a pooled connection in a transaction."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool
        self._callbacks: list[Callable[[], None]] = []
        self._locked: set[str] = set()
        self._connection: AbstractAsyncContextManager[AsyncConnection[Any]] | None = None
        self._transaction: AbstractAsyncContextManager[AsyncTransaction] | None = None

    def bind(self, conn: AsyncConnection[Any]) -> None:
        """Subclasses bind their read-model repositories to ``conn`` here."""

    async def __aenter__(self) -> Self:
        self._locked = set()  # held by this transaction only
        self._connection = self._pool.connection()
        self.conn = await self._connection.__aenter__()
        try:
            self._transaction = self.conn.transaction()
            await self._transaction.__aenter__()
        except BaseException as exc:
            await self._connection.__aexit__(type(exc), exc, exc.__traceback__)
            raise
        self.events: EventStorePort = PostgresEventStore(self.conn)
        self.outbox: OutboxPort = PostgresOutbox(self.conn)
        self.inbox: InboxPort = PostgresInbox(self.conn)
        self.bind(self.conn)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._connection is not None
        assert self._transaction is not None
        try:
            await self._transaction.__aexit__(exc_type, exc, tb)
        except BaseException as failed:
            await self._connection.__aexit__(type(failed), failed, failed.__traceback__)
            raise
        await self._connection.__aexit__(exc_type, exc, tb)
        if exc_type is None:
            callbacks, self._callbacks = self._callbacks, []
            for callback in callbacks:
                callback()

    async def lock(self, key: str) -> None:
        """A transaction-scoped lock; taken again in the same transaction it is already held (the
        ledger's write and its EventSourced both lock the stream: one round trip, not two)."""
        if key in self._locked:
            return
        await self.conn.execute(_LOCK, (key,), prepare=True)
        self._locked.add(key)

    def after_commit(self, callback: Callable[[], None]) -> None:
        self._callbacks.append(callback)
