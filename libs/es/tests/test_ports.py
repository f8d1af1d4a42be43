"""One contract for the storage ports, run against PostgreSQL and the in-memory fakes alike: a fake
that application tests rely on behaves as the real adapter does."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from blazing_contracts.events import user as ue
from blazing_es import ConcurrencyError, NewEvent, Snapshot
from blazing_es.memory import ERASED, InMemoryUnitOfWork, MemoryDatabase
from blazing_es.outbox import Outbox, OutboxRecord
from blazing_es.ports import UnitOfWork
from blazing_es.postgres import PostgresUnitOfWork
from blazing_testing.events import event_of

NOW = datetime(2026, 12, 1, tzinfo=UTC)
Factory = Callable[[], UnitOfWork]


class Backend:
    def __init__(self, make: Factory, published: Callable[[], Any]) -> None:
        self.make, self.published = make, published


@pytest.fixture
def memory_backend() -> Backend:
    db = MemoryDatabase()

    async def published() -> set[uuid.UUID]:
        return {e.event_id for e in db.published}

    return Backend(lambda: InMemoryUnitOfWork(db), published)


@pytest.fixture
async def postgres_backend(es_dsn: str) -> AsyncIterator[Backend]:
    async with AsyncConnectionPool(es_dsn, min_size=1, max_size=4, open=False) as pool:

        async def published() -> set[uuid.UUID]:
            async with await AsyncConnection.connect(es_dsn) as conn:
                rows = await (await conn.execute("SELECT event_id FROM es_outbox")).fetchall()
            return {r[0] for r in rows}

        yield Backend(lambda: PostgresUnitOfWork(pool), published)


@pytest.fixture(params=["memory", pytest.param("postgres", marks=pytest.mark.integration)])
def backend(request: pytest.FixtureRequest) -> Backend:
    found: Backend = request.getfixturevalue(f"{request.param}_backend")
    return found


def new(n: int = 1, kind: str = "added") -> list[NewEvent]:
    return [
        NewEvent(event_id=uuid.uuid4(), event_type=kind, schema_version=1, data=b'{"n": %d}' % i, occurred_at=NOW)
        for i in range(n)
    ]


def stream() -> str:
    return f"test-{uuid.uuid4()}"


def contract_event() -> Any:
    return event_of(ue.UserActivated(user_id=uuid.uuid4()), correlation_id="c", occurred_at=NOW)


async def test_appends_get_consecutive_versions_and_read_back_in_order(backend: Backend) -> None:
    s = stream()
    async with backend.make() as uow:
        assert await uow.events.append(s, 0, new(2), aggregate_type="test") == 2
        assert await uow.events.append(s, 2, new(1), aggregate_type="test") == 3
        assert [e.version for e in await uow.events.read_stream(s)] == [1, 2, 3], "visible in its own unit"
    async with backend.make() as uow:
        events = await uow.events.read_stream(s)
        assert [e.version for e in events] == [1, 2, 3]
        assert [e.version for e in await uow.events.read_stream(s, after_version=2)] == [3]
        assert events[0].aggregate_type == "test"


async def test_an_append_at_a_stale_version_fails_and_writes_nothing(backend: Backend) -> None:
    s = stream()
    async with backend.make() as uow:
        await uow.events.append(s, 0, new(1), aggregate_type="test")
    with pytest.raises(ConcurrencyError):
        async with backend.make() as uow:
            await uow.events.append(s, 0, new(1), aggregate_type="test")
    async with backend.make() as uow:
        assert len(await uow.events.read_stream(s)) == 1


async def test_of_two_units_appending_at_one_version_only_one_commits(backend: Backend) -> None:
    s = stream()
    gate = asyncio.Event()

    async def append() -> None:
        async with backend.make() as uow:
            await uow.events.read_stream(s)
            await gate.wait()
            await uow.events.append(s, 0, new(1), aggregate_type="test")

    tasks = [asyncio.create_task(append()) for _ in range(2)]
    await asyncio.sleep(0.05)
    gate.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert sum(isinstance(r, ConcurrencyError) for r in results) == 1, results
    async with backend.make() as uow:
        assert len(await uow.events.read_stream(s)) == 1


async def test_a_failing_unit_of_work_leaves_nothing(backend: Backend) -> None:
    s, event, consumer, claimed = stream(), contract_event(), f"c-{uuid.uuid4()}", uuid.uuid4()
    callbacks: list[str] = []

    async def failing_use_case() -> None:
        async with backend.make() as uow:
            await uow.events.append(s, 0, new(1), aggregate_type="test")
            await uow.outbox.add_events([event])
            assert await uow.inbox.claim(consumer, claimed)
            uow.after_commit(lambda: callbacks.append("ran"))
            raise RuntimeError("the use case failed")

    with pytest.raises(RuntimeError):
        await failing_use_case()
    async with backend.make() as uow:
        assert await uow.events.read_stream(s) == []
        assert await uow.inbox.claim(consumer, claimed), "the claim rolled back with the effects"
    assert event.event_id not in await backend.published()
    assert callbacks == []


async def test_outbox_and_after_commit_follow_the_commit(backend: Backend) -> None:
    event = contract_event()
    callbacks: list[str] = []
    async with backend.make() as uow:
        await uow.outbox.add_events([event])
        uow.after_commit(lambda: callbacks.append("ran"))
        assert callbacks == []
    assert callbacks == ["ran"]
    assert event.event_id in await backend.published()


async def test_the_inbox_claims_an_event_once_per_consumer(backend: Backend) -> None:
    event_id, consumer = uuid.uuid4(), f"c-{uuid.uuid4()}"
    async with backend.make() as uow:
        assert await uow.inbox.claim(consumer, event_id)
        assert not await uow.inbox.claim(consumer, event_id)
        assert await uow.inbox.claim(f"{consumer}-other", event_id)
    async with backend.make() as uow:
        assert not await uow.inbox.claim(consumer, event_id)


async def test_a_snapshot_is_kept_only_when_newer(backend: Backend) -> None:
    s = stream()
    async with backend.make() as uow:
        await uow.events.write_snapshot(Snapshot(stream_id=s, version=5, state_type="t/1", state=b'{"v": 5}'))
    async with backend.make() as uow:
        await uow.events.write_snapshot(Snapshot(stream_id=s, version=3, state_type="t/1", state=b'{"v": 3}'))
    async with backend.make() as uow:
        snapshot = await uow.events.read_snapshot(s)
        assert snapshot is not None
        assert snapshot.version == 5
        assert await uow.events.read_snapshot(stream()) is None


async def test_redaction_keeps_types_and_versions_not_content(backend: Backend) -> None:
    s = stream()
    async with backend.make() as uow:
        await uow.events.append(s, 0, [*new(2, "added"), *new(1, "deleted")], aggregate_type="test")
        await uow.events.write_snapshot(Snapshot(stream_id=s, version=3, state_type="t/1", state=b"{}"))
    async with backend.make() as uow:
        await uow.events.redact(s, keep=["deleted"])
    async with backend.make() as uow:
        events = await uow.events.read_stream(s)
        assert [(e.version, e.event_type) for e in events] == [(1, "added"), (2, "added"), (3, "deleted")]
        assert [e.data == ERASED for e in events] == [True, True, False]
        assert await uow.events.read_snapshot(s) is None


@pytest.mark.parametrize("times", [1, 2], ids=["once", "twice"])
async def test_locks_serialise_units_of_work(backend: Backend, times: int) -> None:
    """Also when a unit of work locks its key twice: the second lock is no release."""
    key, order, holding = f"k-{uuid.uuid4()}", [], asyncio.Event()

    async def locked(name: str, hold: float) -> None:
        async with backend.make() as uow:
            for _ in range(times):
                await uow.lock(key)
            order.append(f"{name} in")
            holding.set()
            await asyncio.sleep(hold)
            order.append(f"{name} out")

    first = asyncio.create_task(locked("a", 0.1))
    await holding.wait()  # a holds the lock before b asks for it
    await locked("b", 0)
    await first
    assert order == ["a in", "a out", "b in", "b out"]


@pytest.mark.integration
async def test_a_key_locked_again_in_the_same_unit_of_work_costs_no_statement(postgres_backend: Backend) -> None:
    """#19: the ledger's write and its EventSourced both lock the stream; the second is free."""
    sent: list[object] = []
    async with postgres_backend.make() as uow:
        real = uow.conn.execute  # type: ignore[attr-defined]

        async def counted(query: object, *args: Any, **kwargs: Any) -> Any:
            sent.append(query)
            return await real(query, *args, **kwargs)

        uow.conn.execute = counted  # type: ignore[attr-defined]
        for key in ("k1", "k1", "k2", "k1"):
            await uow.lock(key)
    assert len(sent) == 2


@pytest.mark.integration
@pytest.mark.parametrize(
    "value",
    [b'{"memo": "caf\xc3\xa9 \\" \\\\ \\u0000 \\n"}', b"\xff not text", b"nul \x00 inside"],
    ids=["json text", "not utf-8", "nul"],
)
async def test_outbox_records_are_stored_byte_for_byte_in_their_order(
    conn: AsyncConnection[object], value: bytes
) -> None:
    """#19: the records travel as one JSON document (arrays of bytes when they are not text)."""
    records = [
        OutboxRecord(
            topic=f"t{n}",
            key=None if n == 1 else f"agg-{n}".encode(),
            value=value + str(n).encode(),
            headers={"event_type": "x", "n": str(n)},
            event_id=uuid.uuid4(),
        )
        for n in range(5)
    ]
    async with conn.transaction():
        await Outbox().add(conn, records)
        rows = await (
            await conn.execute(
                "SELECT topic, key, value, headers, event_id FROM es_outbox WHERE event_id = ANY(%s) ORDER BY id",
                ([r.event_id for r in records],),
            )
        ).fetchall()
        await conn.execute("DELETE FROM es_outbox WHERE event_id = ANY(%s)", ([r.event_id for r in records],))
    assert [(t, None if k is None else bytes(k), bytes(v), h, e) for t, k, v, h, e in rows] == [
        (r.topic, r.key, r.value, r.headers, r.event_id) for r in records
    ]
