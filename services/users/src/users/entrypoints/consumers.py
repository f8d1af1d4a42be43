"""What users does with commands and with other contexts' events: decode, call one handler, and
turn its refusals into the command's permanent failure. Each handler is its own unit of work."""

from __future__ import annotations

import msgspec
from faststream.rabbit import RabbitMessage

from blazing_app import Conflict, NotFound, Refused
from blazing_commands import PermanentFailure
from blazing_commands.consumer import CommandHandler
from blazing_contracts import AnyCommand, AnyEvent, CreateUser, CreateUserResult, SetAvatar
from blazing_contracts.events import auth as ae
from blazing_contracts.events import transaction as te
from blazing_es import RecordInfo
from blazing_es.consumer import EventHandler
from users.application import commands as c

BALANCES = (te.TransactionCreated, te.TransactionUpdated, te.TransactionDeleted, te.TransactionAmountAdjusted)
"""The ledger's events that carry the balance after them (the others are passed by undecoded)."""
AUTH_EVENT_TYPES = (ae.AccountActivated, ae.PasswordChanged, ae.PasswordResetCompleted)
"""The auth.events users acts on (not every sign-in's)."""


def create_user_handler(create: c.CreateUser) -> CommandHandler:
    async def handle(command: AnyCommand, _: RabbitMessage) -> bytes | None:
        p = command.payload
        assert isinstance(p, CreateUser)
        new = c.NewUser(
            user_id=p.user_id,
            email=p.email,
            first_name=p.first_name,
            last_name=p.last_name or p.first_name,
            permissions=p.permissions,
        )
        try:
            status = await create.sign_up(new, command.correlation_id)
        except (Conflict, Refused) as exc:  # the same command would fail the same way again
            raise PermanentFailure(str(exc)) from exc
        return msgspec.json.encode(CreateUserResult(user_id=p.user_id, status=status))

    return handle


def set_avatar_handler(set_avatar: c.SetAvatar) -> CommandHandler:
    async def handle(command: AnyCommand, _: RabbitMessage) -> bytes | None:
        p = command.payload
        assert isinstance(p, SetAvatar)
        try:
            await set_avatar(command.job_id, p.user_id, p.avatar_url, command.correlation_id)
        except NotFound as exc:  # a user deleted since: nothing to point at
            raise PermanentFailure(str(exc)) from exc
        return None

    return handle


def auth_events_handler(activation: c.RecordActivation, password: c.RecordPasswordChange) -> EventHandler:
    async def handle(event: AnyEvent, _: RecordInfo) -> None:
        p = event.payload
        if isinstance(p, ae.AccountActivated):
            await activation(event.event_id, p.user_id, event.correlation_id)
        elif isinstance(p, ae.PasswordChanged):
            await password(event.event_id, p.user_id, "change", event.correlation_id)
        elif isinstance(p, ae.PasswordResetCompleted):
            await password(event.event_id, p.user_id, "reset", event.correlation_id)

    return handle


def transaction_events_handler(take: c.TakeBalance) -> EventHandler:
    async def handle(event: AnyEvent, _: RecordInfo) -> None:
        p = event.payload
        if isinstance(p, BALANCES):
            await take(event.event_id, p.user_id, p.balance_after, event.aggregate_version, event.correlation_id)

    return handle
