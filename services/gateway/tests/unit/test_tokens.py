"""Access-token verification: a verified token is remembered until it expires, never past it, and
only tokens that verified (#19); the revocation list is not remembered."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.adapters import tokens
from gateway.adapters.tokens import TokenError, TokenVerifier

ISSUER, AUDIENCE, KID = "blazing-auth", "blazing", "k1"


class Revocations:
    """What the verifier asks Redis: whether a session's revocation key exists."""

    def __init__(self) -> None:
        self.revoked: set[str] = set()

    async def exists(self, key: str) -> int:
        return int(key in self.revoked)


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def verifier(key: Ed25519PrivateKey, redis: Any) -> TokenVerifier:
    jwk = jwt.algorithms.OKPAlgorithm.to_jwk(key.public_key(), as_dict=True)

    def jwks(_: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"keys": [{**jwk, "kid": KID}]})

    client = httpx.AsyncClient(transport=httpx.MockTransport(jwks), base_url="http://auth")
    return TokenVerifier(client, "/.well-known/jwks.json", redis, ISSUER, AUDIENCE)


def token(key: Ed25519PrivateKey, *, session: uuid.UUID | None = None, lifetime: float = 60) -> str:
    now = int(time.time())
    claims = {
        "sub": str(uuid.uuid4()),
        "sid": str(session or uuid.uuid4()),
        "permissions": 1,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + lifetime,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": KID})


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every signature verification the verifier makes."""
    seen: list[str] = []
    real = jwt.decode

    def counted(raw: str, *args: Any, **kwargs: Any) -> Any:
        seen.append(raw)
        return real(raw, *args, **kwargs)

    monkeypatch.setattr(tokens.jwt, "decode", counted)
    return seen


async def test_a_token_is_verified_once_then_remembered(key: Ed25519PrivateKey, decodes: list[str]) -> None:
    v, t = verifier(key, Revocations()), token(key)
    first = await v.decode(t)
    assert await v.decode(t) == first
    assert await v.decode(t) == first
    assert decodes == [t]


async def test_a_remembered_token_is_refused_once_it_expired(
    key: Ed25519PrivateKey, decodes: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    v, t = verifier(key, Revocations()), token(key, lifetime=5)
    await v.decode(t)
    later = time.time() + 6
    monkeypatch.setattr(tokens.time, "time", lambda: later)
    monkeypatch.setattr(jwt.api_jwt, "datetime", _FrozenDatetime(later))
    with pytest.raises(TokenError):
        await v.decode(t)
    assert decodes == [t, t]  # verified again (and refused), not taken from memory


async def test_a_token_that_fails_is_not_remembered(key: Ed25519PrivateKey, decodes: list[str]) -> None:
    v = verifier(key, Revocations())
    forged = token(Ed25519PrivateKey.generate())
    for _ in range(2):
        with pytest.raises(TokenError):
            await v.decode(forged)
    assert decodes == [forged, forged]


async def test_a_revocation_counts_on_the_next_request_of_a_remembered_token(key: Ed25519PrivateKey) -> None:
    redis, session = Revocations(), uuid.uuid4()
    v, t = verifier(key, redis), token(key, session=session)
    await v.verify(t)
    redis.revoked.add(f"{tokens.REVOKED_PREFIX}{session}")
    with pytest.raises(TokenError, match="revoked"):
        await v.verify(t)


async def test_memory_is_bounded(key: Ed25519PrivateKey, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tokens, "REMEMBERED", 3)
    v = verifier(key, Revocations())
    for _ in range(5):
        await v.decode(token(key))
    assert len(v._verified) == 3


class _FrozenDatetime:
    """PyJWT reads the clock through ``datetime.now``: this one says ``at``."""

    def __init__(self, at: float) -> None:
        import datetime as real  # noqa: PLC0415 - the real module behind the stand-in

        self._real, self._at = real.datetime, at

    def now(self, tz: Any = None) -> Any:
        return self._real.fromtimestamp(self._at, tz)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)
