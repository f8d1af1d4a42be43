"""Auth's composition root: everything it runs, built from its settings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from litestar import Litestar

from auth.adapters.commands import RabbitMailer, RabbitUsers
from auth.adapters.hashing import Argon2Hasher
from auth.adapters.postgres import PostgresAuthReads, PostgresAuthUnitOfWork
from auth.adapters.redis import RedisFailedSignIns, RedisMailAllowance, RedisRevocations
from auth.adapters.tokens import SigningKeys
from auth.application.credentials import streams
from auth.application.handlers import Ports, build
from auth.application.rules import AuthRules
from auth.domain.credential import Policy
from auth.entrypoints.consumers import revoke_sessions_handler, user_events_handler
from auth.entrypoints.http import AccountController, AuthController, PasswordController, jwks
from auth.settings import MIGRATIONS, AuthSettings
from blazing_commands import CommandBus
from blazing_contracts.topology import JOB_REVOKE_SESSIONS, USER_EVENTS
from blazing_service import create_app
from blazing_service.runtime import Runtime

CONSUMER = "auth.user-events"
"""The consumer group of user.events and its inbox's name: one name. (It was the group ``auth``
until the new shape: the renamed group starts at the topic's beginning — auto_offset_reset
earliest — and every event the old group applied is already claimed in the inbox under this name,
so it is skipped: read again, applied once.)"""


def utc_now() -> datetime:
    return datetime.now(UTC)


def rules_of(settings: AuthSettings) -> AuthRules:
    return AuthRules(
        lock=Policy(
            lock_threshold=settings.lock_threshold,
            window=timedelta(seconds=settings.lock_window_seconds),
            lock_for=timedelta(seconds=settings.lock_seconds),
        ),
        code_minutes=dict(settings.code_minutes),
        access_ttl_seconds=settings.access_ttl_seconds,
        refresh_ttl=timedelta(seconds=settings.refresh_ttl_seconds),
        create_user_wait_seconds=settings.create_user_wait_seconds,
    )


def build_app(settings: AuthSettings) -> Litestar:
    runtime = Runtime(settings, migrations=MIGRATIONS)
    pool, redis, bus = runtime.pool, runtime.redis, CommandBus(runtime.rabbit)
    keys = SigningKeys(
        pool,
        rotation=timedelta(days=settings.key_rotation_days),
        token_ttl=timedelta(seconds=settings.access_ttl_seconds),
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
    )
    ports = Ports(
        uow=lambda: PostgresAuthUnitOfWork(pool),
        reads=PostgresAuthReads(pool),
        hasher=Argon2Hasher(settings.argon2_memory_kib, settings.argon2_time_cost, settings.argon2_parallelism),
        tokens=keys,
        revocations=RedisRevocations(redis, settings.access_ttl_seconds),
        allowance=RedisMailAllowance(redis, settings.mails_per_address_per_hour),
        failures=RedisFailedSignIns(redis, settings.failed_per_ip_limit, settings.lock_window_seconds),
        mailer=RabbitMailer(bus, utc_now),
        users=RabbitUsers(bus, utc_now),
    )
    auth = build(ports, streams(utc_now), rules_of(settings), consumer=CONSUMER, now=utc_now)
    runtime.on_start(keys.rotate)  # tokens are signed from the first request on
    runtime.on_stop(auth.background.drain)
    # the read model of profiles may lag a fifth of a second: user.events (a balance_updated per
    # ledger write) arrive in batches, not a fetch and an offset commit each; what must be at once
    # (a permission change's end of sessions) comes by the revoke_sessions command, not this topic
    runtime.consume([USER_EVENTS], group_id=CONSUMER, handler=user_events_handler(auth.user_events), wait=0.2)
    # users waits for this one (a permission change holds from the next request on): its own queue,
    # several at once
    runtime.command(JOB_REVOKE_SESSIONS, revoke_sessions_handler(auth.revoke_access), concurrency=4)
    runtime.relay()
    runtime.every(60, auth.resync_revocations, "revocation resync", now=True)
    runtime.every(30, auth.reconcile_create_user, "create_user reconcile")
    runtime.every(3600, auth.rotate_keys, "key rotation")
    app = create_app(
        settings,
        [AuthController, AccountController, PasswordController, jwks],
        runtime=runtime,
        description="Credentials, sign-in, sessions, one-time codes and access tokens.",
    )
    app.state.auth = auth
    return app
