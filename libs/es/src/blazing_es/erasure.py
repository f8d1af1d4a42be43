"""user.deleted in a service that keeps per-user data (the ledger, files): the user's data erased once
per event — the erasure commits in one transaction with the inbox claim, so a redelivery has no second
effect. The consumer side, which picks the event out of user.events, is ``blazing_service.erasure``."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar
from uuid import UUID

from blazing_es.ports import UnitOfWork

U = TypeVar("U", bound=UnitOfWork)


@dataclass(eq=False)
class EraseUser(ABC, Generic[U]):
    uow: Callable[[], U]
    consumer: str

    async def __call__(self, event_id: UUID, user_id: UUID) -> bool:
        """False when this event was handled before (the inbox)."""
        async with self.uow() as uow:
            if not await uow.inbox.claim(self.consumer, event_id):
                return False
            await self.erase(uow, user_id)
        return True

    @abstractmethod
    async def erase(self, uow: U, user_id: UUID) -> None:
        """The service's part, in the unit of work that claimed the event; what must wait for the
        commit (files on disk, a cache) goes to ``uow.after_commit``."""
