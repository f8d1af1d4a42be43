"""What users does with commands and with other contexts' events."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import msgspec
from faststream.rabbit import RabbitMessage

from blazing_commands import PermanentFailure
from blazing_contracts import AnyCommand, AnyEvent, CreateUser, CreateUserResult, SetAvatar
from blazing_contracts.events import auth as ae
from blazing_contracts.events import transaction as te
from blazing_es import Inbox, RecordInfo
from blazing_service import Conflict, NotFound
from users.application.service import UsersService
from users.domain.user import BASIC


def create_user_handler(svc: UsersService) -> Callable[[AnyCommand, RabbitMessage], Awaitable[bytes | None]]:
    async def handle(command: AnyCommand, _: RabbitMessage) -> bytes | None:
        p = command.payload
        assert isinstance(p, CreateUser)
        if p.permissions != BASIC:  # sign-ups start as basic users: only an admin grants more
            raise PermanentFailure(f"create_user for a sign-up with permissions {p.permissions} refused")
        try:
            status = await svc.create(
                user_id=p.user_id,
                email=p.email,
                first_name=p.first_name,
                last_name=p.last_name or p.first_name,
                permissions=p.permissions,
                created_by=None,
                correlation_id=command.correlation_id,
            )
        except Conflict as exc:
            raise PermanentFailure(str(exc)) from exc
        return msgspec.json.encode(CreateUserResult(user_id=p.user_id, status=status))  # type: ignore[arg-type]

    return handle


def auth_events_handler(svc: UsersService) -> Callable[[AnyEvent, RecordInfo], Awaitable[None]]:
    inbox = Inbox("users.auth-events")

    async def handle(event: AnyEvent, _: RecordInfo) -> None:
        p = event.payload
        once = (inbox, event.event_id)
        if isinstance(p, ae.AccountActivated):
            await svc.activated(p.user_id, event.correlation_id, once)
        elif isinstance(p, ae.PasswordChanged):
            await svc.password_changed(p.user_id, "change", event.correlation_id, once)
        elif isinstance(p, ae.PasswordResetCompleted):
            await svc.password_changed(p.user_id, "reset", event.correlation_id, once)

    return handle


def transaction_events_handler(svc: UsersService) -> Callable[[AnyEvent, RecordInfo], Awaitable[None]]:
    inbox = Inbox("users.balance")

    async def handle(event: AnyEvent, _: RecordInfo) -> None:
        p = event.payload
        if not isinstance(
            p, te.TransactionCreated | te.TransactionUpdated | te.TransactionDeleted | te.TransactionAmountAdjusted
        ):
            return
        async with svc.pool.connection() as conn, conn.transaction():
            if await inbox.claim(conn, event.event_id):
                await svc.balance(
                    conn, p.user_id, p.balance_after, event.aggregate_version, event.event_id, event.correlation_id
                )

    return handle


def set_avatar_handler(svc: UsersService) -> Callable[[AnyCommand, RabbitMessage], Awaitable[bytes | None]]:
    inbox = Inbox("users.set-avatar")

    async def handle(command: AnyCommand, _: RabbitMessage) -> bytes | None:
        p = command.payload
        assert isinstance(p, SetAvatar)
        try:
            await svc.set_avatar(p.user_id, p.avatar_url, command.correlation_id, (inbox, command.job_id))
        except NotFound as exc:  # a user deleted since: nothing to point at
            raise PermanentFailure(str(exc)) from exc
        return None

    return handle
