"""Event store and outbox benchmark (SPEC §10), each figure beside its limit and its peer.

    .venv/bin/python bench/eventstore.py [--repeat 3] [--quick]

* single-event appends/s on 1 and 8 connections, one transaction per append:
  ours (blazing_es) | limit: a raw psycopg INSERT of the same row | peer: the ``eventsourcing``
  package's PostgresApplicationRecorder (its own threads and pool)
* batched events/s (100 events per transaction), same three
* outbox → Kafka: publish lag p50/p99 at 500 events/s (commit → record readable by a consumer)
* drain time of a 100k-event outbox backlog

Medians of ``--repeat`` runs; written to bench/results/eventstore.json and printed. Needs `make up`.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse

import msgspec
from aiokafka import AIOKafkaConsumer, TopicPartition
from cpu import arguments, save
from psycopg import AsyncConnection

from blazing_es import EventStore, NewEvent, Outbox, OutboxRecord, install
from blazing_es.outbox import backlog
from blazing_testing import stack_env
from blazing_testing.kafka import scratch_topic
from blazing_testing.postgres import scratch_database
from blazing_testing.processes import start_relay

ENV = stack_env()
DATA = msgspec.json.encode({"amount": 1234, "memo": "coffee and a croissant", "category": "food"})


def event() -> NewEvent:
    return NewEvent(
        event_id=uuid.uuid4(),
        event_type="deposited",
        schema_version=1,
        data=DATA,
        occurred_at=datetime.now(UTC),
    )


# ------------------------------------------------------------------ appends: ours


async def events_per_s(
    dsn: str, connections: int, work: Callable[[AsyncConnection[Any]], Awaitable[None]], events_each: int
) -> float:
    """Events appended per second by ``work`` run on each of ``connections`` connections at once."""
    conns = [await AsyncConnection.connect(dsn) for _ in range(connections)]
    start = time.perf_counter()
    await asyncio.gather(*(work(c) for c in conns))
    elapsed = time.perf_counter() - start
    for c in conns:
        await c.close()
    return connections * events_each / elapsed


async def ours(dsn: str, connections: int, per_conn: int, batch: int) -> float:
    store = EventStore()

    async def work(conn: AsyncConnection[Any]) -> None:
        sid, version = f"bench-{uuid.uuid4()}", 0
        for _ in range(per_conn):
            async with conn.transaction():
                version = await store.append(
                    conn, sid, version, [event() for _ in range(batch)], aggregate_type="bench"
                )

    return await events_per_s(dsn, connections, work, per_conn * batch)


# ------------------------------------------------------------------ appends: the limit


async def raw_limit(dsn: str, connections: int, per_conn: int, batch: int) -> float:
    async with await AsyncConnection.connect(dsn, autocommit=True) as setup:
        await setup.execute(
            "CREATE TABLE IF NOT EXISTS raw_events (stream_id text, version int, event_id uuid,"
            " event_type text, data jsonb, occurred_at timestamptz, PRIMARY KEY (stream_id, version))"
        )

    async def work(conn: AsyncConnection[Any]) -> None:
        sid, version = f"raw-{uuid.uuid4()}", 0
        for _ in range(per_conn):
            async with conn.transaction(), conn.cursor() as cur:
                await cur.executemany(
                    "INSERT INTO raw_events VALUES (%s, %s, %s, 'deposited', %s::jsonb, now())",
                    [(sid, version + i + 1, uuid.uuid4(), DATA.decode()) for i in range(batch)],
                )
            version += batch

    return await events_per_s(dsn, connections, work, per_conn * batch)


# ------------------------------------------------------------------ appends: the peer


def peer(dsn: str, connections: int, per_conn: int, batch: int) -> float:
    from eventsourcing.persistence import StoredEvent  # noqa: PLC0415
    from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore  # noqa: PLC0415

    url = urlparse(dsn)
    datastore = PostgresDatastore(
        dbname=url.path.lstrip("/"),
        host=url.hostname or "127.0.0.1",
        port=url.port or 5432,
        user=url.username or "",
        password=url.password or "",
        pool_size=connections,
    )
    recorder = PostgresApplicationRecorder(datastore, events_table_name="peer_events")
    recorder.create_table()

    def work() -> None:
        oid, version = uuid.uuid4(), 0
        for _ in range(per_conn):
            recorder.insert_events(
                [
                    StoredEvent(
                        originator_id=oid,
                        originator_version=version + i + 1,
                        topic="bench:Deposited",
                        state=DATA,
                    )
                    for i in range(batch)
                ]
            )
            version += batch

    start = time.perf_counter()
    with ThreadPoolExecutor(connections) as pool:
        for f in [pool.submit(work) for _ in range(connections)]:
            f.result()
    elapsed = time.perf_counter() - start
    datastore.close()
    return connections * per_conn * batch / elapsed


# ------------------------------------------------------------------ outbox → Kafka


async def tail_consumer(topic: str) -> AIOKafkaConsumer:
    consumer = AIOKafkaConsumer(bootstrap_servers=ENV.kafka_bootstrap, enable_auto_commit=False, fetch_max_wait_ms=5)
    await consumer.start()
    tps = [TopicPartition(topic, p) for p in range(3)]
    consumer.assign(tps)
    await consumer.seek_to_end(*tps)
    return consumer


async def publish_lag(dsn: str, rate: int, seconds: float) -> dict[str, float]:
    async with scratch_topic(ENV.kafka_bootstrap, "bench-lag") as topic:
        relay = start_relay(dsn, "bench")
        consumer = await tail_consumer(topic)
        await asyncio.sleep(2)  # relay is leader and connected
        lags: list[float] = []
        total = int(rate * seconds)
        done = asyncio.Event()

        async def consume() -> None:
            while len(lags) < total:
                for records in (await consumer.getmany(timeout_ms=100)).values():
                    now = time.time()
                    lags.extend(now - float(r.value) for r in records)
            done.set()

        consumer_task = asyncio.create_task(consume())
        outbox = Outbox()
        async with await AsyncConnection.connect(dsn) as conn:
            start = time.perf_counter()
            for i in range(total):
                target = start + i / rate
                if (delay := target - time.perf_counter()) > 0:
                    await asyncio.sleep(delay)
                async with conn.transaction():
                    await outbox.add(
                        conn,
                        [OutboxRecord(topic=topic, key=str(i % 50).encode(), value=b"%f" % time.time(), headers={})],
                    )
        try:
            await asyncio.wait_for(done.wait(), 60)
        finally:
            consumer_task.cancel()
            await consumer.stop()
            relay.terminate()
            relay.wait()
    lags.sort()
    return {
        "events": total,
        "rate_per_s": rate,
        "p50_ms": 1000 * lags[len(lags) // 2],
        "p99_ms": 1000 * lags[int(len(lags) * 0.99)],
        "max_ms": 1000 * lags[-1],
    }


async def drain(dsn: str, count: int) -> dict[str, float]:
    async with scratch_topic(ENV.kafka_bootstrap, "bench-drain") as topic:
        outbox = Outbox()
        async with await AsyncConnection.connect(dsn) as conn:
            for chunk in range(0, count, 5000):
                async with conn.transaction():
                    await outbox.add(
                        conn,
                        [
                            OutboxRecord(topic=topic, key=str(i % 100).encode(), value=DATA, headers={"i": str(i)})
                            for i in range(chunk, min(chunk + 5000, count))
                        ],
                    )
            assert (await backlog(conn))[0] >= count
            relay = start_relay(dsn, "bench")
            start = time.perf_counter()
            try:
                while (await backlog(conn))[0] > 0:  # noqa: ASYNC110 - polls the database, not an event
                    await asyncio.sleep(0.05)
                elapsed = time.perf_counter() - start
            finally:
                relay.terminate()
                relay.wait()
    return {"events": count, "seconds": elapsed, "events_per_s": count / elapsed}


# ------------------------------------------------------------------ driver


def median(values: list[float]) -> float:
    return round(statistics.median(values), 1)


async def measure(label: str, repeat: int, fn: Callable[[], Awaitable[float]]) -> dict[str, Any]:
    runs = [await fn() for _ in range(repeat)]
    print(f"  {label:<44} {median(runs):>10,.0f}/s   runs: {', '.join(f'{r:,.0f}' for r in runs)}")
    return {"median": median(runs), "runs": [round(r, 1) for r in runs]}


async def main() -> None:
    args = arguments(quick=False)
    scale = 0.2 if args.quick else 1.0
    single, batched = int(2000 * scale), int(100 * scale)
    results: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(),
        "repeat": args.repeat,
        "machine": {"cpus": __import__("os").cpu_count()},
    }
    async with scratch_database(ENV, "bench_es") as dsn:
        async with await AsyncConnection.connect(dsn) as conn:
            await install(conn)
        loop = asyncio.get_running_loop()
        for conns in (1, 8):
            per = max(single // conns, 50) if conns > 1 else single
            print(f"single-event appends, {conns} connection(s):")
            results[f"single_append_{conns}conn"] = {
                "ours": await measure("blazing_es", args.repeat, lambda c=conns, p=per: ours(dsn, c, p, 1)),
                "limit_raw_psycopg": await measure(
                    "limit: raw psycopg insert", args.repeat, lambda c=conns, p=per: raw_limit(dsn, c, p, 1)
                ),
                "peer_eventsourcing": await measure(
                    "peer: eventsourcing PostgresApplicationRecorder",
                    args.repeat,
                    lambda c=conns, p=per: loop.run_in_executor(None, peer, dsn, c, p, 1),
                ),
            }
        print("batched appends (100 events per transaction), 1 connection:")
        results["batched_append_100"] = {
            "ours": await measure("blazing_es", args.repeat, lambda: ours(dsn, 1, batched, 100)),
            "limit_raw_psycopg": await measure(
                "limit: raw psycopg executemany", args.repeat, lambda: raw_limit(dsn, 1, batched, 100)
            ),
            "peer_eventsourcing": await measure(
                "peer: eventsourcing PostgresApplicationRecorder",
                args.repeat,
                lambda: loop.run_in_executor(None, peer, dsn, 1, batched, 100),
            ),
        }
        print("outbox -> Kafka at 500 events/s:")
        lag_runs = [await publish_lag(dsn, 500, 10 * scale) for _ in range(args.repeat)]
        results["outbox_lag_500_per_s"] = {
            "p50_ms": median([r["p50_ms"] for r in lag_runs]),
            "p99_ms": median([r["p99_ms"] for r in lag_runs]),
            "limit_p99_ms": 100,
            "runs": lag_runs,
        }
        lag = results["outbox_lag_500_per_s"]
        print(f"  p50 {lag['p50_ms']} ms, p99 {lag['p99_ms']} ms")
        print("outbox backlog drain:")
        drain_runs = [await drain(dsn, int(100_000 * scale)) for _ in range(args.repeat)]
        results["outbox_drain_100k"] = {
            "seconds": median([r["seconds"] for r in drain_runs]),
            "limit_seconds": 30,
            "runs": drain_runs,
        }
        print(f"  {results['outbox_drain_100k']['seconds']} s for {drain_runs[0]['events']:,} events")
    results["targets"] = {
        "single_append_per_s": 2000,
        "batched_events_per_s": 20000,
        "outbox_p99_ms_at_500_per_s": 100,
        "drain_100k_s": 30,
    }
    save(results, "eventstore")


if __name__ == "__main__":
    asyncio.run(main())
