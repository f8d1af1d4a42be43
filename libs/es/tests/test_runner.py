"""The one event-sourced write (EventSourced): versions, publication, projections, snapshots, the
process cache, erasure and stored-event upcasting — on the in-memory ports (the PostgreSQL ones
pass the same contract, test_ports.py)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest

from blazing_contracts import EventPayload
from blazing_contracts.events import user as ue
from blazing_es import ConcurrencyError, EventCodec, NewEvent
from blazing_es.memory import InMemoryUnitOfWork, MemoryDatabase
from blazing_es.runner import Aggregate, Context, EventSourced, VersionMismatch

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
CTX = Context(correlation_id="corr-1")


class Added(msgspec.Struct, frozen=True):
    n: int


class Named(msgspec.Struct, frozen=True):
    name: str


class Counter(msgspec.Struct, frozen=True):
    owner: uuid.UUID
    total: int = 0
    count: int = 0
    name: str = ""


def evolve(state: Counter, event: Added | Named) -> Counter:
    if isinstance(event, Named):
        return msgspec.structs.replace(state, name=event.name)
    return msgspec.structs.replace(state, total=state.total + event.n, count=state.count + 1)


def publish(before: Counter, event: Added | Named, after: Counter) -> list[EventPayload]:
    return [ue.UserActivated(user_id=after.owner)] if isinstance(event, Added) else []


def codec() -> EventCodec[Any]:
    c: EventCodec[Any] = EventCodec()
    c.register("added", Added, version=2)
    c.register("named", Named)

    @c.upcaster("added", from_version=1)
    def amount_to_n(data: dict[str, Any]) -> dict[str, Any]:  # v1 called it "amount"
        return {"n": data["amount"]}

    return c


COUNTER: Aggregate[Counter, Any] = Aggregate(
    name="counter",
    codec=codec(),
    initial=lambda owner: Counter(owner=owner),
    evolve=evolve,
    publish=publish,
    state_type=Counter,
    snapshot_every=3,
)


def runner(**options: Any) -> EventSourced[InMemoryUnitOfWork, Counter, Any]:
    return EventSourced(COUNTER, producer="test", clock=lambda: NOW, **options)


def add(*amounts: int) -> Any:
    return lambda _state: [Added(n) for n in amounts]


async def test_a_write_appends_decided_events_with_their_stream_versions_and_publishes_them() -> None:
    db, counters, owner = MemoryDatabase(), runner(), uuid.uuid4()
    async with InMemoryUnitOfWork(db) as uow:
        written = await counters.write(uow, owner, add(2, 3), context=CTX)
    assert (written.state.total, written.version, written.previous_version) == (5, 2, 0)
    stored = db.streams[f"counter-{owner}"]
    assert [(e.version, e.event_type, e.schema_version) for e in stored] == [(1, "added", 2), (2, "added", 2)]
    assert [(e.aggregate_id, e.aggregate_version) for e in db.published] == [(str(owner), 1), (str(owner), 2)]
    assert {e.correlation_id for e in db.published} == {"corr-1"}
    assert {e.occurred_at for e in [*db.published, *stored]} == {NOW}


async def test_aggregate_version_is_the_version_of_the_stored_event_behind_it() -> None:
    db, counters, owner = MemoryDatabase(), runner(), uuid.uuid4()
    async with InMemoryUnitOfWork(db) as uow:
        await counters.write(uow, owner, lambda _s: [Named("a"), Added(1), Named("b"), Added(4)], context=CTX)
    stored = {e.version: e.event_type for e in db.streams[f"counter-{owner}"]}
    assert [e.aggregate_version for e in db.published] == [2, 4]
    assert all(stored[e.aggregate_version] == "added" for e in db.published)


async def test_no_events_no_write() -> None:
    db, counters, owner = MemoryDatabase(), runner(), uuid.uuid4()
    async with InMemoryUnitOfWork(db) as uow:
        written = await counters.write(uow, owner, lambda _s: [], context=CTX)
    assert written.version == 0
    assert db.streams == {}


async def test_a_refusal_of_the_decider_writes_nothing() -> None:
    db, counters, owner = MemoryDatabase(), runner(), uuid.uuid4()

    def refuse(_state: Counter) -> list[Any]:
        raise ValueError("not allowed")

    with pytest.raises(ValueError, match="not allowed"):
        async with InMemoryUnitOfWork(db) as uow:
            await counters.write(uow, owner, refuse, context=CTX)
    assert db.streams == {}
    assert db.published == []


async def test_an_expected_version_that_is_not_the_streams_is_a_mismatch() -> None:
    db, counters, owner = MemoryDatabase(), runner(), uuid.uuid4()
    async with InMemoryUnitOfWork(db) as uow:
        await counters.write(uow, owner, add(1), context=CTX)
    with pytest.raises(VersionMismatch) as caught:
        async with InMemoryUnitOfWork(db) as uow:
            await counters.write(uow, owner, add(1), context=CTX, expected_version=0)
    assert (caught.value.expected, caught.value.actual) == (0, 1)
    async with InMemoryUnitOfWork(db) as uow:
        assert (await counters.write(uow, owner, add(1), context=CTX, expected_version=1)).version == 2


async def test_projections_see_each_event_with_the_states_around_it_then_settle() -> None:
    db, seen, settled = MemoryDatabase(), [], []

    async def project(_uow: Any, before: Counter, event: Any, after: Counter, at: datetime) -> None:
        seen.append((before.total, event, after.total, at))

    async def settle(_uow: Any, state: Counter) -> None:
        settled.append(state.total)

    counters = runner(project=project, settle=settle)
    async with InMemoryUnitOfWork(db) as uow:
        await counters.write(uow, uuid.uuid4(), add(2, 3), context=CTX)
    assert seen == [(0, Added(2), 2, NOW), (2, Added(3), 5, NOW)]
    assert settled == [5]


async def test_snapshots_every_n_events_and_loading_from_one() -> None:
    db, counters, owner = MemoryDatabase(), runner(), uuid.uuid4()
    for amounts in [(1, 1), (1,), (1, 1, 1, 1)]:
        async with InMemoryUnitOfWork(db) as uow:
            await counters.write(uow, owner, add(*amounts), context=CTX)
    snapshot = db.snapshots[f"counter-{owner}"]
    assert snapshot.version == 7, "crossed 3 at version 3 and 6 at version 7"
    # a snapshot of another state schema is ignored, never mis-decoded
    db.snapshots[snapshot.stream_id] = msgspec.structs.replace(snapshot, state_type="counter/0", state=b"{}")
    async with InMemoryUnitOfWork(db) as uow:
        state, version = await runner().load(uow, owner)
    assert (state.total, version) == (7, 7)


async def test_the_cache_reads_what_other_processes_appended() -> None:
    db, owner = MemoryDatabase(), uuid.uuid4()
    one, two = runner(cache_size=10), runner(cache_size=10)
    async with InMemoryUnitOfWork(db) as uow:
        await one.write(uow, owner, add(1), context=CTX)
    async with InMemoryUnitOfWork(db) as uow:
        await two.write(uow, owner, add(10), context=CTX)
    async with InMemoryUnitOfWork(db) as uow:
        written = await one.write(uow, owner, add(100), context=CTX)
    assert (written.state.total, written.version) == (111, 3)


async def test_a_rolled_back_write_is_never_cached() -> None:
    db, owner = MemoryDatabase(), uuid.uuid4()
    counters = runner(cache_size=10)

    async def rolled_back() -> None:
        async with InMemoryUnitOfWork(db) as uow:
            await counters.write(uow, owner, add(5), context=CTX)
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        await rolled_back()
    async with InMemoryUnitOfWork(db) as uow:
        state, version = await counters.load(uow, owner)
    assert (state.total, version) == (0, 0)


async def test_concurrent_writers_without_serialisation_conflict_and_with_it_queue() -> None:
    db, owner = MemoryDatabase(), uuid.uuid4()
    plain = runner()
    first, second = await InMemoryUnitOfWork(db).__aenter__(), await InMemoryUnitOfWork(db).__aenter__()
    await plain.write(first, owner, add(1), context=CTX)
    await plain.write(second, owner, add(1), context=CTX)
    await first.__aexit__(None, None, None)
    with pytest.raises(ConcurrencyError):
        await second.__aexit__(None, None, None)
    assert len(db.streams[f"counter-{owner}"]) == 1
    db = MemoryDatabase()
    serial = runner(serialize=True)

    async def write() -> int:
        async with InMemoryUnitOfWork(db) as uow:
            return (await serial.write(uow, owner, add(1), context=CTX)).version

    assert sorted(await asyncio.gather(*(write() for _ in range(5)))) == [1, 2, 3, 4, 5]


async def test_erasure_keeps_the_shape_and_loads_without_the_content() -> None:
    db, counters, owner = MemoryDatabase(), runner(cache_size=10), uuid.uuid4()
    async with InMemoryUnitOfWork(db) as uow:
        await counters.write(uow, owner, lambda _s: [Named("Ada"), Added(1)], context=CTX)
    async with InMemoryUnitOfWork(db) as uow:
        await counters.erase(uow, owner, keep=["added"])
    async with InMemoryUnitOfWork(db) as uow:
        state, version = await counters.load(uow, owner)
    assert (state.name, state.total, version) == ("", 1, 2)


async def test_stored_events_of_an_old_schema_are_upcast_on_load() -> None:
    db, owner = MemoryDatabase(), uuid.uuid4()
    async with InMemoryUnitOfWork(db) as uow:
        old = NewEvent(
            event_id=uuid.uuid4(), event_type="added", schema_version=1, data=b'{"amount": 7}', occurred_at=NOW
        )
        await uow.events.append(f"counter-{owner}", 0, [old], aggregate_type="counter")
    async with InMemoryUnitOfWork(db) as uow:
        state, version = await runner().load(uow, owner)
    assert (state.total, version) == (7, 1)
