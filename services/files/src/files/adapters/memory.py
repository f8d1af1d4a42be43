"""The files service's ports in memory, for use-case tests without a server — held to the same
contract tests as the real adapters (tests/integration/test_adapters.py for the records,
tests/unit/test_storage.py for the bytes)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from blazing_es.memory import TablesUnitOfWork
from files.application.ports import ChunkSession, ChunkSessions, TooLarge, Upload, Uploads, Written


@dataclass
class FilesTables:
    uploads: dict[uuid.UUID, Upload] = field(default_factory=dict)
    avatars: dict[uuid.UUID, uuid.UUID] = field(default_factory=dict)
    sessions: dict[uuid.UUID, ChunkSession] = field(default_factory=dict)
    parts: dict[uuid.UUID, dict[int, int]] = field(default_factory=dict)


@dataclass(eq=False)
class InMemoryUploads:
    t: FilesTables

    async def add(self, upload: Upload) -> None:
        if upload.upload_id in self.t.uploads or any(
            u.storage_path == upload.storage_path for u in self.t.uploads.values()
        ):
            raise KeyError(upload.upload_id)  # the real table's primary and unique keys
        self.t.uploads[upload.upload_id] = upload

    async def get(self, upload_id: uuid.UUID) -> Upload | None:
        return self.t.uploads.get(upload_id)

    async def page(self, user_id: uuid.UUID, limit: int, offset: int) -> tuple[list[Upload], int]:
        mine = [u for u in self.t.uploads.values() if u.user_id == user_id]
        mine.sort(key=lambda u: str(u.upload_id))
        mine.sort(key=lambda u: u.created_at, reverse=True)  # newest first, then by id (a stable sort)
        return mine[offset : offset + limit], len(mine)

    async def remove(self, upload_id: uuid.UUID) -> None:
        self.t.uploads.pop(upload_id, None)
        for user_id in [k for k, v in self.t.avatars.items() if v == upload_id]:  # ON DELETE CASCADE
            del self.t.avatars[user_id]

    async def avatar(self, user_id: uuid.UUID) -> Upload | None:
        upload_id = self.t.avatars.get(user_id)
        return None if upload_id is None else self.t.uploads.get(upload_id)

    async def set_avatar(self, user_id: uuid.UUID, upload_id: uuid.UUID) -> None:
        if upload_id not in self.t.uploads:
            raise KeyError(upload_id)  # the real table's foreign key
        self.t.avatars[user_id] = upload_id

    async def erase(self, user_id: uuid.UUID) -> list[str]:
        mine = [u for u in self.t.uploads.values() if u.user_id == user_id]
        for upload in mine:
            await self.remove(upload.upload_id)
        return [u.storage_path for u in mine]


@dataclass(eq=False)
class InMemoryChunkSessions:
    t: FilesTables
    uow_lock: Callable[[str], Awaitable[None]]

    async def add(self, session: ChunkSession) -> None:
        if session.session_id in self.t.sessions:
            raise KeyError(session.session_id)
        self.t.sessions[session.session_id] = session
        self.t.parts[session.session_id] = {}

    async def count_open(self, user_id: uuid.UUID, now: datetime) -> int:
        return sum(1 for s in self.t.sessions.values() if s.user_id == user_id and s.expires_at > now)

    async def live(
        self, user_id: uuid.UUID, session_id: uuid.UUID, now: datetime, *, lock: bool = False
    ) -> ChunkSession | None:
        if lock:
            await self.uow_lock(f"chunk-session:{session_id}")
        s = self.t.sessions.get(session_id)
        return s if s is not None and s.user_id == user_id and s.expires_at > now else None

    async def received(self, session_id: uuid.UUID) -> list[tuple[int, int]]:
        return sorted(self.t.parts.get(session_id, {}).items())

    async def held_besides(self, session_id: uuid.UUID, index: int) -> int:
        return sum(size for i, size in self.t.parts.get(session_id, {}).items() if i != index)

    async def keep(self, session_id: uuid.UUID, index: int, size: int) -> None:
        if session_id not in self.t.sessions:
            raise KeyError(session_id)  # the real table's foreign key
        self.t.parts[session_id][index] = size

    async def remove(self, session_id: uuid.UUID) -> None:
        self.t.sessions.pop(session_id, None)
        self.t.parts.pop(session_id, None)

    async def expire(self, now: datetime) -> list[uuid.UUID]:
        gone = [s.session_id for s in self.t.sessions.values() if s.expires_at <= now]
        for session_id in gone:
            await self.remove(session_id)
        return gone

    async def erase(self, user_id: uuid.UUID) -> list[uuid.UUID]:
        gone = [s.session_id for s in self.t.sessions.values() if s.user_id == user_id]
        for session_id in gone:
            await self.remove(session_id)
        return gone


class InMemoryFilesUnitOfWork(TablesUnitOfWork[FilesTables]):
    def bind_tables(self, tables: FilesTables) -> None:
        self.uploads: Uploads = InMemoryUploads(tables)
        self.sessions: ChunkSessions = InMemoryChunkSessions(tables, self.lock)


class MemoryStorage:
    """Bytes in a dict, by path: ``tmp/…`` while received, then ``public/…``, ``private/…`` or
    ``chunks/<session>/<index>`` — the same moves as the disk, none of its I/O."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.root = Path("/memory")
        self._names = 0

    def _tmp(self) -> Path:
        self._names += 1
        return self.root / "tmp" / f"{self._names}.part"

    def _key(self, path: Path) -> str:
        return str(path.relative_to(self.root))

    async def receive(self, stream: AsyncIterator[bytes], limit: int, head_bytes: int) -> Written:
        data = b""
        async for piece in stream:
            data += piece
            if len(data) > limit:
                raise TooLarge(f"File too large: more than {limit / 1_048_576:.2f} MB")
        return self.write(data, head_bytes)

    def write(self, data: bytes, head_bytes: int = 8192) -> Written:
        """A temporary file of ``data``, as received."""
        path = self._tmp()
        self.files[self._key(path)] = data
        return Written(path, len(data), hashlib.sha256(data).hexdigest(), data[:head_bytes])

    def place(self, written: Written, storage_type: str, extension: str, subfolder: str = "") -> str:
        name = f"{uuid.uuid4().hex}.{extension}"
        relative = "/".join(p for p in (storage_type, subfolder, name) if p)
        self.files[relative] = self.files.pop(self._key(written.path))
        return relative

    def discard(self, written: Written) -> None:
        self.files.pop(self._key(written.path), None)

    def delete(self, relative: str) -> None:
        self.files.pop(relative, None)

    def path(self, relative: str) -> Path:
        return self.root / relative

    def keep_chunk(self, written: Written, session_id: uuid.UUID, index: int) -> None:
        self.files[f"chunks/{session_id}/{index:08d}"] = self.files.pop(self._key(written.path))

    async def assemble(self, session_id: uuid.UUID, total_chunks: int, head_bytes: int) -> Written:
        data = b"".join(self.files[f"chunks/{session_id}/{index:08d}"] for index in range(total_chunks))
        return self.write(data, head_bytes)

    def drop_chunks(self, session_id: uuid.UUID) -> None:
        for key in [k for k in self.files if k.startswith(f"chunks/{session_id}/")]:
            del self.files[key]

    async def sweep_tmp(self, idle_seconds: float) -> int:
        return 0  # nothing in memory is left behind by a crash

    def under(self, prefix: str) -> dict[str, bytes]:
        return {k: v for k, v in self.files.items() if k.startswith(prefix)}


class MemoryUsers:
    """What the users service was told: ``(user_id, avatar url)`` in order; ``fail`` makes it refuse."""

    def __init__(self) -> None:
        self.told: list[tuple[uuid.UUID, str | None]] = []
        self.fail = False

    async def set_avatar(self, user_id: uuid.UUID, url: str | None) -> None:
        if self.fail:
            raise ConnectionError("the broker is away")
        self.told.append((user_id, url))
