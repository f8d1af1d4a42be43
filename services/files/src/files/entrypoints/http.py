"""The files API (SPEC §4.4; the original's routes under /api/v1/upload and /api/v1/avatar).
Bodies are streamed to disk; every route but the public download needs a signed-in caller, and
another user's file or session is simply not found."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any, Literal
from urllib.parse import quote

from litestar import Controller, Request, Response, delete, get, post
from litestar.response import File

from blazing_service import (
    BadRequest,
    NotFound,
    PayloadTooLarge,
    ValidationFailed,
    current_identity,
    read_json,
    require_user,
    success,
)
from blazing_service.pagination import Limit, Offset
from files.adapters.multipart import FilePart, discard, read_files
from files.adapters.storage import Storage
from files.application.files import IMAGES, MAX_NAME, ChunkStart, Files, dto, name_problems
from files.domain.content import RASTER, SNIFF_BYTES
from files.settings import FilesSettings


def files(request: Request[Any, Any, Any]) -> Files:
    svc: Files = request.app.state.files
    return svc


def settings(request: Request[Any, Any, Any]) -> FilesSettings:
    s: FilesSettings = request.app.state.settings
    return s


async def body_stream(request: Request[Any, Any, Any]) -> AsyncIterator[bytes]:
    async for piece in request.stream():
        if piece:
            yield piece


async def parts_of(request: Request[Any, Any, Any], limit: int, max_files: int) -> tuple[list[FilePart], bool]:
    storage: Storage = request.app.state.storage
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit * max_files + 1_048_576:
        raise PayloadTooLarge(f"Request too large (max: {limit / 1_048_576:.2f} MB per file)")
    return await read_files(
        request.headers.get("content-type", ""),
        body_stream(request),
        lambda: storage.sink(limit, SNIFF_BYTES),
        max_files,
    )


async def one_file(request: Request[Any, Any, Any], limit: int) -> FilePart:
    parts, _ = await parts_of(request, limit, 1)
    if not parts:
        raise BadRequest("No file data received")
    part = parts[0]
    if part.error:
        raise PayloadTooLarge(part.error)
    if not part.filename:
        discard(parts)
        raise BadRequest("No filename provided")
    if problems := name_problems(part.filename):
        discard(parts)
        raise ValidationFailed({"filename": problems})
    return part


class NothingUploaded(BadRequest):
    """A multiple upload in which every file failed: the error shape, with what failed and why."""

    def __init__(self, failed: list[dict[str, str]]) -> None:
        super().__init__(f"Uploaded 0 files, {len(failed)} failed")
        self.failed = failed

    def details(self) -> dict[str, Any]:
        return {"uploads": [], "failed": self.failed}


BYTES = "*/*"
"""What a download is documented as: the file's own type, whichever the upload was identified as."""
SANDBOX = "sandbox; default-src 'none'"
"""What a user's file may do when a browser opens it: nothing (no script, no requests, an opaque origin)."""


def download(row: dict[str, Any], storage: Storage, *, cache: str) -> File:
    """A user's bytes, served inert: only raster images are shown inline, everything else (SVG, PDF,
    text …) is an attachment, and all of it under a sandboxing CSP — a file never runs on the
    application's origin. ``nosniff``, framing and referrer headers come from nginx (once, on every
    response), so they are not repeated here."""
    name = row["original_name"]
    disposition: Literal["inline", "attachment"] = "inline" if row["extension"] in RASTER else "attachment"
    return File(
        path=storage.path(row["storage_path"]),
        media_type=row["mime_type"],
        content_disposition_type=disposition,
        filename=name,
        headers={
            "cache-control": cache,
            "content-security-policy": SANDBOX,
            "content-disposition": f"{disposition}; filename*=UTF-8''{quote(name)}",
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
        part = await one_file(request, settings(request).max_file_size)
        assert part.written is not None
        assert part.filename is not None
        upload = await files(request).save(current_identity(request).user_id, part.filename, part.written, storage_type)
        return success("File uploaded successfully", status_code=201, upload=upload)

    @post("/multiple", guards=[require_user], summary="Upload several public files; each succeeds or fails alone")
    async def multiple(self, request: Request[Any, Any, Any]) -> Response[Any]:
        s = settings(request)
        parts, overflow = await parts_of(request, s.max_file_size, s.max_files)
        if not parts and not overflow:
            raise BadRequest("No file data received")
        user_id = current_identity(request).user_id
        uploads, failed = [], []
        try:
            for part in parts:
                name = part.filename or "unknown"
                if part.error or part.written is None:
                    failed.append({"filename": name, "error": part.error or "Empty file"})
                elif problems := name_problems(name):
                    shown = name[:MAX_NAME].encode("utf-8", "replace").decode()  # as sent, but printable in JSON
                    failed.append({"filename": shown, "error": "; ".join(problems)})
                else:
                    try:
                        uploads.append(await files(request).save(user_id, name, part.written, "public"))
                    except BadRequest as exc:
                        failed.append({"filename": name, "error": exc.message})
        finally:
            discard(parts)  # what was neither stored nor refused yet (a failure half-way)
        if overflow:
            failed.append({"filename": "remaining files", "error": f"Maximum {s.max_files} files per upload exceeded"})
        if not uploads:
            raise NothingUploaded(failed)
        return success(
            f"Uploaded {len(uploads)} files, {len(failed)} failed", status_code=201, uploads=uploads, failed=failed
        )

    @get("/download/public/{upload_id:uuid}", summary="A public file (no sign-in needed)", media_type=BYTES)
    async def download_public(self, request: Request[Any, Any, Any], upload_id: uuid.UUID) -> File:
        row = await files(request).get(upload_id)
        if row is None or row["storage_type"] != "public" or row["kind"] != "file":
            raise NotFound("File not found")
        return download(row, request.app.state.storage, cache="public, max-age=86400")

    @get(
        "/private/{upload_id:uuid}",
        guards=[require_user],
        summary="One of the caller's private files",
        media_type=BYTES,
    )
    async def download_private(self, request: Request[Any, Any, Any], upload_id: uuid.UUID) -> File:
        row = await files(request).owned(current_identity(request).user_id, upload_id)
        return download(row, request.app.state.storage, cache="private, max-age=3600")

    @delete("/{upload_id:uuid}", status_code=200, guards=[require_user], summary="Delete one of the caller's files")
    async def remove(self, request: Request[Any, Any, Any], upload_id: uuid.UUID) -> Response[Any]:
        await files(request).delete(current_identity(request).user_id, upload_id)
        return success("File deleted successfully")

    @get("/user", guards=[require_user], summary="The caller's files, newest first (paginated, with the total)")
    async def mine(self, request: Request[Any, Any, Any], limit: Limit = 50, offset: Offset = 0) -> Response[Any]:
        uploads, total = await files(request).mine(current_identity(request).user_id, limit, offset)
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
        session = await files(request).start(current_identity(request).user_id, body)
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
        state = await files(request).chunk(user_id, session_id, index, body_stream(request))
        return success("Chunk received", **state)

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
        state = await files(request).status(current_identity(request).user_id, session_id)
        return success("Chunked upload status", **state)

    @post("/chunked/{session_id:uuid}/complete", guards=[require_user], summary="Assemble, verify and store")
    async def complete(self, request: Request[Any, Any, Any], session_id: uuid.UUID) -> Response[Any]:
        upload = await files(request).complete(current_identity(request).user_id, session_id)
        return success("Chunked upload completed", status_code=201, upload=upload)

    @delete("/chunked/{session_id:uuid}", status_code=200, guards=[require_user], summary="Cancel a chunked upload")
    async def cancel(self, request: Request[Any, Any, Any], session_id: uuid.UUID) -> Response[Any]:
        await files(request).cancel(current_identity(request).user_id, session_id)
        return success("Chunked upload cancelled")

    # ------------------------------------------------------------------ avatar

    @post("/avatar", guards=[require_user], summary="Set the caller's profile picture (an image, ≤ 10 MiB)")
    async def set_avatar(self, request: Request[Any, Any, Any]) -> Response[Any]:
        s = settings(request)
        part = await one_file(request, s.avatar_max_size)
        assert part.written is not None
        assert part.filename is not None
        upload = await files(request).save(
            current_identity(request).user_id,
            part.filename,
            part.written,
            "private",
            kind="avatar",
            allowed=IMAGES & s.allowed_types,
        )
        return success("Profile picture uploaded successfully", status_code=201, upload=upload)

    @delete("/avatar", status_code=200, guards=[require_user], summary="Remove the caller's profile picture")
    async def delete_avatar(self, request: Request[Any, Any, Any]) -> Response[Any]:
        await files(request).delete_avatar(current_identity(request).user_id)
        return success("Profile picture deleted successfully")


class AvatarController(Controller):
    path = "/api/v1/avatar"

    @get("/", guards=[require_user], summary="The caller's profile picture", media_type=BYTES)
    async def mine(self, request: Request[Any, Any, Any]) -> File:
        row = await files(request).avatar(current_identity(request).user_id)
        return download(row, request.app.state.storage, cache="private, max-age=86400")

    @get("/{upload_id:uuid}", guards=[require_user], summary="A profile picture of the caller's", media_type=BYTES)
    async def one(self, request: Request[Any, Any, Any], upload_id: uuid.UUID) -> File:
        row = await files(request).owned(current_identity(request).user_id, upload_id, kind="avatar")
        return download(row, request.app.state.storage, cache="private, max-age=86400")

    @get("/info", guards=[require_user], summary="The caller's profile picture's details")
    async def info(self, request: Request[Any, Any, Any]) -> Response[Any]:
        return success("Profile picture", upload=dto(await files(request).avatar(current_identity(request).user_id)))
