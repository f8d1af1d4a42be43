"""What auth does with other contexts' events (user.events, exactly once per event: inbox) and
commands (revoke_sessions from users, answered when it is done)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from faststream.rabbit import RabbitMessage

from auth.application.service import AuthService, RequestContext
from blazing_contracts import AnyCommand, AnyEvent, RevokeSessions, RevokeSessionsResult
from blazing_contracts.events import user as ue
from blazing_es import Inbox, RecordInfo

CONSUMER = "auth.user-events"


def user_events_handler(auth: AuthService) -> Callable[[AnyEvent, RecordInfo], Awaitable[None]]:
    inbox = Inbox(CONSUMER)

    async def handle(event: AnyEvent, _: RecordInfo) -> None:
        payload = event.payload
        ctx = RequestContext(correlation_id=event.correlation_id)
        after_commit: Callable[[], Awaitable[None]] | None = None
        revoked: list[Any] = []
        async with auth.pool.connection() as conn, conn.transaction():
            if not await inbox.claim(conn, event.event_id):
                return
            await auth.profiles.apply(conn, event)
            if isinstance(payload, ue.UserCreated):
                after_commit = await auth.on_user_created(
                    conn,
                    payload.user_id,
                    payload.email,
                    payload.first_name,
                    payload.permissions,
                    payload.created_by,
                    ctx,
                )
            elif isinstance(payload, ue.UserPermissionsChanged):
                revoked = await auth.on_permissions_changed(
                    conn, payload.user_id, payload.permissions, event.aggregate_version
                )
            elif isinstance(payload, ue.UserDeleted):
                revoked = await auth.on_user_deleted(conn, payload.user_id)
        await auth.revocations.publish(revoked)
        if after_commit is not None:
            await after_commit()

    return handle


def revoke_sessions_handler(auth: AuthService) -> Callable[[AnyCommand, RabbitMessage], Awaitable[bytes | None]]:
    async def handle(command: AnyCommand, _: RabbitMessage) -> bytes | None:
        p = command.payload
        assert isinstance(p, RevokeSessions)
        revoked = await auth.revoke_access(p.user_id, p.reason, p.permissions, p.user_version)
        return msgspec.json.encode(RevokeSessionsResult(user_id=p.user_id, sessions_revoked=revoked))

    return handle
