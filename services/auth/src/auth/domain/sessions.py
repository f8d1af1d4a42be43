"""Sessions and their refresh tokens: each refresh gives a new token and retires the one shown;
a retired token shown again means it leaked (someone holds a copy), so its whole session ends."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

import msgspec

from auth.domain.credential import Scope

Refresh = Literal["rotate", "reused", "invalid"]


class RefreshToken(msgspec.Struct, frozen=True, kw_only=True):
    """A refresh token as the store knows it, with its session."""

    session_id: UUID
    user_id: UUID
    rotated: bool
    """Exchanged already for a newer one."""
    session_revoked: bool
    session_expired: bool


def judge_refresh(found: RefreshToken | None) -> Refresh:
    """``rotate``: a live token of a live session; ``reused``: a token exchanged before (revoke its
    session); ``invalid``: anything else (unknown, or its session ended)."""
    if found is None:
        return "invalid"
    if found.rotated:
        return "reused"
    if found.session_revoked or found.session_expired:
        return "invalid"
    return "rotate"


class Selection(msgspec.Struct, frozen=True, kw_only=True):
    """Which of a user's live sessions a sign-out ends: ``only`` one, all but ``keep``, or all."""

    only: UUID | None = None
    keep: UUID | None = None


def signing_out(scope: Scope, current: UUID | None) -> Selection:
    if scope == "session":
        return Selection(only=current)
    if scope == "others":
        return Selection(keep=current)
    return Selection()
