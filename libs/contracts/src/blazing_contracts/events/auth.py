"""auth.events — the auth context's credential streams (aggregate id = user id)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from blazing_contracts.registry import EventPayload, event
from blazing_contracts.topology import AUTH_EVENTS

AGGREGATE = "credential"


@event("auth.sign_in", topic=AUTH_EVENTS, aggregate_type=AGGREGATE)
class SignedIn(EventPayload, frozen=True, kw_only=True):
    user_id: UUID
    session_id: UUID
    ip: str | None = None
    user_agent: str | None = None


@event("auth.sign_in_failed", topic=AUTH_EVENTS, aggregate_type=AGGREGATE)
class SignInFailed(EventPayload, frozen=True, kw_only=True):
    """``user_id`` is None when the e-mail is unknown (the e-mail itself is never published)."""

    reason: str
    """``invalid_credentials``, ``account_locked`` or ``not_activated``."""
    user_id: UUID | None = None
    failed_attempts: int = 0
    ip: str | None = None


@event("auth.sign_out", topic=AUTH_EVENTS, aggregate_type=AGGREGATE)
class SignedOut(EventPayload, frozen=True, kw_only=True):
    user_id: UUID
    scope: str
    """``session`` (this one), ``others`` (all but this one) or ``all``."""
    session_ids: list[UUID] = []


@event("auth.password_reset_requested", topic=AUTH_EVENTS, aggregate_type=AGGREGATE)
class PasswordResetRequested(EventPayload, frozen=True, kw_only=True):
    user_id: UUID


@event("auth.password_reset_completed", topic=AUTH_EVENTS, aggregate_type=AGGREGATE)
class PasswordResetCompleted(EventPayload, frozen=True, kw_only=True):
    user_id: UUID
    sessions_revoked: int = 0


@event("auth.account_locked", topic=AUTH_EVENTS, aggregate_type=AGGREGATE)
class AccountLocked(EventPayload, frozen=True, kw_only=True):
    user_id: UUID
    locked_until: datetime
    failed_attempts: int


@event("auth.account_unlocked", topic=AUTH_EVENTS, aggregate_type=AGGREGATE)
class AccountUnlocked(EventPayload, frozen=True, kw_only=True):
    user_id: UUID
    reason: str
    """``expired`` (the lock ran out), ``password_reset`` or ``admin``."""


@event("auth.account_activated", topic=AUTH_EVENTS, aggregate_type=AGGREGATE)
class AccountActivated(EventPayload, frozen=True, kw_only=True):
    """The owner proved the e-mail address (activation code or admin set-password link)."""

    user_id: UUID
    method: str
    """``activation_code`` or ``set_password``."""


@event("auth.password_changed", topic=AUTH_EVENTS, aggregate_type=AGGREGATE)
class PasswordChanged(EventPayload, frozen=True, kw_only=True):
    """A signed-in owner changed the password (the reset flow emits password_reset_completed)."""

    user_id: UUID
    sessions_revoked: int = 0
