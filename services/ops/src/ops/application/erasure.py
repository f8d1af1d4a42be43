"""user.deleted: the dead letters that hold the user's data keep none of it (SPEC: personal data
erasure) — events of the user's streams, and jobs naming the user's id or address, which
user.created told. In one transaction with the inbox claim: a redelivery has no second effect."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from blazing_es.erasure import EraseUser
from ops.application.ports import OpsUnitOfWork

log = logging.getLogger(__name__)


@dataclass(eq=False)
class EraseUserDeadLetters(EraseUser[OpsUnitOfWork]):
    async def known(self, user_id: uuid.UUID, email: str) -> None:
        async with self.uow() as uow:
            await uow.people.keep(user_id, email)

    async def erase(self, uow: OpsUnitOfWork, user_id: uuid.UUID) -> None:
        erased = await uow.dead_letters.erase(user_id, await uow.people.forget(user_id))
        log.info("user %s deleted: %d dead letter(s) erased", user_id, erased)
