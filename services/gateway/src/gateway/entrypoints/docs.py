"""The merged API documentation: every service's OpenAPI under one document, at /api/docs."""

from __future__ import annotations

import html
from typing import Any

import httpx
from litestar import MediaType, Request, Response, get

from gateway.domain.routes import ROUTES

PUBLIC = {service for _prefix, service in ROUTES}


async def merged(clients: dict[str, httpx.AsyncClient]) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": "Blazing Sun API", "version": "1.0.0"},
        "paths": {},
        "components": {"schemas": {}},
        "x-unavailable": [],
    }
    for name, client in sorted(clients.items()):
        if name not in PUBLIC:
            continue
        try:
            spec = (await client.get("/schema/openapi.json", timeout=3)).json()
        except (httpx.HTTPError, ValueError):
            doc["x-unavailable"].append(name)
            continue
        for path, item in spec.get("paths", {}).items():
            doc["paths"][path] = {**item, **{"x-service": name}} if isinstance(item, dict) else item
        doc["components"]["schemas"].update(spec.get("components", {}).get("schemas", {}))
    return doc


DOCS_CSP = "default-src 'none'; style-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
"""The docs page is static HTML built from the services' summaries: it runs nothing and loads nothing."""


@get("/api/docs/openapi.json", include_in_schema=False)
async def openapi_json(request: Request[Any, Any, Any]) -> dict[str, Any]:
    return await merged(request.app.state.clients)


@get("/api/docs", include_in_schema=False)
async def docs_page(request: Request[Any, Any, Any]) -> Response[str]:
    doc = await merged(request.app.state.clients)
    rows = []
    for path, item in sorted(doc["paths"].items()):
        for method, op in item.items():
            if method.startswith("x-") or not isinstance(op, dict):
                continue
            rows.append(
                f"<tr><td><code>{html.escape(method.upper())}</code></td><td><code>{html.escape(path)}"
                f"</code></td><td>{html.escape(str(op.get('summary', '')))}</td>"
                f"<td>{html.escape(str(item.get('x-service', '')))}</td></tr>"
            )
    page = (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Blazing Sun API</title></head><body>"
        "<h1>Blazing Sun API</h1><p>Machine-readable: <a href='/api/docs/openapi.json'>openapi.json</a></p>"
        "<table><thead><tr><th>Method</th><th>Path</th><th>Summary</th><th>Service</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table></body></html>"
    )
    return Response(page, media_type=MediaType.HTML, headers={"content-security-policy": DOCS_CSP})
