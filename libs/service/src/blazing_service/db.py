"""A service's database: the connection pool and its SQL migrations.

Migrations are ``services/<name>/migrations/NNNN_title.sql``, applied in order, each once, in its
own transaction, under an advisory lock (several instances may start together).

The pool survives a PostgreSQL restart without failing a request: it checks a connection before it
lends it (``check``: an empty round trip, ~0.1 ms here) and replaces a dead one, instead of handing
it to a request that fails with "server closed the connection" (every pooled connection once, after
a restart); idle connections are recycled (``max_idle``), and a pool that cannot reach the server
keeps trying (``reconnect_timeout``) rather than giving up.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

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


def pool(conninfo: str, *, name: str, min_size: int = 2, max_size: int = 10) -> AsyncConnectionPool:
    DEPENDENCIES.watch(POSTGRES, conninfo)
    return AsyncConnectionPool(
        conninfo,
        min_size=min_size,
        max_size=max_size,
        name=name,
        open=False,
        kwargs={"application_name": name, "connect_timeout": 5},
        check=AsyncConnectionPool.check_connection,
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
