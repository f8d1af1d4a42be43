"""A user's data forgotten when the users service deletes the user: what a service that keeps
per-user data (the ledger, files) does with user.events — and one whose data knows people by their
e-mail address rather than their id (the mail log, dead letters' payloads), which also learns from
user.created whose address it is."""

from __future__ import annotations

from typing import Protocol
from uuid import UUID

from blazing_contracts import AnyEvent
from blazing_contracts.events.user import UserCreated, UserDeleted
from blazing_es import RecordInfo
from blazing_es.consumer import EventHandler

USER_DELETED = (UserDeleted,)
"""The only user.events such a consumer acts on: the others are passed by undecoded."""
USER_CREATED_AND_DELETED = (UserCreated, UserDeleted)
"""What a consumer that knows people by address acts on (``on_user_created_and_deleted``)."""


class Known(Protocol):
    async def __call__(self, user_id: UUID, email: str) -> None:
        """Remembers whose address it is (told again: no change)."""
        ...


class Erase(Protocol):
    async def __call__(self, event_id: UUID, user_id: UUID) -> bool:
        """Erases the user's data once per event (the inbox); False when it was handled before."""
        ...


def on_user_deleted(erase: Erase) -> EventHandler:
    async def handle(event: AnyEvent, _: RecordInfo) -> None:
        if isinstance(event.payload, UserDeleted):
            await erase(event.event_id, event.payload.user_id)

    return handle


def on_user_created_and_deleted(known: Known, erase: Erase) -> EventHandler:
    async def handle(event: AnyEvent, _: RecordInfo) -> None:
        match event.payload:
            case UserCreated(user_id=user_id, email=email):
                await known(user_id, email)
            case UserDeleted(user_id=user_id):
                await erase(event.event_id, user_id)

    return handle
