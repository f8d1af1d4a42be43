"""The mailer's read use case: the mail log for the ops console."""

from __future__ import annotations

from dataclasses import dataclass

from mailer.application.ports import MailLogEntry, MailLogReads


@dataclass(eq=False)
class MailLogQueries:
    reads: MailLogReads

    async def list(
        self, *, limit: int, offset: int, status: str | None = None, to_email: str | None = None
    ) -> tuple[list[MailLogEntry], int]:
        """A page of sent and failed e-mails, newest first, and how many match."""
        return await self.reads.list(limit=limit, offset=offset, status=status, to_email=to_email)
