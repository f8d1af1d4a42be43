"""The edge through https://localhost: TLS, headers, routing, token checks, identity stripping,
rate limits and upstream failures (nginx → gateway → services)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import psycopg
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from blazing_service.identity import Identity, sign
from blazing_testing import control, edge_client, stack_env

pytestmark = pytest.mark.integration
ENV = stack_env()
CERT = str(ENV.var / "nginx/ssl/server.crt")


@pytest.fixture
async def edge() -> AsyncIterator[httpx.AsyncClient]:
    async with edge_client() as client:
        yield client


def handshake(version: ssl.TLSVersion) -> str:
    context = ssl.create_default_context(cafile=CERT)
    context.set_ciphers("DEFAULT:@SECLEVEL=0")  # let the client offer old protocols: nginx must refuse
    context.minimum_version = context.maximum_version = version
    with socket.create_connection(("127.0.0.1", 443), timeout=5) as raw:
        try:
            with context.wrap_socket(raw, server_hostname="localhost") as tls:
                return str(tls.version())
        except ssl.SSLError as exc:
            return f"refused: {exc.reason}"


@pytest.mark.parametrize(
    ("version", "expected"),
    [(ssl.TLSVersion.TLSv1_2, "TLSv1.2"), (ssl.TLSVersion.TLSv1_3, "TLSv1.3")],
)
def test_modern_tls_works(version: ssl.TLSVersion, expected: str) -> None:
    assert handshake(version) == expected


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1])
def test_old_tls_is_refused(version: ssl.TLSVersion) -> None:
    # the client offers the old protocol; nginx answers with a protocol-version alert
    assert handshake(version) == "refused: TLSV1_ALERT_PROTOCOL_VERSION"


async def test_security_headers_request_id_and_http2(edge: httpx.AsyncClient) -> None:
    response = await edge.get("/api/v1/user", headers={"x-request-id": "edge-test-1"})
    assert response.status_code == 401
    assert response.headers["x-request-id"] == "edge-test-1"
    assert response.headers["strict-transport-security"].startswith("max-age=")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert "referrer-policy" in response.headers
    assert uuid.UUID((await edge.get("/api/v1/user")).headers["x-request-id"])
    context = ssl.create_default_context(cafile=CERT)
    async with httpx.AsyncClient(http2=True, verify=context) as h2:
        assert (await h2.get("https://localhost/health")).http_version == "HTTP/2"


@pytest.mark.parametrize(
    ("method", "path", "not_expected"),
    [
        ("POST", "/api/v1/auth/sign-up", 404),
        ("POST", "/api/v1/auth/sign-in", 404),
        ("POST", "/api/v1/auth/refresh", 404),
        ("POST", "/api/v1/auth/sign-out", 404),
        ("GET", "/api/v1/auth/sessions", 404),
        ("POST", "/api/v1/auth/sign-out-all", 404),
        ("POST", "/api/v1/account/activate-account", 404),
        ("POST", "/api/v1/account/resend-activation", 404),
        ("POST", "/api/v1/account/forgot-password", 404),
        ("POST", "/api/v1/account/verify-hash", 404),
        ("POST", "/api/v1/account/reset-password", 404),
        ("POST", "/api/v1/account/set-password-when-needed", 404),
        ("POST", "/api/v1/password/change-password", 404),
        ("POST", "/api/v1/password/verify-password-change", 404),
        ("GET", "/.well-known/jwks.json", 404),
        ("GET", "/api/v1/user", 404),
        ("PATCH", "/api/v1/user", 404),
        ("PUT", "/api/v1/user", 404),
        ("POST", "/api/v1/user", 404),
        ("GET", "/api/v1/admin/users", 404),
    ],
)
async def test_every_public_route_is_reachable(
    edge: httpx.AsyncClient, method: str, path: str, not_expected: int
) -> None:
    response = await edge.request(method, path, json={})
    assert response.status_code != not_expected, response.text
    assert response.status_code < 500
    body = response.json()
    assert "keys" in body or body["status"] in ("success", "error")


async def test_unknown_routes_are_json_404(edge: httpx.AsyncClient) -> None:
    response = await edge.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.json() == {"status": "error", "message": "Not found"}


def mint(kid: str, key: Any, **overrides: Any) -> str:
    now = datetime.now(UTC)
    claims = {
        "sub": str(uuid.uuid4()),
        "sid": str(uuid.uuid4()),
        "jti": uuid.uuid4().hex,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=5)).timestamp()),
        "iss": ENV["PUBLIC_BASE_URL"],
        "aud": "blazing-sun",
        "permissions": 100,
        **overrides,
    }
    return jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": kid})


async def auth_signing_key() -> tuple[str, Any]:
    async with await psycopg.AsyncConnection.connect(ENV.database_url("auth")) as conn:
        row = await (
            await conn.execute("SELECT kid, private_pem FROM signing_keys ORDER BY created_at DESC LIMIT 1")
        ).fetchone()
    assert row is not None
    return row[0], serialization.load_pem_private_key(row[1].encode(), password=None)


async def test_tokens_are_checked(edge: httpx.AsyncClient) -> None:
    kid, key = await auth_signing_key()

    async def status(token: str) -> int:
        return (await edge.get("/api/v1/user", headers={"authorization": f"Bearer {token}"})).status_code

    # a well-signed token of a user the users service does not know: passes the gateway, 404 there
    assert await status(mint(kid, key)) == 404
    assert await status(mint(kid, key, exp=int(time.time()) - 60)) == 401, "expired"
    assert await status(mint(kid, Ed25519PrivateKey.generate())) == 401, "signed with a foreign key"
    assert await status(mint("unknown-kid", key)) == 401, "unknown key id"
    assert await status(mint(kid, key, aud="someone-else")) == 401, "wrong audience"
    assert await status(mint(kid, key, iss="https://evil.example")) == 401, "wrong issuer"
    assert await status("not.a.jwt") == 401
    assert (await edge.get("/api/v1/user", headers={"authorization": "Basic Zm9vOmJhcg=="})).status_code == 401


async def test_identity_headers_from_clients_are_dropped(edge: httpx.AsyncClient) -> None:
    # even correctly signed identity headers do not pass the gateway: only it makes them
    forged = sign(Identity(user_id=uuid.uuid4(), permissions=100), ENV["GATEWAY_IDENTITY_SECRET"])
    assert (await edge.get("/api/v1/admin/users", headers=forged)).status_code == 401


async def test_forged_identity_straight_to_a_service_is_refused() -> None:
    forged = sign(Identity(user_id=uuid.uuid4(), permissions=100), "guessed-secret")
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{ENV['USERS_PORT']}") as direct:
        assert (await direct.get("/api/v1/admin/users", headers=forged)).status_code == 401
        headers = {"x-identity": "eyJ1c2VyX2lkIjoi", "x-identity-signature": "0" * 64}
        assert (await direct.get("/api/v1/user", headers=headers)).status_code == 401


async def test_strict_rate_limit_per_client() -> None:
    limit = int(ENV["GATEWAY_STRICT_RATE_LIMIT"])
    window = int(ENV["GATEWAY_RATE_WINDOW_SECONDS"])
    if time.time() % window > window - 10:  # do not straddle a window boundary
        await asyncio.sleep(window - time.time() % window + 0.5)
    body = {"email": f"nobody-{uuid.uuid4().hex}@example.org", "password": "Wr0ng!Passw0rd"}
    async with edge_client() as one, edge_client() as other:
        statuses = [(await one.post("/api/v1/auth/sign-in", json=body)).status_code for _ in range(limit)]
        assert set(statuses) == {401}
        blocked = await one.post("/api/v1/auth/sign-in", json=body)
        assert blocked.status_code == 429
        assert 1 <= int(blocked.headers["retry-after"]) <= window
        assert blocked.json() == {"status": "error", "message": "Too many requests"}
        assert (await other.post("/api/v1/auth/sign-in", json=body)).status_code == 401
        # the strict limit is per group of sensitive routes; other routes are unaffected
        assert (await one.get("/api/v1/user")).status_code == 401


@contextlib.contextmanager
def users_replaced_by(server: socket.socket | None) -> Iterator[None]:
    control("stop", "svc-users")
    try:
        yield
    finally:
        if server is not None:
            server.close()
        control("start", "svc-users")


async def test_upstream_down_is_503_and_slow_is_504(edge: httpx.AsyncClient) -> None:
    with users_replaced_by(None):
        start = time.monotonic()
        down = await edge.get("/api/v1/user")
        assert down.status_code == 503
        assert down.json() == {"status": "error", "message": "Service unavailable"}
        assert time.monotonic() - start < 5

    silent = socket.socket()
    silent.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    with users_replaced_by(silent):
        silent.bind(("127.0.0.1", int(ENV["USERS_PORT"])))
        silent.listen(16)  # accepts connections, never answers
        start = time.monotonic()
        slow = await edge.get("/api/v1/user")
        elapsed = time.monotonic() - start
        assert slow.status_code == 504
        assert slow.json()["status"] == "error"
        assert elapsed < float(ENV["GATEWAY_UPSTREAM_TIMEOUT_SECONDS"]) + 5


async def test_merged_api_docs(edge: httpx.AsyncClient) -> None:
    doc = (await edge.get("/api/docs/openapi.json")).json()
    assert "/api/v1/auth/sign-in" in doc["paths"]
    assert "/api/v1/user" in doc["paths"]
    page = await edge.get("/api/docs")
    assert page.headers["content-type"].startswith("text/html")
    assert "/api/v1/auth/sign-up" in page.text


async def test_cors_from_configuration(edge: httpx.AsyncClient) -> None:
    allowed = ENV["GATEWAY_CORS_ORIGINS"].split(",")[0].strip()
    preflight = await edge.options(
        "/api/v1/user",
        headers={
            "origin": allowed,
            "access-control-request-method": "GET",
            "access-control-request-headers": "authorization",
        },
    )
    assert preflight.status_code in (200, 204)
    assert preflight.headers["access-control-allow-origin"] == allowed
    other = await edge.options(
        "/api/v1/user", headers={"origin": "https://evil.example", "access-control-request-method": "GET"}
    )
    assert other.headers.get("access-control-allow-origin") != "https://evil.example"
