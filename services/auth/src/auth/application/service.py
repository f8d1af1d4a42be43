"""Auth's use cases. Each runs its writes in one transaction (stream append, read model, outbox,
codes, sessions), then sends its commands (create_user, send_email) once that committed.

Known and unknown e-mail addresses are answered alike, in the same time: the account mails
(forgot password, activation resend, "you already have an account") are decided and sent after
the answer, and a sign-up of a registered address takes as long as a new one (``timing``)."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from prometheus_client import Counter
from psycopg import errors
from psycopg_pool import AsyncConnectionPool
from redis.asyncio import Redis

from auth.adapters.hashing import Hasher
from auth.adapters.mail_limit import MailLimit
from auth.adapters.postgres import Codes, CredentialStore, SessionRow, Sessions
from auth.adapters.profiles import Account, Profiles
from auth.adapters.revocations import Revocations
from auth.adapters.tokens import Keys
from auth.application import codes as judge
from auth.application.timing import Background, Twin
from auth.domain import credential as c
from auth.settings import AuthSettings
from blazing_commands import CommandBus
from blazing_contracts import CreateUser, CreateUserResult, EventPayload, SendEmail, make_command, make_event
from blazing_contracts.events import auth as ev
from blazing_contracts.types import EmailTemplate
from blazing_es import ConcurrencyError
from blazing_service import Forbidden, TooManyRequests, Unauthorized

log = logging.getLogger(__name__)
INVALID_CREDENTIALS = "Invalid email or password"
NOT_ACTIVATED = "Account not activated. Please check your email for activation code."


class RequestContext(msgspec.Struct, frozen=True, kw_only=True):
    ip: str | None = None
    user_agent: str | None = None
    correlation_id: str = ""


class Tokens(msgspec.Struct, frozen=True, kw_only=True):
    access_token: str
    refresh_token: str
    token_type: str = "Bearer"  # noqa: S105 - the scheme name, not a secret
    expires_in: int
    session_id: uuid.UUID


SIGN_INS = Counter("auth_sign_ins_total", "Sign-in attempts by outcome", ["outcome"])
LOCKOUTS = Counter("auth_lockouts_total", "Accounts locked after too many failed sign-ins")


class AuthService:
    def __init__(
        self,
        settings: AuthSettings,
        pool: AsyncConnectionPool,
        redis: Redis,
        bus: CommandBus,
        hasher: Hasher,
        keys: Keys,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.s = settings
        self.pool = pool
        self.redis = redis
        self.bus = bus
        self.hasher = hasher
        self.keys = keys
        self.now = now
        self.credentials = CredentialStore()
        self.codes = Codes()
        self.sessions = Sessions()
        self.profiles = Profiles()
        self.revocations = Revocations(redis, settings.access_ttl_seconds)
        self.mail_limit = MailLimit(redis, settings.mails_per_address_per_hour)
        self.background = Background()
        self.new_sign_up = Twin(default_seconds=0.05, default_status=201)
        self.policy = c.Policy(
            lock_threshold=settings.lock_threshold,
            window=timedelta(seconds=settings.lock_window_seconds),
            lock_for=timedelta(seconds=settings.lock_seconds),
        )

    # ------------------------------------------------------------------ helpers

    def _event(self, payload: EventPayload, user_id: uuid.UUID | None, version: int, ctx: RequestContext) -> Any:
        return make_event(
            payload,
            event_id=uuid.uuid4(),
            aggregate_id=str(user_id or "anonymous"),
            aggregate_version=version,
            occurred_at=self.now(),
            producer="auth",
            correlation_id=ctx.correlation_id or str(uuid.uuid4()),
            actor_id=user_id,
        )

    def _lifetime(self, purpose: str) -> timedelta:
        return timedelta(minutes=self.s.code_minutes[purpose])

    async def _limited_email(
        self, template: EmailTemplate, to: str, name: str, ctx: RequestContext, priority: int = 4, **variables: str
    ) -> None:
        """An account mail anyone can trigger for any address: at most the per-address allowance."""
        if await self.mail_limit.allow(to):
            await self._email(template, to, name, ctx, priority, **variables)

    async def _email(
        self, template: EmailTemplate, to: str, name: str, ctx: RequestContext, priority: int = 4, **variables: str
    ) -> None:
        try:
            await self.bus.send(
                make_command(
                    SendEmail(
                        to_email=to, to_name=name, template=template, variables={"first_name": name, **variables}
                    ),
                    job_id=uuid.uuid4(),
                    created_at=self.now(),
                    correlation_id=ctx.correlation_id or str(uuid.uuid4()),
                    priority=priority,
                    max_attempts=8,
                )
            )
        except Exception:  # the request's own work is committed; the owner can ask again
            log.exception("could not queue the %s e-mail", template)

    async def _save(self, conn: Any, state: c.Credential, events: list[c.Event], published: list[Any]) -> c.Credential:
        return await self.credentials.save(conn, state, events, published, now=self.now())

    # ------------------------------------------------------------------ sign-up

    async def sign_up(self, email: str, password: str, first_name: str, last_name: str, ctx: RequestContext) -> int:
        """201 when the users service created the profile in time, 202 when it is still queued.
        An e-mail that is already registered answers the same, in the same time, and its owner is
        mailed instead (after the answer)."""
        password_hash = await self.hasher.hash(password)
        started = time.monotonic()
        user_id = uuid.uuid4()
        try:
            async with self.pool.connection() as conn, conn.transaction():
                existing = await self.credentials.user_id_by_email(conn, email)
                if existing is None:
                    state = c.Credential(user_id=user_id)
                    await self._save(
                        conn, state, [c.Registered(email=email, first_name=first_name, password_hash=password_hash)], []
                    )
                    await self.profiles.started(conn, user_id, first_name, last_name, self.now())
                    code = await self.codes.issue(conn, user_id, "activation", self._lifetime("activation"))
        except errors.UniqueViolation:
            existing = user_id  # a concurrent sign-up with the same e-mail won
        if existing is not None:
            self.background.run(self._limited_email("account_exists", email, first_name, ctx), "account_exists mail")
            return await self.new_sign_up.imitate(started)
        self.background.run(
            self._email(
                "account_activation",
                email,
                first_name,
                ctx,
                priority=5,
                activation_code=code,
                expires_in_minutes=str(self.s.code_minutes["activation"]),
            ),
            "activation mail",
        )
        command = make_command(
            CreateUser(user_id=user_id, email=email, first_name=first_name, last_name=last_name),
            job_id=user_id,
            created_at=self.now(),
            correlation_id=ctx.correlation_id or str(user_id),
            priority=5,
            max_attempts=20,
        )
        reply = await self.bus.call(command, self.s.create_user_wait_seconds)
        status = 202
        if reply is not None:
            result = msgspec.json.decode(reply, type=CreateUserResult)
            async with self.pool.connection() as conn, conn.transaction():
                await self.credentials.mark_profile_confirmed(conn, result.user_id)
            status = 201
        self.new_sign_up.measured(time.monotonic() - started, status)
        return status

    async def resend_create_user(self) -> int:
        """Re-sends create_user for credentials whose profile was never confirmed (e.g. the
        command could not be published); users handles a repeat as a no-op."""
        async with self.pool.connection() as conn:
            rows = await self.credentials.unconfirmed_profiles(conn, timedelta(minutes=1))
        for user_id, email, first_name, permissions, last_name in rows:
            await self.bus.send(
                make_command(
                    CreateUser(
                        user_id=user_id,
                        email=email,
                        first_name=first_name,
                        last_name=last_name,
                        permissions=permissions,
                    ),
                    job_id=user_id,
                    created_at=self.now(),
                    correlation_id=str(user_id),
                    priority=5,
                    max_attempts=20,
                )
            )
        return len(rows)

    # ------------------------------------------------------------------ sign-in, tokens, sessions

    async def _ip_throttle(self, ctx: RequestContext) -> str | None:
        if not ctx.ip:
            return None
        key = f"auth:failed:ip:{ctx.ip}"
        count = await self.redis.get(key)
        if count is not None and int(count) >= self.s.failed_per_ip_limit:
            ttl = await self.redis.ttl(key)
            raise TooManyRequests(retry_after=max(ttl, 1), message="Too many failed sign-ins; try again later")
        return key

    async def _ip_failed(self, key: str | None) -> None:
        if key:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.incr(key)
                pipe.expire(key, self.s.lock_window_seconds, nx=True)
                pipe.ttl(key)
                *_, ttl = await pipe.execute()
            if int(ttl) < 0:  # seen after Redis restarts: a count must never outlive its window
                await self.redis.expire(key, self.s.lock_window_seconds)

    async def sign_in(self, email: str, password: str, ctx: RequestContext) -> tuple[Tokens, Account]:
        try:
            signed_in = await self._sign_in(email, password, ctx)
        except Exception:
            SIGN_INS.labels("failure").inc()
            raise
        SIGN_INS.labels("success").inc()
        return signed_in

    async def _sign_in(self, email: str, password: str, ctx: RequestContext) -> tuple[Tokens, Account]:
        throttle_key = await self._ip_throttle(ctx)
        async with self.pool.connection() as conn:
            user_id = await self.credentials.user_id_by_email(conn, email)
        if user_id is None:
            await self.hasher.verify(None, password)  # the same work as for a known e-mail
            async with self.pool.connection() as conn, conn.transaction():
                await self.credentials.publish(
                    conn, [self._event(ev.SignInFailed(reason="invalid_credentials", ip=ctx.ip), None, 0, ctx)]
                )
            await self._ip_failed(throttle_key)
            raise Unauthorized(INVALID_CREDENTIALS)
        for _ in range(3):  # concurrent attempts on one account: reload and decide again
            try:
                return await self._sign_in_known(user_id, password, ctx, throttle_key)
            except ConcurrencyError:
                continue
        raise Unauthorized(INVALID_CREDENTIALS)

    async def _sign_in_known(
        self, user_id: uuid.UUID, password: str, ctx: RequestContext, throttle_key: str | None
    ) -> tuple[Tokens, Account]:
        now = self.now()
        async with self.pool.connection() as conn:
            state = await self.credentials.load(conn, user_id)
        events = c.expire_lock(state, now)
        published: list[Any] = []
        if events:
            published.append(
                self._event(ev.AccountUnlocked(user_id=user_id, reason="expired"), user_id, state.version + 1, ctx)
            )
        current = c.fold(state, events)
        if current.is_locked(now):
            await self.hasher.verify(None, password)
            published.append(
                self._event(
                    ev.SignInFailed(
                        reason="account_locked", user_id=user_id, ip=ctx.ip, failed_attempts=current.failed_attempts
                    ),
                    user_id,
                    state.version,
                    ctx,
                )
            )
            async with self.pool.connection() as conn, conn.transaction():
                await self._save(conn, state, events, published)
            await self._ip_failed(throttle_key)
            raise Unauthorized(INVALID_CREDENTIALS)
        if not await self.hasher.verify(current.password_hash, password):
            failure = c.record_failure(current, now, self.policy)
            after = c.fold(current, failure)
            published.append(
                self._event(
                    ev.SignInFailed(
                        reason="invalid_credentials", user_id=user_id, ip=ctx.ip, failed_attempts=after.failed_attempts
                    ),
                    user_id,
                    state.version + len(events) + len(failure),
                    ctx,
                )
            )
            locked = next((e for e in failure if isinstance(e, c.Locked)), None)
            if locked:
                published.append(
                    self._event(
                        ev.AccountLocked(
                            user_id=user_id, locked_until=locked.until, failed_attempts=locked.failed_attempts
                        ),
                        user_id,
                        state.version + len(events) + len(failure),
                        ctx,
                    )
                )
            async with self.pool.connection() as conn, conn.transaction():
                await self._save(conn, state, events + failure, published)
            await self._ip_failed(throttle_key)
            if locked:
                LOCKOUTS.inc()
                await self._email(
                    "account_locked",
                    current.email,
                    current.first_name,
                    ctx,
                    locked_until=locked.until.strftime("%Y-%m-%d %H:%M UTC"),
                )
            raise Unauthorized(INVALID_CREDENTIALS)
        if current.status != "active":
            raise Forbidden(NOT_ACTIVATED)
        async with self.pool.connection() as conn, conn.transaction():
            # the level the token carries is read under the credential's lock, with the session
            account = await self.profiles.signed_in(conn, user_id)
            if account is None:  # erased since it was loaded
                raise Unauthorized(INVALID_CREDENTIALS)
            session_id, refresh = await self.sessions.open(
                conn, user_id, timedelta(seconds=self.s.refresh_ttl_seconds), ctx.ip, ctx.user_agent
            )
            # A successful sign-in changes the stream only when it clears earlier failures: the
            # stream (loaded on every sign-in) does not grow with routine sign-ins.
            reset: list[c.Event] = [c.SignedIn(session_id=session_id)] if current.failed_attempts else []
            published.append(
                self._event(
                    ev.SignedIn(
                        user_id=user_id,
                        session_id=session_id,
                        ip=ctx.ip,
                        user_agent=(ctx.user_agent or "")[:200] or None,
                    ),
                    user_id,
                    state.version + len(events) + len(reset),
                    ctx,
                )
            )
            await self._save(conn, state, [*events, *reset], published)
        return self._tokens(user_id, account.permissions, session_id, refresh), account

    def _tokens(self, user_id: uuid.UUID, permissions: int, session_id: uuid.UUID, refresh: str) -> Tokens:
        access, _exp = self.keys.issue(
            user_id=user_id,
            session_id=session_id,
            permissions=permissions,
            issuer=self.s.jwt_issuer,
            audience=self.s.jwt_audience,
        )
        return Tokens(
            access_token=access, refresh_token=refresh, expires_in=self.s.access_ttl_seconds, session_id=session_id
        )

    async def refresh(self, refresh_token: str, ctx: RequestContext) -> Tokens:
        async with self.pool.connection() as conn, conn.transaction():
            outcome, user_id, session_id, new_token = await self.sessions.rotate(conn, refresh_token)
            if outcome == "reused":
                revoked = await self.sessions.revoke(conn, user_id, reason="refresh_token_reuse", only=session_id)
            elif outcome == "ok":
                state = await self.credentials.load(conn, user_id)
        if outcome == "reused":
            await self.revocations.publish(revoked)
            log.warning("refresh token reuse on session %s: session revoked", session_id)
            raise Unauthorized("Refresh token reuse detected; the session was revoked")
        if outcome != "ok" or new_token is None or state.status != "active":
            raise Unauthorized("Invalid or expired refresh token")
        return self._tokens(state.user_id, state.permissions, session_id, new_token)

    async def sign_out(self, user_id: uuid.UUID, session_id: uuid.UUID | None, scope: str, ctx: RequestContext) -> int:
        """scope: ``session`` (this one), ``others`` (all but this one), ``all``."""
        async with self.pool.connection() as conn, conn.transaction():
            revoked = await self.sessions.revoke(
                conn,
                user_id,
                reason=f"sign_out_{scope}",
                only=session_id if scope == "session" else None,
                keep=session_id if scope == "others" else None,
            )
            await self.credentials.publish(
                conn, [self._event(ev.SignedOut(user_id=user_id, scope=scope, session_ids=revoked), user_id, 0, ctx)]
            )
        await self.revocations.publish(revoked)
        return len(revoked)

    async def list_sessions(self, user_id: uuid.UUID) -> list[SessionRow]:
        async with self.pool.connection() as conn:
            return await self.sessions.list(conn, user_id)

    # ------------------------------------------------------------------ codes

    async def activate(self, code: str, ctx: RequestContext) -> None:
        async with self.pool.connection() as conn, conn.transaction():
            user_id, _ = await judge.take(self.codes, conn, code, ("activation",), judge.ACTIVATION, use=True)
            state = await self.credentials.load(conn, user_id)
            if state.status == "active":
                return
            state = await self._save(
                conn,
                state,
                [c.Activated(method="activation_code")],
                [
                    self._event(
                        ev.AccountActivated(user_id=user_id, method="activation_code"), user_id, state.version + 1, ctx
                    )
                ],
            )
        await self._email("activation_success", state.email, state.first_name, ctx)

    async def resend_activation(self, email: str, ctx: RequestContext) -> None:
        """A new activation code, decided and mailed after the answer (known or not, it is the same)."""
        self.background.run(self._resend_activation(email, ctx), "resend activation")

    async def _resend_activation(self, email: str, ctx: RequestContext) -> None:
        async with self.pool.connection() as conn:
            user_id = await self.credentials.user_id_by_email(conn, email)
            state = await self.credentials.load(conn, user_id) if user_id else None
        if state is None or state.status != "pending" or state.must_set_password:
            return
        if not await self.mail_limit.allow(state.email):
            return
        async with self.pool.connection() as conn, conn.transaction():
            code = await self.codes.issue(conn, state.user_id, "activation", self._lifetime("activation"))
        await self._email(
            "account_activation",
            state.email,
            state.first_name,
            ctx,
            priority=5,
            activation_code=code,
            expires_in_minutes=str(self.s.code_minutes["activation"]),
        )

    async def forgot_password(self, email: str, ctx: RequestContext) -> None:
        """A reset code, decided and mailed after the answer (known or not, it is the same). Over
        the per-address allowance no new code is made either: the owner's last one keeps working."""
        self.background.run(self._forgot_password(email, ctx), "forgot password")

    async def _forgot_password(self, email: str, ctx: RequestContext) -> None:
        async with self.pool.connection() as conn:
            user_id = await self.credentials.user_id_by_email(conn, email)
        if user_id is None or not await self.mail_limit.allow(email):
            return
        async with self.pool.connection() as conn, conn.transaction():
            state = await self.credentials.load(conn, user_id)
            if state.status == "erased":
                return
            code = await self.codes.issue(conn, user_id, "forgot_password", self._lifetime("forgot_password"))
            await self._save(
                conn, state, [], [self._event(ev.PasswordResetRequested(user_id=user_id), user_id, state.version, ctx)]
            )
        await self._email(
            "forgot_password",
            state.email,
            state.first_name,
            ctx,
            priority=5,
            reset_code=code,
            expires_in_minutes=str(self.s.code_minutes["forgot_password"]),
        )

    async def verify_code(self, code: str) -> str:
        """The purpose of a usable reset or change code, not spent (SPEC §4.1)."""
        async with self.pool.connection() as conn:
            _, purpose = await judge.take(self.codes, conn, code, judge.VERIFIABLE, judge.CODE, use=False)
        return purpose

    async def _set_password(
        self,
        conn: Any,
        user_id: uuid.UUID,
        password_hash: str,
        method: str,
        ctx: RequestContext,
        keep_session: uuid.UUID | None,
    ) -> tuple[c.Credential, list[uuid.UUID]]:
        await self.credentials.lock(conn, user_id)
        state = await self.credentials.load(conn, user_id)
        events: list[c.Event] = [c.PasswordSet(password_hash=password_hash, method=method)]
        if state.is_locked(self.now()):
            events.append(c.Unlocked(reason="password_reset"))
        if method == "set" and state.status != "active":
            events.append(c.Activated(method="set_password"))
        revoked = await self.sessions.revoke(conn, user_id, reason=f"password_{method}", keep=keep_session)
        version = state.version + len(events)
        published: list[Any] = []
        if method == "reset":
            published.append(
                self._event(
                    ev.PasswordResetCompleted(user_id=user_id, sessions_revoked=len(revoked)), user_id, version, ctx
                )
            )
        elif method == "change":
            published.append(
                self._event(ev.PasswordChanged(user_id=user_id, sessions_revoked=len(revoked)), user_id, version, ctx)
            )
        else:
            published.append(
                self._event(ev.AccountActivated(user_id=user_id, method="set_password"), user_id, version, ctx)
            )
        if any(isinstance(e, c.Unlocked) for e in events):
            published.append(
                self._event(ev.AccountUnlocked(user_id=user_id, reason="password_reset"), user_id, version, ctx)
            )
        state = await self._save(conn, state, events, published)
        return state, revoked

    async def reset_password(self, code: str, password: str, ctx: RequestContext) -> None:
        password_hash = await self.hasher.hash(password)
        async with self.pool.connection() as conn, conn.transaction():
            user_id, _ = await judge.take(
                self.codes, conn, code, ("forgot_password",), judge.CODE, use=True, field="code"
            )
            state, revoked = await self._set_password(conn, user_id, password_hash, "reset", ctx, None)
        await self.revocations.publish(revoked)
        await self._email("password_reset_success", state.email, state.first_name, ctx)

    async def check_set_password_link(self, user_id: uuid.UUID, code: str) -> None:
        async with self.pool.connection() as conn:
            await judge.take(self.codes, conn, code, ("must_set_password",), judge.LINK, use=False, owner=user_id)

    async def set_password(self, user_id: uuid.UUID, code: str, password: str, ctx: RequestContext) -> None:
        password_hash = await self.hasher.hash(password)
        async with self.pool.connection() as conn, conn.transaction():
            await judge.take(self.codes, conn, code, ("must_set_password",), judge.LINK, use=True, owner=user_id)
            state, revoked = await self._set_password(conn, user_id, password_hash, "set", ctx, None)
        await self.revocations.publish(revoked)
        await self._email("activation_success", state.email, state.first_name, ctx)

    async def request_password_change(self, user_id: uuid.UUID, ctx: RequestContext) -> None:
        async with self.pool.connection() as conn, conn.transaction():
            state = await self.credentials.load(conn, user_id)
            if state.status != "active":
                raise Unauthorized("Authentication required")
            code = await self.codes.issue(conn, user_id, "password_change", self._lifetime("password_change"))
        await self._email(
            "password_change",
            state.email,
            state.first_name,
            ctx,
            priority=5,
            change_code=code,
            expires_in_minutes=str(self.s.code_minutes["password_change"]),
        )

    async def change_password(
        self, user_id: uuid.UUID, session_id: uuid.UUID | None, code: str, password: str, ctx: RequestContext
    ) -> int:
        password_hash = await self.hasher.hash(password)
        async with self.pool.connection() as conn, conn.transaction():
            await judge.take(self.codes, conn, code, ("password_change",), judge.CODE, use=True, owner=user_id)
            state, revoked = await self._set_password(conn, user_id, password_hash, "change", ctx, session_id)
        await self.revocations.publish(revoked)
        await self._email("password_reset_success", state.email, state.first_name, ctx)
        return len(revoked)

    # ------------------------------------------------------------------ reactions to user.events

    async def on_user_created(
        self,
        conn: Any,
        user_id: uuid.UUID,
        email: str,
        first_name: str,
        permissions: int,
        created_by: uuid.UUID | None,
        ctx: RequestContext,
    ) -> Callable[[], Awaitable[None]] | None:
        """Sign-up profiles confirm the credential; admin-created users get credentials that wait
        for a password, and their set-password link."""
        if created_by is None:
            await self.credentials.mark_profile_confirmed(conn, user_id)
            return None
        state = await self.credentials.load(conn, user_id)
        if state.status != "new":
            return None
        await self._save(
            conn,
            state,
            [
                c.Registered(
                    email=email,
                    first_name=first_name,
                    password_hash=None,
                    permissions=permissions,
                    must_set_password=True,
                )
            ],
            [],
        )
        await self.credentials.mark_profile_confirmed(conn, user_id)
        code = await self.codes.issue(conn, user_id, "must_set_password", self._lifetime("must_set_password"))
        hours = str(self.s.code_minutes["must_set_password"] // 60)

        async def after_commit() -> None:
            await self._email(
                "user_must_set_password",
                email,
                first_name,
                ctx,
                priority=5,
                user_id=str(user_id),
                code=code,
                expires_in_hours=hours,
            )

        return after_commit

    async def on_permissions_changed(
        self, conn: Any, user_id: uuid.UUID, permissions: int, user_version: int
    ) -> list[uuid.UUID]:
        """user.permissions_changed: usually the revoke_sessions command applied it already (then
        nothing happens); otherwise (the CLI, a command that timed out) it applies now and the
        user's sessions end — their tokens carry the old level."""
        return await self._access_changed(conn, user_id, permissions, user_version, always=False)

    async def _access_changed(
        self, conn: Any, user_id: uuid.UUID, permissions: int | None, user_version: int, *, always: bool
    ) -> list[uuid.UUID]:
        await self.credentials.lock(conn, user_id)
        state = await self.credentials.load(conn, user_id)
        events = c.change_permissions(state, permissions, user_version) if permissions is not None else []
        if events:
            await self._save(conn, state, events, [])
        if not (events or always):
            return []
        return await self.sessions.revoke(conn, user_id, reason="access_changed")

    async def revoke_access(self, user_id: uuid.UUID, reason: str, permissions: int | None, user_version: int) -> int:
        """The revoke_sessions command (users waits for it): every session of the user ends now —
        in PostgreSQL and on the gateway's revocation list — with the new level recorded for the
        next sign-in, or (``deleted``) the credentials erased."""
        for attempt in range(3):  # a concurrent sign-in failure moved the stream: decide again
            try:
                async with self.pool.connection() as conn, conn.transaction():
                    if reason == "deleted":
                        revoked = await self.on_user_deleted(conn, user_id)
                    else:
                        revoked = await self._access_changed(conn, user_id, permissions, user_version, always=True)
                break
            except ConcurrencyError:
                if attempt == 2:
                    raise
        await self.revocations.publish(revoked)
        return len(revoked)

    async def on_user_deleted(self, conn: Any, user_id: uuid.UUID) -> list[uuid.UUID]:
        """Erasure (user.deleted, or at once by revoke_sessions; a repeat changes nothing)."""
        await self.credentials.lock(conn, user_id)
        revoked = await self.sessions.revoke(conn, user_id, reason="user_deleted")
        state = await self.credentials.load(conn, user_id)
        if state.status not in ("new", "erased"):
            await self._save(conn, state, [c.Erased()], [])
        await self.credentials.erase(conn, user_id)
        await self.profiles.erase(conn, user_id)
        # revoked sessions stay (the revocation list is rebuilt from them), without personal data
        await conn.execute("UPDATE sessions SET ip = NULL, user_agent = NULL WHERE user_id = %s", (user_id,))
        return revoked
