"""The files service's records on PostgreSQL and in memory, held to one contract: the same writes
read the same, in one unit of work or across several, and a failed unit of work leaves nothing —
so the use-case tests on the fakes say something about the real service."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from psycopg_pool import AsyncConnectionPool

from blazing_es.memory import TablesDatabase
from files.adapters.memory import FilesTables, InMemoryFilesUnitOfWork
from files.adapters.postgres import PostgresFilesUnitOfWork
from files.application.ports import ChunkSession, FilesUnitOfWork, Upload

pytestmark = pytest.mark.integration
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
UnitOfWork = Callable[[], FilesUnitOfWork]


@pytest.fixture(params=["memory", "postgres"])
def uow(request: pytest.FixtureRequest, pool: AsyncConnectionPool) -> UnitOfWork:
    if request.param == "memory":
        db = TablesDatabase(tables=FilesTables())
        return lambda: InMemoryFilesUnitOfWork(db)
    return lambda: PostgresFilesUnitOfWork(pool)


def upload(user_id: uuid.UUID, minutes: int, kind: str = "file", storage_type: str = "private") -> Upload:
    upload_id = uuid.uuid4()
    return Upload(
        upload_id=upload_id,
        user_id=user_id,
        original_name=f"{minutes}.txt",
        extension="txt",
        mime_type="text/plain",
        size_bytes=minutes,
        sha256="0" * 64,
        storage_type=storage_type,
        storage_path=f"{storage_type}/contract-{upload_id.hex}.txt",
        kind=kind,
        created_at=NOW + timedelta(minutes=minutes),
    )


def session(user_id: uuid.UUID, expires_in: timedelta) -> ChunkSession:
    return ChunkSession(
        session_id=uuid.uuid4(),
        user_id=user_id,
        filename="big.txt",
        extension="txt",
        total_chunks=3,
        total_size=30,
        storage_type="private",
        sha256=None,
        expires_at=NOW + expires_in,
    )


async def test_uploads_and_avatars_read_back_alike(uow: UnitOfWork) -> None:
    me, other = uuid.uuid4(), uuid.uuid4()
    mine = [upload(me, m) for m in (1, 3, 2)]
    async with uow() as u:
        for item in [*mine, upload(other, 4)]:
            await u.uploads.add(item)
    async with uow() as u:
        assert await u.uploads.get(mine[0].upload_id) == mine[0]
        assert await u.uploads.get(uuid.uuid4()) is None
        page, total = await u.uploads.page(me, 2, 0)
        assert ([p.original_name for p in page], total) == (["3.txt", "2.txt"], 3)
        assert await u.uploads.page(me, 2, 10) == ([], 3)
        assert await u.uploads.page(uuid.uuid4(), 2, 0) == ([], 0)
        assert await u.uploads.avatar(me) is None
    first, second = upload(me, 5, "avatar"), upload(me, 6, "avatar")
    async with uow() as u:
        await u.uploads.add(first)
        await u.uploads.set_avatar(me, first.upload_id)
    async with uow() as u:
        assert await u.uploads.avatar(me) == first
        await u.uploads.add(second)
        await u.uploads.set_avatar(me, second.upload_id)
        await u.uploads.remove(first.upload_id)
    async with uow() as u:
        assert await u.uploads.avatar(me) == second
        await u.uploads.remove(second.upload_id)
    async with uow() as u:
        assert await u.uploads.avatar(me) is None, "removing the upload removes the avatar"
        erased = await u.uploads.erase(me)
    assert sorted(erased) == sorted(m.storage_path for m in mine)
    async with uow() as u:
        assert await u.uploads.page(me, 10, 0) == ([], 0)
        assert (await u.uploads.page(other, 10, 0))[1] == 1


async def test_a_failed_unit_of_work_leaves_nothing(uow: UnitOfWork) -> None:
    me = uuid.uuid4()

    async def half_way() -> None:
        async with uow() as u:
            await u.uploads.add(upload(me, 1))
            await u.sessions.add(session(me, timedelta(hours=1)))
            raise RuntimeError("refused half-way")

    with pytest.raises(RuntimeError):
        await half_way()
    async with uow() as u:
        assert await u.uploads.page(me, 10, 0) == ([], 0)
        assert await u.sessions.count_open(me, NOW) == 0


async def test_chunk_sessions_count_expire_and_erase_alike(uow: UnitOfWork) -> None:
    me, other = uuid.uuid4(), uuid.uuid4()
    live, expired, theirs = (
        session(me, timedelta(hours=1)),
        session(me, -timedelta(seconds=1)),
        session(other, timedelta(hours=1)),
    )
    async with uow() as u:
        for s in (live, expired, theirs):
            await u.sessions.add(s)
    async with uow() as u:
        assert await u.sessions.count_open(me, NOW) == 1
        assert await u.sessions.live(me, live.session_id, NOW) == live
        assert await u.sessions.live(me, live.session_id, NOW, lock=True) == live
        assert await u.sessions.live(other, live.session_id, NOW) is None, "another user's"
        assert await u.sessions.live(me, expired.session_id, NOW) is None, "expired"
        await u.sessions.keep(live.session_id, 2, 10)
        await u.sessions.keep(live.session_id, 0, 7)
        await u.sessions.keep(live.session_id, 0, 9)  # a resent chunk replaces the old
    async with uow() as u:
        assert await u.sessions.received(live.session_id) == [(0, 9), (2, 10)]
        assert await u.sessions.held_besides(live.session_id, 0) == 10
        assert await u.sessions.held_besides(live.session_id, 1) == 19
        assert await u.sessions.received(uuid.uuid4()) == []
        assert expired.session_id in await u.sessions.expire(NOW)
    async with uow() as u:
        assert await u.sessions.live(me, expired.session_id, NOW - timedelta(hours=1)) is None, "gone for good"
        assert await u.sessions.erase(me) == [live.session_id]
        await u.sessions.remove(theirs.session_id)
    async with uow() as u:
        assert await u.sessions.received(live.session_id) == [], "its chunks went with it"
        assert await u.sessions.count_open(other, NOW) == 0


async def test_a_user_start_lock_is_held_for_the_unit_of_work(uow: UnitOfWork) -> None:
    """Two starts of one user queue on the lock: the second sees the first's session."""
    me = uuid.uuid4()
    async with uow() as first:
        await first.lock(f"chunks:{me}")
        assert await first.sessions.count_open(me, NOW) == 0
        await first.sessions.add(session(me, timedelta(hours=1)))
    async with uow() as second:
        await second.lock(f"chunks:{me}")
        assert await second.sessions.count_open(me, NOW) == 1
