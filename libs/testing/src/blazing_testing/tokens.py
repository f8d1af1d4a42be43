"""Access tokens made by a test as auth makes them: signed with auth's current key (read from its
database) or any other, with any claim overridden."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import psycopg
from cryptography.hazmat.primitives import serialization

from blazing_testing.stack import stack_env


async def auth_signing_key() -> tuple[str, Any]:
    """Auth's newest signing key: (its kid, the private key)."""
    async with await psycopg.AsyncConnection.connect(stack_env().database_url("auth")) as conn:
        row = await (
            await conn.execute("SELECT kid, private_pem FROM signing_keys ORDER BY created_at DESC LIMIT 1")
        ).fetchone()
    assert row is not None
    return row[0], serialization.load_pem_private_key(row[1].encode(), password=None)


def mint(kid: str, key: Any, **overrides: Any) -> str:
    """A super admin's access token for a new user and session, valid 5 minutes, unless overridden."""
    now = datetime.now(UTC)
    claims = {
        "sub": str(uuid.uuid4()),
        "sid": str(uuid.uuid4()),
        "jti": uuid.uuid4().hex,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=5)).timestamp()),
        "iss": stack_env()["PUBLIC_BASE_URL"],
        "aud": "blazing-sun",
        "permissions": 100,
        **overrides,
    }
    return jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": kid})
