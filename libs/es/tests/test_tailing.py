"""Writers committing out of position order: tailing readers and the relay miss nothing."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from psycopg import AsyncConnection

from blazing_contracts import decode_event
from blazing_contracts.topology import SYSTEM_EVENTS
from blazing_es import (
    Checkpoint,
    EventStore,
    Outbox,
    OutboxRelay,
    StoredEvent,
    kafka_producer,
)
from blazing_es.store import checkpoint_of
from blazing_testing import stack_env
from blazing_testing.events import health_check
from blazing_testing.kafka import KafkaTail

from .helpers import new_event, stream

pytestmark = pytest.mark.integration
store = EventStore()
ENV = stack_env()


async def naive_read(conn: AsyncConnection[Any], after: int) -> list[tuple[int, str]]:
    """What a reader without the safeguard would do: trust position order."""
    cur = await conn.execute(
        "SELECT position, stream_id FROM es_events WHERE position > %s ORDER BY position", (after,)
    )
    return [(r[0], r[1]) for r in await cur.fetchall()]


async def drain(conn: AsyncConnection[Any], cp: Checkpoint, mine: set[str]) -> tuple[list[StoredEvent], Checkpoint]:
    seen: list[StoredEvent] = []
    while True:
        batch = await store.read_all(conn, cp, limit=100)
        if not batch:
            return seen, cp
        cp = checkpoint_of(batch[-1])
        seen.extend(e for e in batch if e.stream_id in mine)


async def test_late_commit_is_neither_skipped_nor_repeated(es_dsn: str) -> None:
    late, early1, early2 = stream(), stream(), stream()
    mine = {late, early1, early2}
    async with (
        await AsyncConnection.connect(es_dsn) as reader,
        await AsyncConnection.connect(es_dsn, autocommit=True) as naive,
        await AsyncConnection.connect(es_dsn) as slow,
        await AsyncConnection.connect(es_dsn) as fast,
    ):
        await reader.set_autocommit(True)
        _, cp = await drain(reader, Checkpoint(), set())  # start at the current end
        start_pos = (await (await naive.execute("SELECT coalesce(max(position), 0) FROM es_events")).fetchone())[0]  # type: ignore[index]

        # The slow writer takes the smaller position and keeps its transaction open …
        await slow.execute("BEGIN")
        await store.append(slow, late, 0, [new_event(1)], aggregate_type="t")
        # … while two others take larger positions and commit.
        for sid in (early1, early2):
            async with fast.transaction():
                await store.append(fast, sid, 0, [new_event(2)], aggregate_type="t")

        # The naive reader sees the later positions and moves its checkpoint past the open one.
        naive_seen = await naive_read(naive, start_pos)
        naive_cp = max(p for p, _ in naive_seen)
        # The safe reader waits: nothing after the open transaction is delivered yet.
        seen_before, cp = await drain(reader, cp, mine)
        assert seen_before == []

        await slow.execute("COMMIT")
        seen_after, cp = await drain(reader, cp, mine)
        assert sorted(e.stream_id for e in seen_after) == sorted(mine)
        assert len(seen_after) == 3, "each event exactly once"
        assert (await drain(reader, cp, mine))[0] == []

        # Proof that the scenario bites: the naive reader never delivers the late event.
        assert {s for _, s in await naive_read(naive, naive_cp)} & mine == set()
        assert {s for _, s in naive_seen} & mine == {early1, early2}


async def test_a_tailing_reader_and_the_relay_deliver_out_of_order_commits_exactly_once(es_dsn: str) -> None:
    mine = {stream() for _ in range(6)}
    order = sorted(mine)
    applied: list[str] = []
    outbox = Outbox()

    relay = OutboxRelay(es_dsn, lambda: kafka_producer(ENV.kafka_bootstrap, "tailing-test"), service="test")
    async with KafkaTail(ENV.kafka_bootstrap, SYSTEM_EVENTS) as tail:
        relay_task = asyncio.create_task(relay.run())
        async with await AsyncConnection.connect(es_dsn, autocommit=True) as conn:
            _, cp = await drain(conn, Checkpoint(), set())  # start at the current end
            holders = []
            for i, sid in enumerate(order):
                c = await AsyncConnection.connect(es_dsn)
                await c.execute("BEGIN")
                await store.append(c, sid, 0, [new_event(i)], aggregate_type="t")
                await outbox.add_events(c, [health_check(sid, service="tailing-test", correlation_id=sid)])
                holders.append(c)
            # commit in reverse order of positions, catching up in between
            for c in reversed(holders):
                await c.execute("COMMIT")
                await c.close()
                seen, cp = await drain(conn, cp, mine)
                applied += [e.stream_id for e in seen]
            seen, cp = await drain(conn, cp, mine)
            applied += [e.stream_id for e in seen]
        assert sorted(applied) == order
        records = await tail.collect(lambda rs: {decode_event(r.value).aggregate_id for r in rs} >= mine, within=30)
        relay.stop()
        await relay_task
    published = [decode_event(r.value).aggregate_id for r in records if decode_event(r.value).aggregate_id in mine]
    assert sorted(published) == order, "every committed event published exactly once"
