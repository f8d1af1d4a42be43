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

from blazing_service import BadRequest, NotFound, PayloadTooLarge, current_identity, read_json, require_user, success
from files.adapters.multipart import FilePart, read_files
from files.adapters.storage import Storage
from files.application.files import IMAGES, ChunkStart, Files, dto
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
        if part.written is not None:
            part.written.path.unlink(missing_ok=True)
        raise BadRequest("No filename provided")
    return part


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
        user_id = current_identity(request).user_id
        uploads, failed = [], []
        for part in parts:
            if part.error or part.written is None:
                failed.append({"filename": part.filename or "unknown", "error": part.error or "Empty file"})
                continue
            try:
                uploads.append(await files(request).save(user_id, part.filename or "unknown", part.written, "public"))
            except BadRequest as exc:
                failed.append({"filename": part.filename or "unknown", "error": exc.message})
        if overflow:
            failed.append({"filename": "remaining files", "error": f"Maximum {s.max_files} files per upload exceeded"})
        if not parts and not overflow:
            raise BadRequest("No file data received")
        status = 201 if uploads else 400  # documented: 201, and the API's 400
        return success(
            f"Uploaded {len(uploads)} files, {len(failed)} failed", status_code=status, uploads=uploads, failed=failed
        )

    @get("/download/public/{upload_id:uuid}", summary="A public file (no sign-in needed)")
    async def download_public(self, request: Request[Any, Any, Any], upload_id: uuid.UUID) -> File:
        row = await files(request).get(upload_id)
        if row is None or row["storage_type"] != "public" or row["kind"] != "file":
            raise NotFound("File not found")
        return download(row, request.app.state.storage, cache="public, max-age=86400")

    @get("/private/{upload_id:uuid}", guards=[require_user], summary="One of the caller's private files")
    async def download_private(self, request: Request[Any, Any, Any], upload_id: uuid.UUID) -> File:
        row = await files(request).owned(current_identity(request).user_id, upload_id)
        return download(row, request.app.state.storage, cache="private, max-age=3600")

    @delete("/{upload_id:uuid}", status_code=200, guards=[require_user], summary="Delete one of the caller's files")
    async def remove(self, request: Request[Any, Any, Any], upload_id: uuid.UUID) -> Response[Any]:
        await files(request).delete(current_identity(request).user_id, upload_id)
        return success("File deleted successfully")

    @get("/user", guards=[require_user], summary="The caller's files, newest first")
    async def mine(self, request: Request[Any, Any, Any]) -> Response[Any]:
        return success("Your files", uploads=await files(request).mine(current_identity(request).user_id))

    # ------------------------------------------------------------------ chunked

    @post("/chunked/start", guards=[require_user], summary="Start a chunked upload (resumable; owned by the caller)")
    async def start(self, request: Request[Any, Any, Any]) -> Response[Any]:
        body = await read_json(request, ChunkStart)
        session = await files(request).start(current_identity(request).user_id, body)
        return success("Chunked upload session started", status_code=201, session_uuid=str(session))

    @post(
        "/chunked/{session_id:uuid}/chunk/{index:int}",
        status_code=200,
        guards=[require_user],
        summary="Send one chunk (raw body)",
    )
    async def chunk(self, request: Request[Any, Any, Any], session_id: uuid.UUID, index: int) -> Response[Any]:
        s = settings(request)
        user_id = current_identity(request).user_id
        await files(request).session(user_id, session_id)  # before reading a body for nobody
        storage: Storage = request.app.state.storage
        written = await storage.receive(body_stream(request), s.max_chunk_size, 0)
        state = await files(request).chunk(user_id, session_id, index, written)
        return success("Chunk received", **state)

    @get("/chunked/{session_id:uuid}", guards=[require_user], summary="Which chunks arrived (to resume)")
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

    @get("/", guards=[require_user], summary="The caller's profile picture")
    async def mine(self, request: Request[Any, Any, Any]) -> File:
        row = await files(request).avatar(current_identity(request).user_id)
        return download(row, request.app.state.storage, cache="private, max-age=86400")

    @get("/{upload_id:uuid}", guards=[require_user], summary="A profile picture of the caller's")
    async def one(self, request: Request[Any, Any, Any], upload_id: uuid.UUID) -> File:
        row = await files(request).owned(current_identity(request).user_id, upload_id, kind="avatar")
        return download(row, request.app.state.storage, cache="private, max-age=86400")

    @get("/info", guards=[require_user], summary="The caller's profile picture's details")
    async def info(self, request: Request[Any, Any, Any]) -> Response[Any]:
        return success("Profile picture", upload=dto(await files(request).avatar(current_identity(request).user_id)))
