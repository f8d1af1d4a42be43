"""user.events — the users context's user streams (aggregate id = user id)."""

from __future__ import annotations

from uuid import UUID

from blazing_contracts.registry import EventPayload, event
from blazing_contracts.topology import USER_EVENTS
from blazing_contracts.types import Permission

AGGREGATE = "user"


class UserEvent(EventPayload, frozen=True, kw_only=True):
    """An event of a user's stream."""

    TOPIC = USER_EVENTS
    AGGREGATE_TYPE = AGGREGATE
    user_id: UUID


@event("user.created")
class UserCreated(UserEvent, frozen=True, kw_only=True):
    email: str
    first_name: str
    last_name: str
    permissions: Permission
    activated: bool
    created_by: UUID | None = None
    """The admin who created the user, or None for a self sign-up."""


@event("user.updated")
class UserUpdated(UserEvent, frozen=True, kw_only=True):
    """An account-level change (e-mail, names by an admin); ``fields_changed`` names what moved."""

    fields_changed: list[str]
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None


@event("user.deleted")
class UserDeleted(UserEvent, frozen=True, kw_only=True):
    """Every context erases or anonymises this user's personal data."""

    deleted_by: UUID | None = None
    reason: str | None = None


@event("user.activated")
class UserActivated(UserEvent, frozen=True, kw_only=True):
    """The user may sign in from now on."""


@event("user.deactivated")
class UserDeactivated(UserEvent, frozen=True, kw_only=True):
    reason: str | None = None


@event("user.password_changed")
class UserPasswordChanged(UserEvent, frozen=True, kw_only=True):
    method: str
    """``change`` (signed in), ``reset`` (forgot password) or ``set`` (admin-created user)."""


@event("user.profile_updated")
class UserProfileUpdated(UserEvent, frozen=True, kw_only=True):
    """The user changed their own profile (names, avatar)."""

    fields_changed: list[str]
    first_name: str | None = None
    last_name: str | None = None
    avatar_url: str | None = None


@event("user.balance_updated")
class UserBalanceUpdated(UserEvent, frozen=True, kw_only=True):
    """The users read model took a new balance from the ledger's transaction events."""

    balance: int
    """Cents."""
    source_event_id: UUID | None = None


@event("user.permissions_changed")
class UserPermissionsChanged(UserEvent, frozen=True, kw_only=True):
    permissions: Permission
    previous_permissions: Permission
    changed_by: UUID | None = None
