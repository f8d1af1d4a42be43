"""Plays the gateway's part for service tests: verifies an access token against auth's JWKS and
the revocation list, then signs the identity headers services trust."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import jwt
import redis.asyncio as aioredis

from blazing_service.identity import Identity, sign
from blazing_testing.stack import StackEnv


class TokenRefused(Exception):
    pass


class FakeGateway:
    def __init__(self, env: StackEnv) -> None:
        self.env = env
        self.auth_url = f"http://127.0.0.1:{env['AUTH_PORT']}"

    async def headers(self, access_token: str) -> dict[str, str]:
        async with httpx.AsyncClient(base_url=self.auth_url) as client:
            jwks = (await client.get("/.well-known/jwks.json")).json()
        kid = jwt.get_unverified_header(access_token).get("kid")
        key = next((k for k in jwks["keys"] if k["kid"] == kid), None)
        if key is None:
            raise TokenRefused("unknown key id")
        try:
            claims: dict[str, Any] = jwt.decode(
                access_token,
                jwt.PyJWK(key).key,
                algorithms=["EdDSA"],
                audience="blazing-sun",
                issuer=self.env["PUBLIC_BASE_URL"],
            )
        except jwt.PyJWTError as exc:
            raise TokenRefused(str(exc)) from exc
        store = aioredis.Redis(
            host=self.env["REDIS_HOST"],
            port=int(self.env["REDIS_PORT"]),
            username=self.env["REDIS_USER"],
            password=self.env["REDIS_PASSWORD"],
        )
        async with store:
            if await store.exists(f"auth:revoked:sid:{claims['sid']}"):
                raise TokenRefused("revoked")
        identity = Identity(
            user_id=uuid.UUID(claims["sub"]),
            session_id=uuid.UUID(claims["sid"]),
            permissions=int(claims["permissions"]),
        )
        return sign(identity, self.env["GATEWAY_IDENTITY_SECRET"])
