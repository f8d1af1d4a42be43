"""The send_email command queue: each delivery to the use case, its errors to the broker's two
kinds — ``Unavailable`` (and ``Throttled``) is transient: the runner tries again later; any other
application error is a refusal no attempt can change: dead-lettered at once, with its reason.
user.events: who has which address (user.created), and what user.deleted erases."""

from __future__ import annotations

from faststream.rabbit import RabbitMessage

from blazing_app import ApplicationError, Throttled, Unavailable
from blazing_commands import PermanentFailure, TransientFailure
from blazing_commands.consumer import CommandHandler
from blazing_contracts import AnyCommand, AnyEvent, SendEmail
from blazing_contracts.events.user import UserCreated, UserDeleted
from blazing_es import RecordInfo
from blazing_es.consumer import EventHandler
from mailer.application.erasure import ForgetDeletedUsers
from mailer.application.send_email import SendEmailHandler

USER_EVENT_TYPES = (UserCreated, UserDeleted)
"""The user.events the mailer acts on: the others are passed by undecoded."""


def send_email_handler(send: SendEmailHandler) -> CommandHandler:
    async def handle(command: AnyCommand, _: RabbitMessage | None) -> bytes | None:
        assert isinstance(command.payload, SendEmail)  # the runner decoded it for this queue
        try:
            await send(command)  # type: ignore[arg-type] # a CommandEnvelope[SendEmail], as asserted
        except (Unavailable, Throttled) as exc:
            raise TransientFailure(exc.message) from exc
        except ApplicationError as exc:
            raise PermanentFailure(exc.message) from exc
        return None

    return handle


def user_events_handler(users: ForgetDeletedUsers) -> EventHandler:
    async def handle(event: AnyEvent, _: RecordInfo) -> None:
        match event.payload:
            case UserCreated(user_id=user_id, email=email):
                await users.created(user_id, email)
            case UserDeleted(user_id=user_id):
                await users.deleted(user_id)

    return handle
