"""The gateway's outermost layer: what every request passes before routing, rate limits and the
framework, and what every answer carries (SPEC §4, §11; #17).

Before: one X-Request-Id (the caller's when it is plain ASCII, else a fresh one); headers that are
UTF-8 text without control characters, singletons sent once (400); a query free of control
characters, per parameter (400 with field errors); the canonical path (domain/requests.py, 400
when it cannot be read one way only); the methods the API serves (405); internal endpoints refused
to requests that came through nginx (404). HEAD is answered as GET without the body.

After: every response carries X-Request-Id, including the framework's own 404 / 405 and CORS
refusals that never reach its middleware; on API paths (everything but the web pages and the ops
console's pages) an error that is not the one JSON shape is replaced by it.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

import msgspec

from gateway.domain.requests import (
    ALLOWED_METHODS,
    Refused,
    encode_path,
    header_fault,
    is_internal,
    normalise_path,
    query_errors,
    request_id,
)
from gateway.domain.routes import is_page

log = logging.getLogger(__name__)
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGI = Callable[[Any, Any, Any], Awaitable[None]]
HEAD_KEY = "gateway.head"
"""Scope key: the client asked HEAD, the gateway asks GET and drops the body."""
ERROR_BODY_LIMIT = 65_536
"""An error body longer than this is passed on as it is (ours are a few hundred bytes)."""
PROXY_HEADERS = (b"x-real-ip", b"x-forwarded-for")
"""Set by nginx on everything it passes on: a request carrying one came from outside."""
ALLOW = ", ".join(ALLOWED_METHODS).encode()

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder()


def error_body(message: str, errors: dict[str, list[str]] | None = None) -> bytes:
    body: dict[str, Any] = {"status": "error", "message": message}
    if errors:
        body["errors"] = errors
    return _encoder.encode(body)


def phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase.capitalize()
    except ValueError:
        return "Error"


async def answer(
    send: Send,
    status: int,
    body: bytes,
    headers: list[tuple[bytes, bytes]] | None = None,
    content_type: bytes = b"application/json",
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


PAGE_HEADERS = [(b"content-security-policy", b"default-src 'none'"), (b"x-content-type-options", b"nosniff")]


def error_page(status: int, message: str) -> bytes:
    """What a browser on a page path is shown when the gateway refuses its request itself (as nginx
    does for its own errors): a page, not a JSON document; the message is ours, never the URL's."""
    text = html.escape(f"{status} {message}")
    return (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{text}</title></head>"
        f"<body><h1>{text}</h1><p><a href='/'>Back to the start page</a></p></body></html>"
    ).encode()


def wants_page(scope: Any, headers: list[tuple[bytes, bytes]]) -> bool:
    accept = b",".join(v for k, v in headers if k == b"accept")
    return b"text/html" in accept and is_page(scope["path"])


async def refuse(
    send: Send,
    scope: Any,
    request_headers: list[tuple[bytes, bytes]],
    status: int,
    message: str,
    *,
    errors: dict[str, list[str]] | None = None,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    """A refusal of the gateway's own: the one JSON shape, or an error page for a browser on a page."""
    if wants_page(scope, request_headers):
        page = error_page(status, message)
        await answer(send, status, page, [*(headers or []), *PAGE_HEADERS], b"text/html; charset=utf-8")
        return
    await answer(send, status, error_body(message, errors), headers)


def with_request_id(send: Send, rid: str, draining: Callable[[], bool] = lambda: False) -> Send:
    """Every answer carries the request id; while the gateway drains, ``Connection: close`` too, so
    that nginx keeps no connection to it that its stop would cut under a request."""
    value = rid.encode()

    async def sending(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"]
            headers.append((b"x-request-id", value))
            if draining() and not any(k.lower() == b"connection" for k, _ in headers):  # Litestar's own may have
                headers.append((b"connection", b"close"))
            message = {**message, "headers": headers}
        await send(message)

    return sending


def without_body(send: Send) -> Send:
    """HEAD: the response's status and headers (Content-Length included), no body."""

    async def sending(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            if message.get("more_body", False):
                return
            message = {"type": "http.response.body", "body": b"", "more_body": False}
        await send(message)

    return sending


def is_error_shape(content_type: bytes, body: bytes) -> bool:
    if not content_type.lower().startswith(b"application/json"):
        return False
    try:
        parsed = _decoder.decode(body)
    except msgspec.DecodeError:
        return False
    return isinstance(parsed, dict) and parsed.get("status") == "error" and isinstance(parsed.get("message"), str)


def json_errors(send: Send, message_for: Callable[[int], str], *, head: bool) -> Send:
    """An error status in any other shape (a framework's plain text, an HTML page, an empty body)
    becomes ``{"status":"error","message":…}``; other headers (Allow, Retry-After,
    WWW-Authenticate, CORS) are kept. Success responses stream through untouched."""
    held: dict[str, Any] = {}
    chunks: list[bytes] = []
    size = 0
    passing = True

    async def sending(message: dict[str, Any]) -> None:
        nonlocal passing, size
        if message["type"] == "http.response.start":
            passing = message["status"] < 400
            if passing:
                await send(message)
            else:
                held.update(message)
            return
        if passing or message["type"] != "http.response.body":
            await send(message)
            return
        chunks.append(message.get("body", b""))
        size += len(chunks[-1])
        more = message.get("more_body", False)
        if size > ERROR_BODY_LIMIT:  # not an error of ours to judge: pass it on as it came
            passing = True
            await send(held)
            await send({"type": "http.response.body", "body": b"".join(chunks), "more_body": more})
            return
        if more:
            return
        headers: list[tuple[bytes, bytes]] = held.get("headers", [])
        content_type = next((v for k, v in headers if k.lower() == b"content-type"), b"")
        body = b"".join(chunks)
        if (head and content_type.lower().startswith(b"application/json")) or is_error_shape(content_type, body):
            await send(held)
            await send({"type": "http.response.body", "body": body})
            return
        body = error_body(message_for(held["status"]))
        kept = [(k, v) for k, v in headers if k.lower() not in (b"content-type", b"content-length")]
        kept += [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({**held, "headers": kept})
        await send({"type": "http.response.body", "body": b"" if head else body})

    return sending


async def refuse_websocket(scope: Any, receive: Any, send: Send) -> None:
    """No route of the gateway is a WebSocket: an upgrade is refused in the one error shape where
    the server lets the app answer over HTTP (the ASGI denial-response extension), else closed."""
    await receive()  # websocket.connect
    if "websocket.http.response" not in scope.get("extensions", {}):
        await send({"type": "websocket.close", "code": 1008})
        return
    body = error_body("WebSocket upgrades are not served")
    rid = request_id([v for k, v in scope["headers"] if k.lower() == b"x-request-id"])
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"x-request-id", rid.encode()),
    ]
    await send({"type": "websocket.http.response.start", "status": 400, "headers": headers})
    await send({"type": "websocket.http.response.body", "body": body})


def guard(app: ASGI, draining: Callable[[], bool] = lambda: False) -> ASGI:
    """Wraps the gateway's ASGI handler (see the module docstring); ``draining``: whether the gateway
    is draining before it stops (blazing_service.serve)."""

    async def guarded(scope: Any, receive: Any, send: Send) -> None:
        if scope["type"] == "websocket":
            await refuse_websocket(scope, receive, send)
            return
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        incoming: list[tuple[bytes, bytes]] = [(k.lower(), v) for k, v in scope["headers"]]
        rid = request_id([v for k, v in incoming if k == b"x-request-id"])
        send = with_request_id(send, rid, draining)
        headers = [(k, v) for k, v in incoming if k not in (b"x-request-id", b"cookie")]
        if cookies := [v for k, v in incoming if k == b"cookie"]:
            headers.append((b"cookie", b"; ".join(cookies)))  # one Cookie header, as HTTP/2 asks
        headers.append((b"x-request-id", rid.encode()))
        method: str = scope["method"]
        try:
            if fault := header_fault(headers):
                raise Refused(fault)
            path = normalise_path(scope.get("raw_path") or scope["path"].encode())
            if errors := query_errors(scope.get("query_string", b"")):
                raise Refused("Validation failed", errors)
        except Refused as refused:
            await refuse(send, scope, headers, 400, refused.message, errors=refused.errors)
            return
        if method not in ALLOWED_METHODS:
            await refuse(send, scope, headers, 405, "Method not allowed", headers=[(b"allow", ALLOW)])
            return
        if is_internal(path) and any(k in PROXY_HEADERS for k, _ in headers):
            await answer(send, 404, error_body("Not found"))
            return
        inner = {**scope, "path": path, "raw_path": encode_path(path).encode(), "headers": headers}
        head = method == "HEAD"
        if head:
            inner.update({"method": "GET", HEAD_KEY: True})
            send = without_body(send)
        plain, started = send, False

        async def tracked(message: dict[str, Any]) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await plain(message)

        send = tracked
        if not is_page(path):
            preflight = method == "OPTIONS" and any(k == b"origin" for k, _ in headers)

            def message_for(status: int) -> str:
                if preflight and status == 400:
                    return "CORS preflight refused: origin, method or headers not allowed"
                return phrase(status)

            send = json_errors(send, message_for, head=head)
        try:
            await app(inner, receive, send)
        except Exception:
            # the framework answers its handlers' errors itself; this is what escapes it (a send
            # wrapper, a middleware) — a JSON 500 rather than the server's plain text
            log.exception("unhandled error at the edge")
            if started:
                raise
            await answer(plain, 500, error_body("Internal server error"))

    return guarded
