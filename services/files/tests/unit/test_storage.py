"""The storage port on the local disk and in memory, held to one contract (no server needed): bytes
received with a limit, placed, kept as chunks and assembled in order, hashed on the way; and the
disk's sweep of temporary files a crash left behind."""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from files.adapters.memory import MemoryStorage
from files.adapters.storage import LocalStorage
from files.application.ports import FileStorage, TooLarge


@pytest.fixture(params=["memory", "local"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> FileStorage:
    return MemoryStorage() if request.param == "memory" else LocalStorage(tmp_path)


async def stream(*pieces: bytes) -> AsyncIterator[bytes]:
    for piece in pieces:
        yield piece


def read(storage: FileStorage, relative: str) -> bytes:
    if isinstance(storage, MemoryStorage):
        return storage.files[relative]
    return storage.path(relative).read_bytes()


async def test_received_bytes_are_hashed_with_their_head_and_placed(storage: FileStorage) -> None:
    written = await storage.receive(stream(b"%PDF-", b"1.7\n", b"rest"), 100, 6)
    assert (written.size, written.head) == (13, b"%PDF-1")
    assert written.sha256 == hashlib.sha256(b"%PDF-1.7\nrest").hexdigest()
    relative = storage.place(written, "public", "pdf")
    assert relative.startswith("public/")
    assert relative.endswith(".pdf")
    assert read(storage, relative) == b"%PDF-1.7\nrest"
    storage.discard(written)  # placed already: nothing happens
    avatar = storage.place(await storage.receive(stream(b"x"), 10, 0), "private", "png", "profile-pictures")
    assert avatar.startswith("private/profile-pictures/")
    storage.delete(relative)
    storage.delete(relative)
    with pytest.raises((KeyError, FileNotFoundError)):
        read(storage, relative)


async def test_more_than_the_limit_is_refused_and_nothing_is_kept(storage: FileStorage, tmp_path: Path) -> None:
    with pytest.raises(TooLarge):
        await storage.receive(stream(b"12345", b"6"), 5, 0)
    exactly = await storage.receive(stream(b"12345"), 5, 0)
    assert exactly.size == 5
    storage.discard(exactly)
    if isinstance(storage, MemoryStorage):
        assert storage.files == {}
    else:
        assert list((tmp_path / "tmp").iterdir()) == []


async def test_chunks_assemble_in_index_order_and_a_resent_one_replaces_the_old(storage: FileStorage) -> None:
    session = uuid.uuid4()
    for index, data in ((2, b"C"), (0, b"A"), (1, b"x"), (1, b"B")):
        storage.keep_chunk(await storage.receive(stream(data), 10, 0), session, index)
    whole = await storage.assemble(session, 3, 2)
    assert (whole.size, whole.head, whole.sha256) == (3, b"AB", hashlib.sha256(b"ABC").hexdigest())
    relative = storage.place(whole, "private", "txt")
    assert read(storage, relative) == b"ABC"
    storage.drop_chunks(session)
    with pytest.raises((KeyError, FileNotFoundError)):
        await storage.assemble(session, 3, 2)


async def test_abandoned_temporary_files_are_swept(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    old, fresh = storage.tmp / "old.part", storage.tmp / "fresh.part"
    old.write_bytes(b"left behind")
    fresh.write_bytes(b"in flight")
    an_hour_ago = time.time() - 3601
    os.utime(old, (an_hour_ago, an_hour_ago))
    assert await storage.sweep_tmp(3600) == 1
    assert (old.exists(), fresh.exists()) == (False, True)
