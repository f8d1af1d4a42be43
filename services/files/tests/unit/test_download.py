"""A download whose file its owner deletes meanwhile: served whole when it was found, a 404 when it
was gone already — never a 500, nor a 200 whose body is cut short."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from litestar import get
from litestar.datastructures import State
from litestar.response import File
from litestar.testing import create_test_client

from blazing_app import NotFound
from blazing_service.identity import Identity, sign
from files.application.ports import Upload
from files.application.uploads import Download
from files.entrypoints.http import AvatarController, UploadController, download

SECRET = "test-identity-secret"
FILE_ID = uuid.UUID(int=7)
"""A fixed id in parametrized paths: a random one differs between xdist workers."""
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


class Queries:
    """UploadQueries as the download routes call it: every file is the one at ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    async def public(self, _upload_id: uuid.UUID) -> Download:
        return found(self.path)

    async def private(self, _user_id: uuid.UUID, _upload_id: uuid.UUID) -> Download:
        return found(self.path)

    async def avatar(self, _user_id: uuid.UUID) -> Download:
        return found(self.path)

    async def avatar_by_id(self, _user_id: uuid.UUID, _upload_id: uuid.UUID) -> Download:
        return found(self.path)


@pytest.mark.parametrize(
    ("path", "cache"),
    [
        ("/api/v1/avatar", "private, no-cache"),  # one URL for whichever picture is the caller's now
        (f"/api/v1/avatar/{FILE_ID}", "private, max-age=86400"),
        (f"/api/v1/upload/private/{FILE_ID}", "private, max-age=3600"),
    ],
)
def test_a_signed_in_callers_download_is_kept_per_caller_and_the_current_avatar_asked_again(
    tmp_path: Path, path: str, cache: str
) -> None:
    """Black-box review: a browser keys its cache by URL alone. ``GET /api/v1/avatar`` answered
    ``private, max-age=86400`` with no Vary: the next person signed in on the same browser got the
    previous one's picture from the cache, and a replaced or deleted picture was shown for a day."""
    (tmp_path / "notes.txt").write_bytes(b"notes")
    state = State({"queries": Queries(tmp_path / "notes.txt"), "identity_secret": SECRET})
    with create_test_client([UploadController, AvatarController], state=state) as client:
        headers = sign(Identity(user_id=uuid.uuid4(), permissions=1), SECRET)
        answer = client.get(path, headers=headers)
        assert answer.status_code == 200, answer.text
        assert answer.headers["cache-control"] == cache
        assert answer.headers["vary"].lower() == "authorization"
        public = client.get(f"/api/v1/upload/download/public/{uuid.uuid4()}")
        assert public.headers["cache-control"] == "public, max-age=86400"
        assert "vary" not in public.headers  # the same bytes for everybody
