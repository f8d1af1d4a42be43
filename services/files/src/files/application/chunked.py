"""Chunked (resumable) uploads: a session owned by the user who started it, bounded in chunks, bytes
and open sessions; chunks in any order, a resent one replacing the old; completed into one file
that is identified and stored like any upload. Another user's (or an expired) session is simply
not found. Housekeeping removes expired sessions and what a crash left in temporary storage."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import msgspec

from blazing_app import BadInput, Conflict, NotFound, Refused
from files.application.ports import ChunkSession, FileStorage, FilesUnitOfWork, TooLarge, Written
from files.application.uploads import Clock, Uploading, UploadView, refusals, utcnow
from files.domain.chunks import gaps, ranges
from files.domain.content import SNIFF_BYTES, safe_name
from files.domain.uploads import ChunkPlan, check_index, chunk_room, chunk_too_large, over_total, plan_chunked

log = logging.getLogger(__name__)
TMP_IDLE_SECONDS = 3600
"""A temporary file nothing wrote to for this long was left behind by a crash (an upload in flight
keeps writing to its own)."""


class ChunkStatus(msgspec.Struct, frozen=True, kw_only=True):
    """Where a chunked upload stands; ``received`` and ``missing`` are inclusive ``[first, last]``
    ranges of chunk indexes (``[[0, 11], [13, 24]]``), so the answer stays small."""

    session_uuid: str
    filename: str
    total_chunks: int
    total_size: int
    received_chunks: int
    received_bytes: int
    received: list[list[int]]
    missing: list[list[int]]
    complete: bool
    expires_at: datetime


def _not_found() -> NotFound:
    return NotFound("Session not found")


@dataclass(eq=False)
class ChunkedUploads:
    """Works on ``uploading``'s unit of work, storage, limits and clock: a completed upload is
    assembled in the storage that ``uploading.store`` then places it from."""

    uploading: Uploading

    def __post_init__(self) -> None:
        u = self.uploading
        self.uow, self.storage, self.limits, self.now = u.uow, u.storage, u.limits, u.now

    async def start(self, user_id: uuid.UUID, plan: ChunkPlan) -> uuid.UUID:
        with refusals():
            planned = plan_chunked(plan, self.limits)
        session_id, now = uuid.uuid4(), self.now()
        async with self.uow() as uow:
            # one user's starts queue here, so two at once cannot both take the last free place
            await uow.lock(f"chunks:{user_id}")
            most = self.limits.max_open_sessions
            if await uow.sessions.count_open(user_id, now) >= most:
                raise Conflict(f"Too many open chunked uploads (at most {most}): complete or cancel one first")
            await uow.sessions.add(
                ChunkSession(
                    session_id=session_id,
                    user_id=user_id,
                    filename=safe_name(plan.filename),
                    extension=planned.extension,
                    total_chunks=plan.total_chunks,
                    total_size=plan.total_size,
                    storage_type=planned.storage_type,
                    sha256=plan.sha256,
                    expires_at=now + timedelta(hours=self.limits.chunk_session_hours),
                )
            )
        return session_id

    async def chunk(
        self, user_id: uuid.UUID, session_id: uuid.UUID, index: int, body: AsyncIterator[bytes]
    ) -> ChunkStatus:
        """Receives chunk ``index`` (a resent one replaces the old) and answers the status. Checked
        before the body is read: the session is the caller's, the index is in range and there is
        room — a session never holds more bytes than it declared, nor a chunk more than the limit."""
        async with self.uow() as uow:
            session = await uow.sessions.live(user_id, session_id, self.now())
            if session is None:
                raise _not_found()
            with refusals():
                check_index(index, session.total_chunks)
            held = await uow.sessions.held_besides(session_id, index)
        with refusals():
            room = chunk_room(self.limits, session.total_size, held)
        try:
            written = await self.storage.receive(body, room, 0)
        except TooLarge:
            with refusals():
                raise chunk_too_large(self.limits, session.total_size, room) from None
        await self._keep(user_id, session_id, index, written)
        return await self.status(user_id, session_id)

    async def _keep(self, user_id: uuid.UUID, session_id: uuid.UUID, index: int, written: Written) -> None:
        try:
            if written.size == 0:
                raise BadInput("Empty chunk")
            async with self.uow() as uow:
                # the session locked: chunks arriving side by side are counted one after another
                session = await uow.sessions.live(user_id, session_id, self.now(), lock=True)
                if session is None:
                    raise _not_found()
                if await uow.sessions.held_besides(session_id, index) + written.size > session.total_size:
                    with refusals():
                        raise over_total(session.total_size)
                self.storage.keep_chunk(written, session_id, index)  # a resent index replaces the old one
                await uow.sessions.keep(session_id, index, written.size)
        finally:
            self.storage.discard(written)  # already gone when it was kept

    async def _state(self, user_id: uuid.UUID, session_id: uuid.UUID) -> tuple[ChunkSession, ChunkStatus]:
        async with self.uow() as uow:
            session = await uow.sessions.live(user_id, session_id, self.now())
            if session is None:
                raise _not_found()
            parts = await uow.sessions.received(session_id)
        received = ranges(index for index, _ in parts)
        return session, ChunkStatus(
            session_uuid=str(session_id),
            filename=session.filename,
            total_chunks=session.total_chunks,
            total_size=session.total_size,
            received_chunks=len(parts),
            received_bytes=sum(size for _, size in parts),
            received=received,
            missing=gaps(received, session.total_chunks),
            complete=len(parts) == session.total_chunks,
            expires_at=session.expires_at,
        )

    async def status(self, user_id: uuid.UUID, session_id: uuid.UUID) -> ChunkStatus:
        return (await self._state(user_id, session_id))[1]

    async def complete(self, user_id: uuid.UUID, session_id: uuid.UUID) -> UploadView:
        """Assembles the chunks, checks size and SHA-256, identifies the content and records the
        file; the session stays (and can be fixed by re-sending chunks) when a check fails.

        The session is taken first, under its lock: of two completions (or a completion and a
        cancel) at once, one has it and the other finds it gone — one file, never an assembly from
        chunks that a cancel or the other completion already removed."""
        session, parts = await self._take(user_id, session_id)
        try:
            written = await self.storage.assemble(session_id, session.total_chunks, SNIFF_BYTES)
            if session.sha256 and written.sha256 != session.sha256:
                self.storage.discard(written)
                raise Refused(f"Checksum mismatch: the chunks hash to {written.sha256}, not {session.sha256}")
            upload = await self.uploading.store(user_id, session.filename, written, session.storage_type)
        except BaseException:
            async with self.uow() as uow:  # a check failed (or the request ended): the session is back
                await uow.sessions.add(session)
                for index, size in parts:
                    await uow.sessions.keep(session_id, index, size)
            raise
        self.storage.drop_chunks(session_id)
        return upload

    async def _take(self, user_id: uuid.UUID, session_id: uuid.UUID) -> tuple[ChunkSession, list[tuple[int, int]]]:
        """The session and its chunks, removed if every declared chunk and byte arrived."""
        async with self.uow() as uow:
            session = await uow.sessions.live(user_id, session_id, self.now(), lock=True)
            if session is None:
                raise _not_found()
            parts = await uow.sessions.received(session_id)
            if len(parts) != session.total_chunks:
                raise Conflict(f"Missing chunks: received {len(parts)} of {session.total_chunks}")
            received_bytes = sum(size for _, size in parts)
            if received_bytes != session.total_size:
                raise Refused(f"Received {received_bytes} bytes; the upload declared {session.total_size}")
            await uow.sessions.remove(session_id)
        return session, parts

    async def cancel(self, user_id: uuid.UUID, session_id: uuid.UUID) -> None:
        async with self.uow() as uow:
            if await uow.sessions.live(user_id, session_id, self.now(), lock=True) is None:
                raise _not_found()  # gone, or taken by a completion
            await uow.sessions.remove(session_id)
        self.storage.drop_chunks(session_id)


@dataclass(eq=False)
class Housekeeping:
    """The periodic task: expired chunked-upload sessions and abandoned temporary files go."""

    uow: Callable[[], FilesUnitOfWork]
    storage: FileStorage
    now: Clock = utcnow

    async def __call__(self) -> None:
        async with self.uow() as uow:
            expired = await uow.sessions.expire(self.now())
        for session_id in expired:
            self.storage.drop_chunks(session_id)
        if expired:
            log.info("removed %d expired chunked upload session(s)", len(expired))
        if swept := await self.storage.sweep_tmp(TMP_IDLE_SECONDS):
            log.info("removed %d abandoned temporary upload file(s)", swept)
