"""The console's operators: signing in through auth (admins only; each sign-in audited, the
admin's e-mail remembered for the audit log) and out (audited too)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from blazing_app import Browser, Forbidden
from ops.application.ports import Auth, Operator, OpsUnitOfWork
from ops.domain.audit import Actor


@dataclass(eq=False)
class SignIn:
    auth: Auth
    uow: Callable[[], OpsUnitOfWork]

    async def __call__(self, email: str, password: str, browser: Browser) -> Operator:
        """Auth's refusal as it is; someone who is not an admin gets no console session (the one
        auth just made is ended)."""
        operator = await self.auth.sign_in(email, password, browser)
        if not operator.admin:
            await self.auth.sign_out(operator.user_id, operator.session_id, operator.permissions)
            raise Forbidden("The ops console is for admins only")
        async with self.uow() as uow:
            await uow.audit.operator(operator.user_id, operator.email)
            await uow.audit.append(Actor(user_id=operator.user_id, name=operator.email), "signed_in", {}, 0)
        return operator


@dataclass(eq=False)
class SignOut:
    auth: Auth
    uow: Callable[[], OpsUnitOfWork]

    async def __call__(
        self, user_id: uuid.UUID, session_id: uuid.UUID | None, permissions: int, *, admin: bool
    ) -> None:
        """Ends the session at auth; an admin's (a console session's end) is audited, as its sign-in is."""
        await self.auth.sign_out(user_id, session_id, permissions)
        if admin:
            async with self.uow() as uow:
                await uow.audit.append(Actor(user_id=user_id, name=str(user_id)), "signed_out", {}, 0)
