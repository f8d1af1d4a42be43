"""Chunked uploads are bounded (issue #17, item 7): how many chunks a session may have, how big each
is, how many bytes a session may hold on disk and how many sessions a user may keep open; the status
answers the received and missing chunks as index ranges, so its size does not grow with the count."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx
import pytest

if TYPE_CHECKING:
    from conftest import User

pytestmark = pytest.mark.integration
MiB = 1 << 20
MAX_FILE = 100 * MiB  # the stack's UPLOAD_MAX_FILE_SIZE
MAX_CHUNKS = 1600  # default UPLOAD_MAX_CHUNKS: UPLOAD_MAX_FILE_SIZE in 64 KiB chunks
MAX_OPEN = 10  # default UPLOAD_MAX_OPEN_SESSIONS


async def start(user: User, **overrides: Any) -> httpx.Response:
    body = {"filename": "n.txt", "total_chunks": 2, "total_size": 10, "storage_type": "private", **overrides}
    return await user.call("POST", "/api/v1/upload/chunked/start", json=body)


async def started(user: User, **overrides: Any) -> str:
    r = await start(user, **overrides)
    assert r.status_code == 201, r.text
    session: str = r.json()["session_uuid"]
    return session


async def test_the_chunk_count_is_bounded(users: tuple[User, User]) -> None:
    me, _ = users
    r = await start(me, total_chunks=104_857_600, total_size=MAX_FILE)
    assert r.status_code == 400, r.text
    assert r.json()["errors"]["total_chunks"] == [f"At most {MAX_CHUNKS} chunks"]
    assert (await start(me, total_chunks=MAX_CHUNKS + 1, total_size=MAX_FILE)).status_code == 400
    await me.call("DELETE", f"/api/v1/upload/chunked/{await started(me, total_chunks=MAX_CHUNKS, total_size=MAX_FILE)}")


async def test_the_status_answers_ranges_and_stays_small(users: tuple[User, User]) -> None:
    me, _ = users
    session = await started(me, total_chunks=MAX_CHUNKS, total_size=MAX_FILE)
    base = f"/api/v1/upload/chunked/{session}"
    empty = await me.call("GET", base)
    assert empty.json()["missing"] == [[0, MAX_CHUNKS - 1]]
    assert empty.json()["received"] == []
    for index in (0, 1, 2, 7, MAX_CHUNKS - 1):
        r = await me.call("POST", f"{base}/chunk/{index}", content=b"x" * 100)
        assert r.status_code == 200, r.text
    status = (await me.call("GET", base)).json()
    assert status["received"] == [[0, 2], [7, 7], [MAX_CHUNKS - 1, MAX_CHUNKS - 1]]
    assert status["missing"] == [[3, 6], [8, MAX_CHUNKS - 2]]
    assert (status["received_chunks"], status["received_bytes"], status["complete"]) == (5, 500, False)
    assert len(r.content) < 1024, "the chunk answer carries the same compact status"
    await me.call("DELETE", base)


async def test_a_session_never_holds_more_than_its_declared_size(users: tuple[User, User]) -> None:
    me, _ = users
    session = await started(me, total_chunks=2, total_size=10)
    base = f"/api/v1/upload/chunked/{session}"
    assert (await me.call("POST", f"{base}/chunk/0", content=b"12345678")).status_code == 200
    over = await me.call("POST", f"{base}/chunk/1", content=b"12345678")
    assert over.status_code == 413, over.text
    assert "declared" in over.json()["message"]
    assert (await me.call("POST", f"{base}/chunk/0", content=b"12345")).status_code == 200, "a resent chunk replaces"
    assert (await me.call("POST", f"{base}/chunk/1", content=b"67890")).json()["complete"] is True
    done = await me.call("POST", f"{base}/complete")
    assert done.status_code == 201, done.text
    assert done.json()["upload"]["size_bytes"] == 10


async def test_open_sessions_per_user_are_capped(users: tuple[User, User]) -> None:
    me, other = users
    sessions = []
    for _ in range(MAX_OPEN):
        r = await start(me)
        assert r.status_code == 201, r.text
        sessions.append(r.json()["session_uuid"])
    refused = await start(me)
    assert refused.status_code == 409, refused.text
    assert refused.json() == {
        "status": "error",
        "message": f"Too many open chunked uploads (at most {MAX_OPEN}): complete or cancel one first",
    }
    assert (await start(other)).status_code == 201, "the cap is per user"
    assert (await me.call("DELETE", f"/api/v1/upload/chunked/{sessions[0]}")).status_code == 200
    assert (await start(me)).status_code == 201, "a cancelled session frees its place"
