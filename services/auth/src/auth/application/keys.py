"""The keys that sign access tokens: their rotation (periodic) and the public set (the JWKS)."""

from __future__ import annotations

from typing import Any

from auth.application.ports import TokenIssuer


class RotateKeys:
    """A new signing key when the newest is older than the rotation period; the JWKS keeps every key
    whose tokens may still be presented."""

    def __init__(self, tokens: TokenIssuer) -> None:
        self.tokens = tokens

    async def __call__(self) -> None:
        await self.tokens.rotate()


class PublicKeys:
    def __init__(self, tokens: TokenIssuer) -> None:
        self.tokens = tokens

    def __call__(self) -> dict[str, Any]:
        return self.tokens.jwks()
