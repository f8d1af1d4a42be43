"""A service's database: the connection pool and its SQL migrations.

Migrations are ``services/<name>/migrations/NNNN_title.sql``, applied in order, each once, in its
own transaction, under an advisory lock (several instances may start together).

The pool survives a PostgreSQL restart without failing a request: it checks a connection before it
lends it (``check_idle``) and replaces a dead one, instead of handing it to a request that fails
with "server closed the connection" (every pooled connection once, after a restart); idle
connections are recycled (``max_idle``), and a pool that cannot reach the server keeps
trying (``reconnect_timeout``) rather than giving up.
"""

from __future__ import annotations

import logging
import select
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import psycopg
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from blazing_service.dependencies import DEPENDENCIES, POSTGRES
from blazing_service.settings import SettingsError

log = logging.getLogger(__name__)

_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    name        text PRIMARY KEY,
    applied_at  timestamptz NOT NULL DEFAULT now()
)
"""


def read_migrations(directory: Path) -> list[tuple[str, str]]:
    return [(p.name, p.read_text()) for p in sorted(directory.glob("*.sql"))]


async def migrate(conn: AsyncConnection[Any], directory: Path) -> list[str]:
    scripts = read_migrations(directory)  # small files, read once at start-up
    applied: list[str] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('schema_migrations'))")
        await conn.execute(_TABLE)
        done = {r[0] for r in await (await conn.execute("SELECT name FROM schema_migrations")).fetchall()}
        for name, script in scripts:
            if name in done:
                continue
            await conn.execute(script.encode())  # a trusted file of the repository
            await conn.execute("INSERT INTO schema_migrations (name) VALUES (%s)", (name,))
            applied.append(name)
            log.info("applied migration %s", name)
    return applied


async def check_idle(conn: AsyncConnection[Any]) -> None:
    """The pool's check before it lends a connection, without a round trip when nothing happened:
    an idle connection receives nothing unless the server ended it (a restart, a terminated
    backend: its error message and the end of the stream wait on the socket) or sent a notice. So
    a socket with nothing to read is a live connection; anything else gets the full check (an
    empty query: it fails on a dead connection, which the pool then replaces). The empty query on
    every lending was one round trip in each unit of work: ~0.1 ms of CPU per transaction, split
    between the service and its PostgreSQL backend."""
    if conn.closed or conn.broken:
        raise psycopg.OperationalError("the connection is closed")
    readable, _, _ = select.select([conn.pgconn.socket], [], [], 0)
    if readable:
        await AsyncConnectionPool.check_connection(conn)


def pool(conninfo: str, *, name: str, min_size: int = 2, max_size: int = 10) -> AsyncConnectionPool:
    DEPENDENCIES.watch(POSTGRES, conninfo)
    return AsyncConnectionPool(
        conninfo,
        min_size=min_size,
        max_size=max_size,
        name=name,
        open=False,
        # autocommit: a read is one round trip, not BEGIN + the query + COMMIT (three, and two
        # thirds of a profile read's database CPU); every write is in an explicit transaction
        # (the unit of work's ``conn.transaction()``), which autocommit does not change
        kwargs={"application_name": name, "connect_timeout": 5, "autocommit": True},
        check=check_idle,
        max_idle=300,
        reconnect_timeout=float("inf"),  # an outage of any length ends with the pool refilled
    )


async def open_database(
    conninfo: str | None,
    *,
    name: str,
    migrations: Path,
    max_size: int = 20,
    prepare: Callable[[AsyncConnection[Any]], Awaitable[None]] | None = None,
) -> AsyncConnectionPool:
    """A service's pool, opened, with ``prepare`` run (e.g. the event store's tables) and its
    migrations applied — what every service does first in its lifespan."""
    if not conninfo:
        raise SettingsError("DATABASE_URL is required")
    db = pool(conninfo, name=name, max_size=max_size)
    await open_pool(db, migrations, prepare)
    return db


async def open_pool(
    db: AsyncConnectionPool,
    migrations: Path | None,
    prepare: Callable[[AsyncConnection[Any]], Awaitable[None]] | None = None,
) -> None:
    """Opens a pool made by ``pool``, runs ``prepare`` and applies the migrations."""
    await db.open(wait=True, timeout=30)
    async with db.connection() as conn:
        if prepare is not None:
            await prepare(conn)
        if migrations is not None:
            await migrate(conn, migrations)
