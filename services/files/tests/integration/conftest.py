"""What the files service's integration tests share: two fresh, signed-in users (the edge client
is the blazing_testing plugin's ``edge``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from blazing_testing import edge_client, stack_env
from blazing_testing.accounts import activated_account

AUTH = f"http://127.0.0.1:{stack_env()['AUTH_PORT']}"


class User:
    def __init__(self, edge: httpx.AsyncClient, session: dict[str, Any]) -> None:
        self.edge = edge
        self.id = session["user"]["id"]
        self.headers = {"authorization": f"Bearer {session['access_token']}"}

    async def upload(self, kind: str, name: str, data: bytes, **kwargs: Any) -> httpx.Response:
        return await self.edge.post(
            f"/api/v1/upload/{kind}", files={"file": (name, data)}, headers=self.headers, **kwargs
        )

    async def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await self.edge.request(method, path, headers={**self.headers, **kwargs.pop("headers", {})}, **kwargs)


async def two_users(edge: httpx.AsyncClient) -> tuple[User, User]:
    async with httpx.AsyncClient(timeout=30) as client:
        _, a = await activated_account(client, base=AUTH, prefix="files-a")
        _, b = await activated_account(client, base=AUTH, prefix="files-b")
    return User(edge, a), User(edge, b)


@pytest.fixture
async def users(edge: httpx.AsyncClient) -> tuple[User, User]:
    """Two fresh users."""
    return await two_users(edge)


@pytest.fixture(scope="module")
async def shared_users() -> AsyncIterator[tuple[User, User]]:
    """Two users for a whole module (for tests that need no fresh account)."""
    async with edge_client(timeout=120) as client:
        yield await two_users(client)
