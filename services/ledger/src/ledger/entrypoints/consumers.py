"""What the ledger does with other contexts' events: user.deleted erases that user's ledger."""

from __future__ import annotations

from blazing_contracts import AnyEvent
from blazing_contracts.events.user import UserDeleted
from blazing_es import RecordInfo
from blazing_es.consumer import EventHandler
from ledger.application.commands import EraseLedger

USER_EVENT_TYPES = (UserDeleted,)
"""The only user.events the handler acts on: the others are passed by undecoded."""


def user_events_handler(erase: EraseLedger) -> EventHandler:
    async def handle(event: AnyEvent, _: RecordInfo) -> None:
        if isinstance(event.payload, UserDeleted):
            await erase(event.event_id, event.payload.user_id)

    return handle
