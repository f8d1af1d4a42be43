from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from psycopg import AsyncConnection

from blazing_es import install
from blazing_testing import stack_env
from blazing_testing.postgres import scratch_database


@pytest.fixture(scope="session")
async def es_dsn() -> AsyncIterator[str]:
    """A database of its own with the event-sourcing tables, for the whole session."""
    async with scratch_database(stack_env(), "es_test") as dsn:
        async with await AsyncConnection.connect(dsn) as conn:
            await install(conn)
            await install(conn)  # idempotent
        yield dsn


@pytest.fixture
async def conn(es_dsn: str) -> AsyncIterator[AsyncConnection[object]]:
    async with await AsyncConnection.connect(es_dsn) as connection:
        yield connection
