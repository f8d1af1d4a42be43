"""How a one-time code is judged, in the original's order and words (upstream inventory §4.3): no
such code (404), then used / expired / replaced (400), then the wrong kind of code (400)."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec

from auth.adapters.postgres import Codes
from blazing_service import ApiError, BadRequest, NotFound, ValidationFailed


class Words(msgspec.Struct, frozen=True):
    unknown: str
    spent: str
    wrong_kind: str


CODE = Words("Invalid or expired code", "Code has expired or already been used", "Invalid code type")
ACTIVATION = Words(
    "Invalid or expired activation code", "Activation code has expired or already been used", "Invalid activation code"
)
LINK = Words("Invalid or expired link", "Link has expired or already been used", "Invalid link type")

VERIFIABLE = ("forgot_password", "password_change")
"""What verify-hash checks (SPEC §4.1): reset and change codes, never activation or set-password ones."""


async def take(
    codes: Codes,
    conn: Any,
    code: str,
    purposes: tuple[str, ...],
    words: Words,
    *,
    use: bool,
    owner: uuid.UUID | None = None,
    field: str | None = None,
) -> tuple[uuid.UUID, str]:
    """The owner and purpose of a usable code of one of ``purposes`` (spent when ``use``); else the
    error the original answers — as a field error of ``field`` when given (reset-password's body)."""
    found = await codes.find(conn, code, lock=use)
    error: ApiError | None = None
    if found is None or (owner is not None and found[0] != owner):
        error = NotFound(words.unknown)
    elif not found[2]:
        error = BadRequest(words.spent)
    elif found[1] not in purposes:
        error = BadRequest(words.wrong_kind)
    if error is not None:
        raise ValidationFailed({field: [error.message]}) if field else error
    assert found is not None
    if use:
        await codes.spend(conn, code)
    return found[0], found[1]
