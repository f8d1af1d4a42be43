"""StreamRepository: fold, save, snapshots every N events, redaction."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import msgspec
import pytest
from psycopg import AsyncConnection

from blazing_es import ConcurrencyError, EventStore, Snapshot, StreamRepository

pytestmark = pytest.mark.integration


class Added(msgspec.Struct, frozen=True):
    n: int


class Total(msgspec.Struct, frozen=True):
    owner: uuid.UUID
    total: int = 0
    count: int = 0


def evolve(state: Total, event: Added) -> Total:
    return msgspec.structs.replace(state, total=state.total + event.n, count=state.count + 1)


def repo(every: int, cache_size: int = 0) -> StreamRepository[Total, Added]:
    return StreamRepository(
        aggregate_type="counter",
        event_types={"added": Added},
        evolve=evolve,
        initial=lambda owner: Total(owner=owner),
        snapshot_every=every,
        state_type=Total,
        cache_size=cache_size,
    )


async def test_snapshots_every_n_events_and_loads_from_them(conn: AsyncConnection[object]) -> None:
    r, owner = repo(3), uuid.uuid4()
    for n in range(1, 8):
        async with conn.transaction():
            state, version = await r.load(conn, owner)
            new_version = await r.save(conn, owner, version, [Added(n)], now=datetime.now(UTC))
            await r.snapshot_if_due(conn, owner, version, new_version, evolve(state, Added(n)))
    snapshot = await EventStore().read_snapshot(conn, r.stream_id(owner))
    assert snapshot is not None
    assert snapshot.version == 6
    state, version = await r.load(conn, owner)
    assert (state.total, state.count, version) == (28, 7, 7)
    without = repo(0)
    assert await without.load(conn, owner) == (state, 7), "the snapshot changes nothing but the cost"
    with pytest.raises(ConcurrencyError):
        async with conn.transaction():
            await r.save(conn, owner, 5, [Added(1)], now=datetime.now(UTC))


async def test_redaction_drops_content_and_snapshots(conn: AsyncConnection[object]) -> None:
    r, owner = repo(1), uuid.uuid4()
    async with conn.transaction():
        new_version = await r.save(conn, owner, 0, [Added(5)], now=datetime.now(UTC))
        await r.snapshot_if_due(conn, owner, 0, new_version, Total(owner=owner, total=5, count=1))
        await r.redact(conn, owner)
    assert await EventStore().read_snapshot(conn, r.stream_id(owner)) is None
    assert await r.events(conn, owner) == []


async def test_the_state_cache_still_reads_what_another_process_appended(conn: AsyncConnection[object]) -> None:
    here, elsewhere, owner = repo(0, cache_size=10), repo(0, cache_size=10), uuid.uuid4()
    for r, n in ((here, 1), (elsewhere, 2), (here, 3)):
        async with conn.transaction():
            state, version = await r.load(conn, owner)
            new_version = await r.save(conn, owner, version, [Added(n)], now=datetime.now(UTC))
        r.remember(owner, evolve(state, Added(n)), new_version)
    assert await here.load(conn, owner) == (Total(owner=owner, total=6, count=3), 3)
    here.remember(owner, Total(owner=owner, total=-1), 2)  # an older state never replaces a newer one
    assert (await here.load(conn, owner))[0].total == 6


async def test_a_snapshot_of_another_state_schema_is_ignored(conn: AsyncConnection[object]) -> None:
    owner = uuid.uuid4()
    async with conn.transaction():
        await repo(0).save(conn, owner, 0, [Added(5), Added(6)], now=datetime.now(UTC))
        await EventStore().write_snapshot(
            conn, Snapshot(stream_id=f"counter-{owner}", version=2, state_type="counter/0", state=b'{"bogus": 1}')
        )
    assert await repo(2).load(conn, owner) == (Total(owner=owner, total=11, count=2), 2)
