"""What files does with other contexts' events: user.deleted erases that user's files."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from blazing_contracts import AnyEvent
from blazing_contracts.events.user import UserDeleted
from blazing_es import RecordInfo
from files.application.files import Files


def user_events_handler(svc: Files) -> Callable[[AnyEvent, RecordInfo], Awaitable[None]]:
    async def handle(event: AnyEvent, _: RecordInfo) -> None:
        if isinstance(event.payload, UserDeleted):
            await svc.erase(event.payload.user_id)  # idempotent: a repeat finds nothing left

    return handle
