"""The proxy: every public path to its service, over pooled connections, with the caller's identity.

Per request: route by prefix (unknown → 404), rate limit per client (429 + Retry-After), verify the
access token if one is sent (401; 503 when the revocation list is unreachable), then forward with
X-Request-Id, X-Forwarded-*, traceparent and the gateway-signed identity (identity headers a
client sent are dropped). Bodies stream both ways. Upstream down → 503, slow → 504, broken → 502.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import msgspec
from litestar.types import Receive

from blazing_service.identity import IDENTITY_HEADER, SIGNATURE_HEADER, sign
from blazing_service.logs import request_id_var
from gateway.adapters.ratelimit import RateLimiter
from gateway.adapters.tokens import RevocationUnavailable, TokenError, TokenVerifier
from gateway.domain.routes import is_strict, upstream_of
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
}
RESPONSE_DROPPED = HOP_BY_HOP - {b"content-length"}
_encoder = msgspec.json.Encoder()


async def respond(send: Any, status: int, message: str, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    body = _encoder.encode({"status": "error", "message": message})
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class Proxy:
    def __init__(
        self,
        settings: GatewaySettings,
        clients: dict[str, httpx.AsyncClient],
        verifier: TokenVerifier,
        limiter: RateLimiter,
    ) -> None:
        self.settings = settings
        self.clients = clients
        self.verifier = verifier
        self.limiter = limiter

    async def __call__(self, scope: Any, receive: Receive, send: Any) -> None:
        """Raw ASGI (scope and send untyped: the proxy builds its messages itself)."""
        path: str = scope["path"]
        service = upstream_of(path)
        if service is None or service not in self.clients:
            await respond(send, 404, "Not found")
            return
        headers: dict[bytes, bytes] = {}
        for name, value in scope["headers"]:
            headers[name.lower()] = value
        client_ip = headers.get(b"x-real-ip", b"").decode() or (scope.get("client") or ("unknown",))[0]

        strict = is_strict(path)
        retry_after = await self.limiter.hit(
            "strict" if strict else "all",
            client_ip,
            self.settings.strict_rate_limit if strict else self.settings.rate_limit,
        )
        if retry_after is not None:
            await respond(send, 429, "Too many requests", [(b"retry-after", str(retry_after).encode())])
            return

        identity_headers: dict[str, str] = {}
        authorization = headers.get(b"authorization", b"").decode()
        if authorization:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer" or not token:
                await respond(send, 401, "Invalid or expired token", [(b"www-authenticate", b"Bearer")])
                return
            try:
                identity = await self.verifier.verify(token.strip())
            except TokenError:
                await respond(send, 401, "Invalid or expired token", [(b"www-authenticate", b"Bearer")])
                return
            except RevocationUnavailable:
                await respond(send, 503, "Service unavailable")
                return
            request_id = request_id_var.get() or str(uuid.uuid4())
            identity_headers = sign(
                msgspec.structs.replace(identity, request_id=request_id), self.settings.identity_secret
            )

        forwarded = [(k.decode(), v.decode("latin-1")) for k, v in headers.items() if k not in DROPPED_FROM_CLIENT]
        forwarded += [
            ("x-request-id", request_id_var.get() or str(uuid.uuid4())),
            ("x-forwarded-for", client_ip),
            ("x-real-ip", client_ip),
            ("x-forwarded-proto", headers.get(b"x-forwarded-proto", b"https").decode()),
            *identity_headers.items(),
        ]
        query = scope.get("query_string", b"").decode("latin-1")
        url = path + (f"?{query}" if query else "")
        await self._forward(
            service,
            scope["method"],
            url,
            forwarded,
            receive,
            send,
            has_body=b"content-length" in headers or b"transfer-encoding" in headers,
        )

    async def _forward(
        self,
        service: str,
        method: str,
        url: str,
        headers: list[tuple[str, str]],
        receive: Receive,
        send: Any,
        *,
        has_body: bool,
    ) -> None:
        async def body() -> AsyncIterator[bytes]:
            while True:
                message = await receive()
                if message["type"] != "http.request":
                    return
                chunk = message.get("body", b"")
                if chunk:
                    yield chunk
                if not message.get("more_body", False):
                    return

        client = self.clients[service]
        request = client.build_request(method, url, headers=headers, content=body() if has_body else None)
        try:
            response = await client.send(request, stream=True)
        except httpx.ConnectError:
            await respond(send, 503, "Service unavailable")
            return
        except httpx.TimeoutException:
            await respond(send, 504, "Upstream timed out")
            return
        except httpx.HTTPError as exc:
            log.warning("%s %s via %s failed: %r", method, url, service, exc)
            await respond(send, 502, "Bad gateway")
            return
        try:
            out = [
                (k.encode(), v.encode("latin-1"))
                for k, v in response.headers.multi_items()
                if k.encode() not in RESPONSE_DROPPED
            ]
            await send({"type": "http.response.start", "status": response.status_code, "headers": out})
            try:
                async for chunk in response.aiter_raw():
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            except httpx.HTTPError as exc:  # the upstream broke mid-body; the status is already sent
                log.warning("%s %s via %s broke mid-response: %r", method, url, service, exc)
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            await response.aclose()


def upstream_clients(settings: GatewaySettings) -> dict[str, httpx.AsyncClient]:
    timeout = httpx.Timeout(settings.upstream_timeout, connect=2.0)
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=64)
    return {
        name: httpx.AsyncClient(base_url=url, timeout=timeout, limits=limits)
        for name, url in settings.upstreams.items()
    }
