"""The user aggregate (a decider): profile, activation, permissions, deletion. Pure."""

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
PERMISSIONS = (1, 10, 50, 100)


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
