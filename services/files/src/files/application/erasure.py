"""user.deleted: every file, profile picture and chunked upload of the user goes — the rows in one
transaction with the inbox claim (a redelivery has no second effect), the bytes once it committed."""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass

from blazing_es.erasure import EraseUser
from files.application.ports import FileStorage, FilesUnitOfWork


@dataclass(eq=False)
class EraseUserFiles(EraseUser[FilesUnitOfWork]):
    storage: FileStorage

    async def erase(self, uow: FilesUnitOfWork, user_id: uuid.UUID) -> None:
        paths = await uow.uploads.erase(user_id)
        sessions = await uow.sessions.erase(user_id)
        uow.after_commit(lambda: self._drop(paths, sessions))

    def _drop(self, paths: list[str], sessions: list[uuid.UUID]) -> None:
        for path in paths:
            with contextlib.suppress(OSError):
                self.storage.delete(path)
        for session_id in sessions:
            self.storage.drop_chunks(session_id)
