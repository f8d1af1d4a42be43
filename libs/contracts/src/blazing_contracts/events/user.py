"""user.events — the users context's user streams (aggregate id = user id)."""

from __future__ import annotations

from uuid import UUID

from blazing_contracts.registry import EventPayload, event
from blazing_contracts.topology import USER_EVENTS
from blazing_contracts.types import Permission

AGGREGATE = "user"


@event("user.created", topic=USER_EVENTS, aggregate_type=AGGREGATE)
class UserCreated(EventPayload, frozen=True, kw_only=True):
    user_id: UUID
    email: str
    first_name: str
    last_name: str
    permissions: Permission
    activated: bool
    created_by: UUID | None = None
    """The admin who created the user, or None for a self sign-up."""


@event("user.updated", topic=USER_EVENTS, aggregate_type=AGGREGATE)
class UserUpdated(EventPayload, frozen=True, kw_only=True):
    """An account-level change (e-mail, names by an admin); ``fields_changed`` names what moved."""

    user_id: UUID
    fields_changed: list[str]
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None


@event("user.deleted", topic=USER_EVENTS, aggregate_type=AGGREGATE)
class UserDeleted(EventPayload, frozen=True, kw_only=True):
    """Every context erases or anonymises this user's personal data."""

    user_id: UUID
    deleted_by: UUID | None = None
    reason: str | None = None


@event("user.activated", topic=USER_EVENTS, aggregate_type=AGGREGATE)
class UserActivated(EventPayload, frozen=True, kw_only=True):
    user_id: UUID


@event("user.deactivated", topic=USER_EVENTS, aggregate_type=AGGREGATE)
class UserDeactivated(EventPayload, frozen=True, kw_only=True):
    user_id: UUID
    reason: str | None = None


@event("user.password_changed", topic=USER_EVENTS, aggregate_type=AGGREGATE)
class UserPasswordChanged(EventPayload, frozen=True, kw_only=True):
    user_id: UUID
    method: str
    """``change`` (signed in), ``reset`` (forgot password) or ``set`` (admin-created user)."""


@event("user.profile_updated", topic=USER_EVENTS, aggregate_type=AGGREGATE)
class UserProfileUpdated(EventPayload, frozen=True, kw_only=True):
    """The user changed their own profile (names, avatar)."""

    user_id: UUID
    fields_changed: list[str]
    first_name: str | None = None
    last_name: str | None = None
    avatar_url: str | None = None


@event("user.balance_updated", topic=USER_EVENTS, aggregate_type=AGGREGATE)
class UserBalanceUpdated(EventPayload, frozen=True, kw_only=True):
    """The users read model took a new balance from the ledger's transaction events."""

    user_id: UUID
    balance: int
    """Cents."""
    source_event_id: UUID | None = None


@event("user.permissions_changed", topic=USER_EVENTS, aggregate_type=AGGREGATE)
class UserPermissionsChanged(EventPayload, frozen=True, kw_only=True):
    user_id: UUID
    permissions: Permission
    previous_permissions: Permission
    changed_by: UUID | None = None
