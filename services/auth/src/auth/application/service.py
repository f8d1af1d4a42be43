"""Auth's use cases. Each runs its writes in one transaction (stream append, read model, outbox,
codes, sessions), then sends its commands (create_user, send_email) once that committed."""

from __future__ import annotations

import logging
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
from auth.adapters.postgres import Codes, CredentialStore, SessionRow, Sessions
from auth.adapters.revocations import Revocations
from auth.adapters.tokens import Keys
from auth.domain import credential as c
from auth.settings import AuthSettings
from blazing_commands import CommandBus
from blazing_contracts import CreateUser, CreateUserResult, EventPayload, SendEmail, make_command, make_event
from blazing_contracts.events import auth as ev
from blazing_contracts.types import EmailTemplate
from blazing_es import ConcurrencyError
from blazing_service import BadRequest, Forbidden, TooManyRequests, Unauthorized

log = logging.getLogger(__name__)
INVALID_CREDENTIALS = "Invalid email or password"


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
        self.revocations = Revocations(redis, settings.access_ttl_seconds)
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
        An e-mail that is already registered answers the same and mails its owner instead."""
        password_hash = await self.hasher.hash(password)
        user_id = uuid.uuid4()
        try:
            async with self.pool.connection() as conn, conn.transaction():
                existing = await self.credentials.user_id_by_email(conn, email)
                if existing is None:
                    state = c.Credential(user_id=user_id)
                    await self._save(
                        conn, state, [c.Registered(email=email, first_name=first_name, password_hash=password_hash)], []
                    )
                    code = await self.codes.issue(conn, user_id, "activation", self._lifetime("activation"))
        except errors.UniqueViolation:
            existing = user_id  # a concurrent sign-up with the same e-mail won
        if existing is not None:
            await self._email("account_exists", email, first_name, ctx)
            return 201
        await self._email(
            "account_activation",
            email,
            first_name,
            ctx,
            priority=5,
            activation_code=code,
            expires_in_minutes=str(self.s.code_minutes["activation"]),
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
        if reply is None:
            return 202
        result = msgspec.json.decode(reply, type=CreateUserResult)
        async with self.pool.connection() as conn, conn.transaction():
            await self.credentials.mark_profile_confirmed(conn, result.user_id)
        return 201

    async def resend_create_user(self) -> int:
        """Re-sends create_user for credentials whose profile was never confirmed (e.g. the
        command could not be published); users handles a repeat as a no-op."""
        async with self.pool.connection() as conn:
            rows = await self.credentials.unconfirmed_profiles(conn, timedelta(minutes=1))
        for user_id, email, first_name, permissions in rows:
            await self.bus.send(
                make_command(
                    CreateUser(
                        user_id=user_id, email=email, first_name=first_name, last_name="", permissions=permissions
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
                await pipe.execute()

    async def sign_in(self, email: str, password: str, ctx: RequestContext) -> tuple[Tokens, c.Credential]:
        try:
            signed_in = await self._sign_in(email, password, ctx)
        except Exception:
            SIGN_INS.labels("failure").inc()
            raise
        SIGN_INS.labels("success").inc()
        return signed_in

    async def _sign_in(self, email: str, password: str, ctx: RequestContext) -> tuple[Tokens, c.Credential]:
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
    ) -> tuple[Tokens, c.Credential]:
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
            raise Forbidden("Account is not activated. Check your e-mail for the activation code.")
        async with self.pool.connection() as conn, conn.transaction():
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
            current = await self._save(conn, state, [*events, *reset], published)
        return self._tokens(current, session_id, refresh), current

    def _tokens(self, state: c.Credential, session_id: uuid.UUID, refresh: str) -> Tokens:
        access, _exp = self.keys.issue(
            user_id=state.user_id,
            session_id=session_id,
            permissions=state.permissions,
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
        return self._tokens(state, session_id, new_token)

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
            found = await self.codes.check(conn, code, ("activation",), use=True)
            if found is None:
                raise BadRequest("Invalid or expired activation code")
            user_id = found[0]
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
        async with self.pool.connection() as conn, conn.transaction():
            user_id = await self.credentials.user_id_by_email(conn, email)
            if user_id is None:
                return
            state = await self.credentials.load(conn, user_id)
            if state.status != "pending" or state.must_set_password:
                return
            code = await self.codes.issue(conn, user_id, "activation", self._lifetime("activation"))
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
        async with self.pool.connection() as conn, conn.transaction():
            user_id = await self.credentials.user_id_by_email(conn, email)
            if user_id is None:
                return
            state = await self.credentials.load(conn, user_id)
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
        async with self.pool.connection() as conn:
            found = await self.codes.check(
                conn, code, ("activation", "forgot_password", "must_set_password", "password_change"), use=False
            )
        if found is None:
            raise BadRequest("Invalid or expired code")
        return found[1]

    async def _set_password(
        self,
        conn: Any,
        user_id: uuid.UUID,
        password_hash: str,
        method: str,
        ctx: RequestContext,
        keep_session: uuid.UUID | None,
    ) -> tuple[c.Credential, list[uuid.UUID]]:
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
            found = await self.codes.check(conn, code, ("forgot_password",), use=True)
            if found is None:
                raise BadRequest("Invalid or expired reset code")
            state, revoked = await self._set_password(conn, found[0], password_hash, "reset", ctx, None)
        await self.revocations.publish(revoked)
        await self._email("password_reset_success", state.email, state.first_name, ctx)

    async def check_set_password_link(self, user_id: uuid.UUID, code: str) -> None:
        async with self.pool.connection() as conn:
            found = await self.codes.check(conn, code, ("must_set_password",), use=False)
        if found is None or found[0] != user_id:
            raise BadRequest("Invalid or expired link")

    async def set_password(self, user_id: uuid.UUID, code: str, password: str, ctx: RequestContext) -> None:
        password_hash = await self.hasher.hash(password)
        async with self.pool.connection() as conn, conn.transaction():
            found = await self.codes.check(conn, code, ("must_set_password",), use=True)
            if found is None or found[0] != user_id:
                raise BadRequest("Invalid or expired link")
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
            found = await self.codes.check(conn, code, ("password_change",), use=True)
            if found is None or found[0] != user_id:
                raise BadRequest("Invalid or expired code")
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

    async def on_permissions_changed(self, conn: Any, user_id: uuid.UUID, permissions: int) -> None:
        state = await self.credentials.load(conn, user_id)
        if state.status in ("new", "erased") or state.permissions == permissions:
            return
        await self._save(conn, state, [c.PermissionsChanged(permissions=permissions)], [])

    async def on_user_deleted(self, conn: Any, user_id: uuid.UUID) -> list[uuid.UUID]:
        revoked = await self.sessions.revoke(conn, user_id, reason="user_deleted")
        state = await self.credentials.load(conn, user_id)
        if state.status not in ("new", "erased"):
            await self._save(conn, state, [c.Erased()], [])
        await self.credentials.erase(conn, user_id)
        # revoked sessions stay (the revocation list is rebuilt from them), without personal data
        await conn.execute("UPDATE sessions SET ip = NULL, user_agent = NULL WHERE user_id = %s", (user_id,))
        return revoked
