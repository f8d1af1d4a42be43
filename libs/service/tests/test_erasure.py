"""The shared user.deleted handler of the services that keep per-user data (ledger, files)."""

from __future__ import annotations

import uuid

from blazing_contracts import AnyEvent, EventPayload
from blazing_contracts.events.user import UserActivated, UserDeleted
from blazing_es import RecordInfo
from blazing_service.erasure import USER_DELETED, on_user_deleted
from blazing_testing.events import event_of

INFO = RecordInfo(topic="user.events", partition=0, offset=0, key=None, value=b"", headers=[])


def event(payload: EventPayload) -> AnyEvent:
    return event_of(payload, producer="users", correlation_id="erasure-test")


async def test_user_deleted_erases_that_user_once_per_event_and_nothing_else_does() -> None:
    erased: list[tuple[uuid.UUID, uuid.UUID]] = []

    async def erase(event_id: uuid.UUID, user_id: uuid.UUID) -> bool:
        erased.append((event_id, user_id))
        return True

    handle = on_user_deleted(erase)
    user_id = uuid.uuid4()
    deleted = event(UserDeleted(user_id=user_id))
    await handle(deleted, INFO)
    await handle(event(UserActivated(user_id=user_id)), INFO)
    assert erased == [(deleted.event_id, user_id)]
    assert (UserDeleted,) == USER_DELETED
