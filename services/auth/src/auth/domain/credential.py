"""The credential aggregate as a decider: ``evolve(state, event)`` and decisions returning events.

Pure: no I/O, clocks come in as arguments. Stored (internal) events; the application translates
the ones other contexts care about into ``auth.events`` contract events.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

import msgspec


class Registered(msgspec.Struct, frozen=True, kw_only=True):
    email: str
    first_name: str
    password_hash: str | None
    permissions: int = 1
    must_set_password: bool = False


class Activated(msgspec.Struct, frozen=True, kw_only=True):
    method: str


class PasswordSet(msgspec.Struct, frozen=True, kw_only=True):
    password_hash: str
    method: str  # change | reset | set


class SignInFailed(msgspec.Struct, frozen=True, kw_only=True):
    at: datetime


class SignedIn(msgspec.Struct, frozen=True, kw_only=True):
    session_id: UUID


class Locked(msgspec.Struct, frozen=True, kw_only=True):
    until: datetime
    failed_attempts: int


class Unlocked(msgspec.Struct, frozen=True, kw_only=True):
    reason: str


class FailuresReset(msgspec.Struct, frozen=True, kw_only=True):
    """Earlier failures left the counting window: they no longer count towards a lock."""


class PermissionsChanged(msgspec.Struct, frozen=True, kw_only=True):
    permissions: int
    user_version: int = 0
    """The users stream version of the change: an older change arriving late is ignored."""


class Erased(msgspec.Struct, frozen=True, kw_only=True):
    reason: str = "user.deleted"


Event = (
    Registered
    | Activated
    | PasswordSet
    | SignInFailed
    | SignedIn
    | Locked
    | Unlocked
    | FailuresReset
    | PermissionsChanged
    | Erased
)
EVENT_TYPES: dict[str, type[Event]] = {
    "registered": Registered,
    "activated": Activated,
    "password_set": PasswordSet,
    "sign_in_failed": SignInFailed,
    "signed_in": SignedIn,
    "locked": Locked,
    "unlocked": Unlocked,
    "failures_reset": FailuresReset,
    "permissions_changed": PermissionsChanged,
    "erased": Erased,
}


class Credential(msgspec.Struct, frozen=True, kw_only=True):
    user_id: UUID
    version: int = 0
    email: str = ""
    first_name: str = ""
    password_hash: str | None = None
    status: str = "new"  # new | pending | active | erased
    permissions: int = 1
    permissions_version: int = 0
    must_set_password: bool = False
    failed_attempts: int = 0
    window_start: datetime | None = None
    locked_until: datetime | None = None

    def is_locked(self, now: datetime) -> bool:
        return self.locked_until is not None and self.locked_until > now


def evolve(state: Credential, event: Event) -> Credential:  # noqa: PLR0911 - one branch per event
    r = msgspec.structs.replace
    match event:
        case Registered():
            return r(
                state,
                email=event.email,
                first_name=event.first_name,
                password_hash=event.password_hash,
                status="pending",
                permissions=event.permissions,
                must_set_password=event.must_set_password,
            )
        case Activated():
            return r(state, status="active")
        case PasswordSet():
            return r(
                state, password_hash=event.password_hash, must_set_password=False, failed_attempts=0, window_start=None
            )
        case SignInFailed():
            fresh = state.window_start is None or state.failed_attempts == 0
            return r(
                state, failed_attempts=state.failed_attempts + 1, window_start=event.at if fresh else state.window_start
            )
        case SignedIn():
            return r(state, failed_attempts=0, window_start=None)
        case Locked():
            return r(state, locked_until=event.until)
        case Unlocked() | FailuresReset():
            return r(state, locked_until=None, failed_attempts=0, window_start=None)
        case PermissionsChanged():
            return r(state, permissions=event.permissions, permissions_version=event.user_version)
        case Erased():
            return Credential(user_id=state.user_id, version=state.version, status="erased")


def fold(state: Credential, events: list[Event]) -> Credential:
    for event in events:
        state = evolve(state, event)
    return state


def change_permissions(state: Credential, permissions: int, user_version: int) -> list[Event]:
    """The users context changed the level (told by command and again by event, in either order):
    only a change newer than the last one applied counts — recorded even when the level is the
    same, so that an older change arriving later cannot undo it."""
    if state.status in ("new", "erased") or user_version <= state.permissions_version:
        return []
    return [PermissionsChanged(permissions=permissions, user_version=user_version)]


class Policy(msgspec.Struct, frozen=True, kw_only=True):
    lock_threshold: int = 5
    window: timedelta = timedelta(minutes=15)
    lock_for: timedelta = timedelta(minutes=15)


def expire_lock(state: Credential, now: datetime) -> list[Event]:
    """A lock whose time is over ends by itself (recorded on the next look at the account)."""
    if state.locked_until is not None and state.locked_until <= now:
        return [Unlocked(reason="expired")]
    return []


def record_failure(state: Credential, now: datetime, policy: Policy) -> list[Event]:
    """A wrong password: counts within the window; reaching the threshold locks the account."""
    events: list[Event] = []
    if state.window_start is not None and now - state.window_start > policy.window and state.failed_attempts:
        events.append(FailuresReset())
        state = evolve(state, events[-1])
    events.append(SignInFailed(at=now))
    state = evolve(state, events[-1])
    if state.failed_attempts >= policy.lock_threshold and not state.is_locked(now):
        events.append(Locked(until=now + policy.lock_for, failed_attempts=state.failed_attempts))
    return events
