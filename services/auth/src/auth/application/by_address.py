"""Requests anyone may make for any address (a reset code, an activation code again): answered at
once and alike for a known and an unknown address, their work done after the answer (Background)."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from auth.application.credentials import Credentials
from auth.application.mail import AccountMail
from auth.application.ports import AuthReads, AuthUnitOfWork, RequestContext
from auth.application.rules import AuthRules
from auth.application.timing import Background


class ByAddress:
    task: ClassVar[str]
    """What the background task is called in the logs."""

    def __init__(
        self,
        uow: Callable[[], AuthUnitOfWork],
        reads: AuthReads,
        credentials: Credentials,
        mail: AccountMail,
        background: Background,
        rules: AuthRules,
    ) -> None:
        self.uow, self.reads, self.credentials = uow, reads, credentials
        self.mail, self.background, self.rules = mail, background, rules

    async def __call__(self, email: str, ctx: RequestContext) -> None:
        self.background.run(self.handle(email, ctx), self.task)

    async def handle(self, email: str, ctx: RequestContext) -> None:
        """The work, after the answer."""
        raise NotImplementedError
