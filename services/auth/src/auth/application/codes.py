"""A one-time code presented by a caller, judged by the domain (auth.domain.codes) and answered in
the original's words (upstream inventory §4.3): no such code (not found), then used / expired /
replaced, then the wrong kind of code (bad input) — as a field error when the code came in a
body's field (reset-password)."""

from __future__ import annotations

import uuid
from collections.abc import Collection

import msgspec

from auth.application.ports import OneTimeCodes
from auth.domain import codes as dc
from blazing_app import ApplicationError, BadInput, Invalid, NotFound


class Words(msgspec.Struct, frozen=True):
    unknown: str
    spent: str
    wrong_kind: str


CODE = Words("Invalid or expired code", "Code has expired or already been used", "Invalid code type")
ACTIVATION = Words(
    "Invalid or expired activation code", "Activation code has expired or already been used", "Invalid activation code"
)
LINK = Words("Invalid or expired link", "Link has expired or already been used", "Invalid link type")


async def take(
    codes: OneTimeCodes,
    code: str,
    purposes: Collection[str],
    words: Words,
    *,
    use: bool,
    owner: uuid.UUID | None = None,
    field: str | None = None,
) -> dc.Code:
    """The code, when usable for one of ``purposes`` (spent when ``use``, in the caller's unit of
    work); else the error the original answers."""
    try:
        found = dc.judge(await codes.find(code, lock=use), purposes, owner)
    except dc.CodeError as exc:
        error: ApplicationError
        if isinstance(exc, dc.UnknownCode):
            error = NotFound(words.unknown)
        elif isinstance(exc, dc.SpentCode):
            error = BadInput(words.spent)
        else:
            error = BadInput(words.wrong_kind)
        raise (Invalid({field: [error.message]}) if field else error) from exc
    if use:
        await codes.spend(code)
    return found
