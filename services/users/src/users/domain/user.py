"""The user aggregate (a decider): profile, activation, permissions, deletion, the balance the ledger
reports — and who may change whose permissions or account (SPEC §4.2, §11: nobody grants a level
above their own). Pure: no clock, no ids, no I/O; the ``decide_*`` functions give the new stored
events or raise the domain's error."""

from __future__ import annotations

from uuid import UUID

import msgspec


class Created(msgspec.Struct, frozen=True, kw_only=True):
    email: str
    first_name: str
    last_name: str
    permissions: int
    created_by: UUID | None = None


class ProfileUpdated(msgspec.Struct, frozen=True, kw_only=True):
    first_name: str
    last_name: str
    fields_changed: list[str]
    by_admin: bool = False


class Activated(msgspec.Struct, frozen=True, kw_only=True):
    pass


class PasswordChanged(msgspec.Struct, frozen=True, kw_only=True):
    method: str


class PermissionsChanged(msgspec.Struct, frozen=True, kw_only=True):
    permissions: int
    previous: int
    changed_by: UUID | None = None


class Deleted(msgspec.Struct, frozen=True, kw_only=True):
    deleted_by: UUID | None = None


class AvatarChanged(msgspec.Struct, frozen=True, kw_only=True):
    avatar_url: str | None


class BalanceChanged(msgspec.Struct, frozen=True, kw_only=True):
    """The ledger reported the user's balance: ``ledger_version`` is the version of the ledger
    stream event that carried it (``source_event_id``) — a lower one arriving later is older news."""

    balance: int
    ledger_version: int
    source_event_id: UUID


Event = (
    Created
    | ProfileUpdated
    | Activated
    | PasswordChanged
    | PermissionsChanged
    | Deleted
    | AvatarChanged
    | BalanceChanged
)
EVENT_TYPES: dict[str, type[Event]] = {
    "created": Created,
    "profile_updated": ProfileUpdated,
    "activated": Activated,
    "password_changed": PasswordChanged,
    "permissions_changed": PermissionsChanged,
    "deleted": Deleted,
    "avatar_changed": AvatarChanged,
    "balance_changed": BalanceChanged,
}
KEPT_AFTER_ERASURE = ("deleted",)
"""The stored events an erased user's stream keeps the content of: who deleted it, no personal data."""

BASIC, ADMIN, AFFILIATE, SUPER_ADMIN = 1, 10, 50, 100
PERMISSIONS = (BASIC, ADMIN, AFFILIATE, SUPER_ADMIN)
INSUFFICIENT = "Insufficient permissions"
ABOVE_OWN = "You cannot grant a permission level above your own"
OWN = "You cannot change your own permissions"
AT_OR_ABOVE = "You cannot act on a user whose permission level is at or above your own"
MISSING = "User not found"


class UserError(Exception):
    """A refusal of the user aggregate (its message is for the caller)."""


class UserMissing(UserError):
    def __init__(self) -> None:
        super().__init__(MISSING)


class NotAllowed(UserError):
    """The actor may not do this to this user (the message says why)."""


class User(msgspec.Struct, frozen=True, kw_only=True):
    user_id: UUID
    exists: bool = False
    deleted: bool = False
    email: str = ""
    first_name: str = ""
    last_name: str = ""
    permissions: int = 1
    activated: bool = False
    avatar_url: str | None = None
    balance: int = 0
    balance_version: int = 0
    """The ledger version of the balance held (0: none yet)."""


def initial(user_id: UUID) -> User:
    return User(user_id=user_id)


def evolve(state: User, event: Event) -> User:  # noqa: PLR0911 - one branch per event
    r = msgspec.structs.replace
    match event:
        case Created():
            return r(
                state,
                exists=True,
                email=event.email,
                first_name=event.first_name,
                last_name=event.last_name,
                permissions=event.permissions,
            )
        case ProfileUpdated():
            return r(state, first_name=event.first_name, last_name=event.last_name)
        case Activated():
            return r(state, activated=True)
        case PermissionsChanged():
            return r(state, permissions=event.permissions)
        case Deleted():
            return User(user_id=state.user_id, exists=False, deleted=True)
        case PasswordChanged():
            return state
        case AvatarChanged():
            return r(state, avatar_url=event.avatar_url)
        case BalanceChanged():
            return r(state, balance=event.balance, balance_version=event.ledger_version)


def _existing(state: User) -> User:
    if not state.exists:
        raise UserMissing
    return state


# ---------------------------------------------------------------------------------- the decisions


def decide_create(
    state: User,
    *,
    email: str,
    first_name: str,
    last_name: str,
    permissions: int,
    created_by: UUID | None,
    activated: bool = False,
) -> list[Event]:
    """Creation is idempotent by id: a user that exists (or existed: deleted) is not created again.
    ``activated``: the owner activated the account before the profile existed."""
    if state.exists or state.deleted:
        return []
    created = Created(
        email=email, first_name=first_name, last_name=last_name, permissions=permissions, created_by=created_by
    )
    return [created, Activated()] if activated else [created]


def update_profile(
    state: User, first_name: str | None, last_name: str | None, *, by_admin: bool = False
) -> list[Event]:
    """Names given (None: unchanged); only what differs is an event."""
    _existing(state)
    first = first_name if first_name is not None else state.first_name
    last = last_name if last_name is not None else state.last_name
    changed = [
        f
        for f, new, old in (("first_name", first, state.first_name), ("last_name", last, state.last_name))
        if new != old
    ]
    return (
        [ProfileUpdated(first_name=first, last_name=last, fields_changed=changed, by_admin=by_admin)] if changed else []
    )


def change_avatar(state: User, avatar_url: str | None) -> list[Event]:
    """The files service says where the profile picture is now (a repeat changes nothing)."""
    _existing(state)
    return [] if state.avatar_url == avatar_url else [AvatarChanged(avatar_url=avatar_url)]


def decide_activate(state: User) -> list[Event]:
    """auth activated the account (a repeat changes nothing). The caller keeps an activation of a
    user that does not exist yet for the creation (``decide_create(activated=True)``)."""
    _existing(state)
    return [] if state.activated else [Activated()]


def decide_password_changed(state: User, method: str) -> list[Event]:
    _existing(state)
    return [PasswordChanged(method=method)]


def decide_permissions(state: User, permissions: int, actor: Actor | None) -> list[Event]:
    """Sets the level if ``actor`` may (None: the operator's command line, no rule but existence);
    the same level again changes nothing."""
    _existing(state)
    if actor is not None and (refusal := change_refusal(actor, state, permissions)):
        raise NotAllowed(refusal)
    if state.permissions == permissions:
        return []
    by = actor.user_id if actor is not None else None
    return [PermissionsChanged(permissions=permissions, previous=state.permissions, changed_by=by)]


def decide_delete(state: User, actor: Actor) -> list[Event]:
    _existing(state)
    if refusal := delete_refusal(actor, state):
        raise NotAllowed(refusal)
    return [Deleted(deleted_by=actor.user_id)]


def take_balance(state: User, balance: int, ledger_version: int, source_event_id: UUID) -> list[Event]:
    """The balance a ledger event carries, unless the user does not exist (any more) or a newer
    ledger version was taken already: each balance applies once, never older over newer."""
    if not state.exists or ledger_version <= state.balance_version:
        return []
    return [BalanceChanged(balance=balance, ledger_version=ledger_version, source_event_id=source_event_id)]


# ---------------------------------------------------------------------------------- who may


class Actor(msgspec.Struct, frozen=True, kw_only=True):
    """Who asks: an account and the level it holds now (the lower of what its token says and what
    its profile says — a token issued before a demotion never counts for more)."""

    user_id: UUID
    level: int

    @property
    def administers(self) -> bool:
        return self.level in (ADMIN, SUPER_ADMIN)


def sees(actor: Actor, user_id: UUID) -> bool:
    """An account acts on itself; an admin on anyone (what they may change is the rules below)."""
    return actor.user_id == user_id or actor.administers


def grant_refusal(actor: Actor, granted: int) -> str | None:
    """Why ``actor`` may not create a user with level ``granted`` (None: it may). Levels compare as
    numbers — an admin (10) gives basic or admin, never affiliate (50) or super admin (100)."""
    if not actor.administers:
        return INSUFFICIENT
    if granted > actor.level:
        return ABOVE_OWN
    return None


def change_refusal(actor: Actor, target: User, new_level: int) -> str | None:
    """Why ``actor`` may not set ``target``'s level to ``new_level``. Nobody changes their own
    level (no self-promotion, no locking the last super admin out by mistake); nobody grants above
    their own; below super admin, nobody touches a level at or above their own."""
    if actor.user_id == target.user_id:
        return OWN
    if not actor.administers:
        return INSUFFICIENT
    if new_level > actor.level:
        return ABOVE_OWN
    if actor.level != SUPER_ADMIN and target.permissions >= actor.level:
        return AT_OR_ABOVE
    return None


def delete_refusal(actor: Actor, target: User) -> str | None:
    """Anyone deletes their own account; an admin deletes users below their own level; a super
    admin deletes anyone else."""
    if actor.user_id == target.user_id:
        return None
    if not actor.administers:
        return INSUFFICIENT
    if actor.level != SUPER_ADMIN and target.permissions >= actor.level:
        return AT_OR_ABOVE
    return None
