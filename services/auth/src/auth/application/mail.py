"""The account mails auth sends (send_email commands), with their templates' variables.

A mail is sent after the work that caused it committed: a failure to queue it is logged, never the
request's failure (its owner can ask again). The mails anyone can cause for any address (reset
codes, "you already have an account", activation resends) count against the address's hourly
allowance (MailAllowance)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from auth.application.ports import Mail, MailAllowance, Mailer, RequestContext
from blazing_contracts.types import EmailTemplate

log = logging.getLogger(__name__)


@dataclass(eq=False)
class AccountMail:
    mailer: Mailer
    allowance: MailAllowance
    code_minutes: Mapping[str, int]

    async def send(
        self, template: EmailTemplate, to: str, name: str, ctx: RequestContext, priority: int = 4, **variables: str
    ) -> None:
        mail = Mail(
            template=template,
            to=to,
            name=name,
            variables={"first_name": name, **variables},
            priority=priority,
            correlation_id=ctx.correlation_id or str(uuid.uuid4()),
        )
        try:
            await self.mailer.send(mail)
        except Exception:  # the request's own work is committed; the owner can ask again
            log.exception("could not queue the %s e-mail", template)

    async def allowed(self, email: str) -> bool:
        return await self.allowance.allow(email)

    def _minutes(self, purpose: str) -> str:
        return str(self.code_minutes[purpose])

    async def _code(
        self, template: EmailTemplate, variable: str, purpose: str, to: str, name: str, code: str, ctx: RequestContext
    ) -> None:
        """A mail carrying a code (as ``variable``) and the minutes it lasts: urgent, its owner waits."""
        variables = {variable: code, "expires_in_minutes": self._minutes(purpose)}
        await self.send(template, to, name, ctx, priority=5, **variables)

    async def activation(self, to: str, name: str, code: str, ctx: RequestContext) -> None:
        await self._code("account_activation", "activation_code", "activation", to, name, code, ctx)

    async def account_exists(self, to: str, name: str, ctx: RequestContext) -> None:
        if await self.allowed(to):
            await self.send("account_exists", to, name, ctx)

    async def activated(self, to: str, name: str, ctx: RequestContext) -> None:
        await self.send("activation_success", to, name, ctx)

    async def reset_code(self, to: str, name: str, code: str, ctx: RequestContext) -> None:
        await self._code("forgot_password", "reset_code", "forgot_password", to, name, code, ctx)

    async def password_set(self, to: str, name: str, ctx: RequestContext) -> None:
        await self.send("password_reset_success", to, name, ctx)

    async def change_code(self, to: str, name: str, code: str, ctx: RequestContext) -> None:
        await self._code("password_change", "change_code", "password_change", to, name, code, ctx)

    async def set_password_link(self, to: str, name: str, user_id: uuid.UUID, code: str, ctx: RequestContext) -> None:
        await self.send(
            "user_must_set_password",
            to,
            name,
            ctx,
            priority=5,
            user_id=str(user_id),
            code=code,
            expires_in_hours=str(self.code_minutes["must_set_password"] // 60),
        )

    async def locked(self, to: str, name: str, until: datetime, ctx: RequestContext) -> None:
        await self.send("account_locked", to, name, ctx, locked_until=until.strftime("%Y-%m-%d %H:%M UTC"))
