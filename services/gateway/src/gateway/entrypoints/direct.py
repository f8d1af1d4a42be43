"""The API's hot path: a request under /api/v1/ that is not cross-origin goes from the edge
(edge.guard) straight to the proxy, past the framework's router, mount and middleware — they cost
the gateway about a fifth of its CPU per proxied read (#19, py-spy; 0.89 → 0.70 ms per read). What
those layers did for such a request is done here once: the request id in the logging context; the
path and query checked for NUL and undecodable bytes (a request that fails goes to the framework,
which refuses it as before); the server span when tracing is on, named as the framework names it;
and the HTTP metrics, labelled with the route's prefix (``/api/v1/user``; the framework's mount
labelled every proxied request with an empty path). Everything else — a request with an Origin
(CORS), the gateway's own routes, the web pages and the console — goes through the framework.
"""

from __future__ import annotations

import time
from typing import Any

from litestar.plugins.prometheus import PrometheusMiddleware

from blazing_contracts.context import correlation_id_var
from blazing_service.http import prometheus_config, request_id_of, unsafe_target
from blazing_service.logs import request_id_var
from blazing_service.tracing import setup_tracing
from gateway.domain.routes import route_of
from gateway.entrypoints.edge import ASGI, Send
from gateway.entrypoints.proxy import Proxy

API = "/api/v1/"


def direct(app: ASGI, proxy: Proxy, service: str) -> ASGI:
    """``app`` (the framework) with the API's requests that need none of it sent to ``proxy``."""
    metrics = PrometheusMiddleware(app, prometheus_config(service))  # the framework's metric objects
    forward: ASGI = proxy
    if setup_tracing(service):  # as the framework's OpenTelemetry middleware does
        from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware  # noqa: PLC0415 - only when tracing

        forward = OpenTelemetryMiddleware(proxy, default_span_details=span_details)

    async def dispatch(scope: Any, receive: Any, send: Send) -> None:
        path: str = scope["path"]
        route = route_of(path) if path.startswith(API) else None
        if route is None or any(k == b"origin" for k, _ in scope["headers"]) or unsafe_target(scope):
            await app(scope, receive, send)
            return
        labels: dict[str, str | int | float] = {
            "method": scope["method"],
            "path": route[0],
            "status_code": 200,
            "app_name": service,
        }
        in_progress = metrics.requests_in_progress(labels).labels(*labels.values())
        status = 500  # what a request that ends without an answer counts as

        async def sending(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        rid = request_id_of(scope["headers"])
        token, correlation = request_id_var.set(rid), correlation_id_var.set(rid)
        start = time.perf_counter()
        in_progress.inc()
        try:
            await forward(scope, receive, sending)
        finally:
            in_progress.dec()
            request_id_var.reset(token)
            correlation_id_var.reset(correlation)
            labels["status_code"] = status
            if status >= 500:
                metrics.requests_error_count(labels).labels(*labels.values()).inc()
            metrics.request_count(labels).labels(*labels.values()).inc()
            metrics.request_time(labels).labels(*labels.values()).observe(time.perf_counter() - start)

    return dispatch


def span_details(scope: Any) -> tuple[str, dict[str, str]]:
    """The server span's name and route, as the framework's OpenTelemetry middleware gives them."""
    route = f"{scope['method']} {scope['path']}"
    return route, {"http.route": route}
