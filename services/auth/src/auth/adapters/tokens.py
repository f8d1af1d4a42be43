"""Access tokens: EdDSA (Ed25519) JWTs with a key id, keys kept in the database and rotated.

The newest key signs; every key younger than its retirement date is published in the JWKS, so
tokens signed just before a rotation keep verifying until they expire.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from psycopg import AsyncConnection


class SigningKey:
    def __init__(self, kid: str, private_pem: str) -> None:
        self.kid = kid
        key = serialization.load_pem_private_key(private_pem.encode(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise TypeError(f"signing key {kid} is not Ed25519")
        self.private_key = key


def new_key() -> tuple[str, str, dict[str, Any]]:
    key = Ed25519PrivateKey.generate()
    kid = secrets.token_hex(8)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    jwk = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(key.public_key()))
    jwk.update({"kid": kid, "use": "sig", "alg": "EdDSA"})
    return kid, pem, jwk


class Keys:
    def __init__(self, rotation: timedelta, token_ttl: timedelta) -> None:
        self._rotation = rotation
        self._token_ttl = token_ttl
        self.current: SigningKey | None = None
        self.jwks: dict[str, Any] = {"keys": []}

    async def load(self, conn: AsyncConnection[Any]) -> None:
        """Makes sure a fresh key exists (rotating when the newest is older than the period)."""
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext('auth.signing_keys'))")
            row = await (
                await conn.execute(
                    "SELECT kid, private_pem, created_at FROM signing_keys ORDER BY created_at DESC LIMIT 1"
                )
            ).fetchone()
            if row is None or row[2] < datetime.now(UTC) - self._rotation:
                kid, pem, jwk = new_key()
                retire = datetime.now(UTC) + self._rotation * 2 + self._token_ttl
                await conn.execute(
                    "INSERT INTO signing_keys (kid, private_pem, public_jwk, retire_after) VALUES (%s, %s, %s, %s)",
                    (kid, pem, json.dumps(jwk), retire),
                )
                row = (kid, pem, None)
            self.current = SigningKey(row[0], row[1])
            keys = await (
                await conn.execute(
                    "SELECT public_jwk FROM signing_keys WHERE retire_after > now() ORDER BY created_at DESC"
                )
            ).fetchall()
            self.jwks = {"keys": [k[0] for k in keys]}

    def issue(
        self,
        *,
        user_id: uuid.UUID,
        session_id: uuid.UUID,
        permissions: int,
        issuer: str,
        audience: str,
        now: float | None = None,
    ) -> tuple[str, int]:
        assert self.current is not None, "keys not loaded"
        iat = int(now or time.time())
        exp = iat + int(self._token_ttl.total_seconds())
        claims = {
            "sub": str(user_id),
            "sid": str(session_id),
            "jti": uuid.uuid4().hex,
            "iat": iat,
            "exp": exp,
            "iss": issuer,
            "aud": audience,
            "permissions": permissions,
        }
        token = jwt.encode(claims, self.current.private_key, algorithm="EdDSA", headers={"kid": self.current.kid})
        return token, exp
