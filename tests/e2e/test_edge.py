"""The edge through https://localhost: TLS, headers, routing, token checks, identity stripping,
rate limits and upstream failures (nginx → gateway → services)."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import random
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from blazing_service.identity import Identity, sign
from blazing_testing import control, edge_client, stack_env
from blazing_testing.stack import free_port
from blazing_testing.tokens import auth_signing_key, mint

pytestmark = pytest.mark.integration
ENV = stack_env()
CERT = str(ENV.var / "nginx/ssl/server.crt")


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
        assert blocked.headers["x-request-id"]
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
        assert down.headers["x-request-id"]
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
        assert slow.headers["x-request-id"]
        assert elapsed < float(ENV["GATEWAY_UPSTREAM_TIMEOUT_SECONDS"]) + 5


async def test_merged_api_docs(edge: httpx.AsyncClient) -> None:
    doc = (await edge.get("/api/docs/openapi.json")).json()
    assert "/api/v1/auth/sign-in" in doc["paths"]
    assert "/api/v1/user" in doc["paths"]
    page = await edge.get("/api/docs")
    assert page.headers["content-type"].startswith("text/html")
    assert "/api/v1/auth/sign-up" in page.text
    # the one HTML page without a policy of its own (black-box review): it runs and loads nothing
    assert page.headers["content-security-policy"].startswith("default-src 'none'")


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


# ----------------------------------------------------------------------------- hostile input (#17)
# Raw HTTP/1.1 over TLS: an HTTP client library would normalise the paths and refuse the bytes
# these tests must send as they are.


def raw(
    target: str | bytes,
    method: str = "GET",
    headers: dict[str, str | bytes] | None = None,
    body: bytes = b"",
    *,
    source: str | None = None,
    tls: bool = True,
    port: int = 443,
) -> tuple[int, http.client.HTTPMessage, bytes]:
    """One request exactly as written, through https://localhost (or http on ``port``)."""
    target = target.encode() if isinstance(target, str) else target
    headers = {"host": "localhost", **(headers or {})}
    lines = [method.encode() + b" " + target + b" HTTP/1.1", b"Connection: close"]
    for name, value in headers.items():
        lines.append(name.encode() + b": " + (value.encode() if isinstance(value, str) else value))
    if body:
        lines.append(b"Content-Length: " + str(len(body)).encode())
    sock = socket.create_connection(("127.0.0.1", port), timeout=15, source_address=(source or "127.0.0.1", 0))
    if tls:
        sock = ssl.create_default_context(cafile=CERT).wrap_socket(sock, server_hostname="localhost")
    with sock:
        sock.sendall(b"\r\n".join(lines) + b"\r\n\r\n" + body)
        response = http.client.HTTPResponse(sock, method=method)  # type: ignore[arg-type]
        response.begin()
        return response.status, response.headers, response.read()


def client_address() -> str:
    """A loopback address of its own: a client of its own for the per-client rate limits."""
    return f"127.{random.randint(1, 254)}.{random.randint(0, 255)}.{random.randint(1, 254)}"


def assert_error_json(status: int, headers: http.client.HTTPMessage, body: bytes) -> dict[str, Any]:
    assert headers["content-type"].startswith("application/json"), (status, headers["content-type"], body[:200])
    parsed: dict[str, Any] = json.loads(body)
    assert parsed["status"] == "error", parsed
    assert isinstance(parsed["message"], str), parsed
    assert parsed["message"], parsed
    assert headers["x-request-id"], "every response carries X-Request-Id"
    return parsed


INTERNAL_LEAKS = (b"python_gc_objects", b"openapi", b'"checks"', b"# HELP", b"# TYPE")

# every internal endpoint of the gateway and (through a routed prefix and dot segments) of each service
INTERNAL_PATHS = [
    "/metrics",
    "/metrics/",
    "//metrics",
    "/./metrics",
    "/ready",
    "/ready/",
    "/schema",
    "/schema/",
    "/schema/openapi.json",
    "/schema/openapi.yaml",
    "/api/v1/auth/%2e%2e/%2e%2e/%2e%2e/metrics",
    "/api/v1/auth/%2E%2E/%2E%2E/%2E%2E/metrics",
    "/api/v1/auth/.%2e/.%2e/%2e./metrics",
    "/api/v1/auth/..%2f..%2f..%2fmetrics",
    "/api/v1/auth/..%2F..%2F..%2Fmetrics",
    "/api/v1/auth/%2e%2e%2f%2e%2e%2f%2e%2e%2fmetrics",
    "/api/v1/auth/%252e%252e/%252e%252e/%252e%252e/metrics",
    "/api/v1/auth/%c0%ae%c0%ae/%c0%ae%c0%ae/%c0%ae%c0%ae/metrics",
    "/api/v1/auth/..\\..\\..\\metrics",
    "/api/v1/auth/..%5c..%5c..%5cmetrics",
    "/api/v1/auth/..;/..;/..;/metrics",
    "/api/v1/auth/%2e%2e/%2e%2e/%2e%2e/metrics;x=1",
    "/api/v1/auth/%2e%2e/%2e%2e/%2e%2e/metrics.",
    "/api/v1/auth/%2e%2e/%2e%2e/%2e%2e/metrics%00",
    "/api/v1/auth/%2e%2e/%2e%2e/%2e%2e/metrics%3Fx",
    "/api/v1/user/%2e%2e/%2e%2e/%2e%2e/ready",
    "/api/v1/transactions/%2e%2e/%2e%2e/%2e%2e/schema/openapi.json",
    "/api/v1/upload/%2e%2e/%2e%2e/%2e%2e/metrics",
    "/ops/%2e%2e/metrics",
    "/ops/api/%2e%2e/%2e%2e/schema",
    "/sign-in/%2e%2e/ready",
    "/static/%2e%2e/metrics",
    "/.well-known/%2e%2e/metrics",
    "/api/v1/auth/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/metrics",
    "/api/v1/auth/%2e%2e//%2e%2e//%2e%2e//metrics",
]


@pytest.mark.parametrize("path", INTERNAL_PATHS)
def test_internal_endpoints_are_never_reachable_through_nginx(path: str) -> None:
    status, headers, body = raw(path)
    assert status in (400, 404), (status, body[:200])
    assert_error_json(status, headers, body)
    assert not any(leak in body for leak in INTERNAL_LEAKS), body[:200]


def test_health_and_docs_stay_public() -> None:
    assert raw("/health")[0] == 200
    assert raw("/api/docs")[0] == 200
    assert raw("/api/docs/openapi.json")[0] == 200


FORGOT_VARIANTS = [
    "/api/v1/account/x/%2e%2e/forgot-password",
    "/api/v1/account/x/%2E%2E/forgot-password",
    "/api/v1/account/./forgot-password",
    "/api/v1/account/%2e/forgot-password",
    "/api/v1/account//forgot-password",
    "/api/v1/account/forgot-password/",
    "/api/v1/account/forgot%2Dpassword",
    "/api/v1/user/%2e%2e/account/forgot-password",
    "/api/v1/account/forgot-password/x/..",
]


async def test_encoded_paths_count_against_the_strict_rate_limit() -> None:
    """#17.3: `/api/v1/account/x/%2e%2e/forgot-password` reached forgot-password past the strict
    limit. Every spelling of a strict route is the strict route: the limit applies to all of them
    together, and past it nothing reaches auth."""
    limit = int(ENV["GATEWAY_STRICT_RATE_LIMIT"])
    window = int(ENV["GATEWAY_RATE_WINDOW_SECONDS"])
    if time.time() % window > window - 15:  # do not straddle a window boundary
        await asyncio.sleep(window - time.time() % window + 0.5)
    source = client_address()
    body = json.dumps({"email": f"nobody-{uuid.uuid4().hex}@example.org"}).encode()
    headers = {"content-type": "application/json"}
    statuses = []
    for i in range(limit + 5):
        path = FORGOT_VARIANTS[i % len(FORGOT_VARIANTS)]
        status, response_headers, answer = await asyncio.to_thread(raw, path, "POST", headers, body, source=source)
        if status >= 400:
            assert_error_json(status, response_headers, answer)
        statuses.append(status)
    assert all(s < 300 for s in statuses[:limit]), str(statuses)  # each spelling is forgot-password
    assert set(statuses[limit:]) == {429}, str(statuses)


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/auth/sign-in%00",
        "/api/v1/user%00/x",
        "/api/v1/user/%01",
        "/api/v1/user/%7f",
        "/api/v1/user/%0d%0aX-Injected:%201",
        "/api/v1/user/%ff%fe",
        "/api/v1/user/%c3%28",
        "/api/v1/user/%e2%82",
        "/api/v1/user/%f8%88%80%80%80",
        "/api/v1/user/%zz",
        "/api/v1/user/%",
        "/api/v1/user/%25",
        "/sign-in%00",
        "/ops/%00",
    ],
)
def test_control_and_invalid_bytes_in_paths_are_400_json(path: str) -> None:
    status, headers, body = raw(path)
    assert status == 400, (status, body[:200])
    assert_error_json(status, headers, body)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("q=%00", "q"),
        ("q=a%0Ab", "q"),
        ("limit=1&q=%1b[31m", "q"),
        ("offset=%7f", "offset"),
        ("q=%ff", "q"),
        ("q=%c0%ae", "q"),
        ("%00=1", "query"),
    ],
)
def test_control_and_invalid_bytes_in_queries_are_400_json_naming_the_parameter(query: str, field: str) -> None:
    for path in ("/api/v1/transactions", "/ops/api/dead-letters", "/transactions", "/health"):
        status, headers, body = raw(f"{path}?{query}")
        assert status == 400, (path, status, body[:200])
        parsed = assert_error_json(status, headers, body)
        assert field in parsed["errors"], parsed


@pytest.mark.parametrize("header", ["authorization", "x-request-id", "cookie", "user-agent", "accept", "x-anything"])
@pytest.mark.parametrize("path", ["/health", "/api/v1/user", "/sign-in", "/ops/"])
def test_non_utf8_header_bytes_are_never_a_500(header: str, path: str) -> None:
    value = b"Bearer \xff\xfe\xc0\xae" if header == "authorization" else b"\xff\xfe\xc0\xae"
    status, headers, body = raw(path, headers={header: value})
    assert status < 500, (status, body[:200])
    if header == "x-request-id":  # ignored: a fresh id instead
        assert uuid.UUID(headers["x-request-id"])
    else:
        assert 400 <= status < 500, status
        assert_error_json(status, headers, body)


@pytest.mark.parametrize("value", [b"a\x01b", b"a\x7fb", b"\x1b[31mred", b"a\x00b", b"a\x0bb"])
@pytest.mark.parametrize("path", ["/health", "/api/v1/user", "/sign-in"])
def test_control_bytes_in_header_values_are_400_json(value: bytes, path: str) -> None:
    status, headers, body = raw(path, headers={"x-note": value})
    assert status == 400, (status, body[:200])
    assert_error_json(status, headers, body)


@pytest.mark.parametrize(
    ("request_id", "kept"),
    [("edge-ok-1", True), ("a" * 129, False), ("has space", False), ("€uro", False), ("", False)],
)
def test_request_ids_are_kept_only_when_they_are_plain_ascii(request_id: str, kept: bool) -> None:
    status, headers, _ = raw("/health", headers={"x-request-id": request_id})
    assert status == 200
    if kept:
        assert headers["x-request-id"] == request_id
    else:
        assert uuid.UUID(headers["x-request-id"])


@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "FOO", "PROPFIND", "TRACK", "DEBUG"])
@pytest.mark.parametrize("path", ["/health", "/api/v1/user", "/sign-in", "/nope"])
def test_other_methods_are_405_json(method: str, path: str) -> None:
    status, headers, body = raw(path, method)
    assert status == 405, (status, body[:200])
    assert_error_json(status, headers, body)
    assert "GET" in headers["allow"]


@pytest.mark.parametrize(("path", "expected"), [("/health", 200), ("/api/v1/user", 401), ("/sign-in", 200)])
def test_head_answers_like_get_without_a_body(path: str, expected: int) -> None:
    status, headers, body = raw(path, "HEAD")
    assert status == expected
    assert body == b""
    assert headers["x-request-id"]


def test_nginx_errors_are_json() -> None:
    # 413: a body larger than the upload limit
    status, headers, body = raw("/api/v1/upload/public", "POST", {"content-length": "999999999999"})
    assert status == 413
    assert_error_json(status, headers, body)
    # 414: a request line longer than nginx's buffers
    status, headers, body = raw("/api/v1/user?x=" + "a" * 20_000)
    assert status == 414
    assert_error_json(status, headers, body)
    # 400: one header line too large (494 inside nginx), and too many of them
    status, headers, body = raw("/api/v1/user", headers={"x-big": "a" * 20_000})
    assert status in (400, 431)
    assert_error_json(status, headers, body)
    status, headers, body = raw("/api/v1/user", headers={f"x-h{i}": "b" * 7000 for i in range(8)})
    assert status in (400, 431)
    assert_error_json(status, headers, body)
    # 400: both a length and chunked (a smuggling attempt), and a bad chunk
    status, headers, body = raw(
        "/api/v1/user", "POST", {"transfer-encoding": "chunked", "content-length": "3"}, b"0\r\n\r\n"
    )
    assert status == 400
    assert_error_json(status, headers, body)
    # 501: an unknown transfer coding
    status, headers, body = raw("/api/v1/user", "POST", {"transfer-encoding": "gzip, chunked"})
    assert status in (400, 501)
    assert_error_json(status, headers, body)
    # 400: plain HTTP on the TLS port (497 inside nginx)
    status, headers, body = raw("/api/v1/user", tls=False)
    assert status == 400
    assert_error_json(status, headers, body)


def test_http_redirects_to_the_configured_host_not_the_host_header() -> None:
    public = ENV["PUBLIC_BASE_URL"].rstrip("/")
    for host in ("evil.example", "localhost.evil.example", "evil.example:443"):
        status, headers, _ = raw("/sign-in?x=1", headers={"host": host}, tls=False, port=80)
        assert status == 301
        assert headers["location"] == f"{public}/sign-in?x=1", headers["location"]


async def test_refused_cors_preflight_is_json(edge: httpx.AsyncClient) -> None:
    response = await edge.options(
        "/api/v1/user", headers={"origin": "https://evil.example", "access-control-request-method": "GET"}
    )
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["status"] == "error"
    assert response.headers["x-request-id"]
    assert response.headers.get("access-control-allow-origin") is None


async def test_every_gateway_answer_carries_a_request_id(edge: httpx.AsyncClient) -> None:
    for path in ("/api/v1/no-such-thing", "/no-such-page", "/api/v2/x", "/api/v1/user"):
        response = await edge.get(path, headers={"x-request-id": f"rid-{path.count('/')}"})
        assert response.status_code in (401, 404)
        assert response.headers["x-request-id"] == f"rid-{path.count('/')}", path
        assert response.json()["status"] == "error"


def test_duplicate_authorization_headers_are_refused() -> None:
    lines = b"Authorization: Bearer a.b.c\r\nAuthorization: Bearer d.e.f"
    status, headers, body = raw("/api/v1/user", headers={"x-dup": b"1\r\n" + lines})
    assert status == 400
    assert_error_json(status, headers, body)


def stop_nginx(prefix: Path) -> None:
    """Stops the nginx running from ``prefix`` (its nginx.conf), waits for it, and removes the prefix."""
    subprocess.run(
        ["nginx", "-s", "quit", "-c", str(prefix / "nginx.conf"), "-p", str(prefix)], check=False, capture_output=True
    )
    for _ in range(50):
        if not (prefix / "nginx.pid").exists():
            break
        time.sleep(0.1)
    shutil.rmtree(prefix, ignore_errors=True)


@pytest.fixture(scope="module")
def edge_without_gateway() -> Iterator[int]:
    """A second nginx from the same template (``stack.sh nginx-conf``) on ports of its own, in front
    of a gateway port where nothing listens: nginx's own 502 without stopping the shared gateway."""
    prefix = Path(tempfile.mkdtemp(prefix="edge-nginx-"))
    prefix.chmod(0o755)  # the workers may run as www-data
    https_port, http_port, closed = free_port(), free_port(), free_port()
    ports = {"NGINX_HTTPS_PORT": str(https_port), "NGINX_HTTP_PORT": str(http_port), "APP_PORT": str(closed)}
    control("nginx-conf", str(prefix), env=ports)
    conf = ["-c", str(prefix / "nginx.conf"), "-p", str(prefix)]
    subprocess.run(["nginx", *conf], check=True, capture_output=True)
    try:
        yield https_port
    finally:
        stop_nginx(prefix)


COMPOSE_TEMPLATE = Path(__file__).resolve().parents[2] / "deploy/compose/nginx/default.conf.template"


@pytest.fixture(scope="module")
def compose_edge() -> Iterator[tuple[int, int]]:
    """deploy/compose's nginx template run here as far as this nginx can (1.22: no ``http2 on``;
    the compose hosts are loopback, the gateway port closed): (https port, http port)."""
    prefix = Path(tempfile.mkdtemp(prefix="compose-nginx-"))
    prefix.chmod(0o755)
    (prefix / "logs").mkdir()
    https_port, http_port, closed = free_port(), free_port(), free_port()
    text = COMPOSE_TEMPLATE.read_text()
    settings = {
        "APP_PORT": str(closed),
        "APP_IP": "127.0.0.1",  # the two gateways (compose: their devnet addresses), both the closed port
        "APP_2_IP": "127.0.0.2",
        "BODY_LIMIT": "1m",
        "PUBLIC_BASE_URL": "https://edge.example",
    }
    for name, value in settings.items():
        text = text.replace("${" + name + "}", value)
    assert "${" not in text, "a variable the compose file does not pass to nginx"
    text = re.sub(r"\bhttp://(grafana|kafka-ui|pgadmin|rabbitmq|gateway):", "http://127.0.0.1:", text)
    text = text.replace("http2 on;", "").replace("/etc/nginx/ssl/", f"{ENV.var}/nginx/ssl/")
    text = text.replace("listen 443 ssl;", f"listen 127.0.0.1:{https_port} ssl;")
    text = text.replace("listen 80;", f"listen 127.0.0.1:{http_port};")
    (prefix / "nginx.conf").write_text(
        f"user root; pid {prefix}/nginx.pid; error_log {prefix}/logs/error.log;\n"
        "events { worker_connections 64; }\n"
        f"http {{ include /etc/nginx/mime.types; access_log off; client_body_temp_path {prefix}/body;\n"
        f"proxy_temp_path {prefix}/proxy;\n{text}\n}}\n"
    )
    conf = ["-c", str(prefix / "nginx.conf"), "-p", str(prefix)]
    started = subprocess.run(["nginx", *conf], check=False, capture_output=True, text=True)
    assert started.returncode == 0, started.stderr
    try:
        yield https_port, http_port
    finally:
        stop_nginx(prefix)


def test_the_compose_edge_keeps_the_same_rules(compose_edge: tuple[int, int]) -> None:
    https_port, http_port = compose_edge
    status, headers, _ = raw("/sign-in?x=1", headers={"host": "evil.example"}, tls=False, port=http_port)
    assert (status, headers["location"]) == (301, "https://edge.example/sign-in?x=1")
    status, headers, body = raw("/api/v1/user", port=https_port)
    assert (status, assert_error_json(status, headers, body)["message"]) == (502, "Bad gateway")
    for path in ("/metrics", "/api/v1/auth/%2e%2e/%2e%2e/%2e%2e/metrics", "/schema/openapi.json", "/ready"):
        status, headers, body = raw(path, port=https_port)
        assert status == 404, path
        assert_error_json(status, headers, body)
    status, headers, body = raw("/api/v1/user", "TRACK", port=https_port)
    assert status == 405
    assert_error_json(status, headers, body)
    status, headers, body = raw("/api/v1/user", headers={"x-big": "a" * 20_000}, port=https_port)
    assert (status, assert_error_json(status, headers, body)["message"]) == (400, "Request headers too large")
    status, headers, body = raw("/api/v1/upload/public", "POST", {"content-length": "999999999"}, port=https_port)
    assert status == 413
    assert_error_json(status, headers, body)


@pytest.mark.parametrize(
    "path", ["/api/v1/user", "/api/v1/auth/sign-in", "/.well-known/jwks.json", "/health", "/sign-in"]
)
def test_gateway_down_is_json_from_nginx(edge_without_gateway: int, path: str) -> None:
    status, headers, body = raw(path, headers={"x-request-id": "down-1"}, port=edge_without_gateway)
    assert status == 502
    assert assert_error_json(status, headers, body) == {"status": "error", "message": "Bad gateway"}
    assert headers["x-request-id"] == "down-1"
    assert headers["strict-transport-security"].startswith("max-age=")
    assert headers["x-content-type-options"] == "nosniff"


def test_gateway_down_is_a_small_page_for_a_browser_on_a_page_path(edge_without_gateway: int) -> None:
    html = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    status, headers, body = raw("/sign-in", headers={"accept": html}, port=edge_without_gateway)
    assert status == 502
    assert headers["content-type"].startswith("text/html")
    assert b"Bad gateway" in body
    assert b"nginx" not in body
    assert headers["content-security-policy"] == "default-src 'none'"
    # an API path stays JSON whatever the client accepts
    status, headers, body = raw("/api/v1/user", headers={"accept": html}, port=edge_without_gateway)
    assert_error_json(status, headers, body)


@pytest.mark.parametrize(("path", "expected"), [("/health", 200), ("/api/v1/user", 401), ("/nope", 404)])
def test_websocket_upgrades_are_plain_requests_at_the_edge(path: str, expected: int) -> None:
    # no route is a WebSocket: nginx does not pass Upgrade on, the request is answered as HTTP
    upgrade = {
        "connection": "Upgrade",
        "upgrade": "websocket",
        "sec-websocket-version": "13",
        "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
    }
    status, headers, body = raw(path, headers=upgrade)
    assert status == expected, (status, body[:200])
    assert headers["content-type"].startswith("application/json")
    assert headers["x-request-id"]


FAMILIES = [
    "/api/v1/transactions",
    "/api/v1/admin/users",
    "/sign-in",
    "/transactions",
    "/ops/",
    "/ops/api/dead-letters",
    "/storage/nope.png",
    "/api/docs",
    "/.well-known/jwks.json",
]
HOSTILE = [
    "/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/..%2f..%2f..%2f..%2fetc/passwd",
    "/%2e%2e/%2e%2e/nginx/ssl/server.key",
    "/%00",
    "/%ff%fe",
    "/..;/x",
    "/%252e%252e/%252e%252e/",
    "\\..\\..\\x",
    "/x%0d%0aSet-Cookie:%20a=b",
    "?q=%00",
    "?%ff=1",
]


@pytest.mark.parametrize("suffix", HOSTILE)
@pytest.mark.parametrize("family", FAMILIES)
def test_every_route_family_against_hostile_paths(family: str, suffix: str) -> None:
    status, headers, body = raw(family.rstrip("/") + suffix)
    assert status in (400, 404), (status, body[:200])
    if headers["content-type"].startswith("text/html"):  # resolved onto a page path: its error page
        assert b"Traceback" not in body
    else:
        assert_error_json(status, headers, body)
    assert b"PRIVATE KEY" not in body
    assert b"root:" not in body
    assert "set-cookie" not in {k.lower() for k in headers}


@pytest.mark.parametrize(
    "target",
    ["/transactions?q=%1B", "/sign-in?next=%00", "/ops/?error=%1B", "/transactions?q=%ff", "/sign-in/%2e%2e%2f"],
)
async def test_a_browser_on_a_page_gets_an_error_page_when_the_edge_refuses(
    edge: httpx.AsyncClient, target: str
) -> None:
    r = await edge.get(target, headers={"accept": "text/html,application/xhtml+xml"})
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("text/html")
    assert r.headers["content-security-policy"] == "default-src 'none'"
    assert "<h1>400 " in r.text
    assert r.headers["x-request-id"]
    api = await edge.get(target)  # a client that does not ask for HTML: the one JSON shape
    assert api.status_code == 400
    assert api.json()["status"] == "error"
