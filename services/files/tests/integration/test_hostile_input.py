"""Hostile input on every files route (issue #17, item 6): control characters, paths and absurd
lengths in file names, huge numbers in paths and bodies, ids that are not UUIDs, broken multipart
bodies, unbounded listings — each a 4xx in the API's one error shape (with a field error where a
field is at fault), never a 500, and nothing stored or left behind on disk."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from blazing_testing import stack_env

if TYPE_CHECKING:
    from conftest import User

pytestmark = pytest.mark.integration
TMP = stack_env().var / "storage" / "tmp"
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000002000000020802000000fdd49a730000001049444154789c63f8cfc000440c100a"
    "001fee03fd8b5f14d40000000049454e44ae426082"
)
HUGE = ["9223372036854775808", "18446744073709551616", "15236270236553154560", "1" + "0" * 40]


def refused(r: httpx.Response, status: int = 400, field: str | None = None) -> dict[str, Any]:
    """The one error shape; with ``field``, a validation error naming it."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json"), r.headers
    body: dict[str, Any] = r.json()
    assert body["status"] == "error", body
    assert isinstance(body["message"], str)
    if field is not None:
        assert body["message"] == "Validation failed", body
        assert field in body["errors"], body
    return body


def multipart(filename: bytes, data: bytes, boundary: bytes = b"b", *, close: bool = True) -> bytes:
    """A multipart body with one file part whose name is sent exactly as given (no client escaping)."""
    body = b"--" + boundary + b'\r\nContent-Disposition: form-data; name="file"; filename="' + filename + b'"\r\n'
    body += b"Content-Type: application/octet-stream\r\n\r\n" + data
    return body + (b"\r\n--" + boundary + b"--\r\n" if close else b"")


async def post_raw(user: User, route: str, body: bytes, content_type: str = "multipart/form-data; boundary=b") -> Any:
    return await user.call("POST", f"/api/v1/upload/{route}", content=body, headers={"content-type": content_type})


def leftovers() -> set[str]:
    return {p.name for p in TMP.iterdir()}


async def nothing_left_behind(before: set[str]) -> None:
    """No temporary file of a refused upload stays in tmp/ (one that vanishes within a moment was
    someone else's upload in flight)."""
    if new := leftovers() - before:
        await asyncio.sleep(2)
        assert not new & leftovers(), "a refused upload left a temporary file behind"


async def uploads_of(user: User) -> int:
    r = await user.call("GET", "/api/v1/upload/user?limit=100")
    assert r.status_code == 200, r.text
    total: int = r.json()["total"]
    return total


BAD_NAMES = {
    "nul": b"a\x00b.txt",
    "escape": b"a\x1b[31mred.txt",
    "delete": b"a\x7f.txt",
    "tab": b"a\tb.txt",
    "unit separator": b"a\x1fb.txt",
    "traversal": b"../../x.txt",
    "absolute": b"/etc/cron.d/x.txt",
    "backslashes": b"..\\..\\windows\\x.txt",
    "drive": b"C:\\x.txt",
    "300 characters": b"n" * 296 + b".txt",
    "not utf-8": b"\xff\xfe.txt",
}


@pytest.mark.parametrize("route", ["public", "private", "avatar"])
@pytest.mark.parametrize("name", BAD_NAMES.values(), ids=BAD_NAMES.keys())
async def test_file_names_that_are_not_plain_names_are_refused(
    shared_users: tuple[User, User], route: str, name: bytes
) -> None:
    me, _ = shared_users
    before, stored = leftovers(), await uploads_of(me)
    data = PNG if route == "avatar" else b"hello\n"
    name = name.replace(b".txt", b".png") if route == "avatar" else name
    refused(await post_raw(me, route, multipart(name, data)), field="filename")
    assert await uploads_of(me) == stored
    await nothing_left_behind(before)


async def test_a_name_of_ten_thousand_characters_is_refused(shared_users: tuple[User, User]) -> None:
    me, _ = shared_users
    stored = await uploads_of(me)
    for route in ("public", "private", "avatar", "multiple"):
        refused(await post_raw(me, route, multipart(b"n" * 10_000 + b".txt", b"hello\n")))
    assert await uploads_of(me) == stored


async def test_bad_names_in_a_multiple_upload_fail_alone(shared_users: tuple[User, User]) -> None:
    me, _ = shared_users
    body = b"--b\r\n" + b'Content-Disposition: form-data; name="f"; filename="ok.txt"\r\n\r\nfine\r\n'
    bad = [*list(BAD_NAMES.values())[:8], BAD_NAMES["not utf-8"]]  # with ok.txt, the 10 files a request may carry
    for name in bad:
        body += b'--b\r\nContent-Disposition: form-data; name="f"; filename="' + name + b'"\r\n\r\nbad\r\n'
    r = await post_raw(me, "multiple", body + b"--b--\r\n")
    assert r.status_code == 201, r.text
    assert [u["original_name"] for u in r.json()["uploads"]] == ["ok.txt"]
    assert len(r.json()["failed"]) == len(bad)
    assert all("File name" in f["error"] for f in r.json()["failed"]), r.json()["failed"]


async def test_a_multiple_upload_where_every_file_fails_answers_the_error_shape(
    shared_users: tuple[User, User],
) -> None:
    me, _ = shared_users
    r = await me.edge.post(
        "/api/v1/upload/multiple", files=[("f", ("a.txt", b"")), ("f", ("b.exe", b"MZ"))], headers=me.headers
    )
    body = refused(r)
    assert [f["filename"] for f in body["failed"]] == ["a.txt", "b.exe"]


MP = "multipart/form-data; boundary=b"
FIELD = b'--b\r\nContent-Disposition: form-data; name="f"'
BROKEN = {
    "no boundary": ("multipart/form-data", multipart(b"a.txt", b"hi")),
    "empty boundary": ("multipart/form-data; boundary=", multipart(b"a.txt", b"hi")),
    "quoted empty boundary": ('multipart/form-data; boundary=""', multipart(b"a.txt", b"hi")),
    "another boundary": ("multipart/form-data; boundary=zz", multipart(b"a.txt", b"hi")),
    "a long boundary": ("multipart/form-data; boundary=" + "x" * 200, multipart(b"a.txt", b"hi")),
    "garbage": (MP, b"garbage without boundaries"),
    "empty body": (MP, b""),
    "no file part": (MP, FIELD + b"\r\n\r\nv\r\n--b--\r\n"),
    "only the closing boundary": (MP, b"--b--\r\n"),
    "empty file": (MP, multipart(b"a.txt", b"")),
    "cut off before the end": (MP, multipart(b"a.txt", b"hello", close=False)),
    "cut off in the headers": (MP, b"--b\r\nContent-Disposition: form-data; na"),
    "no filename": (MP, FIELD + b'; filename=""\r\n\r\nhi\r\n--b--\r\n'),
    "no content-disposition": (MP, b"--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b--\r\n"),
}


@pytest.mark.parametrize("route", ["public", "private", "avatar", "multiple"])
@pytest.mark.parametrize(("content_type", "body"), BROKEN.values(), ids=BROKEN.keys())
async def test_broken_multipart_bodies_are_refused(
    shared_users: tuple[User, User], route: str, content_type: str, body: bytes
) -> None:
    me, _ = shared_users
    before, stored = leftovers(), await uploads_of(me)
    refused(await post_raw(me, route, body, content_type))
    assert await uploads_of(me) == stored
    await nothing_left_behind(before)


async def test_a_cut_off_last_part_fails_the_whole_multiple_upload(shared_users: tuple[User, User]) -> None:
    me, _ = shared_users
    body = b'--b\r\nContent-Disposition: form-data; name="f"; filename="a.txt"\r\n\r\nfine\r\n'
    body += b'--b\r\nContent-Disposition: form-data; name="f"; filename="b.txt"\r\n\r\nno end'
    before, stored = leftovers(), await uploads_of(me)
    refused(await post_raw(me, "multiple", body))
    assert await uploads_of(me) == stored
    await nothing_left_behind(before)


async def test_form_fields_beside_the_file_are_ignored_whatever_they_hold(shared_users: tuple[User, User]) -> None:
    me, _ = shared_users
    body = b'--b\r\nContent-Disposition: form-data; name="x"\r\n\r\n\x00\x1b\r\xff\r\n' + multipart(b"a.txt", b"hi\n")
    r = await post_raw(me, "public", body)
    assert r.status_code == 201, r.text
    assert r.json()["upload"]["original_name"] == "a.txt"


NOT_UUIDS = ["not-a-uuid", "123", "0" * 40, "%20", "..", "00000000-0000-0000-0000-00000000000g"]


@pytest.mark.parametrize("bad", NOT_UUIDS)
async def test_ids_that_are_not_uuids_are_a_json_4xx_on_every_route(shared_users: tuple[User, User], bad: str) -> None:
    me, _ = shared_users
    for method, path in [
        ("GET", f"/api/v1/upload/download/public/{bad}"),
        ("GET", f"/api/v1/upload/private/{bad}"),
        ("DELETE", f"/api/v1/upload/{bad}"),
        ("GET", f"/api/v1/avatar/{bad}"),
        ("GET", f"/api/v1/upload/chunked/{bad}"),
        ("DELETE", f"/api/v1/upload/chunked/{bad}"),
        ("POST", f"/api/v1/upload/chunked/{bad}/complete"),
        ("POST", f"/api/v1/upload/chunked/{bad}/chunk/0"),
    ]:
        r = await me.call(method, path, content=b"x" if method == "POST" else None)
        assert 400 <= r.status_code < 500, (method, path, r.status_code)
        assert r.json()["status"] == "error", (method, path, r.text)


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=101",
        "limit=-1",
        "limit=abc",
        "limit=1.5",
        "offset=-1",
        "offset=abc",
        *(f"offset={n}" for n in HUGE),
        *(f"limit={n}" for n in HUGE),
    ],
)
async def test_listing_queries_out_of_range_are_field_errors(shared_users: tuple[User, User], query: str) -> None:
    me, _ = shared_users
    refused(await me.call("GET", f"/api/v1/upload/user?{query}"), field=query.partition("=")[0])


async def test_the_listing_is_paginated_with_a_total(users: tuple[User, User]) -> None:
    me, _ = users
    for i in range(3):
        assert (await me.upload("private", f"{i}.txt", b"x\n")).status_code == 201
    first = (await me.call("GET", "/api/v1/upload/user?limit=2")).json()
    assert (len(first["uploads"]), first["total"], first["limit"], first["offset"]) == (2, 3, 2, 0)
    rest = (await me.call("GET", "/api/v1/upload/user?limit=2&offset=2")).json()
    assert (len(rest["uploads"]), rest["total"]) == (1, 3)
    assert [u["original_name"] for u in first["uploads"] + rest["uploads"]] == ["2.txt", "1.txt", "0.txt"]
    assert (await me.call("GET", "/api/v1/upload/user?offset=1000000")).json()["uploads"] == []


# ---------------------------------------------------------------------------------------- chunked


async def start(user: User, **overrides: Any) -> httpx.Response:
    body = {"filename": "n.txt", "total_chunks": 2, "total_size": 10, "storage_type": "private", **overrides}
    return await user.call("POST", "/api/v1/upload/chunked/start", json=body)


@pytest.fixture
async def session(shared_users: tuple[User, User]) -> AsyncIterator[str]:
    """A chunked upload session of the module's first user, cancelled afterwards (open ones are capped)."""
    me, _ = shared_users
    r = await start(me)
    assert r.status_code == 201, r.text
    yield r.json()["session_uuid"]
    await me.call("DELETE", f"/api/v1/upload/chunked/{r.json()['session_uuid']}")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("filename", "a\u0000.txt"),
        ("filename", "a\nb.txt"),
        ("filename", "a\u001b.txt"),
        ("filename", "../../x.txt"),
        ("filename", "/abs/x.txt"),
        ("filename", "..\\x.txt"),
        ("filename", "n" * 10_000 + ".txt"),
        ("filename", ""),
        ("filename", "x.exe"),
        ("filename", "noextension"),
        ("storage_type", "cloud"),
        ("storage_type", "pub\u0000lic"),
        ("total_chunks", 0),
        ("total_chunks", -1),
        ("total_chunks", 2**63),
        ("total_chunks", 2**64),
        ("total_chunks", 10**40),
        ("total_chunks", 1.5),
        ("total_chunks", "2"),
        ("total_size", 0),
        ("total_size", -5),
        ("total_size", True),
        ("sha256", "nothex"),
        ("sha256", "\u0000" * 64),
        ("sha256", "A" * 64),
    ],
)
async def test_chunked_start_fields_are_validated(shared_users: tuple[User, User], field: str, value: Any) -> None:
    me, _ = shared_users
    refused(await start(me, **{field: value}), field=field)


@pytest.mark.parametrize("size", [2**63, 2**64, 10**40])
async def test_a_huge_declared_size_is_too_large(shared_users: tuple[User, User], size: int) -> None:
    me, _ = shared_users
    refused(await start(me, total_size=size), status=413)


async def test_every_missing_start_field_is_reported_at_once(shared_users: tuple[User, User]) -> None:
    me, _ = shared_users
    r = await me.call("POST", "/api/v1/upload/chunked/start", json={})
    body = refused(r, field="filename")
    assert set(body["errors"]) >= {"filename", "total_chunks", "total_size", "storage_type"}


@pytest.mark.parametrize("index", [*HUGE, "-1", "2", "-9223372036854775809"])
async def test_chunk_indexes_out_of_range_are_refused_before_the_body_is_read(
    shared_users: tuple[User, User], session: str, index: str
) -> None:
    me, _ = shared_users
    r = await me.call("POST", f"/api/v1/upload/chunked/{session}/chunk/{index}", content=b"hello")
    refused(r, field="index")
    assert (await me.call("GET", f"/api/v1/upload/chunked/{session}")).json()["received_chunks"] == 0


@pytest.mark.parametrize("index", ["abc", "1e3", "0x1", "1.0", "%00"])
async def test_chunk_indexes_that_are_not_integers_are_a_json_4xx(
    shared_users: tuple[User, User], session: str, index: str
) -> None:
    me, _ = shared_users
    r = await me.call("POST", f"/api/v1/upload/chunked/{session}/chunk/{index}", content=b"hello")
    assert 400 <= r.status_code < 500, r.text
    assert r.json()["status"] == "error"


async def test_an_empty_chunk_is_refused(shared_users: tuple[User, User], session: str) -> None:
    me, _ = shared_users
    refused(await me.call("POST", f"/api/v1/upload/chunked/{session}/chunk/0", content=b""))


async def test_another_users_or_an_unknown_session_is_not_found(shared_users: tuple[User, User], session: str) -> None:
    _, other = shared_users
    for path in (f"/api/v1/upload/chunked/{session}", f"/api/v1/upload/chunked/{uuid.uuid4()}"):
        refused(await other.call("GET", path), status=404)
        refused(await other.call("POST", f"{path}/chunk/0", content=b"hello"), status=404)
        refused(await other.call("POST", f"{path}/complete"), status=404)
        refused(await other.call("DELETE", path), status=404)
