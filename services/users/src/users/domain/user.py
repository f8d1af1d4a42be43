"""The user aggregate (a decider): profile, activation, permissions, deletion — and who may change
whose permissions or account (SPEC §4.2, §11: nobody grants a level above their own). Pure."""

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


Event = Created | ProfileUpdated | Activated | PasswordChanged | PermissionsChanged | Deleted | AvatarChanged
EVENT_TYPES: dict[str, type[Event]] = {
    "created": Created,
    "profile_updated": ProfileUpdated,
    "activated": Activated,
    "password_changed": PasswordChanged,
    "permissions_changed": PermissionsChanged,
    "deleted": Deleted,
    "avatar_changed": AvatarChanged,
}
BASIC, ADMIN, AFFILIATE, SUPER_ADMIN = 1, 10, 50, 100
PERMISSIONS = (BASIC, ADMIN, AFFILIATE, SUPER_ADMIN)
INSUFFICIENT = "Insufficient permissions"
ABOVE_OWN = "You cannot grant a permission level above your own"
OWN = "You cannot change your own permissions"
AT_OR_ABOVE = "You cannot act on a user whose permission level is at or above your own"


class User(msgspec.Struct, frozen=True, kw_only=True):
    user_id: UUID
    version: int = 0
    exists: bool = False
    deleted: bool = False
    email: str = ""
    first_name: str = ""
    last_name: str = ""
    permissions: int = 1
    activated: bool = False
    avatar_url: str | None = None


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
            return User(user_id=state.user_id, version=state.version, exists=False, deleted=True)
        case PasswordChanged():
            return state
        case AvatarChanged():
            return r(state, avatar_url=event.avatar_url)


def update_profile(state: User, first_name: str | None, last_name: str | None, *, by_admin: bool) -> list[Event]:
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
    return [] if state.avatar_url == avatar_url else [AvatarChanged(avatar_url=avatar_url)]


class Actor(msgspec.Struct, frozen=True, kw_only=True):
    """Who asks: an account and the level it holds now (the lower of what its token says and what
    its profile says — a token issued before a demotion never counts for more)."""

    user_id: UUID
    level: int

    @property
    def administers(self) -> bool:
        return self.level in (ADMIN, SUPER_ADMIN)


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
