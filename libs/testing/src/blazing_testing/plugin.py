"""The fixtures every Blazing Sun test suite shares, loaded by pytest itself (the ``pytest11``
entry point of blazing-testing): declare nothing of these again in a test module."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import httpx
import pytest

from blazing_testing.stack import StackEnv, edge_client, stack_env

if TYPE_CHECKING:
    from psycopg_pool import AsyncConnectionPool

    from blazing_commands import CommandBus


@pytest.fixture(scope="session")
def stack() -> StackEnv:
    """The local stack's configuration, as `make up` reads it."""
    return stack_env()


@pytest.fixture
async def edge() -> AsyncIterator[httpx.AsyncClient]:
    """A client of https://localhost (nginx → gateway) from a loopback address of its own, so that
    it is its own client for the per-client rate limits."""
    async with edge_client(timeout=120) as client:
        yield client


@pytest.fixture
async def bus() -> AsyncIterator[CommandBus]:
    """A CommandBus on the stack's RabbitMQ (imported here only when a test asks for it)."""
    from blazing_testing.commands import command_bus  # noqa: PLC0415 - keeps RabbitMQ's client out of unit runs

    async with command_bus() as connected:
        yield connected


@pytest.fixture(scope="module")
async def pool(request: pytest.FixtureRequest) -> AsyncIterator[AsyncConnectionPool]:
    """A connection pool on the database of the service whose tests ask for it (the NAME of
    services/NAME/tests/…), for the adapters' contract tests."""
    from psycopg_pool import AsyncConnectionPool  # noqa: PLC0415 - only the adapters' tests need it

    parts = request.path.parts
    if "services" not in parts:
        raise pytest.UsageError(f"{request.path}: the pool fixture serves the tests of a service")
    service = parts[parts.index("services") + 1]
    async with AsyncConnectionPool(stack_env().database_url(service), min_size=1, max_size=4, open=False) as opened:
        yield opened


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "serial: runs alone, after the parallel tests (faults, timing, load)")
