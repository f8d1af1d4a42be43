"""The keys that sign access tokens: their rotation (periodic) and the public set (the JWKS)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from auth.application.ports import TokenIssuer


@dataclass(eq=False)
class RotateKeys:
    """A new signing key when the newest is older than the rotation period; the JWKS keeps every key
    whose tokens may still be presented."""

    tokens: TokenIssuer

    async def __call__(self) -> None:
        await self.tokens.rotate()


@dataclass(eq=False)
class PublicKeys:
    tokens: TokenIssuer

    def __call__(self) -> dict[str, Any]:
        return self.tokens.jwks()
