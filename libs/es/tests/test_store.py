"""The event store against the real PostgreSQL."""

from __future__ import annotations

import asyncio

import msgspec
import pytest
from psycopg import AsyncConnection

from blazing_es import ConcurrencyError, EventCodec, EventStore, Snapshot, UnknownEventError
from blazing_es.store import StoredEvent

from .helpers import Deposited, new_event, stream

pytestmark = pytest.mark.integration
store = EventStore()


async def test_append_then_read_the_stream_in_order(conn: AsyncConnection[object]) -> None:
    sid = stream()
    async with conn.transaction():
        version = await store.append(conn, sid, 0, [new_event(1), new_event(2)], aggregate_type="account")
    assert version == 2
    async with conn.transaction():
        assert await store.append(conn, sid, 2, [new_event(3)], aggregate_type="account") == 3
    events = await store.read_stream(conn, sid)
    assert [e.version for e in events] == [1, 2, 3]
    assert [msgspec.json.decode(e.data, type=Deposited).amount for e in events] == [1, 2, 3]
    assert events[0].metadata == {"correlation_id": "test"}
    assert [e.version for e in await store.read_stream(conn, sid, after_version=2)] == [3]
    assert await store.stream_version(conn, sid) == 3


@pytest.mark.parametrize("expected", [0, 1, 3, 7])
async def test_append_at_a_wrong_expected_version_writes_nothing(conn: AsyncConnection[object], expected: int) -> None:
    sid = stream()
    async with conn.transaction():
        await store.append(conn, sid, 0, [new_event(), new_event()], aggregate_type="account")
    with pytest.raises(ConcurrencyError):
        async with conn.transaction():
            await store.append(conn, sid, expected, [new_event()], aggregate_type="account")
    assert await store.stream_version(conn, sid) == 2


async def test_fifty_concurrent_appends_at_the_same_version_one_wins(es_dsn: str) -> None:
    sid = stream()
    async with await AsyncConnection.connect(es_dsn) as setup, setup.transaction():
        await store.append(setup, sid, 0, [new_event()], aggregate_type="account")
    start = asyncio.Event()

    async def writer(i: int) -> bool:
        async with await AsyncConnection.connect(es_dsn) as c:
            await start.wait()
            try:
                async with c.transaction():
                    await store.append(c, sid, 1, [new_event(i), new_event(i)], aggregate_type="account")
            except ConcurrencyError:
                return False
            return True

    tasks = [asyncio.create_task(writer(i)) for i in range(50)]
    await asyncio.sleep(0.5)
    start.set()
    results = await asyncio.gather(*tasks)
    assert results.count(True) == 1
    assert results.count(False) == 49
    async with await AsyncConnection.connect(es_dsn) as c:
        versions = [e.version for e in await store.read_stream(c, sid)]
    assert versions == [1, 2, 3], "no gap and no duplicate version"


async def test_same_transaction_may_append_twice(conn: AsyncConnection[object]) -> None:
    sid = stream()
    async with conn.transaction():
        await store.append(conn, sid, 0, [new_event()], aggregate_type="account")
        await store.append(conn, sid, 1, [new_event()], aggregate_type="account")
    assert await store.stream_version(conn, sid) == 2


async def test_append_refuses_to_build_on_an_event_of_a_younger_transaction(es_dsn: str) -> None:
    """A transaction that got its id before another one appended to the stream must not append
    after it (its events would sort before their predecessor when tailing)."""
    sid = stream()
    async with (
        await AsyncConnection.connect(es_dsn) as old,
        await AsyncConnection.connect(es_dsn) as young,
        old.transaction(),
    ):
        await old.execute("SELECT pg_current_xact_id()")  # old takes its id first
        async with young.transaction():
            await store.append(young, sid, 0, [new_event()], aggregate_type="account")
        with pytest.raises(ConcurrencyError):
            await store.append(old, sid, 1, [new_event()], aggregate_type="account")
    async with await AsyncConnection.connect(es_dsn) as fresh, fresh.transaction():
        assert await store.append(fresh, sid, 1, [new_event()], aggregate_type="account") == 2


async def test_snapshot_then_only_later_events(conn: AsyncConnection[object]) -> None:
    sid = stream()
    async with conn.transaction():
        await store.append(conn, sid, 0, [new_event(1), new_event(2), new_event(3)], aggregate_type="account")
        await store.write_snapshot(conn, Snapshot(stream_id=sid, version=2, state_type="total", state=b'{"t":3}'))
        # an older snapshot never replaces a newer one
        await store.write_snapshot(conn, Snapshot(stream_id=sid, version=1, state_type="total", state=b'{"t":1}'))
    snapshot, events = await store.load(conn, sid)
    assert snapshot is not None
    assert (snapshot.version, snapshot.state) == (2, b'{"t": 3}')
    assert [e.version for e in events] == [3]


def test_codec_upcasts_stored_versions() -> None:
    class DepositedV2(msgspec.Struct, frozen=True, kw_only=True):
        cents: int
        currency: str

    codec: EventCodec[msgspec.Struct] = EventCodec()
    codec.register("deposited", DepositedV2, version=2)

    @codec.upcaster("deposited", 1)
    def _(data: dict[str, object]) -> dict[str, object]:
        return {"cents": data["amount"], "currency": "EUR"}

    old = new_event(5)
    stored = StoredEvent(
        position=1,
        tx_id=1,
        stream_id="s",
        version=1,
        aggregate_type="a",
        event_id=old.event_id,
        event_type="deposited",
        schema_version=1,
        data=old.data,
        metadata={},
        occurred_at=old.occurred_at,
    )
    assert codec.decode(stored) == DepositedV2(cents=5, currency="EUR")
    name, version, _data = codec.encode(DepositedV2(cents=1, currency="EUR"))
    assert (name, version) == ("deposited", 2)
    with pytest.raises(UnknownEventError):
        codec.decode(msgspec.structs.replace(stored, event_type="withdrawn"))
