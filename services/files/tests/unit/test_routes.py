"""The files routes over the in-memory fakes (Litestar's test client, no server): what a path may
spell and what an answer may carry."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from litestar.testing import TestClient, create_test_client

from blazing_es.memory import TablesDatabase
from blazing_service.errors import EXCEPTION_HANDLERS as API_ERRORS
from blazing_service.identity import Identity, sign
from files.adapters.memory import FilesTables, InMemoryFilesUnitOfWork, MemoryUsers
from files.adapters.storage import LocalStorage
from files.application.chunked import ChunkedUploads
from files.application.uploads import Uploading, UploadQueries
from files.domain.uploads import Limits
from files.entrypoints.http import EXCEPTION_HANDLERS, UploadController

SECRET = "test-identity-secret"
LIMITS = Limits(max_file_size=1_000, max_files=3, allowed_types=frozenset({"txt", "png"}), max_chunk_size=100)


class Files:
    """The service's use cases on in-memory tables and a storage directory of the test's own."""

    def __init__(self, root: Path) -> None:
        db = TablesDatabase(tables=FilesTables())
        self.storage = LocalStorage(root)
        self.me = uuid.uuid4()

        def uow() -> InMemoryFilesUnitOfWork:
            return InMemoryFilesUnitOfWork(db)

        self.uploading = Uploading(uow, self.storage, MemoryUsers(), LIMITS)
        self.chunked = ChunkedUploads(self.uploading)
        self.queries = UploadQueries(uow, self.storage)

    def chunks(self) -> list[str]:
        return sorted(str(p.relative_to(self.storage.root / "chunks")) for p in self.storage.root.glob("chunks/*/*"))


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[Files, TestClient[Any]]]:
    files = Files(tmp_path)
    with create_test_client([UploadController], exception_handlers={**API_ERRORS, **EXCEPTION_HANDLERS}) as client:
        state = client.app.state
        state.identity_secret = SECRET
        state.uploading, state.chunked, state.queries = files.uploading, files.chunked, files.queries
        state.storage = files.storage
        state.settings = SimpleNamespace(
            max_file_size=LIMITS.max_file_size, max_files=LIMITS.max_files, avatar_max_size=LIMITS.avatar_max_size
        )
        client.headers.update(sign(Identity(user_id=files.me, permissions=1), SECRET))
        yield files, client


def started(client: TestClient[Any], total_chunks: int = 12) -> str:
    r = client.post(
        "/api/v1/upload/chunked/start",
        json={"filename": "notes.txt", "total_chunks": total_chunks, "total_size": 12, "storage_type": "private"},
    )
    assert r.status_code == 201, r.text
    session: str = r.json()["session_uuid"]
    return session


@pytest.mark.parametrize(
    "spelling",
    [
        "%EF%BC%91",  # a full-width 1
        "%D9%A1",  # an Arabic-Indic 1
        "%E0%A5%A7",  # a Devanagari 1
        "1_0",
        "+1",
        "%201",
        "1%20",
    ],
)
def test_a_chunk_index_is_ascii_digits_or_no_such_route(api: tuple[Files, TestClient[Any]], spelling: str) -> None:
    """The router read the index with int(): "\uff11" was chunk 1 and "1_0" chunk 10, another spelling
    of a chunk's address; now they are not found, as "abc" is, and nothing is stored."""
    files, client = api
    session = started(client)
    r = client.post(f"/api/v1/upload/chunked/{session}/chunk/{spelling}", content=b"x")
    assert (r.status_code, r.json()) == (404, {"status": "error", "message": "Not found"})
    assert files.chunks() == []
    assert client.get(f"/api/v1/upload/chunked/{session}").json()["received_chunks"] == 0


def test_a_chunk_index_in_ascii_digits_is_taken_and_out_of_range_is_a_400(api: tuple[Files, TestClient[Any]]) -> None:
    files, client = api
    session = started(client)
    for index in ("1", "10", "10/"):
        r = client.post(f"/api/v1/upload/chunked/{session}/chunk/{index}", content=b"x")
        assert r.status_code == 200, r.text
    assert client.get(f"/api/v1/upload/chunked/{session}").json()["received"] == [[1, 1], [10, 10]]
    for index in ("-1", "12", "9" * 30):
        r = client.post(f"/api/v1/upload/chunked/{session}/chunk/{index}", content=b"x")
        assert r.status_code == 400, r.text
        assert r.json()["errors"] == {"index": ["Invalid chunk index: use 0 to 11"]}
    assert files.chunks() == [f"{session}/00000001", f"{session}/00000010"]
    r = client.post(f"/api/v1/upload/chunked/{uuid.uuid4()}/chunk/1", content=b"x")
    assert r.status_code == 404


def test_a_too_large_part_whose_name_is_not_utf8_is_named_back_not_a_500(api: tuple[Files, TestClient[Any]]) -> None:
    """A part over the size limit is refused before its name is judged; its name, not UTF-8, was
    named back as it was read (lone surrogates) and the answer failed to encode: a 500."""
    _, client = api
    body = b"".join(
        b'--b\r\nContent-Disposition: form-data; name="f"; filename="' + name + b'"\r\n\r\n' + data + b"\r\n"
        for name, data in ((b"ok.txt", b"fine\n"), (b"caf\xe9.txt", b"x" * 1_001))
    )
    r = client.post(
        "/api/v1/upload/multiple",
        content=body + b"--b--\r\n",
        headers={"content-type": "multipart/form-data; boundary=b"},
    )
    assert r.status_code == 201, r.text
    assert r.json()["failed"] == [{"filename": "caf?.txt", "error": "File too large: more than 0.00 MB"}]
    r = client.post(
        "/api/v1/upload/multiple",
        content=b'--b\r\nContent-Disposition: form-data; name="f"; filename="\xff.txt"\r\n\r\n'
        + b"x" * 1_001
        + b"\r\n--b--\r\n",
        headers={"content-type": "multipart/form-data; boundary=b"},
    )
    assert r.status_code == 400, r.text
    assert r.json()["failed"] == [{"filename": "?.txt", "error": "File too large: more than 0.00 MB"}]
