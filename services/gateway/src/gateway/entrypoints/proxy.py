"""The proxy: every public path to its service, over pooled connections, with the caller's identity.

Per request (the path already canonical, see edge.guard): route by prefix (unknown → 404); verify
the access token's signature and claims if one is sent (401; a page session's cookie that fails or
is revoked is no identity instead, and API paths take bearer tokens only); then one Redis round
trip counts the client's request for its rate limit and checks the session against the revocation
list (429 + Retry-After; 401; 503 when Redis is unreachable — nothing passes unchecked); then
forward with X-Request-Id, X-Forwarded-*, traceparent and the gateway-signed identity (identity
headers a client sent are dropped). Bodies stream both ways; HEAD is asked as GET, body unread.
Upstream down → 503, slow → 504, broken → 502, all as JSON.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp
import msgspec
from litestar import asgi
from litestar.handlers import ASGIRouteHandler
from litestar.types import Receive, Scope, Send
from yarl import URL

from blazing_service.identity import IDENTITY_HEADER, SIGNATURE_HEADER, Identity, sign
from blazing_service.instances import SAFE_METHODS
from blazing_service.logs import request_id_var
from blazing_service.tracing import inject
from gateway.adapters.ratelimit import RateLimiter
from gateway.adapters.tokens import TokenError, TokenVerifier, revoked_key
from gateway.adapters.upstreams import Upstream
from gateway.domain.requests import client_address, encode_path, encode_query
from gateway.domain.routes import WEB_PAGES, is_console_page, is_strict, is_web_page, upstream_of
from gateway.entrypoints import edge
from gateway.entrypoints.edge import HEAD_KEY
from gateway.settings import GatewaySettings

log = logging.getLogger(__name__)

HOP_BY_HOP = {
    b"connection",
    b"keep-alive",
    b"proxy-authenticate",
    b"proxy-authorization",
    b"te",
    b"trailers",
    b"transfer-encoding",
    b"upgrade",
    b"host",
    b"content-length",
}
DROPPED_FROM_CLIENT = HOP_BY_HOP | {
    IDENTITY_HEADER.encode(),
    SIGNATURE_HEADER.encode(),
    b"authorization",
    b"x-forwarded-for",
    b"x-forwarded-proto",
    b"x-forwarded-host",
    b"x-real-ip",
    b"x-request-id",
}
RESPONSE_DROPPED = HOP_BY_HOP - {b"content-length"}
UNAUTHORIZED = (401, "Invalid or expired token", [(b"www-authenticate", b"Bearer")])
WHOLE_BODY_BYTES = 65_536
"""A body of a declared length up to this is read whole and sent with its Content-Length; a larger
one (uploads) or one of no declared length streams through, chunked. A JSON write streamed chunked
cost the gateway and the service a chunk framing and more writes per request (#19)."""


class Refuse(Protocol):
    """How the proxy answers a request it refuses itself: edge.refuse for this request (the one JSON
    shape, or an error page for a browser on a page path, as the edge's own refusals and nginx's
    errors answer there: a person rate limited on the sign-in form was shown a raw JSON document)."""

    async def __call__(self, status: int, message: str, headers: list[tuple[bytes, bytes]] | None = None) -> None: ...


def console_token(path: str, cookie_header: bytes) -> str | None:
    """The access token a page session keeps in its cookie — the ops console's on its pages, the
    web pages' on theirs. An API path never takes a cookie, the console's API (/ops/api) included:
    bearer tokens only, so no cross-site request can act with a browser's session there.

    Only that one cookie is read, pair by pair: a malformed cookie beside it (``a="\\x``, which any
    site sharing the domain can plant) made the whole header unreadable to a cookie parser and so
    signed the person out."""
    if is_console_page(path):
        name = b"bs_ops"
    elif is_web_page(path):
        name = b"bs_session"
    else:
        return None
    for pair in cookie_header.split(b";"):
        key, sep, value = pair.partition(b"=")
        if sep and key.strip() == name:
            token = value.strip().strip(b'"')
            return token.decode("latin-1") if token else None
    return None


@dataclass(eq=False)
class Proxy:
    settings: GatewaySettings = field(repr=False)  # it holds the identity secret
    upstreams: dict[str, Upstream]
    verifier: TokenVerifier
    limiter: RateLimiter

    async def __call__(self, scope: Any, receive: Receive, send: Any) -> None:
        """Raw ASGI (scope and send untyped: the proxy builds its messages itself)."""

        async def refuse(status: int, message: str, headers: list[tuple[bytes, bytes]] | None = None) -> None:
            # JSON or a page is decided only when refusing: the hot path reads no Accept header
            await edge.refuse(send, scope, scope["headers"], status, message, headers=headers)

        if not self.upstreams:  # not started yet, or shutting down
            await refuse(503, "Service unavailable")
            return
        path: str = scope["path"]
        service = upstream_of(path)
        if service is None or service not in self.upstreams:
            await refuse(404, "Not found")
            return
        raw_headers: list[tuple[bytes, bytes]] = [(k.lower(), v) for k, v in scope["headers"]]
        headers = dict(raw_headers)
        client_ip = client_address(headers.get(b"x-real-ip"), (scope.get("client") or ("unknown",))[0])

        identity: Identity | None = None
        from_cookie = False
        # latin-1 reads any bytes: a token that is not ASCII simply fails verification (401)
        authorization = headers.get(b"authorization", b"").decode("latin-1")
        if not authorization and (cookie := console_token(path, headers.get(b"cookie", b""))):
            # a page session's cookie: a valid one is a bearer token; one that fails verification
            # (or, below, is revoked) is no identity at all — the page then clears it and asks to
            # sign in again instead of the browser being locked out by a 401
            with contextlib.suppress(TokenError):
                identity = await self.verifier.decode(cookie)
                from_cookie = True
        elif authorization:
            scheme, _, token = authorization.partition(" ")
            try:
                if scheme.lower() != "bearer" or not token:
                    raise TokenError("not a bearer token")
                identity = await self.verifier.decode(token.strip())
            except TokenError:
                await refuse(*UNAUTHORIZED)
                return

        strict = is_strict(path, scope["method"])
        try:
            retry_after, revoked = await self.limiter.hit(
                "strict" if strict else "all",
                client_ip,
                self.settings.strict_rate_limit if strict else self.settings.rate_limit,
                revoked_key(identity) if identity else None,
            )
        except Exception:
            log.exception("redis unreachable: refusing rather than letting requests through unchecked")
            await refuse(503, "Service unavailable")
            return
        if retry_after is not None:
            await refuse(429, "Too many requests", [(b"retry-after", str(retry_after).encode())])
            return
        if revoked and from_cookie:
            identity = None
        elif revoked:
            await refuse(*UNAUTHORIZED)
            return

        request_id = request_id_var.get() or str(uuid.uuid4())
        proto = headers.get(b"x-forwarded-proto", b"https")
        # values are UTF-8 (edge.guard refuses anything else) and aiohttp writes them as UTF-8:
        # read as latin-1 they would reach the service encoded twice
        forwarded = [
            (k.decode("latin-1"), v.decode("utf-8", "replace")) for k, v in raw_headers if k not in DROPPED_FROM_CLIENT
        ]
        forwarded += [
            ("x-request-id", request_id),
            ("x-forwarded-for", client_ip),
            ("x-real-ip", client_ip),
            ("x-forwarded-proto", "http" if proto == b"http" else "https"),
        ]
        if trace_context := inject():  # the gateway's span is the parent of the service's
            forwarded = [(k, v) for k, v in forwarded if k not in trace_context] + list(trace_context.items())
        if identity is not None:
            forwarded += sign(
                msgspec.structs.replace(identity, request_id=request_id), self.settings.identity_secret
            ).items()
        # the canonical path (edge.guard) encoded again: what the service routes is what the
        # gateway routed and limited; a "?" or "#" inside a segment stays inside it
        query = encode_query(scope.get("query_string", b""))
        url = URL(encode_path(path) + (f"?{query}" if query else ""), encoded=True)
        await self._forward(
            service,
            scope["method"],
            url,
            forwarded,
            receive,
            send,
            refuse,
            has_body=b"content-length" in headers or b"transfer-encoding" in headers,
            head=bool(scope.get(HEAD_KEY)),
            length=declared_length(headers),
        )

    async def _forward(
        self,
        service: str,
        method: str,
        url: URL,
        headers: list[tuple[str, str]],
        receive: Receive,
        send: Any,
        refuse: Refuse,
        *,
        has_body: bool,
        head: bool = False,
        length: int | None = None,
    ) -> None:
        data: bytes | AsyncIterator[bytes] | None = None
        if has_body and length is not None and length <= WHOLE_BODY_BYTES:
            data = await whole_body(receive)
            if data is None:  # the client went away before its body was complete: nothing to send
                return
        elif has_body:
            data = streamed_body(receive)
        response = await self._request(service, method, url, headers, data, refuse)
        if response is None:
            return
        try:
            out = [(k.lower(), v) for k, v in response.raw_headers if k.lower() not in RESPONSE_DROPPED]
            await send({"type": "http.response.start", "status": response.status, "headers": out})
            if head:  # asked as GET for a HEAD: the headers are the answer, the body is not read
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            try:
                async for chunk in response.content.iter_any():
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            except (aiohttp.ClientError, TimeoutError) as exc:
                log.warning("%s %s via %s broke mid-response: %r", method, url, service, exc)
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            response.release()

    async def _request(
        self,
        service: str,
        method: str,
        url: URL,
        headers: list[tuple[str, str]],
        data: bytes | AsyncIterator[bytes] | None,
        refuse: Refuse,
    ) -> aiohttp.ClientResponse | None:
        """The upstream's response, or None once the failure is answered (or the client is gone).
        An instance that refuses the connection, or does not accept it within the connect timeout
        (a stopped container's address answers nothing), is ejected and the next one asked —
        nothing was sent; 503 when none takes it. An instance that drops the connection before it
        answers (killed mid-request) has the request asked of the next one only when the request
        is safe to send twice (``SAFE_METHODS``, its body whole); otherwise 502."""
        upstream = self.upstreams[service]
        retry = method in SAFE_METHODS and not isinstance(data, AsyncIterator)
        dropped: aiohttp.ClientError | None = None
        try:
            for instance in upstream.order():
                try:
                    return await instance.session.request(
                        method, url, headers=headers, data=data, allow_redirects=False
                    )
                except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError):
                    upstream.refused(instance)
                except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
                    if not retry:
                        raise
                    log.info("%s %s via %s: %s dropped the connection (%r)", method, url, service, instance.url, exc)
                    dropped = exc
            if dropped is not None:
                raise dropped
            await refuse(503, "Service unavailable")
        except (TimeoutError, aiohttp.ServerTimeoutError):
            await refuse(504, "Upstream timed out")
        except aiohttp.ClientError as exc:
            if not isinstance(exc.__cause__ or exc.__context__, ClientGone):  # aiohttp wraps it
                log.warning("%s %s via %s failed: %r", method, url, service, exc)
                await refuse(502, "Bad gateway")
        except ClientGone:
            pass
        return None


class ClientGone(Exception):
    """The client disconnected before its request body was complete."""


def declared_length(headers: dict[bytes, bytes]) -> int | None:
    """The request's Content-Length when it declares one (and no Transfer-Encoding), else None."""
    raw = headers.get(b"content-length")
    if raw is None or b"transfer-encoding" in headers or not raw.isdigit():
        return None
    return int(raw)


async def streamed_body(receive: Receive) -> AsyncIterator[bytes]:
    """The request's body as it comes; a client that goes away mid-body aborts the upstream
    request (ClientGone) instead of ending it as if the body were complete."""
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise ClientGone
        if chunk := message.get("body", b""):
            yield chunk
        if not message.get("more_body", False):
            return


async def whole_body(receive: Receive) -> bytes | None:
    """The request's body read to its end, or None when the client disconnected first."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def mounts(proxy: Proxy) -> list[ASGIRouteHandler]:
    """The gateway's routes that are the proxy: /api/v1, /ops, the JWKS, the start page and every
    web-page prefix (each passed on with its full path)."""

    @asgi("/api/v1", is_mount=True, copy_scope=True)
    async def api(scope: Scope, receive: Receive, send: Send) -> None:
        await proxy({**scope, "path": "/api/v1" + scope["path"]}, receive, send)

    @asgi("/ops", is_mount=True, copy_scope=True)
    async def ops(scope: Scope, receive: Receive, send: Send) -> None:
        await proxy({**scope, "path": "/ops" + scope["path"]}, receive, send)

    @asgi("/.well-known/jwks.json", copy_scope=True)
    async def jwks(scope: Scope, receive: Receive, send: Send) -> None:
        await proxy(scope, receive, send)

    @asgi("/", copy_scope=True)
    async def home(scope: Scope, receive: Receive, send: Send) -> None:
        await proxy(scope, receive, send)

    def page(prefix: str) -> ASGIRouteHandler:
        """A mount passing one web-page prefix (and what is under it) to the proxy."""

        async def forward(scope: Scope, receive: Receive, send: Send) -> None:
            await proxy({**scope, "path": (prefix + scope["path"]).rstrip("/") or "/"}, receive, send)

        forward.__name__ = "page_" + prefix.strip("/").replace("-", "_")
        return asgi(prefix, is_mount=True, copy_scope=True)(forward)

    return [api, ops, jwks, home, *(page(p.rstrip("/")) for p in WEB_PAGES)]
