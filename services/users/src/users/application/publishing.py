"""What other contexts learn of a user: the contract events each stored event stands for, and the
user as an aggregate of the one event-sourced write (blazing_es.runner)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from blazing_contracts import EventPayload
from blazing_contracts.events import user as ue
from blazing_contracts.types import Permission
from blazing_es.codec import EventCodec
from blazing_es.runner import Aggregate, EventSourced
from users.application.ports import UsersUnitOfWork
from users.domain import user as u


def published(before: u.User, event: u.Event, after: u.User) -> list[EventPayload]:  # noqa: PLR0911
    """The contract event one stored event stands for (each has exactly one)."""
    user = after.user_id
    match event:
        case u.Created():
            return [
                ue.UserCreated(
                    user_id=user,
                    email=event.email,
                    first_name=event.first_name,
                    last_name=event.last_name,
                    permissions=cast(Permission, event.permissions),
                    activated=False,
                    created_by=event.created_by,
                )
            ]
        case u.ProfileUpdated():
            kind = ue.UserUpdated if event.by_admin else ue.UserProfileUpdated
            return [
                kind(
                    user_id=user,
                    fields_changed=event.fields_changed,
                    first_name=event.first_name,
                    last_name=event.last_name,
                )
            ]
        case u.AvatarChanged():
            return [ue.UserProfileUpdated(user_id=user, fields_changed=["avatar_url"], avatar_url=event.avatar_url)]
        case u.Activated():
            return [ue.UserActivated(user_id=user)]
        case u.PasswordChanged():
            return [ue.UserPasswordChanged(user_id=user, method=event.method)]
        case u.PermissionsChanged():
            return [
                ue.UserPermissionsChanged(
                    user_id=user,
                    permissions=cast(Permission, event.permissions),
                    previous_permissions=cast(Permission, event.previous),
                    changed_by=event.changed_by,
                )
            ]
        case u.Deleted():
            return [ue.UserDeleted(user_id=user, deleted_by=event.deleted_by)]
        case u.BalanceChanged():
            return [ue.UserBalanceUpdated(user_id=user, balance=event.balance, source_event_id=event.source_event_id)]


USER: Aggregate[u.User, Any] = Aggregate(
    name="user",
    codec=EventCodec.of(u.EVENT_TYPES),
    initial=u.initial,
    evolve=u.evolve,
    publish=published,
    state_type=u.User,
    state_schema=1,
    snapshot_every=100,  # every ledger write adds a balance event: long streams load from a snapshot
)


def user_streams(*, cache_size: int = 0) -> EventSourced[UsersUnitOfWork, u.User, u.Event]:
    """Writes of user streams with the profiles read model projected inline; writers of one user
    queue up on its stream's lock."""

    async def project(uow: UsersUnitOfWork, before: u.User, event: u.Event, after: u.User, at: datetime) -> None:
        await uow.profiles.apply(before, event, after, at)

    return EventSourced(USER, producer="users", project=project, serialize=True, cache_size=cache_size)
