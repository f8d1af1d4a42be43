"""The users composition root."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from faststream.kafka import KafkaBroker
from faststream.rabbit import RabbitBroker
from litestar import Litestar

from blazing_commands import CommandBus, CommandRunner
from blazing_commands import subscribe as subscribe_commands
from blazing_contracts.topology import AUTH_EVENTS, JOB_CREATE_USER, JOB_SET_AVATAR, TRANSACTION_EVENTS
from blazing_es import BrokerDeadLetterSink, ConsumerRunner, OutboxRelay, install, kafka_producer, subscribe
from blazing_service import ServiceSettings, create_app
from blazing_service.db import open_database
from blazing_service.http import broker_ready, database_ready
from users.adapters.access import AuthAccess
from users.application.service import UsersService
from users.entrypoints.consumers import (
    auth_events_handler,
    create_user_handler,
    set_avatar_handler,
    transaction_events_handler,
)
from users.entrypoints.http import AdminController, UserController

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
REVOKE_WAIT_SECONDS = 5.0
"""How long a permission change or a deletion waits for auth to end the user's sessions."""


async def prepare(settings: ServiceSettings) -> Any:
    return await open_database(settings.database_url, name="users", migrations=MIGRATIONS, prepare=install)


def build_app(settings: ServiceSettings) -> Litestar:
    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        db = await prepare(settings)
        rabbit = RabbitBroker(settings.rabbitmq_url, logger=None)
        svc = UsersService(db, AuthAccess(CommandBus(rabbit), REVOKE_WAIT_SECONDS))
        kafka = KafkaBroker(settings.kafka_bootstrap, enable_idempotence=True, logger=None)
        commands = subscribe_commands(
            rabbit,
            CommandRunner(rabbit, service="users", job_type=JOB_CREATE_USER, handler=create_user_handler(svc)),
            concurrency=4,
        )
        avatars = subscribe_commands(
            rabbit, CommandRunner(rabbit, service="users", job_type=JOB_SET_AVATAR, handler=set_avatar_handler(svc))
        )
        dead_letters = BrokerDeadLetterSink(kafka)
        subscribe(
            kafka,
            [AUTH_EVENTS],
            ConsumerRunner(
                service="users",
                group_id="users.auth-events",
                handler=auth_events_handler(svc),
                dead_letters=dead_letters,
            ),
        )
        subscribe(
            kafka,
            [TRANSACTION_EVENTS],
            ConsumerRunner(
                service="users",
                group_id="users.balance",
                handler=transaction_events_handler(svc),
                dead_letters=dead_letters,
            ),
        )
        await kafka.start()
        await rabbit.start()
        assert settings.database_url
        relay = OutboxRelay(
            settings.database_url, lambda: kafka_producer(settings.kafka_bootstrap, "users-relay"), service="users"
        )
        relay_task = asyncio.create_task(relay.run())
        app.state.users, app.state.pool, app.state.rabbit = svc, db, rabbit
        try:
            yield
        finally:
            for subscriber in rabbit.subscribers:
                with contextlib.suppress(Exception):
                    await subscriber.stop()
            await commands.drain()
            await avatars.drain()
            relay.stop()
            await relay_task
            await kafka.stop()
            await rabbit.stop()
            await db.close()

    def readiness(app: Litestar) -> list[tuple[str, Any]]:
        return [("database", database_ready(app.state.pool)), ("rabbitmq", broker_ready(app.state.rabbit))]

    return create_app(
        settings,
        [UserController, AdminController],
        lifespan=[lifespan],
        readiness=readiness,
        description="User profiles, permissions and balances.",
    )
