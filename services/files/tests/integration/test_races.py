"""The files use cases on PostgreSQL and a real disk, side by side with themselves: a chunked upload
completed twice at once (or completed and cancelled) becomes at most one file, never a 500; avatars
uploaded at once leave one avatar. (The in-memory fakes run a unit of work on a copy of the tables,
so they cannot say this.)"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from psycopg_pool import AsyncConnectionPool

from blazing_app import BadInput, NotFound
from files.adapters.memory import MemoryUsers
from files.adapters.postgres import PostgresFilesUnitOfWork
from files.adapters.storage import LocalStorage
from files.application.chunked import ChunkedUploads
from files.application.ports import Received
from files.application.uploads import Uploading
from files.domain.uploads import ChunkPlan, Limits

pytestmark = pytest.mark.integration
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00"
LIMITS = Limits(allowed_types=frozenset({"png", "txt"}), max_chunk_size=1 << 20)


@pytest.fixture
def uploading(pool: AsyncConnectionPool, tmp_path: Path) -> Uploading:
    return Uploading(lambda: PostgresFilesUnitOfWork(pool), LocalStorage(tmp_path), MemoryUsers(), LIMITS)


def received(uploading: Uploading, data: bytes) -> Received:
    """An image part as the multipart reader gives it: its bytes already in temporary storage."""
    assert isinstance(uploading.storage, LocalStorage)
    sink = uploading.storage.sink(len(data), 8192)
    sink.write(data)
    return Received("me.png", sink.close())


async def pieces(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def a_complete_session(chunked: ChunkedUploads, user_id: uuid.UUID) -> uuid.UUID:
    data = b"side by side\n" * 200_000
    third = len(data) // 3 + 1
    plan = ChunkPlan(filename="notes.txt", total_chunks=3, total_size=len(data), storage_type="private")
    session = await chunked.start(user_id, plan)
    for index in range(3):
        await chunked.chunk(user_id, session, index, pieces(data[index * third : (index + 1) * third]))
    return session


async def test_a_session_completed_twice_at_once_becomes_one_file(uploading: Uploading, tmp_path: Path) -> None:
    chunked, me = ChunkedUploads(uploading), uuid.uuid4()
    session = await a_complete_session(chunked, me)
    outcomes = await asyncio.gather(*(chunked.complete(me, session) for _ in range(3)), return_exceptions=True)
    done = [o for o in outcomes if not isinstance(o, BaseException)]
    assert len(done) == 1, outcomes
    assert all(isinstance(o, NotFound) for o in outcomes if isinstance(o, BaseException)), outcomes
    assert len([p for p in (tmp_path / "private").iterdir() if p.is_file()]) == 1
    assert not (tmp_path / "chunks" / str(session)).exists()


async def test_a_completion_and_a_cancel_at_once_never_fail(uploading: Uploading, tmp_path: Path) -> None:
    chunked, me = ChunkedUploads(uploading), uuid.uuid4()
    for _ in range(3):
        session = await a_complete_session(chunked, me)
        completed, cancelled = await asyncio.gather(
            chunked.complete(me, session), chunked.cancel(me, session), return_exceptions=True
        )
        assert isinstance(completed, NotFound) != isinstance(cancelled, NotFound), (completed, cancelled)
        assert not (tmp_path / "chunks" / str(session)).exists()


async def test_avatars_uploaded_at_once_leave_one_avatar(uploading: Uploading, pool: AsyncConnectionPool) -> None:
    me = uuid.uuid4()
    await asyncio.gather(*(uploading.avatar(me, [received(uploading, PNG)]) for _ in range(4)))
    async with pool.connection() as conn:
        rows = await (
            await conn.execute("SELECT count(*) FROM uploads WHERE user_id = %s AND kind = 'avatar'", (me,))
        ).fetchone()
    assert rows == (1,)


async def test_a_completion_that_fails_a_check_puts_the_session_back(uploading: Uploading, tmp_path: Path) -> None:
    chunked, me = ChunkedUploads(uploading), uuid.uuid4()
    plan = ChunkPlan(filename="photo.png", total_chunks=2, total_size=8, storage_type="private")
    session = await chunked.start(me, plan)
    await chunked.chunk(me, session, 1, pieces(b"text"))
    await chunked.chunk(me, session, 0, pieces(b"just"))
    with pytest.raises(BadInput, match=r"is not a \.png file"):
        await chunked.complete(me, session)
    state = await chunked.status(me, session)
    assert (state.complete, state.received, state.received_bytes) == (True, [[0, 1]], 8)
    await chunked.cancel(me, session)
    assert not (tmp_path / "chunks" / str(session)).exists()
