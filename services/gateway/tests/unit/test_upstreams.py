"""A service behind the gateway as several instances (#20): requests spread round-robin, an instance
that refuses connections is passed over at once, one that stops answering its /health is ejected by
the next probe and taken back when it answers again — against stand-in servers of the test's own."""

from __future__ import annotations

import asyncio
import socket
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web

from blazing_service.instances import instance_urls
from blazing_service.serve import KEEP_ALIVE_SECONDS
from blazing_testing.http import served
from gateway.adapters.upstreams import KEEPALIVE_SECONDS, PROBE_SECONDS, PROBE_TIMEOUT, Upstream, upstream_pools
from gateway.bootstrap import own_clients
from gateway.entrypoints.proxy import Proxy
from gateway.settings import GatewaySettings


class NoLimits:
    async def hit(self, *_: Any) -> tuple[int | None, bool]:
        return None, False


class Server:
    """A stand-in instance: answers every path with its name, /health with 200 while ``alive``."""

    def __init__(self, name: str) -> None:
        self.name, self.alive, self.seen = name, True, 0

    def app(self) -> web.Application:
        async def health(_: web.Request) -> web.Response:
            return web.json_response({}, status=200 if self.alive else 503)

        async def answer(_: web.Request) -> web.Response:
            self.seen += 1
            return web.json_response({"instance": self.name})

        app = web.Application()
        app.router.add_get("/health", health)
        app.router.add_route("*", "/{tail:.*}", answer)
        return app


def closed_port() -> int:
    """A port nothing listens on (connections to it are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def gateway_to(*ports: int) -> AsyncIterator[tuple[Proxy, Upstream]]:
    urls = ",".join(f"http://127.0.0.1:{p}" for p in ports)
    settings = GatewaySettings.load({"GATEWAY_IDENTITY_SECRET": "s", "USERS_URL": urls})
    upstreams = upstream_pools(settings.instances, settings.upstream_timeout)
    try:
        yield Proxy(settings, upstreams, verifier=None, limiter=NoLimits()), upstreams["users"]  # type: ignore[arg-type]
    finally:
        for upstream in upstreams.values():
            await upstream.close()


async def get(proxy: Proxy, method: str = "GET") -> int:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": method, "path": "/api/v1/user", "headers": [], "client": ("127.0.0.1", 1)}
    await proxy(scope, receive, send)
    return int(sent[0]["status"])


def test_a_url_setting_lists_the_instances() -> None:
    assert instance_urls(" http://a:1 , http://b:2,") == ["http://a:1", "http://b:2"]
    settings = GatewaySettings.load({"GATEWAY_IDENTITY_SECRET": "s", "USERS_URL": "http://a:1,http://b:2"})
    assert settings.instances["users"] == ["http://a:1", "http://b:2"]
    assert GatewaySettings.load({"GATEWAY_IDENTITY_SECRET": "s"}).instances["auth"] == ["http://127.0.0.1:8002"]


async def test_requests_are_spread_over_the_instances() -> None:
    one, two = Server("one"), Server("two")
    async with served(one.app()) as p1, served(two.app()) as p2, gateway_to(p1, p2) as (proxy, _):
        statuses = [await get(proxy) for _ in range(10)]
    assert statuses == [200] * 10
    assert Counter({"one": one.seen, "two": two.seen}) == Counter({"one": 5, "two": 5})


async def test_an_instance_that_refuses_connections_is_passed_over_and_ejected() -> None:
    alive = Server("alive")
    async with served(alive.app()) as port, gateway_to(closed_port(), port) as (proxy, upstream):
        statuses = [await get(proxy) for _ in range(6)]
        assert statuses == [200] * 6, "no request fails while another instance takes it"
        assert alive.seen == 6
        assert [i.healthy for i in upstream.instances] == [False, True]


async def test_when_no_instance_takes_it_the_answer_is_503() -> None:
    async with gateway_to(closed_port(), closed_port()) as (proxy, _):
        assert await get(proxy) == 503


async def test_the_probe_ejects_an_unhealthy_instance_and_takes_it_back() -> None:
    """A draining or sick instance (its /health fails) gets no requests after one probe — the gateway
    probes every PROBE_SECONDS, within the 2 s an ejection may take; a lone instance is never
    ejected (there is nowhere else to go)."""
    assert PROBE_SECONDS + PROBE_TIMEOUT.total <= 2.0  # type: ignore[operator]  # the interval plus the probe's timeout
    one, two = Server("one"), Server("two")
    async with served(one.app()) as p1, served(two.app()) as p2, gateway_to(p1, p2) as (proxy, upstream):
        one.alive = False
        await upstream.probe()
        assert [i.healthy for i in upstream.instances] == [False, True]
        before = one.seen
        assert [await get(proxy) for _ in range(4)] == [200] * 4
        assert one.seen == before, "an ejected instance gets nothing"
        one.alive = True
        await upstream.probe()
        assert [await get(proxy) for _ in range(4)] == [200] * 4
        assert one.seen == before + 2
    lone = Server("lone")
    async with served(lone.app()) as port, gateway_to(port) as (proxy, upstream):
        lone.alive = False
        await upstream.probe()
        assert await get(proxy) == 200


@asynccontextmanager
async def dropping() -> AsyncIterator[int]:
    """A stand-in instance killed mid-request: it reads a request's head and closes the connection
    unanswered."""

    async def drop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.close()

    server = await asyncio.start_server(drop, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()


async def test_a_safe_request_an_instance_drops_unanswered_is_asked_of_the_next() -> None:
    """An instance killed under a GET (its connection dropped, nothing answered): the next instance
    answers it. A POST is not sent twice (it may have been acted on): 502."""
    alive = Server("alive")
    async with dropping() as gone, served(alive.app()) as port, gateway_to(gone, port) as (proxy, _):
        assert [await get(proxy) for _ in range(4)] == [200] * 4
        assert alive.seen == 4
        assert [await get(proxy, "POST") for _ in range(2)] == [502, 200], "the POST the dropper took fails"
    async with dropping() as gone, gateway_to(gone) as (proxy, _):
        assert await get(proxy) == 502, "no other instance: the drop is answered"


async def test_the_gateways_own_calls_go_to_an_instance_that_is_there() -> None:
    """The gateway's own calls — auth's JWKS (fetched when a token names a key not yet known), the
    services' API documents, readiness — asked only the first instance: with it stopped, a new key
    could not be fetched and /ready said the service was down while the other instance served."""
    alive = Server("alive")
    async with served(alive.app()) as port:
        urls = f"http://127.0.0.1:{closed_port()},http://127.0.0.1:{port}"
        clients = own_clients(GatewaySettings.load({"GATEWAY_IDENTITY_SECRET": "s", "AUTH_URL": urls}))
        try:
            for path in ("/.well-known/jwks.json", "/schema/openapi.json", "/health"):
                assert (await clients["auth"].get(path)).status_code == 200, path
            assert alive.seen == 2, "the JWKS and the document, from the instance that is there"
        finally:
            for client in clients.values():
                await client.aclose()


def test_the_pools_let_go_of_an_idle_connection_well_before_an_instance_does() -> None:
    """An instance closing an idle pooled connection as the gateway sends a POST on it: a 502."""
    assert KEEPALIVE_SECONDS * 2 <= KEEP_ALIVE_SECONDS
