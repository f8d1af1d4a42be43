"""The gateway's composition root: the token verifier, the rate limiter, the upstream clients and
sessions, the proxy and the edge, built from the settings; Redis and its readiness through Runtime."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from litestar import Litestar
from litestar.config.cors import CORSConfig

from blazing_service import create_app
from blazing_service.http import DRAINING
from blazing_service.instances import InstancesTransport
from blazing_service.runtime import Runtime
from gateway.adapters.ratelimit import RateLimiter
from gateway.adapters.tokens import TokenVerifier
from gateway.adapters.upstreams import PROBE_SECONDS, Upstream, upstream_pools
from gateway.entrypoints.direct import direct
from gateway.entrypoints.docs import docs_page, openapi_json
from gateway.entrypoints.edge import guard
from gateway.entrypoints.proxy import Proxy, mounts
from gateway.settings import GatewaySettings

JWKS = "/.well-known/jwks.json"


def cors_of(settings: GatewaySettings) -> CORSConfig | None:
    if not settings.cors_origins:
        return None
    return CORSConfig(
        allow_origins=settings.cors_origins,
        allow_credentials=True,
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
        allow_headers=["authorization", "content-type", "x-request-id", "if-match", "idempotency-key"],
        expose_headers=["x-request-id", "etag", "retry-after"],
    )


def own_clients(settings: GatewaySettings) -> dict[str, httpx.AsyncClient]:
    """The gateway's own occasional calls (the JWKS, the API docs, readiness), one client a service:
    to any of its instances, passing over one that refuses connections (stopped, draining) — the
    first instance alone would make them fail while it is away."""
    return {
        name: httpx.AsyncClient(base_url=urls[0], timeout=5, transport=InstancesTransport([",".join(urls)]))
        for name, urls in settings.instances.items()
        if urls
    }


def build_app(settings: GatewaySettings) -> Litestar:
    runtime = Runtime(settings)
    redis = runtime.redis
    # httpx for the gateway's own occasional calls; aiohttp for the proxy, whose sessions need the
    # running loop: opened at start, closed first at shutdown
    clients = own_clients(settings)
    upstreams: dict[str, Upstream] = {}
    verifier = TokenVerifier(clients["auth"], JWKS, redis, settings.jwt_issuer, settings.jwt_audience)
    proxy = Proxy(settings, upstreams, verifier, RateLimiter(redis, settings.rate_window_seconds))

    async def open_sessions() -> None:
        upstreams.update(upstream_pools(settings.instances, settings.upstream_timeout))

    async def probe() -> None:
        await asyncio.gather(*(u.probe() for u in upstreams.values()))

    async def close_clients() -> None:
        opened = list(upstreams.values())
        upstreams.clear()  # from now on the proxy answers 503
        for upstream in opened:
            await upstream.close()
        for client in clients.values():
            await client.aclose()

    runtime.on_start(open_sessions)
    runtime.every(PROBE_SECONDS, probe, "upstream health")
    runtime.on_stop(close_clients)

    def readiness(_app: Litestar) -> list[tuple[str, Any]]:
        def upstream(name: str) -> Any:
            async def check() -> None:
                (await clients[name].get("/health", timeout=2)).raise_for_status()

            return check

        return [(name, upstream(name)) for name in sorted(clients) if name != "mailer"]

    app = create_app(
        settings,
        [*mounts(proxy), docs_page, openapi_json],
        runtime=runtime,
        readiness=readiness,
        description="The edge: routes, tokens, rate limits.",
        cors_config=cors_of(settings),
    )
    app.state.clients = clients
    # outside everything Litestar runs per request (CORS, routing, its 404 / 405): see edge.guard;
    # the API's same-origin requests then skip the framework: see entrypoints/direct.py
    app.asgi_handler = guard(direct(app.asgi_handler, proxy, settings.service), lambda: bool(app.state.get(DRAINING)))
    return app
