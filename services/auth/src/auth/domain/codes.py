"""One-time codes (activation, reset, set-password link, password change): how a code presented
is judged — in the original's order (upstream inventory §4.3): no such code (or someone else's),
then one that cannot be used any more, then the wrong kind of code."""

from __future__ import annotations

from collections.abc import Collection
from typing import Literal
from uuid import UUID

import msgspec

Purpose = Literal["activation", "forgot_password", "must_set_password", "password_change"]

VERIFIABLE: tuple[Purpose, ...] = ("forgot_password", "password_change")
"""What verify-hash checks (SPEC §4.1): reset and change codes, never activation or set-password ones."""


class Code(msgspec.Struct, frozen=True, kw_only=True):
    """A code as the store knows it: whose, for what, and whether it can still be used (not used,
    replaced by a newer one of its purpose, or expired)."""

    owner: UUID
    purpose: str
    usable: bool


class CodeError(Exception):
    pass


class UnknownCode(CodeError):
    """No such code — or another user's, which the caller may not learn exists."""


class SpentCode(CodeError):
    """Used, replaced or expired."""


class WrongKindOfCode(CodeError):
    pass


def judge(found: Code | None, purposes: Collection[str], owner: UUID | None = None) -> Code:
    """The code, when it may be used for one of ``purposes`` (by ``owner`` when given)."""
    if found is None or (owner is not None and found.owner != owner):
        raise UnknownCode("no such code")
    if not found.usable:
        raise SpentCode("the code was used, replaced or expired")
    if found.purpose not in purposes:
        raise WrongKindOfCode(f"a {found.purpose} code, not one of {sorted(purposes)}")
    return found
