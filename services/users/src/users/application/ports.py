"""What the users use cases need, as protocols: PostgreSQL implements them in adapters/postgres.py,
the in-memory fakes in adapters/memory.py (both held to tests/integration/test_adapters.py), auth's
end of the sessions in adapters/auth.py."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal, Protocol

import msgspec

from blazing_contracts.views import UserView
from blazing_es.ports import UnitOfWork
from users.domain import user as u

Reason = Literal["permissions_changed", "deleted", "deactivated"]


class Caller(msgspec.Struct, frozen=True, kw_only=True):
    """Who a request says it is: the account and the level its token claims (what it holds now is
    the lower of that and its profile's: ``Access.actor``)."""

    user_id: uuid.UUID
    permissions: int


class Profile(UserView, frozen=True, kw_only=True):
    """A user as the API shows it (the profiles read model)."""


def projected(user: u.User) -> dict[str, Any]:
    """The profile fields that follow the user's state as its events change it: all but the id, the
    e-mail (set once), the balance (its own guarded update) and the times."""
    return {
        "first_name": user.first_name,
        "last_name": user.last_name,
        "permissions": user.permissions,
        "activated": user.activated,
        "avatar_url": user.avatar_url,
    }


class ProfileViews(Protocol):
    """The profiles read model, written in the same transaction as the events it comes from."""

    async def apply(self, before: u.User, event: u.Event, after: u.User, at: datetime) -> None:
        """Brings the user's row from ``before`` to ``after`` for one stored event (``at``: its time,
        the row's updated_at — other contexts' views show the same timestamps)."""

    async def email_taken(self, email: str) -> bool:
        """Whether a profile has this e-mail, whatever its case."""


class EarlyActivations(Protocol):
    """Activations that arrived before their profile existed, kept for the creation to apply."""

    async def keep(self, user_id: uuid.UUID) -> None: ...

    async def take(self, user_id: uuid.UUID) -> bool:
        """True (and forgets it) when an activation was kept for this user."""


class UsersUnitOfWork(UnitOfWork, Protocol):
    profiles: ProfileViews
    early_activations: EarlyActivations


class ProfileReads(Protocol):
    """The profiles read model, read (outside any write)."""

    async def permissions(self, user_id: uuid.UUID) -> int | None:
        """The level the user's profile holds; None without a profile."""

    async def profile(self, user_id: uuid.UUID) -> Profile | None: ...

    async def by_email(self, email: str) -> Profile | None:
        """The profile with this e-mail, whatever its case."""

    async def search(self, query: str | None, limit: int, offset: int) -> tuple[list[Profile], int]:
        """Profiles whose e-mail or names contain ``query`` (literally, any case), newest first, and
        how many there are in all."""


class Revocation(msgspec.Struct, frozen=True, kw_only=True):
    """Every session of a user to end: why, and — for a permission change — the level and the user
    stream version it took effect at (auth ignores one older than what it has)."""

    user_id: uuid.UUID
    reason: Reason
    correlation_id: str
    permissions: int | None = None
    user_version: int = 0


class Sessions(Protocol):
    """Auth's end of a user's sessions (the revoke_sessions command)."""

    async def revoke(self, revocation: Revocation) -> bool:
        """True once auth confirmed every session of the user ended; False when it did not in time
        (the command stays queued, and the user event makes auth do it too: never lost, only later)."""
