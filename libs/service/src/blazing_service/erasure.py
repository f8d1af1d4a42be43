"""A user's data forgotten when the users service deletes the user: what a service that keeps
per-user data (the ledger, files) does with user.events."""

from __future__ import annotations

from typing import Protocol
from uuid import UUID

from blazing_contracts import AnyEvent
from blazing_contracts.events.user import UserDeleted
from blazing_es import RecordInfo
from blazing_es.consumer import EventHandler

USER_DELETED = (UserDeleted,)
"""The only user.events such a consumer acts on: the others are passed by undecoded."""


class Erase(Protocol):
    async def __call__(self, event_id: UUID, user_id: UUID) -> bool:
        """Erases the user's data once per event (the inbox); False when it was handled before."""
        ...


def on_user_deleted(erase: Erase) -> EventHandler:
    async def handle(event: AnyEvent, _: RecordInfo) -> None:
        if isinstance(event.payload, UserDeleted):
            await erase(event.event_id, event.payload.user_id)

    return handle
