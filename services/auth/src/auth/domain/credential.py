"""The credential aggregate as a decider: ``evolve(state, event)`` and ``decide``-style functions
returning the events a command causes (or raising the domain's error, which writes nothing).

Pure: no I/O, no clock, no ids of its own — they come in as arguments. Every event here is stored
in the credential's stream; the application publishes the ones other contexts learn of
(application/publishing.py), each with the stream version of the stored event behind it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal
from uuid import UUID

import msgspec

Status = Literal["new", "pending", "active", "erased"]
"""``new``: nothing registered (no credential, or a stream that only records an attempt on an
address nobody holds); ``pending``: registered, not activated; ``erased``: the user was deleted."""
Method = Literal["change", "reset", "set"]
Scope = Literal["session", "others", "all"]


class Registered(msgspec.Struct, frozen=True, kw_only=True):
    email: str
    first_name: str
    password_hash: str | None
    permissions: int = 1
    must_set_password: bool = False


class Activated(msgspec.Struct, frozen=True, kw_only=True):
    method: str
    """``activation_code`` or ``set_password``."""


class PasswordSet(msgspec.Struct, frozen=True, kw_only=True):
    password_hash: str
    method: str
    """``change``, ``reset`` or ``set`` (an admin-created user's first password)."""
    sessions_revoked: int = 0


class SignInFailed(msgspec.Struct, frozen=True, kw_only=True):
    """A wrong password (it counts towards a lock) — or, on a stream of its own, a sign-in with an
    address nobody holds."""

    at: datetime
    ip: str | None = None


class SignInRefused(msgspec.Struct, frozen=True, kw_only=True):
    """An attempt while the account is locked: refused without judging the password."""

    reason: str = "account_locked"
    ip: str | None = None


class SignedIn(msgspec.Struct, frozen=True, kw_only=True):
    session_id: UUID
    ip: str | None = None
    user_agent: str | None = None


class SignedOut(msgspec.Struct, frozen=True, kw_only=True):
    scope: str
    session_ids: list[UUID] = []


class Locked(msgspec.Struct, frozen=True, kw_only=True):
    until: datetime
    failed_attempts: int


class Unlocked(msgspec.Struct, frozen=True, kw_only=True):
    reason: str
    """``expired`` or ``password_reset``."""


class FailuresReset(msgspec.Struct, frozen=True, kw_only=True):
    """Earlier failures left the counting window: they no longer count towards a lock."""


class ResetRequested(msgspec.Struct, frozen=True, kw_only=True):
    """A reset code was issued (and mailed) to the owner."""


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
    | SignInRefused
    | SignedIn
    | SignedOut
    | Locked
    | Unlocked
    | FailuresReset
    | ResetRequested
    | PermissionsChanged
    | Erased
)
EVENT_TYPES: dict[str, type[Event]] = {
    "registered": Registered,
    "activated": Activated,
    "password_set": PasswordSet,
    "sign_in_failed": SignInFailed,
    "sign_in_refused": SignInRefused,
    "signed_in": SignedIn,
    "signed_out": SignedOut,
    "locked": Locked,
    "unlocked": Unlocked,
    "failures_reset": FailuresReset,
    "password_reset_requested": ResetRequested,
    "permissions_changed": PermissionsChanged,
    "erased": Erased,
}


class Credential(msgspec.Struct, frozen=True, kw_only=True):
    user_id: UUID
    email: str = ""
    first_name: str = ""
    password_hash: str | None = None
    status: Status = "new"
    permissions: int = 1
    permissions_version: int = 0
    must_set_password: bool = False
    failed_attempts: int = 0
    window_start: datetime | None = None
    locked_until: datetime | None = None

    def is_locked(self, now: datetime) -> bool:
        return self.locked_until is not None and self.locked_until > now

    @property
    def exists(self) -> bool:
        return self.status in ("pending", "active")


def initial(user_id: UUID) -> Credential:
    return Credential(user_id=user_id)


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
            return Credential(user_id=state.user_id, status="erased")
        case SignInRefused() | SignedOut() | ResetRequested():
            return state


def fold(state: Credential, events: list[Event]) -> Credential:
    for event in events:
        state = evolve(state, event)
    return state


# ---------------------------------------------------------------------------------- errors


class CredentialError(Exception):
    """A command the credential refuses; nothing is written."""


class AlreadyRegistered(CredentialError):
    pass


class NoCredential(CredentialError):
    """There is no credential here (never registered, or erased)."""


class NotActivated(CredentialError):
    """The right password, but the owner has not proved the address yet."""


class CheckAgain(CredentialError):
    """The password was checked against a hash that is not the credential's any more (it changed
    since): it must be checked again against the current one."""


# ---------------------------------------------------------------------------------- decisions


class Policy(msgspec.Struct, frozen=True, kw_only=True):
    lock_threshold: int = 5
    window: timedelta = timedelta(minutes=15)
    lock_for: timedelta = timedelta(minutes=15)


def register(state: Credential, email: str, first_name: str, password_hash: str) -> list[Event]:
    """A sign-up: a new credential waiting for its activation."""
    if state.status != "new":
        raise AlreadyRegistered("this credential is registered already")
    return [Registered(email=email, first_name=first_name, password_hash=password_hash)]


def register_invited(state: Credential, email: str, first_name: str, permissions: int) -> list[Event]:
    """An admin created the user: a credential without a password, waiting for its owner to set
    one (the set-password link). A repeat (the event delivered again) changes nothing."""
    if state.status != "new":
        return []
    return [
        Registered(
            email=email, first_name=first_name, password_hash=None, permissions=permissions, must_set_password=True
        )
    ]


def activate(state: Credential) -> list[Event]:
    """The activation code was right: active now (once)."""
    if not state.exists:
        raise NoCredential("no credential to activate")
    return [] if state.status == "active" else [Activated(method="activation_code")]


def expire_lock(state: Credential, now: datetime) -> list[Event]:
    """A lock whose time is over ends by itself (recorded on the next look at the account)."""
    if state.locked_until is not None and state.locked_until <= now:
        return [Unlocked(reason="expired")]
    return []


def record_failure(state: Credential, now: datetime, policy: Policy, ip: str | None = None) -> list[Event]:
    """A wrong password: counts within the window; reaching the threshold locks the account."""
    events: list[Event] = []
    if state.window_start is not None and now - state.window_start > policy.window and state.failed_attempts:
        events.append(FailuresReset())
        state = evolve(state, events[-1])
    events.append(SignInFailed(at=now, ip=ip))
    state = evolve(state, events[-1])
    if state.failed_attempts >= policy.lock_threshold and not state.is_locked(now):
        events.append(Locked(until=now + policy.lock_for, failed_attempts=state.failed_attempts))
    return events


class Checked(msgspec.Struct, frozen=True, kw_only=True):
    """The password given, checked against ``password_hash``: right or wrong."""

    password_hash: str | None
    right: bool


class Attempt(msgspec.Struct, frozen=True, kw_only=True):
    """A sign-in: the password's check (None: not checked, the account looked locked), the session
    it opens if it succeeds, and where it comes from."""

    checked: Checked | None
    session_id: UUID
    ip: str | None = None
    user_agent: str | None = None


def sign_in(state: Credential, attempt: Attempt, now: datetime, policy: Policy) -> list[Event]:
    """A lock that ran out ends first; a locked account refuses the attempt (recorded, the password
    unjudged); a wrong password counts towards a lock; the right one opens the session — if the
    account is activated (else NotActivated, nothing recorded)."""
    if not state.exists:
        raise NoCredential("no credential to sign in to")
    events = expire_lock(state, now)
    current = fold(state, events)
    if current.is_locked(now):
        return [*events, SignInRefused(reason="account_locked", ip=attempt.ip)]
    checked = attempt.checked
    if checked is None or checked.password_hash != current.password_hash:
        raise CheckAgain("the password must be checked against the current hash")
    if not checked.right:
        return [*events, *record_failure(current, now, policy, attempt.ip)]
    if current.status != "active":
        raise NotActivated("the account is not activated")
    return [*events, SignedIn(session_id=attempt.session_id, ip=attempt.ip, user_agent=attempt.user_agent)]


def fail_unknown(state: Credential, now: datetime, ip: str | None) -> list[Event]:
    """A sign-in with an address nobody holds, recorded as the only event of a stream of its own
    (the state of no one: a new id, nothing registered)."""
    if state.status != "new" or state.failed_attempts:
        raise CredentialError("an unknown address's attempt is recorded on a fresh stream")
    return [SignInFailed(at=now, ip=ip)]


def set_password(
    state: Credential, password_hash: str, method: Method, sessions_revoked: int, now: datetime
) -> list[Event]:
    """A new password (reset with a mailed code, change by the signed-in owner, or the first one of
    an admin-created user): the failures are forgotten, a current lock ends, and a first password
    activates the account."""
    if not state.exists:
        raise NoCredential("no credential to set a password on")
    events: list[Event] = [PasswordSet(password_hash=password_hash, method=method, sessions_revoked=sessions_revoked)]
    if state.is_locked(now):
        events.append(Unlocked(reason="password_reset"))
    if method == "set" and state.status != "active":
        events.append(Activated(method="set_password"))
    return events


def request_reset(state: Credential) -> list[Event]:
    """A reset code is being mailed to the owner (nothing for a credential that is gone)."""
    return [ResetRequested()] if state.exists else []


def sign_out(state: Credential, scope: Scope, session_ids: list[UUID]) -> list[Event]:
    """Sessions ended by their owner (one, the others, or all)."""
    return [SignedOut(scope=scope, session_ids=session_ids)] if state.exists else []


def change_permissions(state: Credential, permissions: int, user_version: int) -> list[Event]:
    """The users context changed the level (told by command and again by event, in either order):
    only a change newer than the last one applied counts — recorded even when the level is the
    same, so that an older change arriving later cannot undo it."""
    if not state.exists or user_version <= state.permissions_version:
        return []
    return [PermissionsChanged(permissions=permissions, user_version=user_version)]


def erase(state: Credential) -> list[Event]:
    """The user was deleted: the credential is gone (once). Recorded even when auth never held a
    credential for the user (an admin-created user whose credential could not be made): the
    tombstone makes a user.created delivered after the deletion — a replayed dead letter, a
    consumer group reading the topic again — change nothing."""
    return [] if state.status == "erased" else [Erased()]
