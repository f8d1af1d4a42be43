"""The one event-sourced write: load → decide → append → outbox → inline projections, in the caller's
unit of work. Ledger, users and auth write every aggregate through it.

* **load**: the newest snapshot (if its state schema is current) and the events after it, or a state
  cached in this process after a commit — then only the events appended since are read, so the
  cache stays correct with any number of processes writing the same stream;
* **decide**: a pure function of the state, giving the new events or raising the domain's error;
* **append** at the loaded version (``ConcurrencyError`` if the stream moved on, or a
  ``VersionMismatch`` first when the caller expects a version — an ``If-Match``); the runner gives
  every event its stream version;
* **publish**: each stored event's contract events (``Aggregate.publish``) go to the outbox in the
  same transaction, each carrying the stream version of the event it came from as its
  ``aggregate_version`` — a published event always has a stored event behind it, so per-aggregate
  order on Kafka is the stream's order;
* **project**: optional inline projections see every event with the state before and after it;
* a snapshot every ``snapshot_every`` events, and the committed state cached after the commit.

Stored events are the service's own Structs (its ``EventCodec``: names, versions, upcasters), never
the contract's.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Generic, TypeVar

import msgspec

from blazing_contracts import AnyEvent, EventPayload, make_event
from blazing_es.codec import EventCodec
from blazing_es.errors import EventStoreError
from blazing_es.events import ERASED, NewEvent, Snapshot
from blazing_es.ports import UnitOfWork

S = TypeVar("S")
E = TypeVar("E", bound=msgspec.Struct)
U = TypeVar("U", bound=UnitOfWork)


class VersionMismatch(EventStoreError):
    """The caller expected another stream version (a stale ``If-Match``); nothing was written."""

    def __init__(self, stream_id: str, expected: int, actual: int) -> None:
        self.stream_id, self.expected, self.actual = stream_id, expected, actual
        super().__init__(f"stream {stream_id!r} is at version {actual}, not {expected}")


class Context(msgspec.Struct, frozen=True, kw_only=True):
    """Who and what caused a write: copied onto every event it publishes."""

    correlation_id: str
    causation_id: str | None = None
    actor_id: uuid.UUID | None = None


@dataclass(frozen=True, kw_only=True)
class Aggregate(Generic[S, E]):
    """An aggregate type: its stream prefix, stored events, decider functions and contract events."""

    name: str
    codec: EventCodec[E]
    initial: Callable[[uuid.UUID], S]
    evolve: Callable[[S, E], S]
    publish: Callable[[S, E, S], Sequence[EventPayload]] = lambda _before, _event, _after: ()
    """The contract events one stored event stands for (most events have one, some none)."""
    state_type: type[S] | None = None
    state_schema: int = 1
    """Bump when the state's shape changes: snapshots of another schema are ignored and rewritten."""
    snapshot_every: int = 0

    def stream_id(self, aggregate_id: uuid.UUID) -> str:
        return f"{self.name}-{aggregate_id}"


@dataclass(frozen=True)
class Written(Generic[S, E]):
    state: S
    version: int
    previous_version: int
    events: Sequence[E] = ()
    published: Sequence[AnyEvent] = field(default=())


def utc_now() -> datetime:
    return datetime.now(UTC)


class EventSourced(Generic[U, S, E]):
    """Runs writes of one aggregate type for one service (built once, in its composition root)."""

    def __init__(
        self,
        aggregate: Aggregate[S, E],
        *,
        producer: str,
        project: Callable[[U, S, E, S, datetime], Awaitable[None]] | None = None,
        settle: Callable[[U, S], Awaitable[None]] | None = None,
        serialize: bool = False,
        cache_size: int = 0,
        clock: Callable[[], datetime] = utc_now,
        new_id: Callable[[], uuid.UUID] = uuid.uuid4,
    ) -> None:
        """``project`` runs for each new event, ``settle`` once with the final state (read models
        kept per aggregate); ``serialize`` makes concurrent writers of a stream queue up (a lock
        for the transaction) instead of failing on the version check, which stays the safety net."""
        self.aggregate = aggregate
        self.producer = producer
        self._project = project
        self._settle = settle
        self._serialize = serialize
        self._cache: OrderedDict[uuid.UUID, tuple[S, int]] = OrderedDict()
        self._cache_size = cache_size
        self._clock = clock
        self._new_id = new_id
        self._snapshot_tag = f"{aggregate.name}/{aggregate.state_schema}"

    def stream_id(self, aggregate_id: uuid.UUID) -> str:
        return self.aggregate.stream_id(aggregate_id)

    async def load(self, uow: U, aggregate_id: uuid.UUID) -> tuple[S, int]:
        """The current state and the stream version it was built from."""
        a = self.aggregate
        state, version = a.initial(aggregate_id), 0
        if (cached := self._cache.get(aggregate_id)) is not None:
            state, version = cached
        elif a.snapshot_every and a.state_type is not None:
            snapshot = await uow.events.read_snapshot(self.stream_id(aggregate_id))
            if snapshot is not None and snapshot.state_type == self._snapshot_tag:
                state, version = msgspec.json.decode(snapshot.state, type=a.state_type), snapshot.version
        for stored in await uow.events.read_stream(self.stream_id(aggregate_id), after_version=version):
            if stored.data != ERASED:
                state = a.evolve(state, a.codec.decode(stored))
            version = stored.version
        return state, version

    async def write(
        self,
        uow: U,
        aggregate_id: uuid.UUID,
        decide: Callable[[S], Sequence[E]],
        *,
        context: Context,
        expected_version: int | None = None,
    ) -> Written[S, E]:
        stream = self.stream_id(aggregate_id)
        if self._serialize:
            await uow.lock(stream)
        state, version = await self.load(uow, aggregate_id)
        if expected_version is not None and expected_version != version:
            raise VersionMismatch(stream, expected_version, version)
        events = list(decide(state))
        if not events:
            return Written(state, version, version)
        at = self._clock()
        stored: list[NewEvent] = []
        published: list[AnyEvent] = []
        current = state
        for n, event in enumerate(events, start=1):
            after = self.aggregate.evolve(current, event)
            name, schema_version, data = self.aggregate.codec.encode(event)
            event_id = self._new_id()
            stored.append(
                NewEvent(event_id=event_id, event_type=name, schema_version=schema_version, data=data, occurred_at=at)
            )
            published += [
                make_event(
                    payload,
                    event_id=self._new_id(),
                    aggregate_id=str(aggregate_id),
                    aggregate_version=version + n,
                    occurred_at=at,
                    producer=self.producer,
                    correlation_id=context.correlation_id,
                    causation_id=context.causation_id,
                    actor_id=context.actor_id,
                )
                for payload in self.aggregate.publish(current, event, after)
            ]
            if self._project is not None:
                await self._project(uow, current, event, after, at)
            current = after
        new_version = await uow.events.append(stream, version, stored, aggregate_type=self.aggregate.name)
        await uow.outbox.add_events(published)
        if self._settle is not None:
            await self._settle(uow, current)
        await self._snapshot_if_due(uow, stream, version, new_version, current)
        uow.after_commit(lambda: self.remember(aggregate_id, current, new_version))
        return Written(current, new_version, version, events, published)

    async def _snapshot_if_due(self, uow: U, stream: str, old: int, new: int, state: S) -> None:
        every = self.aggregate.snapshot_every
        if every and self.aggregate.state_type is not None and new // every > old // every:
            await uow.events.write_snapshot(
                Snapshot(stream_id=stream, version=new, state_type=self._snapshot_tag, state=msgspec.json.encode(state))
            )

    async def erase(self, uow: U, aggregate_id: uuid.UUID, keep: Sequence[str] = ()) -> None:
        """Personal-data erasure: the stream keeps its shape, its events lose their content."""
        self.forget(aggregate_id)
        await uow.events.redact(self.stream_id(aggregate_id), keep)

    def remember(self, aggregate_id: uuid.UUID, state: S, version: int) -> None:
        """Caches a committed state (never one from a transaction that may still roll back)."""
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
