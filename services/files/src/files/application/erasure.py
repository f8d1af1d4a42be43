"""user.deleted: every file, profile picture and chunked upload of the user goes — the rows in one
transaction with the inbox claim (a redelivery has no second effect), the bytes once it committed."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from files.application.ports import FileStorage, FilesUnitOfWork


@dataclass(eq=False)
class EraseUserFiles:
    uow: Callable[[], FilesUnitOfWork]
    storage: FileStorage
    consumer: str

    async def __call__(self, event_id: uuid.UUID, user_id: uuid.UUID) -> bool:
        """False when this event was handled before (the inbox)."""
        async with self.uow() as uow:
            if not await uow.inbox.claim(self.consumer, event_id):
                return False
            paths = await uow.uploads.erase(user_id)
            sessions = await uow.sessions.erase(user_id)
        for path in paths:
            with contextlib.suppress(OSError):
                self.storage.delete(path)
        for session_id in sessions:
            self.storage.drop_chunks(session_id)
        return True
