"""What an event-sourced use case needs from storage, as protocols — one PostgreSQL implementation
(``blazing_es.postgres``) for the services and one in memory (``blazing_es.memory``) for fast tests,
both held to the same contract tests (``libs/es/tests/test_ports.py``).

Every port is bound to one unit of work (one transaction): appends, outbox records, inbox claims
and the service's own read-model writes commit or roll back together.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Protocol, Self
from uuid import UUID

from blazing_contracts import AnyEvent
from blazing_es.events import NewEvent, Snapshot, StoredEvent


class EventStorePort(Protocol):
    async def read_stream(self, stream_id: str, after_version: int = 0) -> list[StoredEvent]:
        """The stream's events after ``after_version``, in version order."""

    async def append(
        self, stream_id: str, expected_version: int, events: Sequence[NewEvent], *, aggregate_type: str
    ) -> int:
        """Appends after ``expected_version`` (0: a new stream) and returns the new version; raises
        ConcurrencyError, writing nothing, when the stream is not at that version."""

    async def read_snapshot(self, stream_id: str) -> Snapshot | None: ...

    async def write_snapshot(self, snapshot: Snapshot) -> None:
        """Keeps the newest snapshot of a stream (an older one never replaces a newer one)."""

    async def redact(self, stream_id: str, keep: Sequence[str] = ()) -> None:
        """Erasure: the stream keeps its events' types and versions, not their content (except the
        ``keep`` types'); its snapshot goes."""


class OutboxPort(Protocol):
    async def add_events(self, events: Sequence[AnyEvent]) -> None:
        """Queues contract events for publication once the unit of work commits."""


class InboxPort(Protocol):
    async def claim(self, consumer: str, event_id: UUID) -> bool:
        """True the first time ``consumer`` sees ``event_id`` (the claim commits with the effects)."""


class UnitOfWork(Protocol):
    """One transaction of a use case. ``async with`` begins it; leaving the block normally commits,
    an exception rolls everything back; ``after_commit`` callbacks run once it committed."""

    events: EventStorePort
    outbox: OutboxPort
    inbox: InboxPort

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    async def lock(self, key: str) -> None:
        """Serialises this transaction with every other one that locks ``key`` until it ends."""

    def after_commit(self, callback: Callable[[], None]) -> None: ...
