"""The mailer's composition root: everything is built from settings here, nothing at import time."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from faststream.rabbit import RabbitBroker, RabbitMessage
from litestar import Litestar

from blazing_commands import CommandRunner, subscribe
from blazing_contracts import AnyCommand
from blazing_contracts.topology import JOB_SEND_EMAIL
from blazing_service import create_app
from blazing_service.db import open_database
from blazing_service.http import broker_ready, database_ready
from mailer.adapters.mail_log import MailLog
from mailer.adapters.smtp import SmtpPool
from mailer.application.rendering import Renderer
from mailer.application.send_email import SendEmailHandler
from mailer.entrypoints.api import MailLogController
from mailer.settings import MailerSettings

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def build_app(settings: MailerSettings) -> Litestar:
    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        assert settings.database_url, "DATABASE_URL is required"
        db = await open_database(
            settings.database_url, name="mailer", migrations=MIGRATIONS, max_size=settings.smtp_connections + 4
        )
        smtp = SmtpPool(settings)
        handler = SendEmailHandler(
            db,
            smtp,
            Renderer(settings.public_base_url),
            MailLog(),
            settings.mail_from_address,
            settings.mail_from_name,
        )

        async def handle(command: AnyCommand, _: RabbitMessage) -> bytes | None:
            await handler(command)  # type: ignore[arg-type] # decode_command typed it as SendEmail
            return None

        broker = RabbitBroker(settings.rabbitmq_url, logger=None)
        runner = CommandRunner(broker, service="mailer", job_type=JOB_SEND_EMAIL, handler=handle)
        subscription = subscribe(broker, runner, prefetch=settings.prefetch, concurrency=settings.smtp_connections)
        await broker.start()
        app.state.pool, app.state.rabbit = db, broker
        try:
            yield
        finally:
            for subscriber in broker.subscribers:
                with contextlib.suppress(Exception):
                    await subscriber.stop()
            await subscription.drain()
            await broker.stop()
            await smtp.close()
            await db.close()

    def readiness(app: Litestar) -> list[tuple[str, Any]]:
        return [("database", database_ready(app.state.pool)), ("rabbitmq", broker_ready(app.state.rabbit))]

    return create_app(
        settings,
        [MailLogController],
        lifespan=[lifespan],
        readiness=readiness,
        description="Sends the system's e-mails; ops API for the mail log.",
    )
