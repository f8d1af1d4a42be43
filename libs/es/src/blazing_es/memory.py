"""The storage ports in memory, for domain and application tests that need no server.

``MemoryDatabase`` is what a PostgreSQL database is to the real adapters: shared by every unit of
work made from it. A unit of work stages its writes and applies them when it commits, so a use case
that fails leaves nothing behind — as a rolled-back transaction would; an append that another unit
of work overtook fails with ConcurrencyError. These fakes pass the same contract tests as the
PostgreSQL adapters (``libs/es/tests/test_ports.py``).
"""

from __future__ import annotations

import asyncio
import copy
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Generic, Self, TypeVar
from uuid import UUID

import msgspec

from blazing_contracts import AnyEvent
from blazing_es.errors import ConcurrencyError
from blazing_es.events import ERASED, NewEvent, Snapshot, StoredEvent
from blazing_es.ports import EventStorePort, InboxPort, OutboxPort


@dataclass
class MemoryDatabase:
    streams: dict[str, list[StoredEvent]] = field(default_factory=dict)
    snapshots: dict[str, Snapshot] = field(default_factory=dict)
    published: list[AnyEvent] = field(default_factory=list)
    """The outbox: contract events committed for publication, in commit order."""
    claims: set[tuple[str, UUID]] = field(default_factory=set)
    positions: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    locks: dict[str, asyncio.Lock] = field(default_factory=dict)


class InMemoryEventStore:
    def __init__(self, db: MemoryDatabase) -> None:
        self.db = db
        self.staged: dict[str, list[StoredEvent]] = {}
        self.base: dict[str, int] = {}
        """The committed version each staged stream was appended to (checked again at commit)."""
        self.snapshots: dict[str, Snapshot] = {}
        self.redactions: dict[str, tuple[str, ...]] = {}

    def _stream(self, stream_id: str) -> list[StoredEvent]:
        return [*self.db.streams.get(stream_id, []), *self.staged.get(stream_id, [])]

    async def read_stream(self, stream_id: str, after_version: int = 0) -> list[StoredEvent]:
        return [e for e in self._stream(stream_id) if e.version > after_version]

    async def append(
        self, stream_id: str, expected_version: int, events: Sequence[NewEvent], *, aggregate_type: str
    ) -> int:
        if not events:
            return expected_version
        current = self._stream(stream_id)
        if len(current) != expected_version:
            raise ConcurrencyError(stream_id, expected_version)
        self.base.setdefault(stream_id, len(self.db.streams.get(stream_id, [])))
        self.staged.setdefault(stream_id, []).extend(
            StoredEvent(
                position=0,  # given at commit, in commit order
                tx_id=0,
                stream_id=stream_id,
                version=expected_version + n,
                aggregate_type=aggregate_type,
                **msgspec.structs.asdict(e),  # the new event's own fields, as given
            )
            for n, e in enumerate(events, start=1)
        )
        return expected_version + len(events)

    async def read_snapshot(self, stream_id: str) -> Snapshot | None:
        return self.snapshots.get(stream_id) or self.db.snapshots.get(stream_id)

    async def write_snapshot(self, snapshot: Snapshot) -> None:
        current = await self.read_snapshot(snapshot.stream_id)
        if current is None or current.version < snapshot.version:
            self.snapshots[snapshot.stream_id] = snapshot

    async def redact(self, stream_id: str, keep: Sequence[str] = ()) -> None:
        self.redactions[stream_id] = tuple(keep)

    def commit(self) -> None:
        for stream_id, base in self.base.items():
            if len(self.db.streams.get(stream_id, [])) != base:
                raise ConcurrencyError(stream_id, base, "overtaken by another unit of work")
        for stream_id, events in self.staged.items():
            stored = self.db.streams.setdefault(stream_id, [])
            for e in events:
                position = next(self.db.positions)
                stored.append(msgspec.structs.replace(e, position=position, tx_id=position))
        for stream_id, keep in self.redactions.items():
            self.db.snapshots.pop(stream_id, None)
            self.db.streams[stream_id] = [
                e if e.event_type in keep else msgspec.structs.replace(e, data=ERASED)
                for e in self.db.streams.get(stream_id, [])
            ]
        for stream_id, snapshot in self.snapshots.items():
            current = self.db.snapshots.get(stream_id)
            if stream_id not in self.redactions and (current is None or current.version < snapshot.version):
                self.db.snapshots[stream_id] = snapshot


class InMemoryOutbox:
    def __init__(self) -> None:
        self.staged: list[AnyEvent] = []

    async def add_events(self, events: Sequence[AnyEvent]) -> None:
        self.staged.extend(events)


class InMemoryInbox:
    def __init__(self, db: MemoryDatabase) -> None:
        self.db = db
        self.staged: set[tuple[str, UUID]] = set()

    async def claim(self, consumer: str, event_id: UUID) -> bool:
        key = (consumer, event_id)
        if key in self.db.claims or key in self.staged:
            return False
        self.staged.add(key)
        return True


class InMemoryUnitOfWork:
    """A unit of work over a ``MemoryDatabase``; subclasses add their fake read models in ``bind``
    and apply them in ``commit_views``."""

    def __init__(self, db: MemoryDatabase) -> None:
        self.db = db
        self._callbacks: list[Callable[[], None]] = []
        self._held: list[asyncio.Lock] = []

    def bind(self) -> None:
        """Subclasses make their staged read-model fakes here."""

    def commit_views(self) -> None:
        """Subclasses apply their staged read-model writes to the database here."""

    async def __aenter__(self) -> Self:
        self._events, self._outbox, self._inbox = InMemoryEventStore(self.db), InMemoryOutbox(), InMemoryInbox(self.db)
        self.events: EventStorePort = self._events
        self.outbox: OutboxPort = self._outbox
        self.inbox: InboxPort = self._inbox
        self._callbacks = []
        self.bind()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if exc_type is not None:
                return
            self._events.commit()
            self.db.published.extend(self._outbox.staged)
            self.db.claims |= self._inbox.staged
            self.commit_views()
        finally:
            for held in reversed(self._held):
                held.release()
            self._held = []
        for callback in self._callbacks:
            callback()

    async def lock(self, key: str) -> None:
        """Held until the unit of work ends, as PostgreSQL's transaction-level advisory locks are."""
        lock = self.db.locks.setdefault(key, asyncio.Lock())
        if lock in self._held:
            return
        await lock.acquire()
        self._held.append(lock)

    def after_commit(self, callback: Callable[[], None]) -> None:
        self._callbacks.append(callback)


T = TypeVar("T")


@dataclass
class TablesDatabase(MemoryDatabase, Generic[T]):
    """A ``MemoryDatabase`` with a service's read-model tables (``T``, a dataclass of dicts):
    ``TablesDatabase(tables=LedgerTables())``."""

    tables: T = field(kw_only=True)


class TablesUnitOfWork(InMemoryUnitOfWork, Generic[T]):
    """A unit of work whose read-model fakes work on a copy of the database's tables: ``bind_tables``
    makes them on the copy, and the copy replaces the tables when the unit of work commits (nothing of
    it is left when it fails)."""

    db: TablesDatabase[T]

    def __init__(self, db: TablesDatabase[T]) -> None:
        super().__init__(db)

    def bind(self) -> None:
        self.staged: T = copy.deepcopy(self.db.tables)
        self.bind_tables(self.staged)

    def bind_tables(self, tables: T) -> None:
        """Subclasses make their read-model fakes on ``tables`` here."""

    def commit_views(self) -> None:
        self.db.tables = self.staged
