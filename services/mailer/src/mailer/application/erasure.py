"""user.deleted erases the user's personal data from the mail log (SPEC: personal data erasure).
The mail log knows addresses, the deletion only the user: user.created tells which address is whose.
Both steps are idempotent, so a redelivered event has no second effect."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from uuid import UUID

from mailer.application.ports import Recipients

log = logging.getLogger(__name__)


@dataclass(eq=False)
class ForgetDeletedUsers:
    recipients: Recipients

    async def known(self, user_id: UUID, email: str) -> None:
        await self.recipients.known(user_id, email)

    async def erase(self, event_id: UUID, user_id: UUID) -> bool:
        erased = await self.recipients.erase(user_id)
        log.info("user %s deleted: %d mail log row(s) erased", user_id, erased)
        return True
