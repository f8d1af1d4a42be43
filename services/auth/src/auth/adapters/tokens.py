"""Access tokens: EdDSA (Ed25519) JWTs with a key id, the keys kept in the database and rotated.

The newest key signs; every key younger than its retirement date is published in the JWKS, so
tokens signed just before a rotation keep verifying until they expire. Several instances share the
keys (an advisory lock makes one of them rotate).
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from dataclasses import KW_ONLY, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from psycopg_pool import AsyncConnectionPool

_LOCK: Final = "SELECT pg_advisory_xact_lock(hashtext('auth.signing_keys'))"


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


@dataclass(eq=False)
class SigningKeys:
    """The TokenIssuer port on PostgreSQL's signing_keys table."""

    pool: AsyncConnectionPool
    _: KW_ONLY
    rotation: timedelta
    token_ttl: timedelta
    issuer: str
    audience: str
    current: SigningKey | None = field(default=None, init=False, repr=False)
    _jwks: dict[str, Any] = field(default_factory=lambda: {"keys": []}, init=False, repr=False)

    async def rotate(self) -> None:
        """Makes sure a fresh key exists (a new one when the newest is older than the period), and
        reloads the signing key and the JWKS."""
        async with self.pool.connection() as conn, conn.transaction():
            await conn.execute(_LOCK)
            row = await (
                await conn.execute(
                    "SELECT kid, private_pem, created_at FROM signing_keys ORDER BY created_at DESC LIMIT 1"
                )
            ).fetchone()
            if row is None or row[2] < datetime.now(UTC) - self.rotation:
                kid, pem, jwk = new_key()
                retire = datetime.now(UTC) + self.rotation * 2 + self.token_ttl
                await conn.execute(
                    "INSERT INTO signing_keys (kid, private_pem, public_jwk, retire_after) VALUES (%s, %s, %s, %s)",
                    (kid, pem, json.dumps(jwk), retire),
                )
                row = (kid, pem, None)
            current = SigningKey(row[0], row[1])
            keys = await (
                await conn.execute(
                    "SELECT public_jwk FROM signing_keys WHERE retire_after > now() ORDER BY created_at DESC"
                )
            ).fetchall()
        self.current, self._jwks = current, {"keys": [k[0] for k in keys]}

    def jwks(self) -> dict[str, Any]:
        return self._jwks

    def issue(self, *, user_id: uuid.UUID, session_id: uuid.UUID, permissions: int) -> str:
        if self.current is None:
            raise RuntimeError("signing keys not loaded (rotate() runs at start)")
        iat = int(time.time())
        claims = {
            "sub": str(user_id),
            "sid": str(session_id),
            "jti": uuid.uuid4().hex,
            "iat": iat,
            "exp": iat + int(self.token_ttl.total_seconds()),
            "iss": self.issuer,
            "aud": self.audience,
            "permissions": permissions,
        }
        return jwt.encode(claims, self.current.private_key, algorithm="EdDSA", headers={"kid": self.current.kid})
