"""File bytes on local disk under UPLOAD_STORAGE_PATH (the storage port): ``public/`` (served by
nginx at /storage/), ``private/``, ``chunks/<session>/`` and ``tmp/``. Bytes are streamed through in
pieces — no file is ever held in memory whole — and hashed (SHA-256) on the way."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import shutil
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

from files.application.ports import TooLarge, Written

COPY_BUFFER = 1 << 20


class Sink:
    """Receives a stream piece by piece into a temporary file, refusing more than ``limit`` bytes."""

    def __init__(self, tmp: Path, limit: int, head_bytes: int) -> None:
        self.path = tmp / f"{uuid.uuid4().hex}.part"
        self._file = self.path.open("wb")
        self._hash = hashlib.sha256()
        self._limit = limit
        self._head_bytes = head_bytes
        self.size = 0
        self.head = b""

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self._limit:
            self.abort()
            raise TooLarge(f"File too large: more than {self._limit / 1_048_576:.2f} MB")
        if len(self.head) < self._head_bytes:
            self.head += data[: self._head_bytes - len(self.head)]
        self._hash.update(data)
        self._file.write(data)

    def close(self) -> Written:
        self._file.close()
        return Written(self.path, self.size, self._hash.hexdigest(), self.head)

    def abort(self) -> None:
        if not self._file.closed:
            self._file.close()
        self.path.unlink(missing_ok=True)


class LocalStorage:
    def __init__(self, root: Path) -> None:
        self.root = root
        for sub in ("public", "private", "private/profile-pictures", "chunks", "tmp"):
            (root / sub).mkdir(parents=True, exist_ok=True)

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"

    def sink(self, limit: int, head_bytes: int) -> Sink:
        return Sink(self.tmp, limit, head_bytes)

    async def receive(self, stream: AsyncIterator[bytes], limit: int, head_bytes: int) -> Written:
        sink = self.sink(limit, head_bytes)
        try:
            async for piece in stream:
                sink.write(piece)
        except BaseException:
            sink.abort()
            raise
        return sink.close()

    def place(self, written: Written, storage_type: str, extension: str, subfolder: str = "") -> str:
        """Moves a finished temporary file to its place; returns its storage path."""
        name = f"{datetime.now(UTC):%Y%m%d_%H%M%S}_{uuid.uuid4().hex}.{extension}"
        relative = "/".join(p for p in (storage_type, subfolder, name) if p)
        os.replace(written.path, self.root / relative)
        return relative

    def discard(self, written: Written) -> None:
        written.path.unlink(missing_ok=True)

    async def sweep_tmp(self, idle_seconds: float) -> int:
        return await asyncio.to_thread(self._sweep_tmp, idle_seconds)

    def _sweep_tmp(self, idle_seconds: float) -> int:
        """Removes temporary files nothing has written to for ``idle_seconds`` — what a crash or a
        killed worker left behind (an upload in flight keeps writing to its file)."""
        cutoff, removed = time.time() - idle_seconds, 0
        for path in self.tmp.iterdir():
            with contextlib.suppress(FileNotFoundError):
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
        return removed

    def path(self, relative: str) -> Path:
        return self.root / relative

    def delete(self, relative: str) -> None:
        (self.root / relative).unlink(missing_ok=True)

    # ------------------------------------------------------------------ chunks

    def chunk_dir(self, session_id: uuid.UUID) -> Path:
        return self.root / "chunks" / str(session_id)

    def keep_chunk(self, written: Written, session_id: uuid.UUID, index: int) -> None:
        directory = self.chunk_dir(session_id)
        directory.mkdir(parents=True, exist_ok=True)
        os.replace(written.path, directory / f"{index:08d}")

    async def assemble(self, session_id: uuid.UUID, total_chunks: int, head_bytes: int) -> Written:
        return await asyncio.to_thread(self._assemble, session_id, total_chunks, head_bytes)

    def _assemble(self, session_id: uuid.UUID, total_chunks: int, head_bytes: int) -> Written:
        """Concatenates the chunks in order into one temporary file, hashing as it goes (blocking:
        run in a thread)."""
        target = self.tmp / f"{uuid.uuid4().hex}.part"
        digest, size, head = hashlib.sha256(), 0, b""
        with target.open("wb") as out:
            for index in range(total_chunks):
                with (self.chunk_dir(session_id) / f"{index:08d}").open("rb") as part:
                    while piece := part.read(COPY_BUFFER):
                        if len(head) < head_bytes:
                            head += piece[: head_bytes - len(head)]
                        digest.update(piece)
                        out.write(piece)
                        size += len(piece)
        return Written(target, size, digest.hexdigest(), head)

    def drop_chunks(self, session_id: uuid.UUID) -> None:
        shutil.rmtree(self.chunk_dir(session_id), ignore_errors=True)
