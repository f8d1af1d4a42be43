"""What the files use cases need, as protocols: PostgreSQL (adapters/postgres.py), the local disk
(adapters/storage.py) and RabbitMQ (adapters/users.py) implement them, the in-memory fakes in
adapters/memory.py — held to the same contract tests (tests/integration/test_adapters.py,
tests/unit/test_storage.py)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Protocol

import msgspec

from blazing_app import BadInput
from blazing_es.ports import UnitOfWork


class TooLarge(BadInput):
    """More bytes than a limit allows (HTTP: 413)."""

    message = "Request body too large"


class Written(msgspec.Struct, frozen=True):
    """A file received into temporary storage: where, how big, its hash and its first bytes (for
    the type)."""

    path: Path
    size: int
    sha256: str
    head: bytes


class Received(msgspec.Struct, frozen=True):
    """One file part of an upload, already received: or the reason it was not (over the limit)."""

    filename: str | None
    written: Written | None
    error: str | None = None


class Upload(msgspec.Struct, frozen=True, kw_only=True):
    """A stored file, as the database records it."""

    upload_id: uuid.UUID
    user_id: uuid.UUID
    original_name: str
    extension: str
    mime_type: str
    size_bytes: int
    sha256: str
    storage_type: str
    storage_path: str
    kind: str
    created_at: datetime


class ChunkSession(msgspec.Struct, frozen=True, kw_only=True):
    session_id: uuid.UUID
    user_id: uuid.UUID
    filename: str
    extension: str
    total_chunks: int
    total_size: int
    storage_type: str
    sha256: str | None
    expires_at: datetime


class Uploads(Protocol):
    async def add(self, upload: Upload) -> None: ...

    async def get(self, upload_id: uuid.UUID) -> Upload | None: ...

    async def page(self, user_id: uuid.UUID, limit: int, offset: int) -> tuple[list[Upload], int]:
        """The user's uploads, newest first, and how many there are."""

    async def remove(self, upload_id: uuid.UUID) -> None: ...

    async def avatar(self, user_id: uuid.UUID) -> Upload | None:
        """The user's current profile picture."""

    async def set_avatar(self, user_id: uuid.UUID, upload_id: uuid.UUID) -> None: ...

    async def erase(self, user_id: uuid.UUID) -> list[str]:
        """Removes every upload of the user (the avatar with it); their storage paths."""


class ChunkSessions(Protocol):
    async def add(self, session: ChunkSession) -> None: ...

    async def count_open(self, user_id: uuid.UUID, now: datetime) -> int: ...

    async def live(
        self, user_id: uuid.UUID, session_id: uuid.UUID, now: datetime, *, lock: bool = False
    ) -> ChunkSession | None:
        """The user's session unless it expired; ``lock``: held until the unit of work ends, so chunks
        arriving side by side are counted one after another and nothing removes it meanwhile."""

    async def received(self, session_id: uuid.UUID) -> list[tuple[int, int]]:
        """``(index, size)`` of every chunk received, by index."""

    async def held_besides(self, session_id: uuid.UUID, index: int) -> int:
        """Bytes the session's chunks other than ``index`` hold."""

    async def keep(self, session_id: uuid.UUID, index: int, size: int) -> None:
        """Records chunk ``index`` (a resent one replaces the old)."""

    async def remove(self, session_id: uuid.UUID) -> None: ...

    async def expire(self, now: datetime) -> list[uuid.UUID]:
        """Removes the sessions past their expiry; their ids."""

    async def erase(self, user_id: uuid.UUID) -> list[uuid.UUID]:
        """Removes every session of the user; their ids."""


class FilesUnitOfWork(UnitOfWork, Protocol):
    uploads: Uploads
    sessions: ChunkSessions


class FileStorage(Protocol):
    """The files' bytes: temporary files, stored files (``public/…``, ``private/…``) and the chunks of
    chunked uploads. Bytes stream through in pieces, hashed on the way."""

    async def receive(self, stream: AsyncIterator[bytes], limit: int, head_bytes: int) -> Written:
        """The stream into a temporary file; ``TooLarge`` (and nothing kept) past ``limit`` bytes."""

    def place(self, written: Written, storage_type: str, extension: str, subfolder: str = "") -> str:
        """Moves a finished temporary file to its place; returns its storage path."""

    def discard(self, written: Written) -> None:
        """Removes a temporary file (nothing happens when it was placed or kept already)."""

    def delete(self, relative: str) -> None: ...

    def path(self, relative: str) -> Path:
        """Where a stored file is, to serve it."""

    def keep_chunk(self, written: Written, session_id: uuid.UUID, index: int) -> None:
        """Moves a received chunk into the session's chunks (a resent index replaces the old)."""

    async def assemble(self, session_id: uuid.UUID, total_chunks: int, head_bytes: int) -> Written:
        """The chunks in order, into one temporary file."""

    def drop_chunks(self, session_id: uuid.UUID) -> None: ...

    async def sweep_tmp(self, idle_seconds: float) -> int:
        """Removes temporary files nothing has written to for ``idle_seconds`` (what a crash left)."""


class Users(Protocol):
    """The users service, which owns the profile (and so its avatar_url)."""

    async def set_avatar(self, user_id: uuid.UUID, url: str | None) -> None:
        """Tells it where the user's profile picture is now (None: there is none)."""
