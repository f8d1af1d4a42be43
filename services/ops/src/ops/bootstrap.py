"""The ops service's composition root."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from faststream.kafka import KafkaBroker
from faststream.rabbit import RabbitBroker
from litestar import Litestar
from litestar.contrib.jinja import JinjaTemplateEngine
from litestar.exceptions import HTTPException
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig
from litestar.utils import ensure_async_callable

from blazing_contracts.topology import ALL_TOPICS
from blazing_es.lag import LagMonitor
from blazing_service import create_app
from blazing_service.db import open_database
from blazing_service.errors import ApiError
from blazing_service.http import broker_ready, database_ready
from blazing_service.pages import page_headers
from ops.adapters.publishers import KafkaPublisher, RabbitPublisher
from ops.application.replay import ReplayJobs
from ops.application.store import AuditLog, DeadLetterStore
from ops.entrypoints.api import OpsApi
from ops.entrypoints.consumers import subscribe_kafka, subscribe_rabbitmq
from ops.entrypoints.pages import Console, ConsoleError, NotAllowed, error_handler, not_allowed_handler
from ops.entrypoints.session import CONSOLE_SESSION, is_console_page
from ops.settings import OpsSettings

HERE = Path(__file__).resolve().parent
MIGRATIONS = HERE.parents[1] / "migrations"


def build_app(settings: OpsSettings) -> Litestar:
    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        db = await open_database(settings.database_url, name="ops", migrations=MIGRATIONS)
        store = DeadLetterStore(db)
        stop = asyncio.Event()
        kafka = KafkaBroker(settings.kafka_bootstrap, logger=None)
        rabbit = RabbitBroker(settings.rabbitmq_url, logger=None)
        subscribe_kafka(kafka, store)
        subscribe_rabbitmq(rabbit, store)
        kafka_out, rabbit_out = KafkaPublisher(settings.kafka_bootstrap), RabbitPublisher(settings.rabbitmq_url)
        await kafka_out.start()
        await rabbit_out.start()
        replays = ReplayJobs(
            db,
            {"kafka": kafka_out, "rabbitmq": rabbit_out},
            max_replays=settings.max_replays,
            max_rate=settings.replay_max_rate,
        )
        await kafka.start()
        await rabbit.start()
        worker = asyncio.create_task(replays.run())
        lag = LagMonitor(settings.kafka_bootstrap, ALL_TOPICS)
        watchers = [asyncio.create_task(lag.run()), asyncio.create_task(store.watch(stop))]
        app.state.update(
            settings=settings,
            pool=db,
            kafka=kafka,
            rabbit=rabbit,
            dead_letters=store,
            replays=replays,
            audit=AuditLog(db),
        )
        try:
            yield
        finally:
            replays.stop()
            lag.stop()
            stop.set()
            await worker
            await asyncio.gather(*watchers, return_exceptions=True)
            await kafka.stop()
            await rabbit.stop()
            await kafka_out.stop()
            await rabbit_out.stop()
            await db.close()

    def readiness(app: Litestar) -> list[tuple[str, Any]]:
        return [
            ("database", database_ready(app.state.pool)),
            ("kafka", broker_ready(app.state.kafka)),
            ("rabbitmq", broker_ready(app.state.rabbit)),
        ]

    static = create_static_files_router(path="/ops/static", directories=[HERE / "static"], include_in_schema=False)
    app = create_app(
        settings,
        [OpsApi, Console, static],
        lifespan=[lifespan],
        readiness=readiness,
        description="Dead letters: groups, filters, replay jobs, discard, audit log; the ops console.",
        template_config=TemplateConfig(directory=HERE / "templates", engine=JinjaTemplateEngine),
        exception_handlers={
            NotAllowed: not_allowed_handler,
            ConsoleError: error_handler,
            ApiError: error_handler,
            HTTPException: error_handler,
            Exception: error_handler,
        },
    )
    # a before_send hook sees every answer of a console page (404s of unknown paths too): the CSP,
    # and a stale session cookie expired
    app.before_send.append(
        ensure_async_callable(page_headers(CONSOLE_SESSION, settings.identity_secret, applies=is_console_page))
    )
    return app
