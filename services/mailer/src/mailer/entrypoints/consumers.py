"""The send_email command queue: each delivery to the use case, its errors to the broker's two
kinds — ``Unavailable`` (and ``Throttled``) is transient: the runner tries again later; any other
application error is a refusal no attempt can change: dead-lettered at once, with its reason.
user.events: who has which address (user.created), and what user.deleted erases."""

from __future__ import annotations

from faststream.rabbit import RabbitMessage

from blazing_app import ApplicationError, Throttled, Unavailable
from blazing_commands import PermanentFailure, TransientFailure
from blazing_commands.consumer import CommandHandler
from blazing_contracts import AnyCommand, SendEmail
from blazing_es.consumer import EventHandler
from blazing_service.erasure import USER_CREATED_AND_DELETED as USER_EVENT_TYPES
from blazing_service.erasure import on_user_created_and_deleted
from mailer.application.erasure import ForgetDeletedUsers
from mailer.application.send_email import SendEmailHandler

__all__ = ["USER_EVENT_TYPES", "send_email_handler", "user_events_handler"]


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
    return on_user_created_and_deleted(users.known, users.erase)
