"""What auth does with other contexts' events (user.events) and commands (revoke_sessions from
users, answered when it is done): decode, call the handler, encode the reply."""

from __future__ import annotations

import msgspec
from faststream.rabbit import RabbitMessage

from auth.application.user_events import RevokeAccess, UserEvents
from blazing_commands.consumer import CommandHandler
from blazing_contracts import AnyCommand, AnyEvent, RevokeSessions, RevokeSessionsResult
from blazing_es import RecordInfo
from blazing_es.consumer import EventHandler


def user_events_handler(apply: UserEvents) -> EventHandler:
    async def handle(event: AnyEvent, _: RecordInfo) -> None:
        await apply(event)

    return handle


def revoke_sessions_handler(revoke: RevokeAccess) -> CommandHandler:
    async def handle(command: AnyCommand, _: RabbitMessage) -> bytes | None:
        p = command.payload
        assert isinstance(p, RevokeSessions)
        revoked = await revoke(p.user_id, p.reason, p.permissions, p.user_version)
        return msgspec.json.encode(RevokeSessionsResult(user_id=p.user_id, sessions_revoked=revoked))

    return handle
