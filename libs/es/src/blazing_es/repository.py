"""Load and save an aggregate kept as a stream of its own events (STYLE: deciders).

``load`` folds the stream with the aggregate's ``evolve``; ``save`` appends new events at the
loaded version (ConcurrencyError when the stream moved on) and queues the contract events for the
outbox — in the caller's transaction, together with whatever read model the caller updates.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Generic, TypeVar

import msgspec
from psycopg import AsyncConnection

from blazing_contracts import AnyEvent
from blazing_es.outbox import Outbox
from blazing_es.store import EventStore, NewEvent

REDACTED = b'{"erased": true}'
S = TypeVar("S")
E = TypeVar("E")


class StreamRepository(Generic[S, E]):
    def __init__(
        self,
        *,
        aggregate_type: str,
        event_types: dict[str, type[E]],
        evolve: Callable[[S, E], S],
        initial: Callable[[uuid.UUID], S],
    ) -> None:
        self.aggregate_type = aggregate_type
        self._types = event_types
        self._names = {cls: name for name, cls in event_types.items()}
        self._evolve = evolve
        self._initial = initial
        self._store = EventStore()
        self._outbox = Outbox()

    def stream_id(self, aggregate_id: uuid.UUID) -> str:
        return f"{self.aggregate_type}-{aggregate_id}"

    def fold(self, state: S, events: Sequence[E]) -> S:
        for event in events:
            state = self._evolve(state, event)
        return state

    async def version(self, conn: AsyncConnection[Any], aggregate_id: uuid.UUID) -> int:
        return await self._store.stream_version(conn, self.stream_id(aggregate_id))

    async def events(self, conn: AsyncConnection[Any], aggregate_id: uuid.UUID) -> list[tuple[E, Any]]:
        """The stream's events with their stored records (redacted ones left out)."""
        out = []
        for stored in await self._store.read_stream(conn, self.stream_id(aggregate_id)):
            if stored.data == REDACTED:
                continue
            out.append((msgspec.json.decode(stored.data, type=self._types[stored.event_type]), stored))
        return out

    async def load(self, conn: AsyncConnection[Any], aggregate_id: uuid.UUID) -> tuple[S, int]:
        """The current state and the stream version it was built from."""
        stored = await self._store.read_stream(conn, self.stream_id(aggregate_id))
        events = [msgspec.json.decode(e.data, type=self._types[e.event_type]) for e in stored]
        return self.fold(self._initial(aggregate_id), events), len(stored)

    async def save(
        self,
        conn: AsyncConnection[Any],
        aggregate_id: uuid.UUID,
        version: int,
        events: Sequence[E],
        published: Sequence[AnyEvent] = (),
        *,
        now: datetime,
        metadata: dict[str, Any] | None = None,
    ) -> int:
        """Appends ``events`` after ``version``; returns the new version."""
        new = [
            NewEvent(
                event_id=uuid.uuid4(),
                event_type=self._names[type(e)],
                schema_version=1,
                data=msgspec.json.encode(e),
                occurred_at=now,
                metadata=metadata or {},
            )
            for e in events
        ]
        version = await self._store.append(
            conn, self.stream_id(aggregate_id), version, new, aggregate_type=self.aggregate_type
        )
        await self._outbox.add_events(conn, published)
        return version

    async def publish(self, conn: AsyncConnection[Any], published: Sequence[AnyEvent]) -> None:
        """Contract events that change no stream."""
        await self._outbox.add_events(conn, published)

    async def redact(self, conn: AsyncConnection[Any], aggregate_id: uuid.UUID, keep: Sequence[str] = ()) -> None:
        """Erasure: the stream keeps its events and their types, not their personal content."""
        await conn.execute(
            "UPDATE es_events SET data = jsonb_build_object('erased', true)"
            " WHERE stream_id = %s AND NOT (event_type = ANY(%s))",
            (self.stream_id(aggregate_id), list(keep)),
        )
