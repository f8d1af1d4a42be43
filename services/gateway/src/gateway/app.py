"""The gateway's composition: Litestar for its own routes, the proxy mounted for every service path."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
from litestar import Litestar, asgi
from litestar.config.cors import CORSConfig
from litestar.types import Receive, Scope, Send

from blazing_service import create_app
from blazing_service.redis_client import redis_client
from gateway.adapters.ratelimit import RateLimiter
from gateway.adapters.tokens import TokenVerifier
from gateway.domain.routes import WEB_PAGES
from gateway.entrypoints.docs import docs_page, openapi_json
from gateway.entrypoints.edge import guard
from gateway.entrypoints.proxy import Proxy, respond, upstream_sessions
from gateway.settings import GatewaySettings


def create(settings: GatewaySettings) -> Litestar:
    state: dict[str, Proxy] = {}

    async def proxy(scope: Any, receive: Receive, send: Send) -> None:
        if "proxy" not in state:
            await respond(send, 503, "Service unavailable")
            return
        await state["proxy"](scope, receive, send)

    @asgi("/api/v1", is_mount=True, copy_scope=True)
    async def api(scope: Scope, receive: Receive, send: Send) -> None:
        await proxy({**scope, "path": "/api/v1" + scope["path"]}, receive, send)

    @asgi("/ops", is_mount=True, copy_scope=True)
    async def ops(scope: Scope, receive: Receive, send: Send) -> None:
        await proxy({**scope, "path": "/ops" + scope["path"]}, receive, send)

    @asgi("/.well-known/jwks.json")
    async def jwks(scope: Scope, receive: Receive, send: Send) -> None:
        await proxy(scope, receive, send)

    def page(prefix: str) -> Any:
        """A mount passing one web-page prefix (and what is under it) to the proxy."""

        async def forward(scope: Scope, receive: Receive, send: Send) -> None:
            await proxy({**scope, "path": (prefix + scope["path"]).rstrip("/") or "/"}, receive, send)

        forward.__name__ = "page_" + prefix.strip("/").replace("-", "_")
        return asgi(prefix, is_mount=True, copy_scope=True)(forward)

    @asgi("/", copy_scope=True)
    async def home(scope: Scope, receive: Receive, send: Send) -> None:
        await proxy(scope, receive, send)

    pages = [page(p.rstrip("/")) for p in WEB_PAGES]

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        redis = redis_client(settings.redis_url, name="gateway")
        # httpx for the gateway's own occasional calls (JWKS, docs, readiness); aiohttp for the proxy
        clients = {name: httpx.AsyncClient(base_url=url, timeout=5) for name, url in settings.upstreams.items()}
        sessions = upstream_sessions(settings)
        verifier = TokenVerifier(
            clients["auth"], "/.well-known/jwks.json", redis, settings.jwt_issuer, settings.jwt_audience
        )
        state["proxy"] = Proxy(settings, sessions, verifier, RateLimiter(redis, settings.rate_window_seconds))
        app.state.clients, app.state.redis = clients, redis
        try:
            yield
        finally:
            state.clear()
            for client in clients.values():
                await client.aclose()
            for session in sessions.values():
                await session.close()
            await redis.aclose()

    def readiness(app: Litestar) -> list[tuple[str, Any]]:
        async def redis() -> None:
            await app.state.redis.ping()

        def upstream(name: str) -> Any:
            async def check() -> None:
                (await app.state.clients[name].get("/health", timeout=2)).raise_for_status()

            return check

        return [("redis", redis), *((name, upstream(name)) for name in sorted(settings.upstreams) if name != "mailer")]

    cors = None
    if settings.cors_origins:
        cors = CORSConfig(
            allow_origins=settings.cors_origins,
            allow_credentials=True,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
            allow_headers=["authorization", "content-type", "x-request-id", "if-match", "idempotency-key"],
            expose_headers=["x-request-id", "etag", "retry-after"],
        )
    app = create_app(
        settings,
        [api, ops, jwks, home, *pages, docs_page, openapi_json],
        lifespan=[lifespan],
        readiness=readiness,
        description="The edge: routes, tokens, rate limits.",
        cors_config=cors,
    )
    # outside everything Litestar runs per request (CORS, routing, its 404 / 405): see edge.guard
    app.asgi_handler = guard(app.asgi_handler)
    return app
