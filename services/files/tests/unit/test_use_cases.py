"""The files use cases on the in-memory fakes — every upload rule, chunk bounds and ranges,
ownership, avatars and what the users service is told, erasure — no server."""

from __future__ import annotations

import asyncio
import hashlib
import re
import uuid
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from blazing_app import BadInput, Conflict, Invalid, NotFound, Refused
from blazing_es.memory import TablesDatabase
from files.adapters.memory import FilesTables, InMemoryFilesUnitOfWork, InMemoryUploads, MemoryStorage, MemoryUsers
from files.application.chunked import ChunkedUploads, Housekeeping
from files.application.erasure import EraseUserFiles
from files.application.ports import Received, TooLarge, Upload
from files.application.uploads import NothingUploaded, Uploading, UploadQueries
from files.domain.uploads import ChunkPlan, Limits

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00"
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
ALLOWED = frozenset({"png", "jpg", "pdf", "txt", "csv"})
LIMITS = Limits(
    max_file_size=1_000,
    max_files=3,
    allowed_types=ALLOWED,
    max_chunk_size=100,
    max_chunks=20,
    max_open_sessions=2,
    avatar_max_size=500,
    chunk_session_hours=24,
)


class Clock:
    """A minute apart per reading: every record has its own time, in order."""

    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class Files:
    def __init__(self, limits: Limits = LIMITS) -> None:
        self.db = TablesDatabase(tables=FilesTables())
        self.storage = MemoryStorage()
        self.users = MemoryUsers()
        self.clock = Clock()

        def uow() -> InMemoryFilesUnitOfWork:
            return InMemoryFilesUnitOfWork(self.db)

        self.uploading = Uploading(uow, self.storage, self.users, limits, self.clock)
        self.chunked = ChunkedUploads(self.uploading)
        self.queries = UploadQueries(uow, self.storage)
        self.erase = EraseUserFiles(uow, "files.user-events", storage=self.storage)
        self.housekeeping = Housekeeping(uow, self.storage, self.clock)
        self.me, self.other = uuid.uuid4(), uuid.uuid4()

    def file(self, name: str | None, data: bytes) -> Received:
        """A file part as the multipart reader gives it: its bytes already in temporary storage."""
        return Received(name, self.storage.write(data))

    @property
    def temporary(self) -> dict[str, bytes]:
        return self.storage.under("tmp/")


@pytest.fixture
def files() -> Files:
    return Files()


async def test_a_file_is_stored_as_its_bytes_say_and_shown_with_its_address(files: Files) -> None:
    private = await files.uploading.single(files.me, [files.file("scan.PDF", PDF)], "private")
    assert (private.original_name, private.extension, private.mime_type) == ("scan.PDF", "pdf", "application/pdf")
    assert (private.size_bytes, private.storage_type) == (len(PDF), "private")
    assert private.url == f"/api/v1/upload/private/{private.uuid}"
    public = await files.uploading.single(files.me, [files.file("a b(1).png", PNG)], "public")
    assert public.url == f"/api/v1/upload/download/public/{public.uuid}"
    assert isinstance(public.public_url, str)
    assert public.public_url.startswith("/storage/")
    stored = files.storage.under("public/")
    assert list(stored.values()) == [PNG]
    assert public.public_url == "/storage/" + next(iter(stored)).removeprefix("public/")
    assert files.temporary == {}, "nothing is left in temporary storage"


async def test_the_private_view_has_no_public_url(files: Files) -> None:
    private = await files.uploading.single(files.me, [files.file("scan.pdf", PDF)], "private")
    assert "public_url" not in msgspec.json.decode(msgspec.json.encode(private))


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("photo.png", PDF, "The content (application/pdf) is not a .png file"),
        ("notes.txt", b"\x00\x01binary", "The content is not a .txt file"),
        ("run.exe", b"MZ", "Invalid file extension: 'exe'. Allowed types: csv, jpg, pdf, png, txt"),
        ("noextension", PNG, "Invalid file name: it needs an extension"),
        ("empty.txt", b"", "Empty file"),
    ],
)
async def test_content_that_is_not_what_it_claims_is_refused_and_nothing_kept(
    files: Files, name: str, data: bytes, message: str
) -> None:
    with pytest.raises(BadInput, match=f"^{re.escape(message)}$"):
        await files.uploading.single(files.me, [files.file(name, data)], "public")
    assert files.storage.files == {}
    assert files.db.tables.uploads == {}


async def test_a_single_upload_needs_one_file_with_a_name_that_can_be_kept(files: Files) -> None:
    with pytest.raises(BadInput, match="No file data received"):
        await files.uploading.single(files.me, [], "public")
    with pytest.raises(TooLarge, match="more than"):
        await files.uploading.single(files.me, [Received("big.pdf", None, "File too large: more than 1 MB")], "public")
    with pytest.raises(BadInput, match="No filename provided"):
        await files.uploading.single(files.me, [files.file("", PDF)], "public")
    for name, problem in [
        ("../etc/passwd.txt", "File name must not contain a path (/ or \\)"),
        ("C:\\x.txt", "File name must not contain a path (/ or \\)"),
        ("a\r\nb.txt", "File name must not contain control characters"),
        ("x" * 252 + ".txt", "File name must be between 1 and 255 characters"),
        ("caf\udce9.txt", "File name must be UTF-8"),
    ]:
        with pytest.raises(Invalid) as refused:
            await files.uploading.single(files.me, [files.file(name, b"text")], "public")
        assert refused.value.errors == {"filename": [problem]}
    assert files.storage.files == {}, "every refused part's temporary file is gone"


async def test_a_multiple_upload_stores_each_file_or_says_why_not(files: Files) -> None:
    parts = [
        files.file("a.txt", b"alpha"),
        files.file("fake.png", PDF),
        Received("huge.pdf", None, "File too large: more than 1 MB"),
        files.file("bad/name.txt", b"x"),
        files.file(None, b"nameless"),
    ]
    stored = await files.uploading.many(files.me, parts, overflow=True)
    assert [u.original_name for u in stored.uploads] == ["a.txt"]
    assert stored.failed == [
        {"filename": "fake.png", "error": "The content (application/pdf) is not a .png file"},
        {"filename": "huge.pdf", "error": "File too large: more than 1 MB"},
        {"filename": "bad/name.txt", "error": "File name must not contain a path (/ or \\)"},
        {"filename": "unknown", "error": "Invalid file name: it needs an extension"},
        {"filename": "remaining files", "error": "Maximum 3 files per upload exceeded"},
    ]
    assert all(u.storage_type == "public" for u in stored.uploads)
    assert files.temporary == {}


async def test_a_multiple_upload_in_which_everything_failed_is_refused_with_the_reasons(files: Files) -> None:
    with pytest.raises(NothingUploaded) as refused:
        await files.uploading.many(files.me, [files.file("x.png", b"not a png")], overflow=False)
    assert refused.value.message == "Uploaded 0 files, 1 failed"
    assert refused.value.details()["uploads"] == []
    with pytest.raises(BadInput, match="No file data received"):
        await files.uploading.many(files.me, [], overflow=False)
    assert files.storage.files == {}


async def test_a_too_large_part_is_named_back_in_json_whatever_bytes_its_name_had(files: Files) -> None:
    """A part over the limit is refused before its name is judged: its name, not UTF-8 (kept as lone
    surrogates by the multipart reader) or overlong, is still named back as JSON can carry it."""
    too_large = "File too large: more than 1 MB"
    parts = [
        files.file("a.txt", b"alpha"),
        Received("caf\udce9.pdf", None, too_large),
        Received("n" * 10_000 + ".pdf", None, too_large),
    ]
    stored = await files.uploading.many(files.me, parts, overflow=False)
    assert stored.failed == [
        {"filename": "caf?.pdf", "error": too_large},
        {"filename": "n" * 255, "error": too_large},
    ]
    msgspec.json.encode(stored)  # what the answer is made of encodes (it raised: a 500)
    with pytest.raises(NothingUploaded) as refused:
        await files.uploading.many(files.me, [Received("\udcff.png", None, too_large)], overflow=False)
    assert msgspec.json.decode(msgspec.json.encode(refused.value.details()))["failed"] == [
        {"filename": "?.png", "error": too_large}
    ]


async def test_another_users_file_is_not_found_for_reading_or_deleting(files: Files) -> None:
    mine = await files.uploading.single(files.me, [files.file("mine.pdf", PDF)], "private")
    upload_id = uuid.UUID(mine.uuid)
    found = await files.queries.private(files.me, upload_id)
    assert found.upload.original_name == "mine.pdf"
    assert found.path == files.storage.path(found.upload.storage_path)
    with pytest.raises(NotFound, match="File not found"):
        await files.queries.private(files.other, upload_id)
    with pytest.raises(NotFound, match="File not found"):
        await files.uploading.delete(files.other, upload_id)
    with pytest.raises(NotFound, match="File not found"):
        await files.queries.public(upload_id)  # a private file is not public
    assert len(files.storage.under("private/")) == 1
    await files.uploading.delete(files.me, upload_id)
    assert files.storage.files == {}
    with pytest.raises(NotFound):
        await files.queries.private(files.me, upload_id)


async def test_a_public_file_is_anyones_to_read_but_only_its_owners_to_delete(files: Files) -> None:
    shared = await files.uploading.single(files.me, [files.file("poster.png", PNG)], "public")
    found = await files.queries.public(uuid.UUID(shared.uuid))
    assert found.upload.mime_type == "image/png"
    with pytest.raises(NotFound):
        await files.uploading.delete(files.other, uuid.UUID(shared.uuid))
    with pytest.raises(NotFound):
        await files.queries.public(uuid.uuid4())


async def test_my_files_newest_first_paged_with_the_total(files: Files) -> None:
    for i in range(3):
        await files.uploading.single(files.me, [files.file(f"{i}.txt", b"text")], "private")
    await files.uploading.single(files.other, [files.file("theirs.txt", b"text")], "private")
    first, total = await files.queries.mine(files.me, 2, 0)
    rest, _ = await files.queries.mine(files.me, 2, 2)
    assert ([u.original_name for u in first + rest], total) == (["2.txt", "1.txt", "0.txt"], 3)
    assert await files.queries.mine(files.me, 10, 1000) == ([], 3)
    assert await files.queries.mine(uuid.uuid4(), 10, 0) == ([], 0)


async def test_an_avatar_replaces_the_last_and_the_users_service_is_told(files: Files) -> None:
    first = await files.uploading.avatar(files.me, [files.file("me.png", PNG)])
    assert first.url == f"/api/v1/avatar/{first.uuid}"
    assert list(files.storage.under("private/profile-pictures/").values()) == [PNG]
    second = await files.uploading.avatar(files.me, [files.file("me2.png", PNG + b"2")])
    assert list(files.storage.under("private/profile-pictures/").values()) == [PNG + b"2"]
    assert files.users.told == [(files.me, first.url), (files.me, second.url)]
    assert (await files.queries.avatar_info(files.me)).uuid == second.uuid
    assert (await files.queries.avatar(files.me)).upload.original_name == "me2.png"
    assert (await files.queries.avatar_by_id(files.me, uuid.UUID(second.uuid))).upload.kind == "avatar"
    with pytest.raises(NotFound, match="Avatar not found"):
        await files.queries.avatar_by_id(files.me, uuid.UUID(first.uuid))
    with pytest.raises(NotFound, match="Avatar not found"):
        await files.queries.avatar_by_id(files.other, uuid.UUID(second.uuid))
    with pytest.raises(NotFound, match="File not found"):
        await files.uploading.delete(files.me, uuid.UUID(second.uuid))  # an avatar is not a file
    await files.uploading.remove_avatar(files.me)
    assert files.users.told[-1] == (files.me, None)
    assert files.storage.files == {}
    with pytest.raises(NotFound, match="No profile picture"):
        await files.queries.avatar(files.me)
    with pytest.raises(NotFound, match="No profile picture"):
        await files.uploading.remove_avatar(files.me)


async def test_an_avatar_is_an_image(files: Files) -> None:
    with pytest.raises(BadInput, match=re.escape("Invalid file extension: 'pdf'. Allowed types: jpg, png")):
        await files.uploading.avatar(files.me, [files.file("me.pdf", PDF)])
    assert files.users.told == []


async def test_no_avatar_at_all_when_no_image_type_is_allowed() -> None:
    """Regression: with no image type allowed, the avatar took any allowed type (an empty set of
    image types fell back to every allowed one)."""
    files = Files(msgspec.structs.replace(LIMITS, allowed_types=frozenset({"pdf"})))
    with pytest.raises(BadInput, match="Invalid file extension: 'pdf'"):
        await files.uploading.avatar(files.me, [files.file("me.pdf", PDF)])
    assert files.storage.files == {}


async def test_an_avatar_stays_when_the_users_service_cannot_be_told(files: Files) -> None:
    files.users.fail = True
    shown = await files.uploading.avatar(files.me, [files.file("me.png", PNG)])
    assert (await files.queries.avatar_info(files.me)).uuid == shown.uuid


async def test_bytes_placed_for_a_record_that_failed_are_removed(files: Files, monkeypatch: pytest.MonkeyPatch) -> None:
    async def refuse(self: InMemoryUploads, upload: Upload) -> None:
        raise ConnectionError("the database went away")

    monkeypatch.setattr(InMemoryUploads, "add", refuse)
    with pytest.raises(ConnectionError):
        await files.uploading.single(files.me, [files.file("a.pdf", PDF)], "public")
    assert files.storage.files == {}


# ---------------------------------------------------------------------------------- chunked uploads


async def chunks(*pieces: bytes):  # type: ignore[no-untyped-def]
    for piece in pieces:
        yield piece


def plan(**fields: object) -> ChunkPlan:
    values: dict[str, object] = {
        "filename": "notes.txt",
        "total_chunks": 3,
        "total_size": 12,
        "storage_type": "private",
    }
    return ChunkPlan(**{**values, **fields})  # type: ignore[arg-type]


async def test_a_chunked_upload_in_any_order_completes_into_one_file(files: Files) -> None:
    data = b"hello, world"
    session = await files.chunked.start(files.me, plan(sha256=hashlib.sha256(data).hexdigest()))
    await files.chunked.chunk(files.me, session, 2, chunks(b"world"))
    state = await files.chunked.chunk(files.me, session, 0, chunks(b"hel", b"lo"))
    assert (state.received, state.missing, state.received_chunks, state.received_bytes) == (
        [[0, 0], [2, 2]],
        [[1, 1]],
        2,
        10,
    )
    assert not state.complete
    state = await files.chunked.chunk(files.me, session, 1, chunks(b", "))
    assert (state.received, state.missing, state.complete) == ([[0, 2]], [], True)
    assert state.expires_at == state.expires_at.astimezone(UTC)
    upload = await files.chunked.complete(files.me, session)
    assert (upload.original_name, upload.mime_type, upload.size_bytes) == ("notes.txt", "text/plain", 12)
    assert upload.sha256 == hashlib.sha256(data).hexdigest()
    assert list(files.storage.under("private/").values()) == [data]
    assert files.storage.under("chunks/") == {}
    assert files.temporary == {}
    with pytest.raises(NotFound, match="Session not found"):
        await files.chunked.status(files.me, session)


async def test_every_field_of_a_start_is_checked_at_once(files: Files) -> None:
    with pytest.raises(Invalid) as refused:
        await files.chunked.start(
            files.me, plan(filename="a/b.txt", storage_type="shared", total_chunks=0, total_size=0, sha256="ABC")
        )
    assert refused.value.errors == {
        "filename": ["File name must not contain a path (/ or \\)"],
        "storage_type": ["Invalid storage type (use 'public' or 'private')"],
        "total_chunks": ["Must be a positive integer"],
        "total_size": ["Must be a positive integer"],
        "sha256": ["Must be 64 lower-case hex digits"],
    }
    with pytest.raises(Invalid) as refused:
        await files.chunked.start(files.me, plan(filename="run.exe"))
    assert refused.value.errors == {
        "filename": ["Invalid file extension: 'exe'. Allowed types: csv, jpg, pdf, png, txt"]
    }


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"total_chunks": 21, "total_size": 1_000}, "total_chunks", "At most 20 chunks"),
        (
            {"total_chunks": 13, "total_size": 12},
            "total_chunks",
            "More chunks than bytes: each chunk holds at least one byte",
        ),
        ({"total_chunks": 2, "total_size": 201}, "total_chunks", "Too few chunks: each may hold at most 100 bytes"),
    ],
)
async def test_a_start_is_bounded_in_chunks(files: Files, fields: dict[str, int], field: str, message: str) -> None:
    with pytest.raises(Invalid) as refused:
        await files.chunked.start(files.me, plan(**fields))
    assert refused.value.errors == {field: [message]}


async def test_a_declared_size_over_the_limit_is_too_large(files: Files) -> None:
    with pytest.raises(TooLarge, match=re.escape("File too large: 0.00 MB (max: 0.00 MB)")):
        await files.chunked.start(files.me, plan(total_chunks=11, total_size=1_001))
    assert await files.chunked.start(files.me, plan(total_chunks=10, total_size=1_000))


async def test_open_sessions_per_user_are_bounded_and_an_ended_one_frees_its_place(files: Files) -> None:
    first = await files.chunked.start(files.me, plan())
    await files.chunked.start(files.me, plan())
    with pytest.raises(
        Conflict, match=re.escape("Too many open chunked uploads (at most 2): complete or cancel one first")
    ):
        await files.chunked.start(files.me, plan())
    assert await files.chunked.start(files.other, plan()), "another user's count is theirs"
    await files.chunked.cancel(files.me, first)
    assert await files.chunked.start(files.me, plan())


async def test_an_expired_session_is_not_found_counts_for_nothing_and_is_swept(files: Files) -> None:
    old = await files.chunked.start(files.me, plan())
    await files.chunked.chunk(files.me, old, 0, chunks(b"abcd"))
    files.clock.advance(hours=24)
    with pytest.raises(NotFound):
        await files.chunked.status(files.me, old)
    with pytest.raises(NotFound):
        await files.chunked.chunk(files.me, old, 1, chunks(b"efgh"))
    live = await files.chunked.start(files.me, plan())
    await files.chunked.start(files.me, plan())  # the expired one left the two places free
    await files.chunked.chunk(files.me, live, 0, chunks(b"abcd"))
    await files.housekeeping()
    assert old not in files.db.tables.sessions
    assert live in files.db.tables.sessions
    assert list(files.storage.under("chunks/")) == [f"chunks/{live}/00000000"]


async def test_another_users_session_is_not_found(files: Files) -> None:
    session = await files.chunked.start(files.me, plan())
    for attempt in (
        files.chunked.status(files.other, session),
        files.chunked.chunk(files.other, session, 0, chunks(b"abcd")),
        files.chunked.complete(files.other, session),
        files.chunked.cancel(files.other, session),
    ):
        with pytest.raises(NotFound, match="Session not found"):
            await attempt
    assert (await files.chunked.status(files.me, session)).received_chunks == 0


@pytest.mark.parametrize("index", [-1, 3, 1_000])
async def test_a_chunk_index_out_of_range_is_refused_before_the_body_is_read(files: Files, index: int) -> None:
    session = await files.chunked.start(files.me, plan())
    read = []

    async def body():  # type: ignore[no-untyped-def]
        read.append(True)
        yield b"abcd"

    with pytest.raises(Invalid) as refused:
        await files.chunked.chunk(files.me, session, index, body())
    assert refused.value.errors == {"index": ["Invalid chunk index: use 0 to 2"]}
    assert read == []


async def test_a_chunk_is_bounded_by_the_chunk_limit_and_the_declared_total(files: Files) -> None:
    big = await files.chunked.start(files.me, plan(total_chunks=5, total_size=500))
    with pytest.raises(TooLarge, match=re.escape("Chunk too large (max: 100 bytes)")):
        await files.chunked.chunk(files.me, big, 0, chunks(b"x" * 60, b"x" * 41))
    small = await files.chunked.start(files.me, plan())
    await files.chunked.chunk(files.me, small, 0, chunks(b"x" * 10))
    over = "The chunks would hold more than the declared total_size of 12 bytes"
    with pytest.raises(TooLarge, match=over):
        await files.chunked.chunk(files.me, small, 1, chunks(b"x" * 3))
    await files.chunked.chunk(files.me, small, 1, chunks(b"x" * 2))
    with pytest.raises(TooLarge, match=over):
        await files.chunked.chunk(files.me, small, 2, chunks(b"x"))  # no room left at all: refused before reading
    state = await files.chunked.chunk(files.me, small, 0, chunks(b"y" * 5))  # a resent chunk replaces the old
    assert (state.received_bytes, state.received_chunks) == (7, 2)
    with pytest.raises(BadInput, match="Empty chunk"):
        await files.chunked.chunk(files.me, small, 2, chunks())
    assert files.temporary == {}


async def test_completion_needs_every_chunk_the_declared_bytes_and_the_declared_hash(files: Files) -> None:
    session = await files.chunked.start(files.me, plan(sha256="0" * 64))
    await files.chunked.chunk(files.me, session, 0, chunks(b"abcd"))
    with pytest.raises(Conflict, match="Missing chunks: received 1 of 3"):
        await files.chunked.complete(files.me, session)
    await files.chunked.chunk(files.me, session, 1, chunks(b"efgh"))
    await files.chunked.chunk(files.me, session, 2, chunks(b"ij"))
    with pytest.raises(Refused, match="Received 10 bytes; the upload declared 12"):
        await files.chunked.complete(files.me, session)
    await files.chunked.chunk(files.me, session, 2, chunks(b"ijkl"))
    with pytest.raises(Refused, match=r"Checksum mismatch: the chunks hash to [0-9a-f]{64}, not 0{64}"):
        await files.chunked.complete(files.me, session)
    assert (await files.chunked.status(files.me, session)).complete, "the session stays, to be fixed"
    assert files.temporary == {}
    assert files.db.tables.uploads == {}


async def test_content_that_is_not_what_the_name_says_fails_completion_and_the_session_stays(files: Files) -> None:
    session = await files.chunked.start(files.me, plan(filename="photo.png", total_chunks=1, total_size=len(PDF)))
    await files.chunked.chunk(files.me, session, 0, chunks(PDF))
    with pytest.raises(BadInput, match=re.escape("The content (application/pdf) is not a .png file")):
        await files.chunked.complete(files.me, session)
    assert (await files.chunked.status(files.me, session)).complete
    assert files.storage.under("private/") == {}


async def test_a_cancelled_upload_leaves_nothing(files: Files) -> None:
    session = await files.chunked.start(files.me, plan())
    await files.chunked.chunk(files.me, session, 0, chunks(b"abcd"))
    await files.chunked.cancel(files.me, session)
    assert files.storage.files == {}
    with pytest.raises(NotFound):
        await files.chunked.cancel(files.me, session)


# ---------------------------------------------------------------------------------- erasure


async def test_erasure_removes_every_file_avatar_and_session_of_the_user_once(files: Files) -> None:
    await files.uploading.single(files.me, [files.file("a.pdf", PDF)], "public")
    await files.uploading.single(files.me, [files.file("b.txt", b"text")], "private")
    await files.uploading.avatar(files.me, [files.file("me.png", PNG)])
    session = await files.chunked.start(files.me, plan())
    await files.chunked.chunk(files.me, session, 0, chunks(b"abcd"))
    theirs = await files.uploading.single(files.other, [files.file("theirs.txt", b"text")], "private")
    event = uuid.uuid4()
    assert await files.erase(event, files.me)
    assert not await files.erase(event, files.me), "the inbox: a redelivery has no second effect"
    assert await files.queries.mine(files.me, 10, 0) == ([], 0)
    with pytest.raises(NotFound):
        await files.queries.avatar(files.me)
    with pytest.raises(NotFound):
        await files.chunked.status(files.me, session)
    assert list(files.storage.files.values()) == [b"text"], "only the other user's bytes remain"
    assert (await files.queries.private(files.other, uuid.UUID(theirs.uuid))).upload.original_name == "theirs.txt"
    assert await files.erase(uuid.uuid4(), files.me), "another event for an erased user finds nothing to do"


# ---------------------------------------------------------------------------------- completion races


def slow_assembly(files: Files, monkeypatch: pytest.MonkeyPatch) -> None:
    """Assembly takes a while, as on disk (a thread): other requests run meanwhile."""
    assemble = files.storage.assemble

    async def slowly(session_id: uuid.UUID, total_chunks: int, head_bytes: int):  # type: ignore[no-untyped-def]
        await asyncio.sleep(0.01)
        return await assemble(session_id, total_chunks, head_bytes)

    monkeypatch.setattr(files.storage, "assemble", slowly)


async def ready_to_complete(files: Files, monkeypatch: pytest.MonkeyPatch) -> uuid.UUID:
    """A session of one chunk, all of it received, whose assembly takes a moment (races meet in it)."""
    slow_assembly(files, monkeypatch)
    session = await files.chunked.start(files.me, plan(total_chunks=1))
    await files.chunked.chunk(files.me, session, 0, chunks(b"hello, world"))
    return session


async def test_a_session_completed_twice_at_once_becomes_one_file(
    files: Files, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = await ready_to_complete(files, monkeypatch)
    outcomes = await asyncio.gather(
        *(files.chunked.complete(files.me, session) for _ in range(3)), return_exceptions=True
    )
    assert sum(not isinstance(o, BaseException) for o in outcomes) == 1, outcomes
    assert all(isinstance(o, NotFound) for o in outcomes if isinstance(o, BaseException)), outcomes
    assert len(files.db.tables.uploads) == 1
    assert list(files.storage.under("private/").values()) == [b"hello, world"]
    assert files.temporary == {}


async def test_a_completion_and_a_cancel_at_once_one_wins_the_other_is_not_found(
    files: Files, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = await ready_to_complete(files, monkeypatch)
    completed, cancelled = await asyncio.gather(
        files.chunked.complete(files.me, session), files.chunked.cancel(files.me, session), return_exceptions=True
    )
    if isinstance(completed, BaseException):  # the cancel came first
        assert isinstance(completed, NotFound), completed
        assert cancelled is None, cancelled
        assert files.db.tables.uploads == {}
    else:  # the completion came first
        assert isinstance(cancelled, NotFound), cancelled
        assert len(files.db.tables.uploads) == 1
    assert files.storage.under("chunks/") == {}
    assert files.temporary == {}
