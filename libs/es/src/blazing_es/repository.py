"""Load and save an aggregate kept as a stream of its own events (STYLE: deciders).

``load`` folds the stream with the aggregate's ``evolve``; ``save`` appends new events at the
loaded version (ConcurrencyError when the stream moved on) and queues the contract events for the
outbox — in the caller's transaction, together with whatever read model the caller updates.

Two ways to avoid folding a long stream on every load, both only a cost saving:

* snapshots (``snapshot_every``) in ``es_snapshots``, tagged with ``state_schema`` so a state whose
  shape changed is never decoded from an old snapshot (it is ignored and rewritten);
* an in-process cache of committed states (``cache_size``): ``remember`` after the commit, and
  ``load`` starts from the cached state and reads only the events after its version — correct
  with any number of processes writing the same stream, because whatever another process
  appended is read from the store.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Generic, TypeVar

import msgspec
from psycopg import AsyncConnection

from blazing_contracts import AnyEvent
from blazing_es.outbox import Outbox
from blazing_es.store import EventStore, NewEvent, Snapshot

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
        snapshot_every: int = 0,
        state_type: type[S] | None = None,
        state_schema: int = 1,
        cache_size: int = 0,
    ) -> None:
        """``snapshot_every`` > 0 (with ``state_type``, a msgspec-encodable state) keeps a snapshot
        every that many events, so loading a long stream reads the snapshot and what follows it."""
        self.aggregate_type = aggregate_type
        self._types = event_types
        self._names = {cls: name for name, cls in event_types.items()}
        self._evolve = evolve
        self._initial = initial
        self._store = EventStore()
        self._outbox = Outbox()
        self._snapshot_every = snapshot_every if state_type is not None else 0
        self._state_type = state_type
        self._snapshot_tag = f"{aggregate_type}/{state_schema}"
        self._cache: OrderedDict[uuid.UUID, tuple[S, int]] = OrderedDict()
        self._cache_size = cache_size

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
        state, version = self._initial(aggregate_id), 0
        if (cached := self._cache.get(aggregate_id)) is not None:
            state, version = cached
        elif self._snapshot_every and self._state_type is not None:
            snapshot = await self._store.read_snapshot(conn, self.stream_id(aggregate_id))
            if snapshot is not None and snapshot.state_type == self._snapshot_tag:
                state, version = msgspec.json.decode(snapshot.state, type=self._state_type), snapshot.version
        stored = await self._store.read_stream(conn, self.stream_id(aggregate_id), after_version=version)
        events = [msgspec.json.decode(e.data, type=self._types[e.event_type]) for e in stored if e.data != REDACTED]
        return self.fold(state, events), version + len(stored)

    def remember(self, aggregate_id: uuid.UUID, state: S, version: int) -> None:
        """Caches a state the caller has committed (never one from a transaction that may roll back)."""
        if not self._cache_size:
            return
        cached = self._cache.get(aggregate_id)
        if cached is None or cached[1] < version:
            self._cache[aggregate_id] = (state, version)
        self._cache.move_to_end(aggregate_id)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def forget(self, aggregate_id: uuid.UUID) -> None:
        self._cache.pop(aggregate_id, None)

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
        new_version = await self._store.append(
            conn, self.stream_id(aggregate_id), version, new, aggregate_type=self.aggregate_type
        )
        await self._outbox.add_events(conn, published)
        return new_version

    async def snapshot_if_due(
        self, conn: AsyncConnection[Any], aggregate_id: uuid.UUID, old_version: int, new_version: int, state: S
    ) -> None:
        """Writes a snapshot of ``state`` (at ``new_version``) when the save crossed a multiple of
        ``snapshot_every``."""
        every = self._snapshot_every
        if every and new_version // every > old_version // every:
            await self._store.write_snapshot(
                conn,
                Snapshot(
                    stream_id=self.stream_id(aggregate_id),
                    version=new_version,
                    state_type=self._snapshot_tag,
                    state=msgspec.json.encode(state),
                ),
            )

    async def publish(self, conn: AsyncConnection[Any], published: Sequence[AnyEvent]) -> None:
        """Contract events that change no stream."""
        await self._outbox.add_events(conn, published)

    async def redact(self, conn: AsyncConnection[Any], aggregate_id: uuid.UUID, keep: Sequence[str] = ()) -> None:
        """Erasure: the stream keeps its events and their types, not their personal content."""
        self.forget(aggregate_id)
        await conn.execute("DELETE FROM es_snapshots WHERE stream_id = %s", (self.stream_id(aggregate_id),))
        await conn.execute(
            "UPDATE es_events SET data = jsonb_build_object('erased', true)"
            " WHERE stream_id = %s AND NOT (event_type = ANY(%s))",
            (self.stream_id(aggregate_id), list(keep)),
        )
