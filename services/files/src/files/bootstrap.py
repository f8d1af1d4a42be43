"""The files service's composition root: everything it runs, built from its settings."""

from __future__ import annotations

import logging

import msgspec
from litestar import Litestar

from blazing_commands import CommandBus
from blazing_contracts.topology import USER_EVENTS
from blazing_service import create_app
from blazing_service.runtime import Runtime
from files.adapters.postgres import PostgresFilesUnitOfWork
from files.adapters.storage import LocalStorage
from files.adapters.users import CommandUsers
from files.application.chunked import ChunkedUploads, Housekeeping
from files.application.erasure import EraseUserFiles
from files.application.uploads import Uploading, UploadQueries
from files.entrypoints.consumers import USER_EVENT_TYPES, user_events_handler
from files.entrypoints.http import EXCEPTION_HANDLERS, AvatarController, UploadController
from files.settings import MIGRATIONS, FilesSettings

CONSUMER = "files.user-events"
HOUSEKEEPING_SECONDS = 600


def build_app(settings: FilesSettings) -> Litestar:
    # a malformed multipart body is answered with a 400; the parser's own warning about it would let
    # any client write log lines at will
    logging.getLogger("python_multipart").setLevel(logging.ERROR)
    runtime = Runtime(settings, migrations=MIGRATIONS)
    pool = runtime.pool

    def uow() -> PostgresFilesUnitOfWork:
        return PostgresFilesUnitOfWork(pool)

    storage = LocalStorage(settings.storage_path)
    limits = settings.limits()
    uploading = Uploading(uow, storage, CommandUsers(CommandBus(runtime.rabbit)), limits)
    chunked = ChunkedUploads(uploading)
    runtime.consume(
        [USER_EVENTS],
        group_id=CONSUMER,
        handler=user_events_handler(EraseUserFiles(uow, CONSUMER, storage=storage)),
        events=USER_EVENT_TYPES,
        wait=0.5,  # an erasure may wait to share a fetch: not a fetch and a commit per user event
    )
    runtime.every(
        HOUSEKEEPING_SECONDS, Housekeeping(uow, storage), "chunked upload and temporary file expiry", now=True
    )
    # upload bodies are streamed and limited per file by the routes: Litestar's whole-body limit must
    # not cut a legitimate upload short (JSON bodies keep theirs through read_json)
    settings = msgspec.structs.replace(settings, max_body_bytes=settings.max_file_size * settings.max_files + 1_048_576)
    app = create_app(
        settings,
        [UploadController, AvatarController],
        runtime=runtime,
        exception_handlers=EXCEPTION_HANDLERS,
        description="Uploads (single, multiple, chunked and resumable), downloads, avatars.",
    )
    app.state.uploading, app.state.chunked, app.state.storage = uploading, chunked, storage
    app.state.queries = UploadQueries(uow, storage)
    return app
