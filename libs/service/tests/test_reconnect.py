"""Pooled connections a server dropped (a restart of Redis or PostgreSQL) cost no request: the
clients made by ``redis_client`` and ``db.pool`` replace a dead connection, or send again once,
instead of handing it to a request that fails. The servers here drop only this test's connections
(CLIENT KILL, pg_terminate_backend), so nothing else on the stack is disturbed."""

from __future__ import annotations

import asyncio
import uuid

import psycopg
import pytest
from psycopg.pq import TransactionStatus
from psycopg_pool import AsyncConnectionPool
from redis.asyncio import Redis

from blazing_service import db
from blazing_service.redis_client import redis_client
from blazing_testing import stack_env

pytestmark = pytest.mark.integration
ENV = stack_env()
REDIS_URL = f"redis://{ENV['REDIS_USER']}:{ENV['REDIS_PASSWORD']}@{ENV['REDIS_HOST']}:{ENV['REDIS_PORT']}/0"
CONCURRENCY = 8


async def redis_failures(client: Redis) -> int:
    """Fills the pool with CONCURRENCY connections, has the server drop them, then sends
    CONCURRENCY commands at once: how many failed."""
    pool = client.connection_pool
    held = [await pool.get_connection() for _ in range(CONCURRENCY)]
    for conn in held:
        await conn.send_command("CLIENT", "ID")
    ids = [await conn.read_response() for conn in held]
    for conn in held:
        await pool.release(conn)
    killer = Redis.from_url(REDIS_URL)
    for client_id in ids:
        await killer.execute_command("CLIENT", "KILL", "ID", client_id)
    await killer.aclose()
    await asyncio.sleep(0.1)
    outcomes = await asyncio.gather(
        *(client.incr(f"test:reconnect:{uuid.uuid4().hex}") for _ in range(CONCURRENCY)), return_exceptions=True
    )
    await client.aclose()
    return sum(isinstance(o, BaseException) for o in outcomes)


async def test_a_plain_redis_client_hands_out_dead_connections() -> None:
    """The defect, shown: a client without retries fails on the dropped connections."""
    assert await redis_failures(Redis.from_url(REDIS_URL)) > 0


async def test_the_services_redis_client_survives_dropped_connections() -> None:
    assert await redis_failures(redis_client(REDIS_URL, name=f"test-{uuid.uuid4().hex[:8]}")) == 0


async def postgres_failures(pool: AsyncConnectionPool, name: str) -> int:
    await pool.open(wait=True)
    async with asyncio.TaskGroup() as group:  # CONCURRENCY connections in the pool
        for _ in range(CONCURRENCY):
            group.create_task(hold(pool))
    async with await psycopg.AsyncConnection.connect(ENV.database_url("ops"), autocommit=True) as killer:
        await killer.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s", (name,)
        )
    await asyncio.sleep(0.2)
    outcomes = await asyncio.gather(*(query(pool) for _ in range(CONCURRENCY)), return_exceptions=True)
    await pool.close()
    return sum(isinstance(o, BaseException) for o in outcomes)


async def hold(pool: AsyncConnectionPool) -> None:
    async with pool.connection() as conn:
        await conn.execute("SELECT pg_sleep(0.2)")


async def query(pool: AsyncConnectionPool) -> None:
    async with pool.connection() as conn:
        await conn.execute("SELECT 1")


async def test_a_pool_without_a_check_hands_out_dead_connections() -> None:
    name = f"test-{uuid.uuid4().hex[:8]}"
    pool = AsyncConnectionPool(
        ENV.database_url("ops"), min_size=CONCURRENCY, name=name, open=False, kwargs={"application_name": name}
    )
    assert await postgres_failures(pool, name) > 0


async def test_the_services_pool_survives_dropped_connections() -> None:
    name = f"test-{uuid.uuid4().hex[:8]}"
    pool = db.pool(ENV.database_url("ops"), name=name, min_size=CONCURRENCY, max_size=CONCURRENCY)
    assert await postgres_failures(pool, name) == 0


async def test_the_services_pool_lends_a_live_idle_connection_without_a_round_trip(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The full check (an empty query) only for a connection with something waiting on its socket:
    a live idle one is lent as it is (#19: that round trip was in every unit of work); a dropped
    one is still checked, and replaced."""
    checks = 0
    full_check = AsyncConnectionPool.check_connection

    async def counted(conn: psycopg.AsyncConnection[object]) -> None:
        nonlocal checks
        checks += 1
        await full_check(conn)

    monkeypatch.setattr(AsyncConnectionPool, "check_connection", staticmethod(counted))
    name = f"test-{uuid.uuid4().hex[:8]}"
    pool = db.pool(ENV.database_url("ops"), name=name, min_size=1, max_size=1)
    await pool.open(wait=True)
    try:
        for _ in range(5):
            await query(pool)
        assert checks == 0
        async with await psycopg.AsyncConnection.connect(ENV.database_url("ops"), autocommit=True) as killer:
            await killer.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s", (name,)
            )
        await asyncio.sleep(0.2)
        await query(pool)
        assert checks == 1
    finally:
        await pool.close()


async def test_a_read_from_the_services_pool_is_one_statement_and_a_unit_of_work_a_transaction() -> None:
    """#19: a pooled connection is in autocommit — a read was BEGIN, the query and COMMIT, three
    round trips — while ``conn.transaction()`` (the unit of work) is still one transaction."""
    pool = db.pool(ENV.database_url("ops"), name=f"test-{uuid.uuid4().hex[:8]}", min_size=1, max_size=1)
    await pool.open(wait=True)
    try:
        async with pool.connection() as conn:
            await conn.execute("SELECT 1")
            assert conn.info.transaction_status == TransactionStatus.IDLE
            async with conn.transaction():
                await conn.execute("SELECT 1")
                assert conn.info.transaction_status == TransactionStatus.INTRANS
    finally:
        await pool.close()
