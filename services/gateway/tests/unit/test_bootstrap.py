"""The gateway as its composition root builds it (bootstrap.build_app): the edge in front of the
framework, the proxy behind the mounts, the rate limiter failing closed — no server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from gateway import settings
from gateway.bootstrap import build_app


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient[Any]]:
    config = settings.load(
        {
            "GATEWAY_IDENTITY_SECRET": "s",
            "SYSTEM_EVENTS": "false",
            "REDIS_URL": "redis://127.0.0.1:1/0",  # nothing listens there
            "USERS_URL": "http://127.0.0.1:1",
        }
    )
    with TestClient(build_app(config)) as c:
        yield c


def test_the_gateways_own_routes_answer(client: TestClient[Any]) -> None:
    r = client.get("/health")
    assert r.status_code == 200
    assert r.headers["x-request-id"]


def test_without_redis_nothing_passes_unchecked(client: TestClient[Any]) -> None:
    r = client.get("/api/v1/user")
    assert (r.status_code, r.json()) == (503, {"status": "error", "message": "Service unavailable"})


def test_the_edge_is_in_front_of_everything(client: TestClient[Any]) -> None:
    refused = client.get("/api/v1/%2e%2e%2fmetrics")
    assert (refused.status_code, refused.json()["message"]) == (400, "Invalid path: encoded or backslash separators")
    unknown = client.get("/no-such-path")
    assert (unknown.status_code, unknown.json()) == (404, {"status": "error", "message": "Not found"})
    assert client.get("/metrics", headers={"x-real-ip": "203.0.113.9"}).status_code == 404
    assert client.request("TRACE", "/api/v1/user").status_code == 405
