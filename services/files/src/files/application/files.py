"""The files use cases: store an upload (type from its bytes), list, read, delete; chunked uploads
whose sessions live in the database and belong to their user; avatars; erasure of a user's files."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from blazing_service import BadRequest, Checks, Conflict, NotFound, PayloadTooLarge, Unprocessable, ValidationFailed
from files.adapters.storage import Storage, Written
from files.domain.chunks import gaps, ranges
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


MAX_NAME = 255
_SHA256 = frozenset("0123456789abcdef")


def name_problems(filename: str) -> list[str]:
    """Why a client's file name is refused: a name, not a path, one line, at most 255 characters
    (it is kept as the download's name; where the bytes live is always the service's own choice)."""
    checks = Checks()
    checks.length(filename, "filename", 1, MAX_NAME, "File name")
    no_path = "/" not in filename and "\\" not in filename
    checks.require(no_path, "filename", "File name must not contain a path (/ or \\)")
    checks.require(_utf8(filename), "filename", "File name must be UTF-8")
    return checks.errors.get("filename", [])


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: bytes that were not UTF-8
        return False
    return True


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


def _over(total_size: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"The chunks would hold more than the declared total_size of {total_size} bytes")


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
        subfolder = "profile-pictures" if kind == "avatar" else ""
        try:
            found = identify(filename, written.head, allowed or self.s.allowed_types)
            relative = self.storage.place(written.path, storage_type, found.extension, subfolder)
        except ContentError as exc:
            raise BadRequest(str(exc)) from None
        finally:
            written.path.unlink(missing_ok=True)  # still there only when refused (placed, it has moved)
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

    async def mine(self, user_id: uuid.UUID, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        """A page of the user's files, newest first, and how many there are."""
        async with self.pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                f"SELECT {_COLUMNS}, count(*) OVER () AS total FROM uploads WHERE user_id = %s"  # noqa: S608
                " ORDER BY created_at DESC, upload_id LIMIT %s OFFSET %s",
                (user_id, limit, offset),
            )
            rows = await cur.fetchall()
            if rows:
                return [dto(r) for r in rows], int(rows[0]["total"])
            total = await (await conn.execute("SELECT count(*) FROM uploads WHERE user_id = %s", (user_id,))).fetchone()
            return [], int(total[0]) if total else 0

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

    def _check_start(self, body: ChunkStart) -> tuple[str, str]:
        """The session's (extension, storage type), or every field error at once; a declared size
        over the limit is a 413."""
        s, checks = self.s, Checks()
        problems = name_problems(body.filename)
        for problem in problems:
            checks.require(False, "filename", problem)
        ext = ""
        if not problems:
            try:
                ext = check_extension(body.filename, s.allowed_types)
            except ContentError as exc:
                checks.require(False, "filename", str(exc))
        storage_type = body.storage_type.strip().lower()
        checks.require(
            storage_type in ("public", "private"), "storage_type", "Invalid storage type (use 'public' or 'private')"
        )
        checks.require(body.total_chunks >= 1, "total_chunks", "Must be a positive integer")
        checks.require(body.total_size >= 1, "total_size", "Must be a positive integer")
        if body.sha256 is not None:
            checks.require(
                len(body.sha256) == 64 and set(body.sha256) <= _SHA256, "sha256", "Must be 64 lower-case hex digits"
            )
        if checks.errors:
            raise ValidationFailed(checks.errors)
        if body.total_size > s.max_file_size:
            raise PayloadTooLarge(
                f"File too large: {body.total_size / 1_048_576:.2f} MB (max: {s.max_file_size / 1_048_576:.2f} MB)"
            )
        if body.total_chunks > s.max_chunks:
            checks.require(False, "total_chunks", f"At most {s.max_chunks} chunks")
        elif body.total_chunks > body.total_size:
            checks.require(False, "total_chunks", "More chunks than bytes: each chunk holds at least one byte")
        elif -(-body.total_size // body.total_chunks) > s.max_chunk_size:
            checks.require(False, "total_chunks", f"Too few chunks: each may hold at most {s.max_chunk_size} bytes")
        if checks.errors:
            raise ValidationFailed(checks.errors)
        return ext, storage_type

    async def start(self, user_id: uuid.UUID, body: ChunkStart) -> uuid.UUID:
        ext, storage_type = self._check_start(body)
        session_id = uuid.uuid4()
        async with self.pool.connection() as conn, conn.transaction():
            # one user's starts queue here, so two at once cannot both take the last free place
            await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"chunks:{user_id}",))
            row = await (
                await conn.execute(
                    "SELECT count(*) FROM chunk_sessions WHERE user_id = %s AND expires_at > now()", (user_id,)
                )
            ).fetchone()
            if row is not None and row[0] >= self.s.max_open_sessions:
                raise Conflict(
                    f"Too many open chunked uploads (at most {self.s.max_open_sessions}): complete or cancel one first"
                )
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

    async def chunk(
        self, user_id: uuid.UUID, session_id: uuid.UUID, index: int, body: AsyncIterator[bytes]
    ) -> dict[str, Any]:
        """Receives chunk ``index`` (a resent one replaces the old) and answers the status. Checked
        before the body is read: the session is the caller's, the index is in range and there is
        room — a session never holds more bytes than it declared, nor a chunk more than the limit."""
        session = await self.session(user_id, session_id)
        total_size: int = session["total_size"]
        if not 0 <= index < session["total_chunks"]:
            raise ValidationFailed({"index": [f"Invalid chunk index: use 0 to {session['total_chunks'] - 1}"]})
        async with self.pool.connection() as conn:
            room = min(self.s.max_chunk_size, total_size - await self._bytes_besides(conn, session_id, index))
        if room <= 0:
            raise _over(total_size)
        try:
            written = await self.storage.receive(body, room, 0)
        except PayloadTooLarge:
            if room < self.s.max_chunk_size:
                raise _over(total_size) from None
            raise PayloadTooLarge(f"Chunk too large (max: {self.s.max_chunk_size} bytes)") from None
        await self._keep(user_id, session_id, index, written)
        return await self.status(user_id, session_id)

    @staticmethod
    async def _bytes_besides(conn: AsyncConnection[Any], session_id: uuid.UUID, index: int) -> int:
        row = await (
            await conn.execute(
                "SELECT coalesce(sum(size_bytes), 0) FROM chunk_parts WHERE session_id = %s AND index <> %s",
                (session_id, index),
            )
        ).fetchone()
        return int(row[0]) if row else 0

    async def _keep(self, user_id: uuid.UUID, session_id: uuid.UUID, index: int, written: Written) -> None:
        try:
            if written.size == 0:
                raise BadRequest("Empty chunk")
            async with self.pool.connection() as conn, conn.transaction():
                # the session row locked: chunks arriving side by side are counted one after another
                locked = await (
                    await conn.execute(
                        "SELECT total_size FROM chunk_sessions WHERE session_id = %s AND user_id = %s"
                        " AND expires_at > now() FOR UPDATE",
                        (session_id, user_id),
                    )
                ).fetchone()
                if locked is None:
                    raise NotFound("Session not found")
                if await self._bytes_besides(conn, session_id, index) + written.size > locked[0]:
                    raise _over(locked[0])
                self.storage.keep_chunk(written.path, session_id, index)  # a resent index replaces the old one
                await conn.execute(
                    "INSERT INTO chunk_parts (session_id, index, size_bytes) VALUES (%s, %s, %s)"
                    " ON CONFLICT (session_id, index) DO UPDATE SET size_bytes = excluded.size_bytes,"
                    " received_at = now()",
                    (session_id, index, written.size),
                )
        finally:
            written.path.unlink(missing_ok=True)  # already gone when it was kept

    async def status(self, user_id: uuid.UUID, session_id: uuid.UUID) -> dict[str, Any]:
        """Where a chunked upload stands; ``received`` and ``missing`` are inclusive ``[first, last]``
        ranges of chunk indexes (``[[0, 11], [13, 24]]``), so the answer stays small."""
        session = await self.session(user_id, session_id)
        async with self.pool.connection() as conn:
            rows = await (
                await conn.execute(
                    "SELECT index, size_bytes FROM chunk_parts WHERE session_id = %s ORDER BY index", (session_id,)
                )
            ).fetchall()
        received = ranges(r[0] for r in rows)
        return {
            "session_uuid": str(session_id),
            "filename": session["filename"],
            "total_chunks": session["total_chunks"],
            "total_size": session["total_size"],
            "received_chunks": len(rows),
            "received_bytes": sum(r[1] for r in rows),
            "received": received,
            "missing": gaps(received, session["total_chunks"]),
            "complete": len(rows) == session["total_chunks"],
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
