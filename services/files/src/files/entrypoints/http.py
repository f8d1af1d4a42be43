"""The files API (SPEC §4.4; the original's routes under /api/v1/upload and /api/v1/avatar).
Bodies are streamed to disk; every route but the public download needs a signed-in caller, and
another user's file or session is simply not found."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import AsyncIterator
from typing import IO, Any, Literal
from urllib.parse import quote

import msgspec
from anyio import AsyncFile
from litestar import Controller, MediaType, Request, Response, delete, get, post
from litestar.file_system import BaseLocalFileSystem, FileSystemAdapter
from litestar.response import File
from litestar.types import PathType
from litestar.types.file_types import FileInfo

from blazing_app import NotFound
from blazing_service import PayloadTooLarge, current_identity, read_json, require_user, success
from blazing_service.errors import body_of
from blazing_service.pagination import Limit, Offset
from blazing_service.state import StateKey
from files.adapters.multipart import read_files
from files.adapters.storage import LocalStorage
from files.application.chunked import ChunkedUploads
from files.application.ports import Received, TooLarge
from files.application.uploads import Download, Uploading, UploadQueries
from files.domain.content import RASTER, SNIFF_BYTES
from files.domain.uploads import ChunkPlan
from files.settings import FilesSettings


class ChunkStart(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    filename: str
    total_chunks: int
    total_size: int
    storage_type: str
    sha256: str | None = None


uploading = StateKey[Uploading]("uploading")
chunked = StateKey[ChunkedUploads]("chunked")
queries = StateKey[UploadQueries]("queries")
settings = StateKey[FilesSettings]("settings")


def too_large(_: Request[Any, Any, Any], exc: TooLarge) -> Response[Any]:
    """A limit of the upload rules: 413, in the API's one error shape."""
    return Response(body_of(exc), status_code=413, media_type=MediaType.JSON)


EXCEPTION_HANDLERS = {TooLarge: too_large}


async def body_stream(request: Request[Any, Any, Any]) -> AsyncIterator[bytes]:
    async for piece in request.stream():
        if piece:
            yield piece


async def received(request: Request[Any, Any, Any], limit: int, max_files: int) -> tuple[list[Received], bool]:
    """The body's file parts, streamed into temporary storage (at most ``limit`` bytes each); and
    whether more than ``max_files`` were sent."""
    storage: LocalStorage = request.app.state.storage
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit * max_files + 1_048_576:
        raise PayloadTooLarge(f"Request too large (max: {limit / 1_048_576:.2f} MB per file)")
    return await read_files(
        request.headers.get("content-type", ""),
        body_stream(request),
        lambda: storage.sink(limit, SNIFF_BYTES),
        max_files,
    )


_INDEX = re.compile(r"-?[0-9]+")
"""A chunk index as the path spells it: ASCII digits (a negative one is refused by the rules, 400)."""
BYTES = "*/*"
"""What a download is documented as: the file's own type, whichever the upload was identified as."""
SANDBOX = "sandbox; default-src 'none'"
"""What a user's file may do when a browser opens it: nothing (no script, no requests, an opaque origin)."""
PUBLIC_CACHE = "public, max-age=86400"
PRIVATE_CACHE = "private, max-age=3600"
"""A private file or an avatar by id: one URL is one file's bytes for good (ids are never reused)."""
AVATAR_BY_ID_CACHE = "private, max-age=86400"
CURRENT_AVATAR_CACHE = "private, no-cache"
"""``/api/v1/avatar``: one URL for whichever picture is the caller's now — a browser may keep it but
must ask again before showing it (kept for a day, it showed a replaced or deleted picture)."""


class OpenedFile(BaseLocalFileSystem):
    """The file system of one file, opened already: a file its owner deletes while it is being
    served is still sent whole from the open descriptor — looked up by its path again, it answered
    a 500 (gone before its size was read) or a 200 cut short (gone before it was opened)."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle

    async def info(self, path: PathType, **kwargs: Any) -> FileInfo:
        return await FileSystemAdapter.parse_stat_result(path=path, result=os.fstat(self.handle.fileno()))

    async def open(self, file: PathType, mode: str, buffering: int = -1) -> AsyncFile[Any]:
        return AsyncFile(self.handle)


def download(found: Download, *, cache: str) -> File:
    """A user's bytes, served inert: only raster images are shown inline, everything else (SVG, PDF,
    text …) is an attachment, and all of it under a sandboxing CSP — a file never runs on the
    application's origin. ``nosniff``, framing and referrer headers come from nginx (once, on every
    response), so they are not repeated here. A ``private`` answer (a signed-in caller's) varies by
    ``Authorization``: a browser's cache is keyed by URL alone, so without it the next person signed
    in on the same browser was shown the previous one's picture or file from the cache."""
    row = found.upload
    name = row.original_name
    disposition: Literal["inline", "attachment"] = "inline" if row.extension in RASTER else "attachment"
    try:
        handle = found.path.open("rb")
    except FileNotFoundError:  # deleted since its row was read
        raise NotFound("File not found") from None
    return File(
        path=found.path,
        file_system=OpenedFile(handle),
        media_type=row.mime_type,
        content_disposition_type=disposition,
        filename=name,
        headers={
            "cache-control": cache,
            "content-security-policy": SANDBOX,
            "content-disposition": f"{disposition}; filename*=UTF-8''{quote(name)}",
            **({"vary": "authorization"} if cache.startswith("private") else {}),
        },
    )


class UploadController(Controller):
    path = "/api/v1/upload"

    @post("/public", guards=[require_user], summary="Upload one public file (multipart; the first file part)")
    async def public(self, request: Request[Any, Any, Any]) -> Response[Any]:
        return await self._single(request, "public")

    @post("/private", guards=[require_user], summary="Upload one private file (multipart; the first file part)")
    async def private(self, request: Request[Any, Any, Any]) -> Response[Any]:
        return await self._single(request, "private")

    async def _single(self, request: Request[Any, Any, Any], storage_type: str) -> Response[Any]:
        parts, _ = await received(request, settings(request).max_file_size, 1)
        upload = await uploading(request).single(current_identity(request).user_id, parts, storage_type)
        return success("File uploaded successfully", status_code=201, upload=upload)

    @post("/multiple", guards=[require_user], summary="Upload several public files; each succeeds or fails alone")
    async def multiple(self, request: Request[Any, Any, Any]) -> Response[Any]:
        s = settings(request)
        parts, overflow = await received(request, s.max_file_size, s.max_files)
        stored = await uploading(request).many(current_identity(request).user_id, parts, overflow=overflow)
        uploads, failed = stored.uploads, stored.failed
        return success(
            f"Uploaded {len(uploads)} files, {len(failed)} failed", status_code=201, uploads=uploads, failed=failed
        )

    @get("/download/public/{upload_id:uuid}", summary="A public file (no sign-in needed)", media_type=BYTES)
    async def download_public(self, request: Request[Any, Any, Any], upload_id: uuid.UUID) -> File:
        return download(await queries(request).public(upload_id), cache=PUBLIC_CACHE)

    @get(
        "/private/{upload_id:uuid}",
        guards=[require_user],
        summary="One of the caller's private files",
        media_type=BYTES,
    )
    async def download_private(self, request: Request[Any, Any, Any], upload_id: uuid.UUID) -> File:
        found = await queries(request).private(current_identity(request).user_id, upload_id)
        return download(found, cache=PRIVATE_CACHE)

    @delete("/{upload_id:uuid}", status_code=200, guards=[require_user], summary="Delete one of the caller's files")
    async def remove(self, request: Request[Any, Any, Any], upload_id: uuid.UUID) -> Response[Any]:
        await uploading(request).delete(current_identity(request).user_id, upload_id)
        return success("File deleted successfully")

    @get("/user", guards=[require_user], summary="The caller's files, newest first (paginated, with the total)")
    async def mine(self, request: Request[Any, Any, Any], limit: Limit = 50, offset: Offset = 0) -> Response[Any]:
        uploads, total = await queries(request).mine(current_identity(request).user_id, limit, offset)
        return success("Your files", uploads=uploads, total=total, limit=limit, offset=offset)

    # ------------------------------------------------------------------ chunked

    @post(
        "/chunked/start",
        guards=[require_user],
        summary="Start a chunked upload (resumable; owned by the caller)",
        description=(
            "Bounded: at most UPLOAD_MAX_CHUNKS chunks of at most UPLOAD_MAX_CHUNK_SIZE bytes, a total_size up to"
            " UPLOAD_MAX_FILE_SIZE (413 above it), and UPLOAD_MAX_OPEN_SESSIONS open sessions per user (409 when"
            " all are taken: complete or cancel one)."
        ),
    )
    async def start(self, request: Request[Any, Any, Any]) -> Response[Any]:
        body = await read_json(request, ChunkStart)
        plan = ChunkPlan(**msgspec.structs.asdict(body))
        session = await chunked(request).start(current_identity(request).user_id, plan)
        return success("Chunked upload session started", status_code=201, session_uuid=str(session))

    @post(
        "/chunked/{session_id:uuid}/chunk/{index:int}",
        status_code=200,
        guards=[require_user],
        summary="Send one chunk (raw body); answers the status",
        description=(
            "index is 0 to total_chunks - 1 (checked before the body is read); resending an index replaces it."
            " 413 when the chunk is over UPLOAD_MAX_CHUNK_SIZE or the chunks would hold more than total_size."
        ),
    )
    async def chunk(self, request: Request[Any, Any, Any], session_id: uuid.UUID, index: int) -> Response[Any]:
        user_id = current_identity(request).user_id
        if not _INDEX.fullmatch(request.url.path.rstrip("/").rsplit("/", 1)[-1]):
            # the router reads the index with int(), which also takes "\uff11" (a full-width 1),
            # "\u0661" (an Arabic-Indic 1), "1_0", "+1" and " 1": each another spelling of a
            # chunk, answered as any segment that is not a number is
            raise NotFound("Not found")
        state = await chunked(request).chunk(user_id, session_id, index, body_stream(request))
        return success("Chunk received", **msgspec.structs.asdict(state))

    @get(
        "/chunked/{session_id:uuid}",
        guards=[require_user],
        summary="Which chunks arrived (to resume)",
        description=(
            "received and missing are inclusive [first, last] ranges of chunk indexes, e.g. missing"
            " [[0, 11], [13, 24]]: the answer grows with the gaps, not with the chunk count."
            " received_chunks and received_bytes count what arrived; complete is true when nothing is missing."
        ),
    )
    async def status(self, request: Request[Any, Any, Any], session_id: uuid.UUID) -> Response[Any]:
        state = await chunked(request).status(current_identity(request).user_id, session_id)
        return success("Chunked upload status", **msgspec.structs.asdict(state))

    @post("/chunked/{session_id:uuid}/complete", guards=[require_user], summary="Assemble, verify and store")
    async def complete(self, request: Request[Any, Any, Any], session_id: uuid.UUID) -> Response[Any]:
        upload = await chunked(request).complete(current_identity(request).user_id, session_id)
        return success("Chunked upload completed", status_code=201, upload=upload)

    @delete("/chunked/{session_id:uuid}", status_code=200, guards=[require_user], summary="Cancel a chunked upload")
    async def cancel(self, request: Request[Any, Any, Any], session_id: uuid.UUID) -> Response[Any]:
        await chunked(request).cancel(current_identity(request).user_id, session_id)
        return success("Chunked upload cancelled")

    # ------------------------------------------------------------------ avatar

    @post("/avatar", guards=[require_user], summary="Set the caller's profile picture (an image, ≤ 10 MiB)")
    async def set_avatar(self, request: Request[Any, Any, Any]) -> Response[Any]:
        parts, _ = await received(request, settings(request).avatar_max_size, 1)
        upload = await uploading(request).avatar(current_identity(request).user_id, parts)
        return success("Profile picture uploaded successfully", status_code=201, upload=upload)

    @delete("/avatar", status_code=200, guards=[require_user], summary="Remove the caller's profile picture")
    async def delete_avatar(self, request: Request[Any, Any, Any]) -> Response[Any]:
        await uploading(request).remove_avatar(current_identity(request).user_id)
        return success("Profile picture deleted successfully")


class AvatarController(Controller):
    path = "/api/v1/avatar"

    @get("/", guards=[require_user], summary="The caller's profile picture", media_type=BYTES)
    async def mine(self, request: Request[Any, Any, Any]) -> File:
        found = await queries(request).avatar(current_identity(request).user_id)
        return download(found, cache=CURRENT_AVATAR_CACHE)

    @get("/{upload_id:uuid}", guards=[require_user], summary="A profile picture of the caller's", media_type=BYTES)
    async def one(self, request: Request[Any, Any, Any], upload_id: uuid.UUID) -> File:
        found = await queries(request).avatar_by_id(current_identity(request).user_id, upload_id)
        return download(found, cache=AVATAR_BY_ID_CACHE)

    @get("/info", guards=[require_user], summary="The caller's profile picture's details")
    async def info(self, request: Request[Any, Any, Any]) -> Response[Any]:
        return success("Profile picture", upload=await queries(request).avatar_info(current_identity(request).user_id))
