"""The files use cases: store an upload (type from its bytes), list, read, delete; chunked uploads
whose sessions live in the database and belong to their user; avatars; erasure of a user's files."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from blazing_service import BadRequest, Conflict, NotFound, PayloadTooLarge, Unprocessable
from files.adapters.storage import Storage, Written
from files.domain.content import SNIFF_BYTES, ContentError, check_extension, identify, safe_name
from files.settings import FilesSettings

IMAGES = frozenset({"jpg", "jpeg", "png", "gif", "webp"})
_COLUMNS = (
    "upload_id, user_id, original_name, extension, mime_type, size_bytes, sha256, storage_type, storage_path,"
    " kind, created_at"
)


class ChunkStart(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    filename: str
    total_chunks: int
    total_size: int
    storage_type: str
    sha256: str | None = None


def dto(row: dict[str, Any]) -> dict[str, Any]:
    """An upload as the API shows it."""
    public = row["storage_type"] == "public"
    uid = row["upload_id"]
    if row["kind"] == "avatar":
        url = f"/api/v1/avatar/{uid}"
    else:
        url = f"/api/v1/upload/download/public/{uid}" if public else f"/api/v1/upload/private/{uid}"
    out = {
        "uuid": str(uid),
        "original_name": row["original_name"],
        "extension": row["extension"],
        "mime_type": row["mime_type"],
        "size_bytes": row["size_bytes"],
        "sha256": row["sha256"],
        "storage_type": row["storage_type"],
        "url": url,
        "created_at": row["created_at"],
    }
    if public:
        out["public_url"] = "/storage/" + row["storage_path"].removeprefix("public/")
    return out


AvatarNotice = Callable[[uuid.UUID, str | None], Awaitable[None]]


async def _nobody(_: uuid.UUID, __: str | None) -> None:
    return None


class Files:
    def __init__(
        self, pool: AsyncConnectionPool, storage: Storage, settings: FilesSettings, avatar_moved: AvatarNotice = _nobody
    ) -> None:
        """``avatar_moved(user_id, url)`` tells the users service where the profile picture is now."""
        self.pool = pool
        self.storage = storage
        self.s = settings
        self.avatar_moved = avatar_moved

    # ------------------------------------------------------------------ single files

    async def save(
        self,
        user_id: uuid.UUID,
        filename: str,
        written: Written,
        storage_type: str,
        *,
        kind: str = "file",
        allowed: frozenset[str] | None = None,
    ) -> dict[str, Any]:
        """Identifies the file by its bytes, moves it in place and records it (or removes it)."""
        try:
            found = identify(filename, written.head, allowed or self.s.allowed_types)
        except ContentError as exc:
            written.path.unlink(missing_ok=True)
            raise BadRequest(str(exc)) from None
        subfolder = "profile-pictures" if kind == "avatar" else ""
        relative = self.storage.place(written.path, storage_type, found.extension, subfolder)
        try:
            async with self.pool.connection() as conn, conn.transaction():
                cur = conn.cursor(row_factory=dict_row)
                await cur.execute(
                    f"INSERT INTO uploads ({_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, now())"  # noqa: S608
                    " RETURNING *",
                    (
                        uuid.uuid4(),
                        user_id,
                        safe_name(filename),
                        found.extension,
                        found.mime_type,
                        written.size,
                        written.sha256,
                        storage_type,
                        relative,
                        kind,
                    ),
                )
                row = await cur.fetchone()
                assert row is not None
                if kind == "avatar":
                    previous = await (
                        await conn.execute(
                            "SELECT u.upload_id, u.storage_path FROM avatars a JOIN uploads u USING (upload_id)"
                            " WHERE a.user_id = %s",
                            (user_id,),
                        )
                    ).fetchone()
                    await conn.execute(
                        "INSERT INTO avatars (user_id, upload_id) VALUES (%s, %s)"
                        " ON CONFLICT (user_id) DO UPDATE SET upload_id = excluded.upload_id",
                        (user_id, row["upload_id"]),
                    )
                    if previous is not None:
                        await conn.execute("DELETE FROM uploads WHERE upload_id = %s", (previous[0],))
        except BaseException:
            self.storage.delete(relative)
            raise
        upload = dto(row)
        if kind == "avatar":
            if previous is not None:
                self.storage.delete(previous[1])
            await self.avatar_moved(user_id, upload["url"])
        return upload

    async def get(self, upload_id: uuid.UUID) -> dict[str, Any] | None:
        async with self.pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(f"SELECT {_COLUMNS} FROM uploads WHERE upload_id = %s", (upload_id,))  # noqa: S608
            return await cur.fetchone()

    async def owned(self, user_id: uuid.UUID, upload_id: uuid.UUID, kind: str = "file") -> dict[str, Any]:
        """The caller's file; another user's is simply not found."""
        row = await self.get(upload_id)
        if row is None or row["user_id"] != user_id or row["kind"] != kind:
            raise NotFound("File not found" if kind == "file" else "Avatar not found")
        return row

    async def mine(self, user_id: uuid.UUID) -> list[dict[str, Any]]:
        async with self.pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                f"SELECT {_COLUMNS} FROM uploads WHERE user_id = %s ORDER BY created_at DESC",  # noqa: S608
                (user_id,),
            )
            return [dto(r) for r in await cur.fetchall()]

    async def delete(self, user_id: uuid.UUID, upload_id: uuid.UUID) -> None:
        row = await self.owned(user_id, upload_id)
        async with self.pool.connection() as conn:
            await conn.execute("DELETE FROM uploads WHERE upload_id = %s", (upload_id,))
        self.storage.delete(row["storage_path"])

    # ------------------------------------------------------------------ avatars

    async def avatar(self, user_id: uuid.UUID) -> dict[str, Any]:
        async with self.pool.connection() as conn:
            row = await (await conn.execute("SELECT upload_id FROM avatars WHERE user_id = %s", (user_id,))).fetchone()
        if row is None:
            raise NotFound("No profile picture")
        return await self.owned(user_id, row[0], kind="avatar")

    async def delete_avatar(self, user_id: uuid.UUID) -> None:
        row = await self.avatar(user_id)
        async with self.pool.connection() as conn:
            await conn.execute("DELETE FROM uploads WHERE upload_id = %s", (row["upload_id"],))
        self.storage.delete(row["storage_path"])
        await self.avatar_moved(user_id, None)

    # ------------------------------------------------------------------ chunked uploads

    async def start(self, user_id: uuid.UUID, body: ChunkStart) -> uuid.UUID:
        storage_type = body.storage_type.strip().lower()
        if storage_type not in ("public", "private"):
            raise BadRequest("Invalid storage type (use 'public' or 'private')")
        try:
            ext = check_extension(body.filename, self.s.allowed_types)
        except ContentError as exc:
            raise BadRequest(str(exc)) from None
        if body.total_size <= 0 or body.total_chunks <= 0:
            raise BadRequest("total_size and total_chunks must be positive")
        if body.total_size > self.s.max_file_size:
            raise PayloadTooLarge(
                f"File too large: {body.total_size / 1_048_576:.2f} MB (max: {self.s.max_file_size / 1_048_576:.2f} MB)"
            )
        if body.total_chunks > body.total_size or -(-body.total_size // body.total_chunks) > self.s.max_chunk_size:
            raise BadRequest(f"Chunks must hold between 1 byte and {self.s.max_chunk_size} bytes each")
        if body.sha256 is not None and (
            len(body.sha256) != 64 or not all(c in "0123456789abcdef" for c in body.sha256)
        ):
            raise BadRequest("sha256 must be 64 lower-case hex digits")
        session_id = uuid.uuid4()
        async with self.pool.connection() as conn:
            await conn.execute(
                "INSERT INTO chunk_sessions (session_id, user_id, filename, extension, total_chunks, total_size,"
                " storage_type, sha256, expires_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    session_id,
                    user_id,
                    safe_name(body.filename),
                    ext,
                    body.total_chunks,
                    body.total_size,
                    storage_type,
                    body.sha256,
                    datetime.now(UTC) + timedelta(hours=self.s.chunk_session_hours),
                ),
            )
        return session_id

    async def session(self, user_id: uuid.UUID, session_id: uuid.UUID) -> dict[str, Any]:
        """The caller's live session; anyone else's (or an expired one) is not found."""
        async with self.pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                "SELECT * FROM chunk_sessions WHERE session_id = %s AND user_id = %s AND expires_at > now()",
                (session_id, user_id),
            )
            row = await cur.fetchone()
        if row is None:
            raise NotFound("Session not found")
        return row

    async def chunk(self, user_id: uuid.UUID, session_id: uuid.UUID, index: int, written: Written) -> dict[str, Any]:
        try:
            session = await self.session(user_id, session_id)
            if not 0 <= index < session["total_chunks"]:
                raise BadRequest(f"Invalid chunk index: use 0 to {session['total_chunks'] - 1}")
            if written.size == 0:
                raise BadRequest("Empty chunk")
        except BaseException:
            written.path.unlink(missing_ok=True)
            raise
        self.storage.keep_chunk(written.path, session_id, index)  # a resent index replaces the old one
        async with self.pool.connection() as conn:
            await conn.execute(
                "INSERT INTO chunk_parts (session_id, index, size_bytes) VALUES (%s, %s, %s)"
                " ON CONFLICT (session_id, index) DO UPDATE SET size_bytes = excluded.size_bytes, received_at = now()",
                (session_id, index, written.size),
            )
        return await self.status(user_id, session_id)

    async def status(self, user_id: uuid.UUID, session_id: uuid.UUID) -> dict[str, Any]:
        session = await self.session(user_id, session_id)
        async with self.pool.connection() as conn:
            rows = await (
                await conn.execute(
                    "SELECT index, size_bytes FROM chunk_parts WHERE session_id = %s ORDER BY index", (session_id,)
                )
            ).fetchall()
        received = [r[0] for r in rows]
        have = set(received)
        return {
            "session_uuid": str(session_id),
            "filename": session["filename"],
            "total_chunks": session["total_chunks"],
            "total_size": session["total_size"],
            "received_chunks": len(received),
            "received_bytes": sum(r[1] for r in rows),
            "missing": [i for i in range(session["total_chunks"]) if i not in have],
            "complete": len(have) == session["total_chunks"],
            "expires_at": session["expires_at"],
        }

    async def complete(self, user_id: uuid.UUID, session_id: uuid.UUID) -> dict[str, Any]:
        """Assembles the chunks, checks size and SHA-256, identifies the content and records the
        file; the session stays (and can be fixed by re-sending chunks) when a check fails."""
        state = await self.status(user_id, session_id)
        if state["missing"]:
            raise Conflict(f"Missing chunks: received {state['received_chunks']} of {state['total_chunks']}")
        if state["received_bytes"] != state["total_size"]:
            raise Unprocessable(f"Received {state['received_bytes']} bytes; the upload declared {state['total_size']}")
        session = await self.session(user_id, session_id)
        written = await asyncio.to_thread(self.storage.assemble, session_id, session["total_chunks"], SNIFF_BYTES)
        if session["sha256"] and written.sha256 != session["sha256"]:
            written.path.unlink(missing_ok=True)
            raise Unprocessable(f"Checksum mismatch: the chunks hash to {written.sha256}, not {session['sha256']}")
        upload = await self.save(user_id, session["filename"], written, session["storage_type"])
        await self._end(session_id)
        return upload

    async def cancel(self, user_id: uuid.UUID, session_id: uuid.UUID) -> None:
        await self.session(user_id, session_id)
        await self._end(session_id)

    async def _end(self, session_id: uuid.UUID) -> None:
        async with self.pool.connection() as conn:
            await conn.execute("DELETE FROM chunk_sessions WHERE session_id = %s", (session_id,))
        self.storage.drop_chunks(session_id)

    async def expire(self) -> int:
        """Removes sessions past their expiry and their chunks."""
        async with self.pool.connection() as conn:
            rows = await (
                await conn.execute("DELETE FROM chunk_sessions WHERE expires_at <= now() RETURNING session_id")
            ).fetchall()
        for (session_id,) in rows:
            self.storage.drop_chunks(session_id)
        return len(rows)

    # ------------------------------------------------------------------ erasure

    async def erase(self, user_id: uuid.UUID) -> int:
        """user.deleted: every file, avatar and chunk session of the user goes."""
        async with self.pool.connection() as conn, conn.transaction():
            files = await (
                await conn.execute("DELETE FROM uploads WHERE user_id = %s RETURNING storage_path", (user_id,))
            ).fetchall()
            sessions = await (
                await conn.execute("DELETE FROM chunk_sessions WHERE user_id = %s RETURNING session_id", (user_id,))
            ).fetchall()
        for (path,) in files:
            with contextlib.suppress(OSError):
                self.storage.delete(path)
        for (session_id,) in sessions:
            self.storage.drop_chunks(session_id)
        return len(files)
