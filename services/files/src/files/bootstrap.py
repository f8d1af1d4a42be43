"""The files service's composition root."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
from faststream.kafka import KafkaBroker
from faststream.rabbit import RabbitBroker
from litestar import Litestar

from blazing_commands import CommandBus
from blazing_contracts import SetAvatar, make_command
from blazing_contracts.context import correlation_id_var
from blazing_contracts.topology import USER_EVENTS
from blazing_es import BrokerDeadLetterSink, ConsumerRunner, subscribe
from blazing_service import create_app
from blazing_service.db import open_database
from blazing_service.http import broker_ready, database_ready
from files.adapters.storage import Storage
from files.application.files import Files
from files.entrypoints.consumers import user_events_handler
from files.entrypoints.http import AvatarController, UploadController
from files.settings import FilesSettings

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
log = logging.getLogger(__name__)
TMP_IDLE_SECONDS = 3600


async def expire_sessions(svc: Files, stop: asyncio.Event, every: float = 600) -> None:
    while not stop.is_set():
        try:
            if removed := await svc.expire():
                log.info("removed %d expired chunked upload session(s)", removed)
            if swept := await asyncio.to_thread(svc.storage.sweep_tmp, TMP_IDLE_SECONDS):
                log.info("removed %d abandoned temporary upload file(s)", swept)
        except Exception:
            log.exception("expiring chunked upload sessions failed; trying again later")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)


def build_app(settings: FilesSettings) -> Litestar:
    # a malformed multipart body is answered with a 400; the parser's own warning about it would let
    # any client write log lines at will
    logging.getLogger("python_multipart").setLevel(logging.ERROR)

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        db = await open_database(settings.database_url, name="files", migrations=MIGRATIONS)
        storage = Storage(settings.storage_path)
        rabbit = RabbitBroker(settings.rabbitmq_url, logger=None)
        await rabbit.start()
        bus = CommandBus(rabbit)

        async def avatar_moved(user_id: uuid.UUID, url: str | None) -> None:
            """The profile's avatar_url is the users service's: ask it (a queued command survives a
            users outage; if even RabbitMQ refuses, the file is still right and the error is logged)."""
            try:
                await bus.send(
                    make_command(
                        SetAvatar(user_id=user_id, avatar_url=url),
                        job_id=uuid.uuid4(),
                        created_at=datetime.now(UTC),
                        correlation_id=correlation_id_var.get() or str(uuid.uuid4()),
                        priority=3,
                        max_attempts=10,
                    )
                )
            except Exception:
                log.exception("could not tell users about %s's new avatar", user_id)

        svc = Files(db, storage, settings, avatar_moved)
        kafka = KafkaBroker(settings.kafka_bootstrap, logger=None)
        subscribe(
            kafka,
            [USER_EVENTS],
            ConsumerRunner(
                service="files",
                group_id="files.user-events",
                handler=user_events_handler(svc),
                dead_letters=BrokerDeadLetterSink(kafka),
            ),
        )
        await kafka.start()
        stop = asyncio.Event()
        expiry = asyncio.create_task(expire_sessions(svc, stop))
        app.state.update(files=svc, storage=storage, pool=db, kafka=kafka, rabbit=rabbit)
        try:
            yield
        finally:
            stop.set()
            await expiry
            await kafka.stop()
            await rabbit.stop()
            await db.close()

    def readiness(app: Litestar) -> list[tuple[str, Any]]:
        return [
            ("database", database_ready(app.state.pool)),
            ("kafka", broker_ready(app.state.kafka)),
            ("rabbitmq", broker_ready(app.state.rabbit)),
        ]

    # upload bodies are streamed and limited per file by the routes: Litestar's whole-body limit must
    # not cut a legitimate upload short (JSON bodies keep theirs through read_json)
    settings = msgspec.structs.replace(settings, max_body_bytes=settings.max_file_size * settings.max_files + 1_048_576)
    return create_app(
        settings,
        [UploadController, AvatarController],
        lifespan=[lifespan],
        readiness=readiness,
        description="Uploads (single, multiple, chunked and resumable), downloads, avatars.",
    )
