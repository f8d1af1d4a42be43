"""The files' records in PostgreSQL: uploads (and which one is each user's avatar) and chunked-upload
sessions with their chunks, bound to one unit of work (one transaction)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import msgspec
from psycopg import AsyncConnection
from psycopg.rows import class_row

from blazing_es.postgres import PostgresUnitOfWork
from files.application.ports import ChunkSession, ChunkSessions, Upload, Uploads


def _columns(record: type[msgspec.Struct]) -> str:
    """A record's table has a column of the same name for each of its fields, in the same order."""
    return ", ".join(record.__struct_fields__)


def _insert(table: str, record: type[msgspec.Struct]) -> str:
    """An INSERT of a whole record, its fields bound by name (``msgspec.structs.asdict``)."""
    values = ", ".join(f"%({name})s" for name in record.__struct_fields__)
    return f"INSERT INTO {table} ({_columns(record)}) VALUES ({values})"  # noqa: S608 - names from the code


# the column lists are constants (the records' fields): every value is a bound parameter
_UPLOAD: Final = _columns(Upload)
_SESSION: Final = _columns(ChunkSession)
_ADD_UPLOAD: Final = _insert("uploads", Upload)
_GET_UPLOAD: Final = f"SELECT {_UPLOAD} FROM uploads WHERE upload_id = %s"  # noqa: S608
_PAGE: Final = (
    f"SELECT {_UPLOAD}, count(*) OVER () FROM uploads WHERE user_id = %s"  # noqa: S608
    " ORDER BY created_at DESC, upload_id LIMIT %s OFFSET %s"
)
_AVATAR: Final = (
    f"SELECT {_UPLOAD} FROM uploads"  # noqa: S608
    " WHERE upload_id = (SELECT upload_id FROM avatars WHERE user_id = %s)"
)
_SET_AVATAR: Final = (
    "INSERT INTO avatars (user_id, upload_id) VALUES (%s, %s)"
    " ON CONFLICT (user_id) DO UPDATE SET upload_id = excluded.upload_id"
)
_ADD_SESSION: Final = _insert("chunk_sessions", ChunkSession)
_LIVE: Final = (
    f"SELECT {_SESSION} FROM chunk_sessions"  # noqa: S608
    " WHERE session_id = %s AND user_id = %s AND expires_at > %s"
)
_KEEP: Final = (
    "INSERT INTO chunk_parts (session_id, index, size_bytes) VALUES (%s, %s, %s)"
    " ON CONFLICT (session_id, index) DO UPDATE SET size_bytes = excluded.size_bytes, received_at = now()"
)


@dataclass(eq=False)
class PostgresUploads:
    conn: AsyncConnection[Any]

    async def add(self, upload: Upload) -> None:
        await self.conn.execute(_ADD_UPLOAD, msgspec.structs.asdict(upload))

    async def get(self, upload_id: uuid.UUID) -> Upload | None:
        cur = self.conn.cursor(row_factory=class_row(Upload))
        return await (await cur.execute(_GET_UPLOAD, (upload_id,))).fetchone()

    async def page(self, user_id: uuid.UUID, limit: int, offset: int) -> tuple[list[Upload], int]:
        rows = await (await self.conn.execute(_PAGE, (user_id, limit, offset))).fetchall()
        if rows:
            fields = Upload.__struct_fields__
            return [Upload(**dict(zip(fields, row, strict=False))) for row in rows], int(rows[0][-1])
        total = await (
            await self.conn.execute("SELECT count(*) FROM uploads WHERE user_id = %s", (user_id,))
        ).fetchone()
        return [], int(total[0]) if total else 0

    async def remove(self, upload_id: uuid.UUID) -> None:
        await self.conn.execute("DELETE FROM uploads WHERE upload_id = %s", (upload_id,))

    async def avatar(self, user_id: uuid.UUID) -> Upload | None:
        cur = self.conn.cursor(row_factory=class_row(Upload))
        return await (await cur.execute(_AVATAR, (user_id,))).fetchone()

    async def set_avatar(self, user_id: uuid.UUID, upload_id: uuid.UUID) -> None:
        await self.conn.execute(_SET_AVATAR, (user_id, upload_id))

    async def erase(self, user_id: uuid.UUID) -> list[str]:
        rows = await (
            await self.conn.execute("DELETE FROM uploads WHERE user_id = %s RETURNING storage_path", (user_id,))
        ).fetchall()
        return [path for (path,) in rows]


@dataclass(eq=False)
class PostgresChunkSessions:
    conn: AsyncConnection[Any]

    async def add(self, session: ChunkSession) -> None:
        await self.conn.execute(_ADD_SESSION, msgspec.structs.asdict(session))

    async def count_open(self, user_id: uuid.UUID, now: datetime) -> int:
        row = await (
            await self.conn.execute(
                "SELECT count(*) FROM chunk_sessions WHERE user_id = %s AND expires_at > %s", (user_id, now)
            )
        ).fetchone()
        return int(row[0]) if row else 0

    async def live(
        self, user_id: uuid.UUID, session_id: uuid.UUID, now: datetime, *, lock: bool = False
    ) -> ChunkSession | None:
        cur = self.conn.cursor(row_factory=class_row(ChunkSession))
        query = _LIVE + " FOR UPDATE" if lock else _LIVE
        return await (await cur.execute(query, (session_id, user_id, now))).fetchone()

    async def received(self, session_id: uuid.UUID) -> list[tuple[int, int]]:
        rows = await (
            await self.conn.execute(
                "SELECT index, size_bytes FROM chunk_parts WHERE session_id = %s ORDER BY index", (session_id,)
            )
        ).fetchall()
        return [(int(index), int(size)) for index, size in rows]

    async def held_besides(self, session_id: uuid.UUID, index: int) -> int:
        row = await (
            await self.conn.execute(
                "SELECT coalesce(sum(size_bytes), 0) FROM chunk_parts WHERE session_id = %s AND index <> %s",
                (session_id, index),
            )
        ).fetchone()
        return int(row[0]) if row else 0

    async def keep(self, session_id: uuid.UUID, index: int, size: int) -> None:
        await self.conn.execute(_KEEP, (session_id, index, size))

    async def remove(self, session_id: uuid.UUID) -> None:
        await self.conn.execute("DELETE FROM chunk_sessions WHERE session_id = %s", (session_id,))

    async def expire(self, now: datetime) -> list[uuid.UUID]:
        rows = await (
            await self.conn.execute("DELETE FROM chunk_sessions WHERE expires_at <= %s RETURNING session_id", (now,))
        ).fetchall()
        return [session_id for (session_id,) in rows]

    async def erase(self, user_id: uuid.UUID) -> list[uuid.UUID]:
        rows = await (
            await self.conn.execute("DELETE FROM chunk_sessions WHERE user_id = %s RETURNING session_id", (user_id,))
        ).fetchall()
        return [session_id for (session_id,) in rows]


class PostgresFilesUnitOfWork(PostgresUnitOfWork):
    def bind(self, conn: AsyncConnection[Any]) -> None:
        self.uploads: Uploads = PostgresUploads(conn)
        self.sessions: ChunkSessions = PostgresChunkSessions(conn)
