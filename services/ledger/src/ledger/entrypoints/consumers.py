"""What the ledger does with other contexts' events: user.deleted erases that user's ledger."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from blazing_contracts import AnyEvent
from blazing_contracts.events.user import UserDeleted
from blazing_es import Inbox, RecordInfo
from ledger.application.service import LedgerService


def user_events_handler(svc: LedgerService) -> Callable[[AnyEvent, RecordInfo], Awaitable[None]]:
    inbox = Inbox("ledger.user-events")

    async def handle(event: AnyEvent, _: RecordInfo) -> None:
        if not isinstance(event.payload, UserDeleted):
            return
        async with svc.pool.connection() as conn, conn.transaction():
            if await inbox.claim(conn, event.event_id):
                await svc.erase(conn, event.payload.user_id)
        svc.streams.forget(event.payload.user_id)  # again once committed: no write cached the erased state

    return handle
