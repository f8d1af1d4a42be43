"""The gateway as its composition root builds it (bootstrap.build_app): the edge in front of the
framework, the proxy behind the mounts, the rate limiter failing closed — no server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from blazing_service.http import DRAINING
from gateway import settings
from gateway.bootstrap import build_app


def offline(**environ: str) -> TestClient[Any]:
    """The gateway with nothing behind it: no Redis (nothing listens there), no users service."""
    base = {"GATEWAY_IDENTITY_SECRET": "s", "SYSTEM_EVENTS": "false", "REDIS_URL": "redis://127.0.0.1:1/0"}
    return TestClient(build_app(settings.load({**base, "USERS_URL": "http://127.0.0.1:1", **environ})))


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient[Any]]:
    with offline() as c:
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


def test_the_api_hot_path_counts_its_requests_by_route(client: TestClient[Any]) -> None:
    """/api/v1 requests skip the framework (entrypoints/direct.py) and still count in the HTTP
    metrics, by the route's prefix, with their request id in the answer."""
    r = client.get("/api/v1/transactions/42", headers={"x-request-id": "hot-path-1"})
    assert (r.status_code, r.headers["x-request-id"]) == (503, "hot-path-1")
    metrics = client.get("/metrics").text
    labels = 'app_name="gateway",method="GET",path="/api/v1/transactions",status_code="503"'
    assert f"http_requests_total{{{labels}}} 1.0" in metrics
    assert f"http_requests_error_total{{{labels}}} 1.0" in metrics
    assert f"http_request_duration_seconds_count{{{labels}}} 1.0" in metrics


def test_cross_origin_and_unreadable_requests_still_go_through_the_framework() -> None:
    with offline(GATEWAY_CORS_ORIGINS="https://app.example.org") as c:
        preflight = c.options(
            "/api/v1/user",
            headers={"origin": "https://app.example.org", "access-control-request-method": "GET"},
        )
        assert preflight.status_code == 204
        assert preflight.headers["access-control-allow-origin"] == "https://app.example.org"
        cross = c.get("/api/v1/user", headers={"origin": "https://app.example.org"})
        assert (cross.status_code, cross.headers["access-control-allow-origin"]) == (503, "https://app.example.org")
        refused = c.get("/api/v1/user?q=%00")
        assert refused.status_code == 400
        assert refused.json()["status"] == "error"


def test_a_draining_gateway_fails_its_health_and_closes_each_connection_after_its_answer() -> None:
    """Before a rolling deploy stops it: nginx then holds no kept-alive connection to it that the
    stop could cut under a request (a refused connection goes to the other gateway)."""
    with offline() as c:
        assert "connection" not in c.get("/health").headers
        setattr(c.app.state, DRAINING, True)
        r = c.get("/health")
        assert (r.status_code, r.headers["connection"]) == (503, "close")
        assert c.get("/api/v1/user").headers["connection"] == "close"
