"""The files service through https://localhost: every route, limit and error; content decides the
type; a 100 MB chunked upload interrupted half-way resumes and completes with a verified checksum
in bounded memory; public files served by nginx, private ones only to their owner; user.deleted
erases a user's files."""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
import ssl
import struct
import time
import uuid
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import psycopg
import pytest

from blazing_testing import stack_env
from blazing_testing.stack import restarted

if TYPE_CHECKING:
    from conftest import User

pytestmark = pytest.mark.integration
ENV = stack_env()
CERT = str(ENV.var / "nginx/ssl/server.crt")
MiB = 1 << 20


def png(width: int = 1, height: int = 1) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 64


async def test_a_public_upload_is_typed_by_its_bytes_and_served_by_nginx(
    edge: httpx.AsyncClient, users: tuple[User, User]
) -> None:
    me, _ = users
    image = png(4, 4)
    r = await me.upload("public", "holiday photo.png", image)
    assert r.status_code == 201, r.text
    upload = r.json()["upload"]
    assert (upload["mime_type"], upload["extension"], upload["size_bytes"]) == ("image/png", "png", len(image))
    assert upload["sha256"] == hashlib.sha256(image).hexdigest()
    assert upload["storage_type"] == "public"
    anonymous = await edge.get(upload["url"])  # the API download needs no sign-in
    assert (anonymous.status_code, anonymous.content) == (200, image)
    assert anonymous.headers["content-type"] == "image/png"
    static = await edge.get(upload["public_url"])  # nginx, from disk
    assert (static.status_code, static.content) == (200, image)
    assert static.headers["cache-control"] == "public, max-age=2592000, immutable"
    assert (await edge.get(f"/api/v1/upload/download/public/{uuid.uuid4()}")).status_code == 404
    assert (await edge.get("/api/v1/upload/download/public/not-a-uuid")).status_code in (400, 404)


async def test_private_files_only_reach_their_owner(edge: httpx.AsyncClient, users: tuple[User, User]) -> None:
    me, other = users
    r = await me.upload("private", "statement.pdf", PDF)
    assert r.status_code == 201, r.text
    upload = r.json()["upload"]
    assert upload["mime_type"] == "application/pdf"
    assert "public_url" not in upload
    mine = await me.call("GET", upload["url"])
    assert (mine.status_code, mine.content) == (200, PDF)
    assert mine.headers["content-disposition"].startswith("attachment;")
    assert (await other.call("GET", upload["url"])).status_code == 404
    assert (await edge.get(upload["url"])).status_code == 401
    assert (await edge.get(f"/api/v1/upload/download/public/{upload['uuid']}")).status_code == 404
    assert (await other.call("DELETE", f"/api/v1/upload/{upload['uuid']}")).status_code == 404
    listed = (await me.call("GET", "/api/v1/upload/user")).json()["uploads"]
    assert upload["uuid"] in [u["uuid"] for u in listed]
    assert upload["uuid"] not in [u["uuid"] for u in (await other.call("GET", "/api/v1/upload/user")).json()["uploads"]]


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("photo.png", PDF, "is not a .png file"),
        ("notes.txt", EXE, "is not a .txt file"),
        ("report.pdf", EXE, "is not a .pdf file"),
        ("tool.exe", EXE, "Invalid file extension: 'exe'"),
        ("README", b"hello", "Invalid file name"),
        ("empty.txt", b"", "Empty file"),
        ("drawing.svg", b"just text, no picture", "is not a .svg file"),
    ],
)
async def test_content_that_does_not_match_an_allowed_type_is_refused_whatever_its_name(
    users: tuple[User, User], name: str, data: bytes, message: str
) -> None:
    me, _ = users
    r = await me.upload("public", name, data)
    assert r.status_code == 400, r.text
    assert message in r.json()["message"]


async def test_malformed_requests_get_clear_errors(edge: httpx.AsyncClient, users: tuple[User, User]) -> None:
    me, _ = users
    assert (await edge.post("/api/v1/upload/public", files={"file": ("a.txt", b"x")})).status_code == 401
    r = await me.call("POST", "/api/v1/upload/public", json={"file": "a.txt"})
    assert r.status_code == 415
    r = await me.call("POST", "/api/v1/upload/public", data={"field": "value"}, files={})
    assert r.status_code in (400, 415)
    no_file = await me.call(
        "POST",
        "/api/v1/upload/public",
        content=b'--b\r\nContent-Disposition: form-data; name="f"\r\n\r\nv\r\n--b--\r\n',
        headers={"content-type": "multipart/form-data; boundary=b"},
    )
    assert (no_file.status_code, no_file.json()["message"]) == (400, "No file data received")
    broken = await me.call(
        "POST",
        "/api/v1/upload/public",
        content=b"garbage without boundaries",
        headers={"content-type": "multipart/form-data; boundary=b"},
    )
    assert broken.status_code == 400


async def test_multiple_uploads_succeed_or_fail_one_by_one(users: tuple[User, User]) -> None:
    me, _ = users
    files = [("f", ("a.txt", b"alpha\n")), ("f", ("b.png", png())), ("f", ("c.png", PDF))]
    r = await me.edge.post("/api/v1/upload/multiple", files=files, headers=me.headers)
    assert r.status_code == 201, r.text
    body = r.json()
    assert [u["original_name"] for u in body["uploads"]] == ["a.txt", "b.png"]
    assert [f["filename"] for f in body["failed"]] == ["c.png"]
    assert all(u["storage_type"] == "public" for u in body["uploads"])


async def test_limits_come_from_the_environment(users: tuple[User, User]) -> None:
    me, _ = users
    limited = {
        "UPLOAD_MAX_FILE_SIZE": "2048",
        "UPLOAD_MAX_FILES": "2",
        "UPLOAD_ALLOWED_TYPES": "png,txt",
        "UPLOAD_MAX_CHUNKS": "3",
        "UPLOAD_MAX_OPEN_SESSIONS": "1",
    }
    async with restarted("svc-files", limited):
        too_big = await me.upload("public", "big.txt", b"x" * 3000)
        assert too_big.status_code == 413
        assert "File too large" in too_big.json()["message"]
        assert (await me.upload("public", "doc.pdf", PDF)).json()["message"].startswith("Invalid file extension")
        files = [("f", (f"{i}.txt", b"ok\n")) for i in range(3)]
        r = await me.edge.post("/api/v1/upload/multiple", files=files, headers=me.headers)
        assert len(r.json()["uploads"]) == 2
        assert r.json()["failed"] == [{"filename": "remaining files", "error": "Maximum 2 files per upload exceeded"}]
        start = await me.call(
            "POST",
            "/api/v1/upload/chunked/start",
            json={"filename": "x.txt", "total_chunks": 1, "total_size": 4096, "storage_type": "private"},
        )
        assert start.status_code == 413
        chunked = {"filename": "x.txt", "total_size": 1024, "storage_type": "private"}
        many = await me.call("POST", "/api/v1/upload/chunked/start", json={**chunked, "total_chunks": 4})
        assert many.json()["errors"] == {"total_chunks": ["At most 3 chunks"]}
        one = await me.call("POST", "/api/v1/upload/chunked/start", json={**chunked, "total_chunks": 3})
        assert one.status_code == 201, one.text
        two = await me.call("POST", "/api/v1/upload/chunked/start", json={**chunked, "total_chunks": 3})
        assert two.status_code == 409, "one open session at a time"


async def test_deleting_a_file_removes_it_everywhere(edge: httpx.AsyncClient, users: tuple[User, User]) -> None:
    me, _ = users
    upload = (await me.upload("public", "gone.txt", b"soon gone\n")).json()["upload"]
    assert (await me.call("DELETE", f"/api/v1/upload/{upload['uuid']}")).status_code == 200
    assert (await edge.get(upload["url"])).status_code == 404
    assert (await edge.get(upload["public_url"])).status_code == 404
    assert (await me.call("DELETE", f"/api/v1/upload/{upload['uuid']}")).status_code == 404


def files_rss() -> tuple[int, int]:
    """(current, peak) resident memory of the files service, in bytes."""
    pid = int((ENV.var / "run" / "svc-files.pid").read_text().split()[0])
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) * 1024, int(fields["VmHWM"].split()[0]) * 1024


def drop_mid_chunk(path: str, headers: dict[str, str], body: bytes) -> None:
    """Sends a chunk's headers and half its body over TLS, then the connection drops."""
    context = ssl.create_default_context(cafile=CERT)
    with (
        socket.create_connection(("127.0.0.1", 443)) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as s,
    ):
        head = f"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {len(body)}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        s.sendall(head.encode() + body[: len(body) // 2])


async def test_a_100_mb_chunked_upload_interrupted_half_way_resumes_and_completes_verified(
    edge: httpx.AsyncClient, users: tuple[User, User]
) -> None:
    me, other = users
    size, chunk = 100 * MiB, 4 * MiB
    data = b"\x1f\x8b\x08\x00" + os.urandom(size - 4)  # a gzip header, then noise
    digest = hashlib.sha256(data).hexdigest()
    chunks = [data[i : i + chunk] for i in range(0, size, chunk)]
    start = await me.call(
        "POST",
        "/api/v1/upload/chunked/start",
        json={
            "filename": "backup.gz",
            "total_chunks": len(chunks),
            "total_size": size,
            "storage_type": "private",
            "sha256": digest,
        },
    )
    assert start.status_code == 201, start.text
    session = start.json()["session_uuid"]
    base = f"/api/v1/upload/chunked/{session}"
    _, peak_before = files_rss()
    half = len(chunks) // 2
    for index in range(half):
        r = await me.call("POST", f"{base}/chunk/{index}", content=chunks[index])
        assert r.status_code == 200, r.text
    await asyncio.to_thread(drop_mid_chunk, f"{base}/chunk/{half}", me.headers, chunks[half])
    await asyncio.sleep(1)
    status = (await me.call("GET", base)).json()
    assert status["received_chunks"] == half, "the dropped chunk is not kept"
    assert (status["received"], status["missing"]) == ([[0, half - 1]], [[half, len(chunks) - 1]])
    assert (await other.call("GET", base)).status_code == 404
    assert (await other.call("POST", f"{base}/chunk/{half}", content=b"x")).status_code == 404
    early = await me.call("POST", f"{base}/complete")
    assert early.status_code == 409
    assert "Missing chunks" in early.json()["message"]
    missing = [i for first, last in status["missing"] for i in range(first, last + 1)]
    for index in missing:  # resume: only what is missing
        r = await me.call("POST", f"{base}/chunk/{index}", content=chunks[index])
        assert r.status_code == 200, r.text
    assert r.json()["complete"] is True
    done = await me.call("POST", f"{base}/complete")
    assert done.status_code == 201, done.text
    upload = done.json()["upload"]
    assert (upload["sha256"], upload["size_bytes"], upload["mime_type"]) == (digest, size, "application/gzip")
    _, peak_after = files_rss()
    print(f"files service peak RSS: {peak_before / MiB:.1f} MiB before, {peak_after / MiB:.1f} MiB after")
    assert peak_after < 200 * MiB, f"memory stays bounded: peak RSS {peak_after / MiB:.1f} MiB"
    assert (await me.call("GET", base)).status_code == 404, "the session ends with the upload"
    sha = hashlib.sha256()
    async with edge.stream("GET", upload["url"], headers=me.headers) as download:
        assert download.status_code == 200
        async for piece in download.aiter_bytes():
            sha.update(piece)
    assert sha.hexdigest() == digest


async def test_chunked_upload_errors(users: tuple[User, User]) -> None:
    me, _ = users

    async def start(**overrides: Any) -> httpx.Response:
        body = {"filename": "n.txt", "total_chunks": 2, "total_size": 10, "storage_type": "private", **overrides}
        return await me.call("POST", "/api/v1/upload/chunked/start", json=body)

    assert (await start(storage_type="cloud")).status_code == 400
    assert (await start(filename="n.exe")).status_code == 400
    assert (await start(total_size=0)).status_code == 400
    assert (await start(total_chunks=1, total_size=100 * MiB)).status_code == 400, "chunks bigger than allowed"
    assert (await start(sha256="nothex")).status_code == 400
    assert (await start(unknown=1)).status_code == 400
    wrong = (await start(sha256="0" * 64)).json()["session_uuid"]
    base = f"/api/v1/upload/chunked/{wrong}"
    assert (await me.call("POST", f"{base}/chunk/2", content=b"12345")).status_code == 400
    await me.call("POST", f"{base}/chunk/0", content=b"hello")
    await me.call("POST", f"{base}/chunk/1", content=b"world")
    mismatch = await me.call("POST", f"{base}/complete")
    assert (mismatch.status_code, "Checksum mismatch" in mismatch.json()["message"]) == (422, True)
    assert (await me.call("DELETE", base)).status_code == 200
    assert (await me.call("GET", base)).status_code == 404
    assert (await me.call("DELETE", base)).status_code == 404


async def test_avatars(users: tuple[User, User]) -> None:
    me, other = users
    first = await me.upload("avatar", "me.png", png(2, 2))
    assert first.status_code == 201, first.text
    avatar = first.json()["upload"]
    assert avatar["url"] == f"/api/v1/avatar/{avatar['uuid']}"
    got = await me.call("GET", avatar["url"])
    assert (got.status_code, got.content, got.headers["content-type"]) == (200, png(2, 2), "image/png")
    assert (await other.call("GET", avatar["url"])).status_code == 404
    assert (await me.upload("avatar", "me.pdf", PDF)).status_code == 400
    assert (await me.upload("avatar", "fake.png", PDF)).status_code == 400
    second = (await me.upload("avatar", "me2.png", png(3, 3))).json()["upload"]
    assert (await me.call("GET", avatar["url"])).status_code == 404, "the previous one is gone"
    assert (await me.call("GET", "/api/v1/avatar")).content == png(3, 3)
    assert (await me.call("GET", "/api/v1/avatar/info")).json()["upload"]["uuid"] == second["uuid"]
    await profile_shows(me, second["url"])  # files → set_avatar command → users
    assert (await me.call("DELETE", "/api/v1/upload/avatar")).status_code == 200
    assert (await me.call("DELETE", "/api/v1/upload/avatar")).status_code == 404
    assert (await me.call("GET", "/api/v1/avatar")).status_code == 404
    await profile_shows(me, None)


async def test_avatars_uploaded_at_once_leave_one_avatar(users: tuple[User, User]) -> None:
    """Each upload replaces the one before it, also side by side: no earlier one stays behind (a
    file on disk and a row the owner can neither see in their list nor delete)."""
    me, _ = users
    sent = await asyncio.gather(*(me.upload("avatar", f"me{i}.png", png(i + 1, 1)) for i in range(4)))
    assert all(r.status_code == 201 for r in sent), [r.text for r in sent]
    current = (await me.call("GET", "/api/v1/avatar/info")).json()["upload"]["uuid"]
    kept = [
        r.json()["upload"]["uuid"] for r in sent if (await me.call("GET", r.json()["upload"]["url"])).status_code == 200
    ]
    assert kept == [current]


async def test_a_chunked_upload_completed_twice_at_once_is_one_file(users: tuple[User, User]) -> None:
    me, _ = users
    data = b"twice\n" * (3 * MiB // 6)
    start = await me.call(
        "POST",
        "/api/v1/upload/chunked/start",
        json={"filename": "twice.txt", "total_chunks": 3, "total_size": len(data), "storage_type": "private"},
    )
    base = f"/api/v1/upload/chunked/{start.json()['session_uuid']}"
    for i in range(3):
        assert (await me.call("POST", f"{base}/chunk/{i}", content=data[i * MiB : (i + 1) * MiB])).status_code == 200
    answers = await asyncio.gather(
        me.call("POST", f"{base}/complete"), me.call("POST", f"{base}/complete"), me.call("DELETE", base)
    )
    codes = sorted(r.status_code for r in answers)
    assert codes in ([200, 404, 404], [201, 404, 404]), [r.text for r in answers]
    mine = (await me.call("GET", "/api/v1/upload/user")).json()["uploads"]
    assert len([u for u in mine if u["original_name"] == "twice.txt"]) == (1 if 201 in codes else 0)


async def profile_shows(user: User, avatar_url: str | None) -> None:
    deadline = time.monotonic() + 30
    while (await user.call("GET", "/api/v1/user")).json()["user"]["avatar_url"] != avatar_url:
        assert time.monotonic() < deadline, f"the profile never showed avatar_url={avatar_url}"
        await asyncio.sleep(0.2)


async def test_deleting_a_user_erases_their_files(edge: httpx.AsyncClient, users: tuple[User, User]) -> None:
    me, _ = users
    public = (await me.upload("public", "mine.txt", b"personal\n")).json()["upload"]
    await me.upload("private", "mine.pdf", PDF)
    assert (await me.call("DELETE", f"/api/v1/user/{me.id}")).status_code == 200
    deadline = time.monotonic() + 30
    async with await psycopg.AsyncConnection.connect(ENV.database_url("files"), autocommit=True) as conn:
        while True:
            row = await (await conn.execute("SELECT count(*) FROM uploads WHERE user_id = %s", (me.id,))).fetchone()
            if row and row[0] == 0:
                break
            assert time.monotonic() < deadline, "files of a deleted user remain"
            await asyncio.sleep(0.2)
    assert (await edge.get(public["public_url"])).status_code == 404
