"""Access-token verification: EdDSA signatures against auth's JWKS (cached, fetched again when an
unknown key id shows up, at most every few seconds), issuer, audience, expiry, and the revocation
list in Redis. Redis unreachable → the token is refused (fail closed).

A token that verified is remembered until it expires (``decode``): its signature and claims cannot
change, and verifying them again was a sixth of the gateway's CPU per request. What can change —
the revocation of its session — is not remembered: the caller checks the revocation list on every
request (in the same Redis round trip as the rate limit), so a revocation still takes effect on
the next request."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
from redis.asyncio import Redis

from blazing_service.identity import Identity

REVOKED_PREFIX = "auth:revoked:sid:"
REMEMBERED = 10_000
"""Verified tokens kept (the oldest is forgotten first): a few MB at most."""


class TokenError(Exception):
    """The token is missing a part, malformed, expired, signed by an unknown key, or revoked."""


class RevocationUnavailable(Exception):
    """The revocation list cannot be read: nothing is let through unchecked."""


@dataclass(eq=False)
class TokenVerifier:
    client: httpx.AsyncClient
    jwks_url: str
    redis: Redis
    issuer: str
    audience: str
    refetch_after: float = 5.0
    _keys: dict[str, Any] = field(default_factory=dict, init=False, repr=False)
    _fetched_at: float = field(default=0.0, init=False, repr=False)
    _verified: dict[str, tuple[Identity, float]] = field(default_factory=dict, init=False, repr=False)

    async def _refresh(self) -> None:
        if time.monotonic() - self._fetched_at < self.refetch_after and self._keys:
            return
        response = await self.client.get(self.jwks_url, timeout=3)
        response.raise_for_status()
        self._keys = {k["kid"]: jwt.PyJWK(k).key for k in response.json()["keys"]}
        self._fetched_at = time.monotonic()

    async def _key(self, kid: str) -> Any:
        if kid not in self._keys:
            try:
                await self._refresh()
            except (httpx.HTTPError, KeyError, ValueError) as exc:
                raise TokenError("signing keys unavailable") from exc
        try:
            return self._keys[kid]
        except KeyError:
            raise TokenError("unknown signing key") from None

    async def verify(self, token: str) -> Identity:
        """Signature, claims and the revocation list (one Redis round trip of its own)."""
        identity = await self.decode(token)
        try:
            revoked = await self.redis.exists(revoked_key(identity))
        except Exception as exc:
            raise RevocationUnavailable() from exc
        if revoked:
            raise TokenError("token revoked")
        return identity

    async def decode(self, token: str) -> Identity:
        """Signature and claims only; the caller checks ``revoked_key`` (batched with its other
        Redis work). A token verified before is taken as verified until its expiry."""
        if (known := self._verified.get(token)) is not None:
            if time.time() < known[1]:
                return known[0]
            del self._verified[token]
        identity, expires = await self._verify(token)
        if len(self._verified) >= REMEMBERED:
            del self._verified[next(iter(self._verified))]
        self._verified[token] = (identity, expires)
        return identity

    async def _verify(self, token: str) -> tuple[Identity, float]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise TokenError("malformed token") from exc
        key = await self._key(str(header.get("kid", "")))
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=["EdDSA"],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["sub", "sid", "exp", "iat", "jti"]},
            )
            identity = Identity(
                user_id=uuid.UUID(claims["sub"]),
                session_id=uuid.UUID(claims["sid"]),
                permissions=int(claims["permissions"]),
            )
            expires = float(claims["exp"])
        except (jwt.PyJWTError, KeyError, ValueError, TypeError) as exc:
            raise TokenError(str(exc)) from exc
        return identity, expires


def revoked_key(identity: Identity) -> str:
    return f"{REVOKED_PREFIX}{identity.session_id}"
