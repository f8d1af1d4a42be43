"""auth.events — the auth context's credential streams (aggregate id = user id)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from blazing_contracts.registry import EventPayload, event
from blazing_contracts.topology import AUTH_EVENTS

AGGREGATE = "credential"


class CredentialEvent(EventPayload, frozen=True, kw_only=True):
    """An event of a user's credential stream."""

    TOPIC = AUTH_EVENTS
    AGGREGATE_TYPE = AGGREGATE
    user_id: UUID


@event("auth.sign_in")
class SignedIn(CredentialEvent, frozen=True, kw_only=True):
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


@event("auth.sign_out")
class SignedOut(CredentialEvent, frozen=True, kw_only=True):
    scope: str
    """``session`` (this one), ``others`` (all but this one) or ``all``."""
    session_ids: list[UUID] = []


@event("auth.password_reset_requested")
class PasswordResetRequested(CredentialEvent, frozen=True, kw_only=True):
    """A reset code was sent to the user's address."""


@event("auth.password_reset_completed")
class PasswordResetCompleted(CredentialEvent, frozen=True, kw_only=True):
    sessions_revoked: int = 0


@event("auth.account_locked")
class AccountLocked(CredentialEvent, frozen=True, kw_only=True):
    locked_until: datetime
    failed_attempts: int


@event("auth.account_unlocked")
class AccountUnlocked(CredentialEvent, frozen=True, kw_only=True):
    reason: str
    """``expired`` (the lock ran out), ``password_reset`` or ``admin``."""


@event("auth.account_activated")
class AccountActivated(CredentialEvent, frozen=True, kw_only=True):
    """The owner proved the e-mail address (activation code or admin set-password link)."""

    method: str
    """``activation_code`` or ``set_password``."""


@event("auth.password_changed")
class PasswordChanged(CredentialEvent, frozen=True, kw_only=True):
    """A signed-in owner changed the password (the reset flow emits password_reset_completed)."""

    sessions_revoked: int = 0
