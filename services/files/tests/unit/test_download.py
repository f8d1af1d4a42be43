"""A download whose file its owner deletes meanwhile: served whole when it was found, a 404 when it
was gone already — never a 500, nor a 200 whose body is cut short."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from litestar import get
from litestar.response import File
from litestar.testing import create_test_client

from blazing_app import NotFound
from files.application.ports import Upload
from files.application.uploads import Download
from files.entrypoints.http import download

DATA = b"the owner's notes\n" * 70_000  # over 1 MiB: streamed in chunks


def found(path: Path) -> Download:
    upload = Upload(
        upload_id=uuid.uuid4(),
        user_id=uuid.uuid4(),
        original_name="notes.txt",
        extension="txt",
        mime_type="text/plain",
        size_bytes=len(DATA),
        sha256="0" * 64,
        storage_type="private",
        storage_path=path.name,
        kind="file",
        created_at=datetime(2026, 12, 1, tzinfo=UTC),
    )
    return Download(upload, path)


def test_a_file_deleted_while_it_is_served_is_served_whole(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(DATA)

    @get("/file")
    async def serve() -> File:
        response = download(found(path), cache="private")
        path.unlink()  # the owner's DELETE, between the row being read and the bytes being sent
        return response

    with create_test_client([serve]) as client:
        answer = client.get("/file")
    assert answer.status_code == 200
    assert answer.headers["content-length"] == str(len(DATA))
    assert answer.content == DATA


def test_a_file_gone_before_it_is_served_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="File not found"):
        download(found(tmp_path / "gone.txt"), cache="private")
