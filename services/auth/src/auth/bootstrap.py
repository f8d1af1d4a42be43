"""Auth's composition root."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from faststream.kafka import KafkaBroker
from faststream.rabbit import RabbitBroker
from litestar import Litestar

from auth.adapters.hashing import Hasher
from auth.adapters.tokens import Keys
from auth.application.service import AuthService
from auth.entrypoints.consumers import revoke_sessions_handler, user_events_handler
from auth.entrypoints.http import AccountController, AuthController, PasswordController, jwks
from auth.settings import AuthSettings
from blazing_commands import CommandBus, CommandRunner
from blazing_commands import subscribe as subscribe_commands
from blazing_contracts.topology import JOB_REVOKE_SESSIONS, USER_EVENTS
from blazing_es import BrokerDeadLetterSink, ConsumerRunner, OutboxRelay, install, kafka_producer, subscribe
from blazing_service import create_app
from blazing_service.db import open_database
from blazing_service.http import broker_ready, database_ready
from blazing_service.redis_client import redis_client

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
log = logging.getLogger(__name__)


async def every(seconds: float, job: Callable[[], Awaitable[Any]], name: str) -> None:
    while True:
        await asyncio.sleep(seconds)
        try:
            await job()
        except Exception:
            log.exception("periodic %s failed", name)


def build_app(settings: AuthSettings) -> Litestar:
    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        assert settings.database_url, "DATABASE_URL is required"
        db = await open_database(settings.database_url, name="auth", migrations=MIGRATIONS, prepare=install)
        keys = Keys(timedelta(days=settings.key_rotation_days), timedelta(seconds=settings.access_ttl_seconds))
        async with db.connection() as conn:
            await keys.load(conn)
        redis = redis_client(settings.redis_url, name="auth")
        rabbit = RabbitBroker(settings.rabbitmq_url, logger=None)
        kafka = KafkaBroker(settings.kafka_bootstrap, enable_idempotence=True, logger=None)
        auth = AuthService(
            settings,
            db,
            redis,
            CommandBus(rabbit),
            Hasher(settings.argon2_memory_kib, settings.argon2_time_cost, settings.argon2_parallelism),
            keys,
        )
        subscribe(
            kafka,
            [USER_EVENTS],
            ConsumerRunner(
                service="auth",
                group_id="auth",
                handler=user_events_handler(auth),
                dead_letters=BrokerDeadLetterSink(kafka),
            ),
        )
        # users waits for this one (a permission change holds from the next request on): its own
        # queue, several at once
        revocations = subscribe_commands(
            rabbit,
            CommandRunner(rabbit, service="auth", job_type=JOB_REVOKE_SESSIONS, handler=revoke_sessions_handler(auth)),
            concurrency=4,
        )
        await rabbit.start()
        await kafka.start()
        relay = OutboxRelay(
            settings.database_url, lambda: kafka_producer(settings.kafka_bootstrap, "auth-relay"), service="auth"
        )

        async def resync() -> None:
            async with db.connection() as conn:
                await auth.revocations.resync(conn)

        with contextlib.suppress(Exception):
            await resync()
        tasks = [
            asyncio.create_task(relay.run()),
            asyncio.create_task(every(60, resync, "revocation resync")),
            asyncio.create_task(every(30, auth.resend_create_user, "create_user reconcile")),
            asyncio.create_task(every(3600, lambda: rotate(db, keys), "key rotation")),
        ]
        app.state.auth, app.state.pool, app.state.rabbit, app.state.redis = auth, db, rabbit, redis
        try:
            yield
        finally:
            for subscriber in rabbit.subscribers:
                with contextlib.suppress(Exception):
                    await subscriber.stop()
            await revocations.drain()
            await auth.background.drain()
            relay.stop()
            for task in tasks[1:]:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await kafka.stop()
            await rabbit.stop()
            await redis.aclose()
            await db.close()

    async def rotate(db: Any, keys: Keys) -> None:
        async with db.connection() as conn:
            await keys.load(conn)

    def readiness(app: Litestar) -> list[tuple[str, Any]]:
        checks = [("database", database_ready(app.state.pool)), ("rabbitmq", broker_ready(app.state.rabbit))]

        async def redis() -> None:
            await app.state.redis.ping()

        return [*checks, ("redis", redis)]

    return create_app(
        settings,
        [AuthController, AccountController, PasswordController, jwks],
        lifespan=[lifespan],
        readiness=readiness,
        description="Credentials, sign-in, sessions, one-time codes and access tokens.",
    )
