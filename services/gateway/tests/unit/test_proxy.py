"""The proxy against an upstream of the test's own: what a service receives of the path, the query
and the headers, and what HEAD reads."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from blazing_testing.http import served
from gateway.adapters.upstreams import upstream_pools
from gateway.entrypoints.edge import HEAD_KEY
from gateway.entrypoints.proxy import Proxy, console_token
from gateway.settings import GatewaySettings


class NoLimits:
    async def hit(self, *_: Any) -> tuple[int | None, bool]:
        return None, False


class Upstream:
    def __init__(self) -> None:
        self.seen: list[web.Request] = []
        self.bodies_read = 0
        self.received: list[bytes] = []


@pytest.fixture
async def upstream() -> AsyncIterator[tuple[Upstream, int]]:
    state = Upstream()

    async def echo(request: web.Request) -> web.StreamResponse:
        state.seen.append(request)
        state.received.append(await request.read())
        response = web.StreamResponse(headers={"content-type": "application/json"})
        await response.prepare(request)
        for _ in range(3):
            state.bodies_read += 1
            await response.write(b'{"a":1}')
        return response

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", echo)
    async with served(app) as port:
        yield state, port


async def call(port: int, path: str, body: list[dict[str, Any]] | None = None, **scope: Any) -> list[dict[str, Any]]:
    settings = GatewaySettings.load({"GATEWAY_IDENTITY_SECRET": "s", "USERS_URL": f"http://127.0.0.1:{port}"})
    upstreams = upstream_pools(settings.instances, settings.upstream_timeout)
    proxy = Proxy(settings, upstreams, verifier=None, limiter=NoLimits())  # type: ignore[arg-type]
    sent: list[dict[str, Any]] = []

    messages = iter(body or [{"type": "http.request", "body": b"", "more_body": False}])

    async def receive() -> dict[str, Any]:
        return next(messages, {"type": "http.disconnect"})

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    try:
        await proxy(
            {"type": "http", "method": "GET", "path": path, "headers": [], "client": ("127.0.0.1", 1), **scope},
            receive,
            send,
        )
    finally:
        for upstream in upstreams.values():
            await upstream.close()
    return sent


async def test_the_service_receives_the_canonical_path_encoded_and_the_query_as_sent(
    upstream: tuple[Upstream, int],
) -> None:
    state, port = upstream
    await call(port, "/api/v1/user/a?b#c d", query_string=b"q=caf%C3%A9&x=\xc3\xa9+1")
    request = state.seen[-1]
    assert request.raw_path == "/api/v1/user/a%3Fb%23c%20d?q=caf%C3%A9&x=%C3%A9+1"
    assert request.path == "/api/v1/user/a?b#c d"  # a "?" in a segment never starts a query
    assert request.query["q"] == "café"


async def test_header_values_reach_the_service_as_the_client_wrote_them(upstream: tuple[Upstream, int]) -> None:
    state, port = upstream
    await call(port, "/api/v1/user", headers=[(b"user-agent", "café ☀".encode()), (b"x-forwarded-proto", b"gopher")])
    request = state.seen[-1]
    assert request.headers["user-agent"] == "café ☀"
    assert request.headers["x-forwarded-proto"] == "https"


async def test_head_is_asked_as_get_and_the_body_is_not_read(upstream: tuple[Upstream, int]) -> None:
    state, port = upstream
    sent = await call(port, "/api/v1/user", **{HEAD_KEY: True})
    assert sent[0]["status"] == 200
    assert [m.get("body", b"") for m in sent[1:]] == [b""]
    assert state.seen[-1].method == "GET"


def chunks(*parts: bytes) -> list[dict[str, Any]]:
    return [{"type": "http.request", "body": p, "more_body": n < len(parts) - 1} for n, p in enumerate(parts)]


async def test_a_small_body_is_sent_whole_with_its_length(upstream: tuple[Upstream, int]) -> None:
    """#19: a JSON write was streamed chunked to the service (framing and writes on both sides)."""
    state, port = upstream
    headers = [(b"content-type", b"application/json"), (b"content-length", b"14")]
    await call(port, "/api/v1/user", chunks(b'{"a":', b"1, ", b'"b":2}'), method="POST", headers=headers)
    request = state.seen[-1]
    assert request.headers.get("Content-Length") == "14"
    assert "Transfer-Encoding" not in request.headers
    assert state.received[-1] == b'{"a":1, "b":2}'


async def test_a_body_the_client_abandons_is_not_sent(upstream: tuple[Upstream, int]) -> None:
    state, port = upstream
    headers = [(b"content-length", b"100")]
    sent = await call(
        port,
        "/api/v1/user",
        [{"type": "http.request", "body": b"x" * 10, "more_body": True}],
        method="POST",
        headers=headers,
    )
    assert state.seen == []
    assert sent == []


async def test_a_large_or_unsized_body_streams(upstream: tuple[Upstream, int]) -> None:
    state, port = upstream
    big = b"y" * 70_000
    await call(
        port,
        "/api/v1/user",
        chunks(big[:30_000], big[30_000:]),
        method="POST",
        headers=[(b"content-length", str(len(big)).encode())],
    )
    assert state.seen[-1].headers.get("Transfer-Encoding") == "chunked"
    assert state.received[-1] == big


async def test_a_streamed_body_the_client_abandons_is_not_ended_as_if_complete(upstream: tuple[Upstream, int]) -> None:
    state, port = upstream
    sent = await call(
        port,
        "/api/v1/user",
        [{"type": "http.request", "body": b"z" * 70_000, "more_body": True}],
        method="POST",
        headers=[(b"content-length", b"200000")],
    )
    assert sent == []
    assert all(len(body) != 70_000 for body in state.received)  # never handed over as a whole body


@pytest.mark.parametrize(
    ("path", "header", "token"),
    [
        ("/transactions", b"bs_session=tok", "tok"),
        ("/transactions", b'a="\\x; bs_session=tok', "tok"),  # a malformed cookie beside it signed the person out
        ("/transactions", b"bs_session=tok; b=\x00\xff; c", "tok"),
        ("/transactions", b'bs_session="tok"', "tok"),
        ("/ops/", b"bs_session=web; bs_ops=console", "console"),
        ("/transactions", b"xbs_session=tok", None),
        ("/transactions", b"bs_session=", None),
        ("/api/v1/user", b"bs_session=tok", None),  # an API path never takes a cookie
    ],
)
def test_a_page_session_is_read_from_its_own_cookie_whatever_sits_beside_it(
    path: str, header: bytes, token: str | None
) -> None:
    assert console_token(path, header) == token


class Throttled:
    async def hit(self, *_: Any) -> tuple[int | None, bool]:
        return 30, False


BROWSER = [(b"accept", b"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")]


async def refused(path: str, headers: list[tuple[bytes, bytes]], *, limiter: Any, port: int = 9) -> dict[str, Any]:
    """What the proxy itself answers (no upstream reached): status, headers and body."""
    env = {
        "GATEWAY_IDENTITY_SECRET": "s",
        "WEB_URL": f"http://127.0.0.1:{port}",
        "USERS_URL": f"http://127.0.0.1:{port}",
    }
    settings = GatewaySettings.load(env)
    upstreams = upstream_pools(settings.instances, settings.upstream_timeout)
    proxy = Proxy(settings, upstreams, verifier=None, limiter=limiter)  # type: ignore[arg-type]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    try:
        scope = {"type": "http", "method": "POST", "path": path, "headers": headers, "client": ("127.0.0.1", 1)}
        await proxy(scope, receive, send)
    finally:
        for upstream in upstreams.values():
            await upstream.close()
    start = sent[0]
    return {
        "status": start["status"],
        "headers": {k.decode(): v.decode() for k, v in start["headers"]},
        "body": b"".join(m.get("body", b"") for m in sent[1:]),
    }


@pytest.mark.parametrize(
    ("limiter", "status", "message"),
    [(Throttled(), 429, "Too many requests"), (NoLimits(), 503, "Service unavailable")],
    ids=["rate-limited", "upstream-down"],
)
async def test_a_browser_on_a_page_gets_the_proxys_refusals_as_a_page(limiter: Any, status: int, message: str) -> None:
    """Black-box review: a person rate limited on the sign-in form (or meeting the pages' service
    down) was shown the API's raw JSON, where the edge's and nginx's refusals show a page."""
    page = await refused("/sign-in", BROWSER, limiter=limiter)  # port 9: nothing listens there
    assert page["status"] == status
    assert page["headers"]["content-type"] == "text/html; charset=utf-8"
    assert page["headers"]["content-security-policy"] == "default-src 'none'"
    assert page["headers"]["x-content-type-options"] == "nosniff"
    assert f"<h1>{status} {message}</h1>".encode() in page["body"]
    assert page["headers"]["content-length"] == str(len(page["body"]))
    if status == 429:
        assert page["headers"]["retry-after"] == "30"
    # a client that does not ask for HTML, and an API path whatever it asks for: the one JSON shape
    for path, headers in (("/sign-in", []), ("/api/v1/user", BROWSER)):
        api = await refused(path, headers, limiter=limiter)
        assert api["status"] == status
        assert api["headers"]["content-type"] == "application/json"
        assert json.loads(api["body"]) == {"status": "error", "message": message}
