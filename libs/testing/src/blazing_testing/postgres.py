"""Throw-away databases for library tests (services use their own databases)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg
from psycopg import sql

from blazing_testing.stack import StackEnv


@asynccontextmanager
async def scratch_database(env: StackEnv, prefix: str) -> AsyncIterator[str]:
    """Creates an empty database owned by the admin role; yields its URL; drops it afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = env.admin_database_url
    async with await psycopg.AsyncConnection.connect(admin, autocommit=True) as conn:
        await conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield admin.rsplit("/", 1)[0] + "/" + name
    finally:
        async with await psycopg.AsyncConnection.connect(admin, autocommit=True) as conn:
            await conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
