"""Passwords: forgot / verify / reset with a mailed code, the set-password link of an admin-created
user, and the signed-in owner's change with a mailed code. A new password ends the user's other
sessions (all of them, except the changer's own on a change)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from auth.application.by_address import ByAddress
from auth.application.codes import CODE, LINK, take
from auth.application.credentials import Credentials, context_of
from auth.application.mail import AccountMail
from auth.application.ports import AuthUnitOfWork, PasswordHasher, RequestContext, RevocationList
from auth.application.rules import AuthRules
from auth.domain import codes as dc
from auth.domain import credential as c
from blazing_app import NotFound, Throttled, Unauthenticated

Uow = Callable[[], AuthUnitOfWork]
HOUR = 3600  # the mail allowance's window, in seconds: when asking again surely helps


class NewPassword:
    """The one way a password changes: under the credential's lock, the sessions end, then the
    credential records the password (and the lock it ends, the activation it completes)."""

    def __init__(self, credentials: Credentials, hasher: PasswordHasher, now: Callable[[], datetime]) -> None:
        self.credentials, self.hasher, self.now = credentials, hasher, now

    async def hash(self, password: str) -> str:
        return await self.hasher.hash(password)

    async def set(
        self,
        uow: AuthUnitOfWork,
        user_id: uuid.UUID,
        password_hash: str,
        method: c.Method,
        ctx: RequestContext,
        keep: uuid.UUID | None = None,
    ) -> tuple[c.Credential, list[uuid.UUID]]:
        await self.credentials.lock(uow, user_id)
        revoked = await uow.sessions.revoke(user_id, reason=f"password_{method}", keep=keep)
        try:
            written = await self.credentials.write(
                uow,
                user_id,
                lambda s: c.set_password(s, password_hash, method, len(revoked), self.now()),
                context_of(ctx, user_id),
            )
        except c.NoCredential as exc:  # erased (with its codes) while the code was being judged
            raise NotFound(CODE.unknown) from exc
        return written.state, revoked


class ForgotPassword(ByAddress):
    """A reset code, decided and mailed after the answer (known or not, it is the same). Over the
    per-address allowance no new code is made either: the owner's last one keeps working."""

    task = "forgot password"

    async def handle(self, email: str, ctx: RequestContext) -> None:
        user_id = await self.reads.user_id_by_email(email)
        if user_id is None or not await self.mail.allowed(email):
            return
        async with self.uow() as uow:
            written = await self.credentials.write(uow, user_id, c.request_reset, context_of(ctx, user_id))
            if not written.events:  # erased meanwhile
                return
            code = await uow.codes.issue(user_id, "forgot_password", self.rules.lifetime("forgot_password"))
        await self.mail.reset_code(written.state.email, written.state.first_name, code, ctx)


@dataclass(eq=False)
class VerifyCode:
    """The purpose of a usable reset or change code, without spending it (SPEC §4.1)."""

    uow: Uow

    async def __call__(self, code: str) -> str:
        async with self.uow() as uow:
            found = await take(uow.codes, code, dc.VERIFIABLE, CODE, use=False)
        return found.purpose


class ResetPassword:
    def __init__(self, uow: Uow, passwords: NewPassword, revocations: RevocationList, mail: AccountMail) -> None:
        self.uow, self.passwords, self.revocations, self.mail = uow, passwords, revocations, mail

    async def __call__(self, code: str, password: str, ctx: RequestContext) -> None:
        password_hash = await self.passwords.hash(password)
        async with self.uow() as uow:
            found = await take(uow.codes, code, ("forgot_password",), CODE, use=True, field="code")
            state, revoked = await self.passwords.set(uow, found.owner, password_hash, "reset", ctx)
        await self.revocations.publish(revoked)
        await self.mail.password_set(state.email, state.first_name, ctx)


@dataclass(eq=False)
class CheckSetPasswordLink:
    uow: Uow

    async def __call__(self, user_id: uuid.UUID, code: str) -> None:
        async with self.uow() as uow:
            await take(uow.codes, code, ("must_set_password",), LINK, use=False, owner=user_id)


class SetPassword:
    """An admin-created user's first password, with the mailed link: the account is active then."""

    def __init__(self, uow: Uow, passwords: NewPassword, revocations: RevocationList, mail: AccountMail) -> None:
        self.uow, self.passwords, self.revocations, self.mail = uow, passwords, revocations, mail

    async def __call__(self, user_id: uuid.UUID, code: str, password: str, ctx: RequestContext) -> None:
        password_hash = await self.passwords.hash(password)
        async with self.uow() as uow:
            await take(uow.codes, code, ("must_set_password",), LINK, use=True, owner=user_id)
            state, revoked = await self.passwords.set(uow, user_id, password_hash, "set", ctx)
        await self.revocations.publish(revoked)
        await self.mail.activated(state.email, state.first_name, ctx)


class RequestPasswordChange:
    """Mails the signed-in owner a change code — within the address's hourly allowance of account
    mails, as every code mail is (over it: 429, and the last code sent keeps working)."""

    def __init__(self, uow: Uow, credentials: Credentials, mail: AccountMail, rules: AuthRules) -> None:
        self.uow, self.credentials, self.mail, self.rules = uow, credentials, mail, rules

    async def __call__(self, user_id: uuid.UUID, ctx: RequestContext) -> None:
        async with self.uow() as uow:
            state = await self.credentials.load(uow, user_id)
            if state.status != "active":
                raise Unauthenticated("Authentication required")
            if not await self.mail.allowed(state.email):
                raise Throttled(HOUR, "Too many e-mails to this address this hour; the last code sent still works")
            code = await uow.codes.issue(user_id, "password_change", self.rules.lifetime("password_change"))
        await self.mail.change_code(state.email, state.first_name, code, ctx)


class ChangePassword:
    """The signed-in owner's new password, with the mailed code: every other session ends."""

    def __init__(self, uow: Uow, passwords: NewPassword, revocations: RevocationList, mail: AccountMail) -> None:
        self.uow, self.passwords, self.revocations, self.mail = uow, passwords, revocations, mail

    async def __call__(
        self, user_id: uuid.UUID, session_id: uuid.UUID | None, code: str, password: str, ctx: RequestContext
    ) -> int:
        password_hash = await self.passwords.hash(password)
        async with self.uow() as uow:
            await take(uow.codes, code, ("password_change",), CODE, use=True, owner=user_id)
            state, revoked = await self.passwords.set(uow, user_id, password_hash, "change", ctx, keep=session_id)
        await self.revocations.publish(revoked)
        await self.mail.password_set(state.email, state.first_name, ctx)
        return len(revoked)
