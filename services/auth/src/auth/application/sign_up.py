"""Sign-up, activation and the activation code again.

Known and unknown e-mail addresses are answered alike, in the same time (issue #17 item 8): the
account mails are sent after the answer (``Background``), and a sign-up of a registered address
takes as long — and ends the same way — as a recent new one (``Twin``).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import datetime

import msgspec

from auth.application.by_address import ByAddress
from auth.application.codes import ACTIVATION, take
from auth.application.credentials import Credentials, context_of
from auth.application.mail import AccountMail
from auth.application.ports import (
    AuthUnitOfWork,
    EmailTaken,
    NewUser,
    PasswordHasher,
    RequestContext,
    UserDirectory,
)
from auth.application.rules import AuthRules
from auth.application.timing import Background, Twin
from auth.domain import credential as c
from blazing_app import NotFound

Uow = Callable[[], AuthUnitOfWork]


class SignedUp(msgspec.Struct, frozen=True, kw_only=True):
    confirmed: bool
    """True when the users service created the profile in time; False: still queued."""


class SignUp:
    def __init__(
        self,
        uow: Uow,
        credentials: Credentials,
        hasher: PasswordHasher,
        users: UserDirectory,
        mail: AccountMail,
        background: Background,
        rules: AuthRules,
        now: Callable[[], datetime],
    ) -> None:
        self.uow, self.credentials, self.hasher, self.users = uow, credentials, hasher, users
        self.mail, self.background, self.rules, self.now = mail, background, rules, now
        self.new_sign_up: Twin[bool] = Twin(default_seconds=0.05, default_outcome=True)

    async def __call__(
        self, email: str, password: str, first_name: str, last_name: str, ctx: RequestContext
    ) -> SignedUp:
        """An address that is registered already answers the same, in the same time, and its owner
        is mailed instead (after the answer)."""
        password_hash = await self.hasher.hash(password)
        started = time.monotonic()
        user_id = uuid.uuid4()
        code = ""
        try:
            async with self.uow() as uow:
                existing = await uow.credentials.user_id_by_email(email)
                if existing is None:
                    await self.credentials.write(
                        uow,
                        user_id,
                        lambda s: c.register(s, email, first_name, password_hash),
                        context_of(ctx, user_id),
                    )
                    await uow.profiles.started(user_id, first_name, last_name, self.now())
                    code = await uow.codes.issue(user_id, "activation", self.rules.lifetime("activation"))
        except EmailTaken:
            existing = user_id  # a concurrent sign-up with the same address won
        if existing is not None:
            self.background.run(self.mail.account_exists(email, first_name, ctx), "account_exists mail")
            return SignedUp(confirmed=await self.new_sign_up.imitate(started))
        self.background.run(self.mail.activation(email, first_name, code, ctx), "activation mail")
        user = NewUser(user_id=user_id, email=email, first_name=first_name, last_name=last_name)
        confirmed = await self.users.create(
            user, ctx.correlation_id or str(user_id), self.rules.create_user_wait_seconds
        )
        if confirmed:
            async with self.uow() as uow:
                await uow.credentials.mark_profile_confirmed(user_id)
        self.new_sign_up.measured(time.monotonic() - started, confirmed)
        return SignedUp(confirmed=confirmed)


class Activate:
    def __init__(self, uow: Uow, credentials: Credentials, mail: AccountMail) -> None:
        self.uow, self.credentials, self.mail = uow, credentials, mail

    async def __call__(self, code: str, ctx: RequestContext) -> None:
        try:
            async with self.uow() as uow:
                found = await take(uow.codes, code, ("activation",), ACTIVATION, use=True)
                written = await self.credentials.write(uow, found.owner, c.activate, context_of(ctx, found.owner))
        except c.NoCredential as exc:  # erased meanwhile (erasure takes its codes too)
            raise NotFound(ACTIVATION.unknown) from exc
        if written.events:  # activated now (not before): the owner is told
            await self.mail.activated(written.state.email, written.state.first_name, ctx)


class ResendActivation(ByAddress):
    """A new activation code, decided and mailed after the answer (known or not, it is the same)."""

    task = "resend activation"

    async def handle(self, email: str, ctx: RequestContext) -> None:
        user_id = await self.reads.user_id_by_email(email)
        if user_id is None:
            return
        async with self.uow() as uow:
            state = await self.credentials.load(uow, user_id)
        if state.status != "pending" or state.must_set_password:
            return
        if not await self.mail.allowed(state.email):
            return
        async with self.uow() as uow:
            code = await uow.codes.issue(user_id, "activation", self.rules.lifetime("activation"))
        await self.mail.activation(state.email, state.first_name, code, ctx)
