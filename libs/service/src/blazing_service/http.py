"""The Litestar application every service is built on: error shapes, request ids, health,
readiness, Prometheus metrics, OpenAPI — the service adds its controllers and lifespan."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any
from urllib.parse import unquote_to_bytes

import msgspec
from litestar import Litestar, MediaType, Request, Response, get
from litestar.config.cors import CORSConfig
from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.openapi.spec import OpenAPI, OpenAPIMediaType, OpenAPIResponse, OpenAPIType, Schema
from litestar.plugins.prometheus import PrometheusConfig, PrometheusController
from litestar.template.config import TemplateConfig
from litestar.types import ASGIApp, HTTPResponseStartEvent, Message, Receive, Scope, Send

from blazing_contracts.context import correlation_id_var
from blazing_service import system_events
from blazing_service.errors import EXCEPTION_HANDLERS, BadRequest
from blazing_service.logs import request_id_var
from blazing_service.runtime import Runtime
from blazing_service.settings import ServiceSettings
from blazing_service.tracing import setup_tracing, shutdown_tracing

REQUEST_ID_HEADER = "x-request-id"
ReadinessCheck = Callable[[], Awaitable[None]]


_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")


def request_id_of(headers: Iterable[tuple[bytes, bytes]]) -> str:
    """The caller's X-Request-Id when it is a plain token (letters, digits, ``._:-``, ≤ 128); anything
    else (other bytes, non-UTF-8, too long) is not echoed and gets a fresh id instead."""
    incoming = next((v for k, v in headers if k == b"x-request-id"), None)
    if incoming is not None and _REQUEST_ID.fullmatch(incoming):
        return incoming.decode("ascii")
    return str(uuid.uuid4())


def header_text(request: Request[Any, Any, Any], name: str) -> str | None:
    """A request header's value as the text it is: the gateway passes header values on as UTF-8
    (and refuses anything else), while the framework reads every header's bytes as Latin-1 — a
    user agent ``Café`` read that way was ``CafÃ©`` in the session list, and sent on with httpx
    (ASCII only) it failed the page's sign-in (a 500). Bytes that are not UTF-8 (a caller inside
    the host) become U+FFFD."""
    value = request.headers.get(name)
    return None if value is None else value.encode("latin-1").decode("utf-8", "replace")


def request_id_middleware(app: ASGIApp) -> ASGIApp:
    """Takes X-Request-Id from the caller (the gateway) or makes one; echoes it on every response."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        request_id = request_id_of(scope["headers"])
        token, correlation = request_id_var.set(request_id), correlation_id_var.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableScopeHeaders.from_message(message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        try:
            await app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)
            correlation_id_var.reset(correlation)

    return middleware


async def no_store(message: Message, _: Scope) -> None:
    """Every answer says ``Cache-Control: no-store`` unless its handler chose a policy: answers carry
    tokens, balances and personal pages, which no browser history or shared cache may keep (the files
    service's public downloads set their own). A ``before_send`` hook: it sees the answers no route
    handler made too (an unknown path's 404)."""
    if message["type"] == "http.response.start":
        headers = MutableScopeHeaders.from_message(message)
        if "cache-control" not in headers:
            headers["cache-control"] = "no-store"


async def close_while_draining(message: Message, scope: Scope) -> None:
    """While the instance drains, every answer says ``Connection: close``: its callers keep no pooled
    connection that its stop would cut under a request (a ``before_send`` hook)."""
    if message["type"] == "http.response.start" and scope["app"].state.get(DRAINING):
        MutableScopeHeaders.from_message(message)["connection"] = "close"


def unsafe_target(scope: Scope) -> str | None:
    """Why a request's path or query cannot be served, or None: a NUL character, or percent-escapes
    that do not decode as UTF-8 (no handler, database or log line should see either)."""
    # raw_path never carries the query in uvicorn; some test clients put it there
    raw_path = (scope.get("raw_path") or scope["path"].encode("utf-8", "surrogateescape")).split(b"?", 1)[0]
    for part, raw in (("path", raw_path), ("query string", scope.get("query_string", b""))):
        decoded = unquote_to_bytes(raw.replace(b"+", b" ") if part == "query string" else raw)
        if b"\x00" in decoded:
            return f"The {part} must not contain NUL characters"
        try:
            decoded.decode("utf-8")
        except UnicodeDecodeError:
            return f"The {part} is not valid UTF-8"
    return None


async def reply_error(send: Send, status: int, message: str) -> None:
    """A raw ASGI error answer in the API's one shape (for middleware that stops a request early)."""
    body = msgspec.json.encode({"status": "error", "message": message})
    start: HTTPResponseStartEvent = {
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
    }
    await send(start)
    await send({"type": "http.response.body", "body": body, "more_body": False})


def input_guard_middleware(app: ASGIApp) -> ASGIApp:
    """Refuses (400) a path or query that carries NUL characters or undecodable bytes before the
    handler runs — answered by the app's own handler of BadRequest (JSON for the APIs, an error
    page for the page services)."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP and (problem := unsafe_target(scope)):
            error = BadRequest(problem)
            handlers = scope["app"].exception_handlers
            handler = next((handlers[c] for c in type(error).__mro__ if c in handlers), None)
            if handler is None:
                await reply_error(send, 400, problem)
                return
            request: Request[Any, Any, Any] = Request(scope, receive, send)
            await handler(request, error).to_asgi_response(app=None, request=request)(scope, receive, send)
            return
        await app(scope, receive, send)

    return middleware


def prometheus_config(service: str) -> PrometheusConfig:
    """The HTTP metrics of every service: ``http_requests_total`` and the rest, labelled with the
    route's template (a gateway's hot path records the same metrics itself, see its entrypoints)."""
    return PrometheusConfig(app_name=service, prefix="http", group_path=True, exclude=["/metrics", "/health"])


DRAINING = "draining"
"""App state key: set when the instance drains (blazing_service.serve: SIGUSR1, or SIGTERM with
DRAIN_SECONDS)."""


def create_app(
    settings: ServiceSettings,
    route_handlers: Sequence[Any],
    *,
    lifespan: Sequence[Callable[[Litestar], AbstractAsyncContextManager[None]]] = (),
    readiness: Callable[[Litestar], Sequence[tuple[str, ReadinessCheck]]] | None = None,
    runtime: Runtime | None = None,
    version: str = "1.0.0",
    description: str = "",
    cors_config: CORSConfig | None = None,
    template_config: TemplateConfig[Any] | None = None,
    exception_handlers: Mapping[Any, Callable[..., Response[Any]]] | None = None,
    middleware: Sequence[Any] = (),
) -> Litestar:
    if runtime is not None:
        lifespan = [runtime.lifespan, *lifespan]
        extra = readiness

        def readiness(app: Litestar) -> Sequence[tuple[str, ReadinessCheck]]:
            return [*runtime.readiness(), *(extra(app) if extra else ())]

    @get("/health", include_in_schema=False, sync_to_thread=False)
    def health(request: Request[Any, Any, Any]) -> Response[Any]:
        """Liveness: the process answers — 503 once it drains (blazing_service.serve)."""
        if request.app.state.get(DRAINING):
            return Response(
                {"status": "error", "message": f"{settings.service} is draining"},
                status_code=503,
                media_type=MediaType.JSON,
            )
        return Response({"status": "success", "message": f"{settings.service} is alive"}, media_type=MediaType.JSON)

    @get("/ready", include_in_schema=False)
    async def ready(request: Request[Any, Any, Any]) -> Response[Any]:
        """Readiness: every dependency answers."""
        checks: dict[str, str] = {}
        for name, check in readiness(request.app) if readiness else ():
            try:
                await check()
                checks[name] = "ok"
            except Exception as exc:
                checks[name] = f"failing: {type(exc).__name__}"
        ok = all(v == "ok" for v in checks.values())
        return Response(
            {
                "status": "success" if ok else "error",
                "message": "ready" if ok else "not ready",
                "checks": checks,
            },
            status_code=200 if ok else 503,
            media_type=MediaType.JSON,
        )

    prometheus = prometheus_config(settings.service)

    class Metrics(PrometheusController):
        path = "/metrics"
        include_in_schema = False

    stack: list[Any] = [request_id_middleware, input_guard_middleware, prometheus.middleware, *middleware]
    system = (
        [system_events.lifespan(settings.service, settings.kafka_bootstrap, readiness, settings.health_event_seconds)]
        if settings.system_events
        else []
    )
    if setup_tracing(settings.service):
        from litestar.plugins.opentelemetry import OpenTelemetryConfig  # noqa: PLC0415 - only when tracing

        stack.insert(0, OpenTelemetryConfig(exclude=["/health", "/ready", "/metrics"]).middleware)
    app = Litestar(
        route_handlers=[*route_handlers, health, ready, Metrics],
        exception_handlers={**EXCEPTION_HANDLERS, **(exception_handlers or {})},
        middleware=stack,
        on_shutdown=[shutdown_tracing],
        lifespan=[*lifespan, *system],
        request_max_body_size=settings.max_body_bytes,
        cors_config=cors_config,
        template_config=template_config,
        before_send=[no_store, close_while_draining],
        openapi_config=OpenAPIConfig(
            title=f"Blazing Sun {settings.service}",
            version=version,
            description=description,
            path="/schema",
            render_plugins=[JsonRenderPlugin()],
        ),
        debug=False,
    )
    app.state.identity_secret = settings.identity_secret
    app.state.settings = settings
    document_errors(app.openapi_schema)
    return app


ERROR_RESPONSES: dict[int, str] = {
    400: "Invalid input (malformed JSON, wrong types, failed validation with per-field errors)",
    401: "Authentication required, or the credentials are invalid",
    403: "Not allowed for this caller",
    404: "Not found (another user's data is not found either)",
    405: "Method not allowed",
    409: "Conflicts with the current state",
    412: "If-Match does not match the current version",
    413: "Body too large",
    415: "Unsupported content type",
    422: "Refused by a rule of the domain",
    429: "Too many requests (see Retry-After)",
    503: "A dependency is unavailable; try again",
}
_ERROR_SCHEMA = Schema(
    type=OpenAPIType.OBJECT,
    required=["status", "message"],
    properties={
        "status": Schema(type=OpenAPIType.STRING, enum=["error"]),
        "message": Schema(type=OpenAPIType.STRING),
        "errors": Schema(
            type=OpenAPIType.OBJECT,
            additional_properties=Schema(type=OpenAPIType.ARRAY, items=Schema(type=OpenAPIType.STRING)),
        ),
    },
)


def document_errors(schema: OpenAPI) -> None:
    """Every operation answers errors in the API's one error shape (SPEC §4): document them all,
    replacing the framework's own 400 (which describes a shape this API never sends)."""
    for item in (schema.paths or {}).values():
        for method in ("get", "put", "post", "delete", "patch"):
            operation = getattr(item, method, None)
            if operation is None:
                continue
            responses = dict(operation.responses or {})
            for code, description in ERROR_RESPONSES.items():
                responses[str(code)] = OpenAPIResponse(
                    description=description,
                    content={"application/json": OpenAPIMediaType(schema=_ERROR_SCHEMA)},
                )
            operation.responses = responses


def success(message: str, status_code: int = 200, headers: dict[str, str] | None = None, **data: Any) -> Response[Any]:
    """The API's success shape: ``{"status":"success","message":…, …data}``."""
    return Response(
        {"status": "success", "message": message, **data},
        status_code=status_code,
        media_type=MediaType.JSON,
        headers=headers,
    )
