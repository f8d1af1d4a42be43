"""The gateway itself (127.0.0.1:APP_PORT, no nginx in front) against hostile requests: bytes that
are not UTF-8 in any header, control bytes in paths and queries, internal endpoints asked for
through the proxy, methods it does not serve, and page cookies that no longer verify (#17)."""

from __future__ import annotations

import http.client
import json
import socket
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from redis.asyncio import Redis

from blazing_testing import stack_env
from blazing_testing.tokens import auth_signing_key, mint
from gateway.adapters.tokens import REVOKED_PREFIX

pytestmark = pytest.mark.integration
ENV = stack_env()
PORT = int(ENV["APP_PORT"])


def raw(
    target: str | bytes, method: str = "GET", headers: list[tuple[str, str | bytes]] | None = None
) -> tuple[int, http.client.HTTPMessage, bytes]:
    """One request to the gateway exactly as written (an HTTP library would refuse these bytes)."""
    target = target.encode() if isinstance(target, str) else target
    lines = [method.encode() + b" " + target + b" HTTP/1.1", b"Host: 127.0.0.1", b"Connection: close"]
    for name, value in headers or []:
        lines.append(name.encode() + b": " + (value.encode() if isinstance(value, str) else value))
    with socket.create_connection(("127.0.0.1", PORT), timeout=15) as sock:
        sock.sendall(b"\r\n".join(lines) + b"\r\n\r\n")
        response = http.client.HTTPResponse(sock, method=method)
        response.begin()
        return response.status, response.headers, response.read()


def error_json(status: int, headers: http.client.HTTPMessage, body: bytes) -> dict[str, Any]:
    assert headers["content-type"].startswith("application/json"), (status, headers["content-type"], body[:200])
    parsed: dict[str, Any] = json.loads(body)
    assert parsed["status"] == "error", parsed
    assert isinstance(parsed["message"], str), parsed
    assert headers["x-request-id"], "every answer carries X-Request-Id"
    return parsed


BAD = b"\xff\xfe\xc0\xae"


@pytest.mark.parametrize(
    "header",
    ["authorization", "x-request-id", "x-real-ip", "x-forwarded-proto", "x-forwarded-for", "cookie", "user-agent"],
)
@pytest.mark.parametrize("path", ["/health", "/api/v1/user", "/sign-in", "/ops/", "/api/docs"])
def test_non_utf8_header_values_are_4xx_json_never_500(header: str, path: str) -> None:
    value = b"Bearer " + BAD if header == "authorization" else BAD
    status, headers, body = raw(path, headers=[(header, value)])
    assert status < 500, (status, body[:200])
    if header == "x-request-id":  # ignored: the request gets a fresh id
        assert uuid.UUID(headers["x-request-id"])
    else:
        assert 400 <= status < 500
        error_json(status, headers, body)


@pytest.mark.parametrize("value", [b"\x01", b"a\x7fb", b"\x1b[31mred", b"x\x00y"])
def test_control_bytes_in_header_values_are_400(value: bytes) -> None:
    # refused by the gateway or already by uvicorn's parser: either way the one JSON shape
    status, headers, body = raw("/api/v1/user", headers=[("x-note", value)])
    assert status == 400, (status, body[:200])
    error_json(status, headers, body)


def test_a_request_id_in_latin1_or_unicode_is_replaced() -> None:
    for value in ("é".encode("latin-1"), "€".encode(), b"a b", b"x" * 129):
        status, headers, _ = raw("/health", headers=[("x-request-id", value)])
        assert status == 200
        assert uuid.UUID(headers["x-request-id"])


@pytest.mark.parametrize("value", [b"not-an-ip", b"1.2.3.4, 5.6.7.8", b"\xff", b"x" * 300])
def test_a_bad_x_real_ip_falls_back_to_the_peer(value: bytes) -> None:
    status, headers, body = raw("/api/v1/user", headers=[("x-real-ip", value)])
    assert status in (400, 401), (status, body[:200])
    error_json(status, headers, body)


@pytest.mark.parametrize(
    "target", [b"/api/v1/user/\x01", b"/api/v1/user?q=\x01", b"/api/v1/user?q=%00", b"/sign-in%00"]
)
def test_control_bytes_in_path_or_query_are_400(target: bytes) -> None:
    status, headers, body = raw(target)
    assert status == 400, (status, body[:200])
    error_json(status, headers, body)


@pytest.mark.parametrize(
    "path", ["/metrics", "/ready", "/schema", "/schema/openapi.json", "/api/v1/auth/..%2f..%2fmetrics"]
)
def test_internal_endpoints_are_refused_to_proxied_requests(path: str) -> None:
    # nginx sets X-Real-IP and X-Forwarded-For on everything it passes on: such a request came
    # from outside, whatever nginx's own location rules matched
    for proxied in ([("x-real-ip", "203.0.113.9")], [("x-forwarded-for", "203.0.113.9")]):
        status, headers, body = raw(path, headers=proxied)
        assert status in (400, 404), (path, status, body[:100])
        error_json(status, headers, body)


def test_prometheus_still_scrapes_the_gateway_directly() -> None:
    status, _, body = raw("/metrics")
    assert status == 200
    assert b"# TYPE" in body


@pytest.mark.parametrize("method", ["TRACE", "TRACK", "CONNECT", "PROPFIND", "DEBUG"])
@pytest.mark.parametrize("path", ["/health", "/api/v1/user", "/sign-in", "/ops/api/dead-letters"])
def test_methods_the_gateway_does_not_serve_are_405_json(method: str, path: str) -> None:
    # methods uvicorn's parser does not know are a malformed request (400) before the gateway
    # sees them; those it knows the gateway refuses (405)
    status, headers, body = raw(path, method)
    assert status in (400, 405), (status, body[:200])
    error_json(status, headers, body)
    if status == 405:
        assert "GET" in headers["allow"]


def test_duplicate_authorization_is_refused() -> None:
    status, headers, body = raw(
        "/api/v1/user", headers=[("authorization", "Bearer a.b.c"), ("authorization", "Bearer d.e.f")]
    )
    assert status == 400
    error_json(status, headers, body)


def test_path_and_query_cannot_be_confused_by_encoding() -> None:
    # %3F is a character of the path, not the start of a query: /api/v1/user%3Fx is no route
    status, headers, body = raw("/api/v1/user%3Fx=1")
    assert status in (401, 404), (status, body[:200])
    error_json(status, headers, body)


# ----------------------------------------------------------------------------- page cookies (#17.5, #17.11)


async def minted(**overrides: Any) -> tuple[str, uuid.UUID]:
    """An access token signed with auth's current key: (token, its session id)."""
    sid = uuid.uuid4()
    return mint(*await auth_signing_key(), sid=str(sid), **overrides), sid


async def revoke(sid: uuid.UUID) -> None:
    redis = Redis(
        host=ENV["REDIS_HOST"],
        port=int(ENV["REDIS_PORT"]),
        username=ENV["REDIS_USER"],
        password=ENV["REDIS_PASSWORD"],
        db=int(ENV["REDIS_DB"]),
    )
    try:
        await redis.set(f"{REVOKED_PREFIX}{sid}", "1", ex=300)
    finally:
        await redis.aclose()


@pytest.mark.parametrize(
    ("cookie", "path"), [("bs_session", "/sign-in"), ("bs_session", "/"), ("bs_ops", "/ops/sign-in")]
)
async def test_a_revoked_page_cookie_is_no_identity_not_a_401(cookie: str, path: str) -> None:
    token, sid = await minted()
    await revoke(sid)
    status, headers, body = raw(path, headers=[("cookie", f"{cookie}={token}")])
    assert status != 401, body[:200]
    assert status < 500
    assert not headers.get("content-type", "").startswith("application/json"), body[:200]


@pytest.mark.parametrize(("cookie", "path"), [("bs_session", "/sign-in"), ("bs_ops", "/ops/sign-in")])
async def test_a_page_cookie_that_does_not_verify_is_no_identity(cookie: str, path: str) -> None:
    expired, _ = await minted(exp=int(datetime.now(UTC).timestamp()) - 60)
    for token in (expired, "not.a.jwt", "x" * 4000):
        status, _, body = raw(path, headers=[("cookie", f"{cookie}={token}")])
        assert status != 401, body[:200]
        assert status < 500


async def test_a_revoked_bearer_token_is_still_401_on_pages() -> None:
    token, sid = await minted()
    await revoke(sid)
    status, headers, body = raw("/sign-in", headers=[("authorization", f"Bearer {token}")])
    assert status == 401
    error_json(status, headers, body)


async def test_the_ops_api_takes_bearer_tokens_only_never_the_console_cookie() -> None:
    token, _ = await minted()
    with_bearer = raw("/ops/api/dead-letters?limit=1", headers=[("authorization", f"Bearer {token}")])
    assert with_bearer[0] == 200, with_bearer[2][:200]
    for path in ("/ops/api/dead-letters?limit=1", "/ops/api/groups", "/ops/api/replays"):
        status, headers, body = raw(path, headers=[("cookie", f"bs_ops={token}")])
        assert status == 401, (path, status, body[:200])
        error_json(status, headers, body)


def test_a_websocket_upgrade_at_the_gateway_is_refused_in_json() -> None:
    upgrade = [
        ("connection", "Upgrade"),
        ("upgrade", "websocket"),
        ("sec-websocket-version", "13"),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ]
    status, headers, body = raw("/api/v1/user", headers=upgrade)
    assert status == 400, (status, body[:200])
    error_json(status, headers, body)
