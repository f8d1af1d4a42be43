"""Sign-in (with the account lock and the per-client throttle) and the refresh of a session's tokens
(rotation, and reuse detection that ends the session).

An unknown address, a wrong password and a locked account give the same 401 after the same work
(one argon2 check each); the right password of an account not activated yet gives 403. The
password is checked outside the transaction (argon2 is slow; no lock is held meanwhile); the
credential decides under its stream's lock, on its state then — if the password changed in
between, it is checked again.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import datetime

import msgspec
from prometheus_client import Counter

from auth.application.credentials import Credentials, context_of
from auth.application.mail import AccountMail
from auth.application.ports import (
    Account,
    AuthReads,
    AuthUnitOfWork,
    FailedSignIns,
    PasswordHasher,
    RequestContext,
    RevocationList,
    TokenIssuer,
)
from auth.application.rules import AuthRules
from auth.domain import credential as c
from auth.domain import sessions as ds
from blazing_app import Forbidden, Throttled, Unauthenticated

log = logging.getLogger(__name__)
INVALID_CREDENTIALS = "Invalid email or password"
NOT_ACTIVATED = "Account not activated. Please check your email for activation code."
TOO_MANY = "Too many failed sign-ins; try again later"
REFRESH_REUSED = "Refresh token reuse detected; the session was revoked"
REFRESH_INVALID = "Invalid or expired refresh token"
SIGN_INS = Counter("auth_sign_ins_total", "Sign-in attempts by outcome", ["outcome"])
LOCKOUTS = Counter("auth_lockouts_total", "Accounts locked after too many failed sign-ins")
CHECKS = 3
"""How many times a sign-in checks the password when it keeps changing meanwhile."""

Uow = Callable[[], AuthUnitOfWork]


class Tokens(msgspec.Struct, frozen=True, kw_only=True):
    access_token: str
    refresh_token: str
    token_type: str = "Bearer"  # noqa: S105 - the scheme name, not a secret
    expires_in: int
    session_id: uuid.UUID


class SignedIn(msgspec.Struct, frozen=True, kw_only=True):
    tokens: Tokens
    account: Account


def tokens_of(
    issuer: TokenIssuer, rules: AuthRules, user_id: uuid.UUID, permissions: int, session_id: uuid.UUID, refresh: str
) -> Tokens:
    access = issuer.issue(user_id=user_id, session_id=session_id, permissions=permissions)
    return Tokens(
        access_token=access, refresh_token=refresh, expires_in=rules.access_ttl_seconds, session_id=session_id
    )


class SignIn:
    def __init__(
        self,
        uow: Uow,
        reads: AuthReads,
        credentials: Credentials,
        hasher: PasswordHasher,
        tokens: TokenIssuer,
        failures: FailedSignIns,
        mail: AccountMail,
        rules: AuthRules,
        now: Callable[[], datetime],
        new_id: Callable[[], uuid.UUID] = uuid.uuid4,
    ) -> None:
        self.uow, self.reads, self.credentials, self.hasher = uow, reads, credentials, hasher
        self.tokens, self.failures, self.mail, self.rules = tokens, failures, mail, rules
        self.now, self.new_id = now, new_id

    async def __call__(self, email: str, password: str, ctx: RequestContext) -> SignedIn:
        try:
            signed_in = await self._sign_in(email, password, ctx)
        except Exception:
            SIGN_INS.labels("failure").inc()
            raise
        SIGN_INS.labels("success").inc()
        return signed_in

    async def _sign_in(self, email: str, password: str, ctx: RequestContext) -> SignedIn:
        if ctx.ip and (wait := await self.failures.retry_after(ctx.ip)) is not None:
            raise Throttled(wait, TOO_MANY)
        user_id = await self.reads.user_id_by_email(email)
        if user_id is None:
            await self.hasher.verify(None, password)  # the same work as for a known address
            await self._unknown(ctx)
        else:
            for _ in range(CHECKS):
                try:
                    return await self._attempt(user_id, password, ctx)
                except c.CheckAgain:
                    continue
        raise Unauthenticated(INVALID_CREDENTIALS)

    async def _unknown(self, ctx: RequestContext) -> None:
        """Recorded on a stream of its own (an attempt on nobody), then refused."""
        nobody = self.new_id()
        async with self.uow() as uow:
            await self.credentials.write(
                uow, nobody, lambda s: c.fail_unknown(s, self.now(), ctx.ip), context_of(ctx, None)
            )
        await self._count_failure(ctx)

    async def _attempt(self, user_id: uuid.UUID, password: str, ctx: RequestContext) -> SignedIn:
        async with self.uow() as uow:
            seen = await self.credentials.load(uow, user_id)
        now = self.now()
        checked = None
        if seen.is_locked(now):
            await self.hasher.verify(None, password)  # refused unjudged, after the same work
        else:
            right = await self.hasher.verify(seen.password_hash, password)
            checked = c.Checked(password_hash=seen.password_hash, right=right)
        attempt = c.Attempt(checked=checked, session_id=self.new_id(), ip=ctx.ip, user_agent=ctx.user_agent)
        account: Account | None = None
        refresh = ""
        try:
            async with self.uow() as uow:
                written = await self.credentials.write(
                    uow, user_id, lambda s: c.sign_in(s, attempt, now, self.rules.lock), context_of(ctx, user_id)
                )
                if isinstance(written.events[-1], c.SignedIn):
                    refresh = await uow.sessions.open(
                        attempt.session_id, user_id, self.rules.refresh_ttl, ctx.ip, ctx.user_agent
                    )
                    account = await uow.credentials.account(user_id)
                    if account is None:  # cannot be (active, under the lock): write nothing
                        raise c.NoCredential("the credential is not active")
        except c.NoCredential as exc:  # erased since it was looked up
            raise Unauthenticated(INVALID_CREDENTIALS) from exc
        except c.NotActivated as exc:
            raise Forbidden(NOT_ACTIVATED) from exc
        if account is not None:
            tokens = tokens_of(self.tokens, self.rules, user_id, account.permissions, attempt.session_id, refresh)
            return SignedIn(tokens=tokens, account=account)
        await self._count_failure(ctx)
        locked = next((e for e in written.events if isinstance(e, c.Locked)), None)
        if locked is not None:
            LOCKOUTS.inc()
            await self.mail.locked(written.state.email, written.state.first_name, locked.until, ctx)
        raise Unauthenticated(INVALID_CREDENTIALS)

    async def _count_failure(self, ctx: RequestContext) -> None:
        if ctx.ip:
            await self.failures.count(ctx.ip)


class Refresh:
    def __init__(
        self,
        uow: Uow,
        credentials: Credentials,
        tokens: TokenIssuer,
        revocations: RevocationList,
        rules: AuthRules,
    ) -> None:
        self.uow, self.credentials, self.tokens = uow, credentials, tokens
        self.revocations, self.rules = revocations, rules

    async def __call__(self, refresh_token: str) -> Tokens:
        revoked: list[uuid.UUID] = []
        state: c.Credential | None = None
        successor = ""
        async with self.uow() as uow:
            found = await uow.sessions.find_refresh(refresh_token)
            outcome = ds.judge_refresh(found)
            if found is not None and outcome == "reused":
                revoked = await uow.sessions.revoke(found.user_id, reason="refresh_token_reuse", only=found.session_id)
            elif found is not None and outcome == "rotate":
                successor = await uow.sessions.rotate(refresh_token, found.session_id)
                state = await self.credentials.load(uow, found.user_id)
        if found is not None and outcome == "reused":
            await self.revocations.publish(revoked)
            log.warning("refresh token reuse on session %s: session revoked", found.session_id)
            raise Unauthenticated(REFRESH_REUSED)
        if found is None or state is None or state.status != "active":
            raise Unauthenticated(REFRESH_INVALID)
        return tokens_of(self.tokens, self.rules, state.user_id, state.permissions, found.session_id, successor)
