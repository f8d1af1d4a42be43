"""The caller's identity as the gateway vouches for it.

The gateway verifies the access token (signature, expiry, revocation) and forwards the identity in
``X-Identity`` (base64url JSON) with ``X-Identity-Signature`` = HMAC-SHA256 of it under
``GATEWAY_IDENTITY_SECRET``, a secret only the gateway and the services hold. Each assertion lives
for 30 seconds. A request sent straight to a service with headers it made up fails the HMAC check
and is treated as anonymous (401 on every protected route).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any
from uuid import UUID

import msgspec
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from blazing_service.errors import Forbidden, Unauthorized

IDENTITY_HEADER = "x-identity"
SIGNATURE_HEADER = "x-identity-signature"
LIFETIME_SECONDS = 30

BASIC, ADMIN, AFFILIATE, SUPER_ADMIN = 1, 10, 50, 100


class Identity(msgspec.Struct, frozen=True, kw_only=True):
    user_id: UUID
    permissions: int
    session_id: UUID | None = None
    expires_at: int = 0
    request_id: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.permissions in (ADMIN, SUPER_ADMIN)

    @property
    def is_super_admin(self) -> bool:
        return self.permissions == SUPER_ADMIN


def _mac(secret: str, payload: bytes) -> str:
    return hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()


def sign(identity: Identity, secret: str, now: float | None = None) -> dict[str, str]:
    stamped = msgspec.structs.replace(identity, expires_at=int((now or time.time()) + LIFETIME_SECONDS))
    payload = base64.urlsafe_b64encode(msgspec.json.encode(stamped))
    return {IDENTITY_HEADER: payload.decode(), SIGNATURE_HEADER: _mac(secret, payload)}


def verify(headers: Any, secret: str, now: float | None = None) -> Identity | None:
    """The identity if the headers carry a valid, unexpired gateway signature; else None."""
    payload, signature = headers.get(IDENTITY_HEADER), headers.get(SIGNATURE_HEADER)
    if not payload or not signature:
        return None
    raw = payload.encode()
    if not hmac.compare_digest(_mac(secret, raw), signature):
        return None
    try:
        identity = msgspec.json.decode(base64.urlsafe_b64decode(raw), type=Identity)
    except (msgspec.DecodeError, msgspec.ValidationError, ValueError):
        return None
    if identity.expires_at < (now or time.time()):
        return None
    return identity


SCOPE_KEY = "blazing.identity"
"""Where a request's verified identity is kept: the guard and the handler check the HMAC once."""


def identity_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Identity | None:
    scope: Any = connection.scope
    if SCOPE_KEY not in scope:
        secret: str = connection.app.state.identity_secret
        scope[SCOPE_KEY] = verify(connection.headers, secret)
    identity: Identity | None = scope[SCOPE_KEY]
    return identity


def current_identity(connection: ASGIConnection[Any, Any, Any, Any]) -> Identity:
    identity = identity_of(connection)
    if identity is None:
        raise Unauthorized("Authentication required")
    return identity


# the guards are coroutines: Litestar runs a plain function guard in a worker thread, a thread hop
# on every request that cost more than the check itself (#19)
async def require_user(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    current_identity(connection)


async def require_admin(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    if not current_identity(connection).is_admin:
        raise Forbidden("Admin permission required")


async def require_super_admin(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    if not current_identity(connection).is_super_admin:
        raise Forbidden("Super admin permission required")
