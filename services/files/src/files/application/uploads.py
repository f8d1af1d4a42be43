"""Storing, listing, serving and deleting a user's files, and the profile picture.

A file's type comes from its bytes (domain/content.py), never from its name; its bytes are placed
before its row is written and removed again when the row is not. Another user's file is simply not
found. The profile picture's address belongs to the users service: it is told through a port, and
when even that fails the file is still right (the failure is logged)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

from blazing_app import BadInput, Invalid, NotFound
from files.application.ports import FileStorage, FilesUnitOfWork, Received, TooLarge, Upload, Users, Written
from files.domain.content import ContentError, identify, safe_name
from files.domain.uploads import IMAGES, MAX_NAME, Kind, Limits, TooLargeError, UploadRefused, name_problems

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


@contextmanager
def refusals() -> Iterator[None]:
    """The domain's refusals as the application's errors (the callers' vocabulary)."""
    try:
        yield
    except UploadRefused as exc:
        raise Invalid(exc.errors) from None
    except TooLargeError as exc:
        raise TooLarge(str(exc)) from None
    except ContentError as exc:
        raise BadInput(str(exc)) from None


class UploadView(msgspec.Struct, frozen=True, kw_only=True):
    """An upload as the API shows it."""

    uuid: str
    original_name: str
    extension: str
    mime_type: str
    size_bytes: int
    sha256: str
    storage_type: str
    url: str
    created_at: datetime
    public_url: str | msgspec.UnsetType = msgspec.UNSET
    """Only for a public file: where nginx serves it without the service."""


def upload_view(upload: Upload) -> UploadView:
    public = upload.storage_type == "public"
    uid = upload.upload_id
    if upload.kind == "avatar":
        url = f"/api/v1/avatar/{uid}"
    else:
        url = f"/api/v1/upload/download/public/{uid}" if public else f"/api/v1/upload/private/{uid}"
    return UploadView(
        uuid=str(uid),
        original_name=upload.original_name,
        extension=upload.extension,
        mime_type=upload.mime_type,
        size_bytes=upload.size_bytes,
        sha256=upload.sha256,
        storage_type=upload.storage_type,
        url=url,
        created_at=upload.created_at,
        public_url=("/storage/" + upload.storage_path.removeprefix("public/")) if public else msgspec.UNSET,
    )


def owned(upload: Upload | None, user_id: uuid.UUID, kind: Kind = "file") -> Upload:
    """The caller's file; another user's is simply not found."""
    if upload is None or upload.user_id != user_id or upload.kind != kind:
        raise NotFound("File not found" if kind == "file" else "Avatar not found")
    return upload


def shown_name(name: str) -> str:
    """A client's file name as an answer names it back: as sent, but at most ``MAX_NAME`` characters
    and encodable in JSON (bytes that were not UTF-8 become ``?``: kept as lone surrogates they made
    the answer's encoding fail, a 500)."""
    return name[:MAX_NAME].encode("utf-8", "replace").decode()


class NothingUploaded(BadInput):
    """A multiple upload in which every file failed: the error, with what failed and why."""

    def __init__(self, failed: list[dict[str, str]]) -> None:
        super().__init__(f"Uploaded 0 files, {len(failed)} failed")
        self.failed = failed

    def details(self) -> dict[str, Any]:
        return {"uploads": [], "failed": self.failed}


class Stored(msgspec.Struct, frozen=True):
    uploads: list[UploadView]
    failed: list[dict[str, str]]


@dataclass(eq=False)
class Uploading:
    uow: Callable[[], FilesUnitOfWork]
    storage: FileStorage
    users: Users
    limits: Limits
    now: Clock = utcnow

    async def store(
        self,
        user_id: uuid.UUID,
        filename: str,
        written: Written,
        storage_type: str,
        *,
        kind: Kind = "file",
        allowed: frozenset[str] | None = None,
    ) -> UploadView:
        """Identifies the file by its bytes, moves it in place and records it (or removes it)."""
        subfolder = "profile-pictures" if kind == "avatar" else ""
        try:
            with refusals():
                found = identify(filename, written.head, self.limits.allowed_types if allowed is None else allowed)
            relative = self.storage.place(written, storage_type, found.extension, subfolder)
        finally:
            self.storage.discard(written)  # still there only when refused (placed, it has moved)
        upload = Upload(
            upload_id=uuid.uuid4(),
            user_id=user_id,
            original_name=safe_name(filename),
            extension=found.extension,
            mime_type=found.mime_type,
            size_bytes=written.size,
            sha256=written.sha256,
            storage_type=storage_type,
            storage_path=relative,
            kind=kind,
            created_at=self.now(),
        )
        previous = None
        try:
            async with self.uow() as uow:
                if kind == "avatar":  # one user's avatars one after another: each replaces the last
                    await uow.lock(f"avatar:{user_id}")
                await uow.uploads.add(upload)
                if kind == "avatar":
                    previous = await uow.uploads.avatar(user_id)
                    await uow.uploads.set_avatar(user_id, upload.upload_id)
                    if previous is not None:
                        await uow.uploads.remove(previous.upload_id)
        except BaseException:
            self.storage.delete(relative)
            raise
        view = upload_view(upload)
        if kind == "avatar":
            if previous is not None:
                self.storage.delete(previous.storage_path)
            await self._tell_users(user_id, view.url)
        return view

    def _one(self, received: list[Received]) -> tuple[str, Written]:
        """The first file of a single upload, with a name that can be kept."""
        if not received:
            raise BadInput("No file data received")
        part = received[0]
        if part.error:
            raise TooLarge(part.error)
        if not part.filename or part.written is None:
            self._discard(received)
            raise BadInput("No filename provided")
        if problems := name_problems(part.filename):
            self._discard(received)
            raise Invalid({"filename": problems})
        return part.filename, part.written

    async def single(self, user_id: uuid.UUID, received: list[Received], storage_type: str) -> UploadView:
        filename, written = self._one(received)
        return await self.store(user_id, filename, written, storage_type)

    async def avatar(self, user_id: uuid.UUID, received: list[Received]) -> UploadView:
        filename, written = self._one(received)
        images = IMAGES & self.limits.allowed_types
        return await self.store(user_id, filename, written, "private", kind="avatar", allowed=images)

    async def many(self, user_id: uuid.UUID, received: list[Received], *, overflow: bool) -> Stored:
        """Several public files, each stored or refused alone; ``overflow``: more were sent than
        allowed (the rest was dropped)."""
        if not received and not overflow:
            raise BadInput("No file data received")
        uploads, failed = [], []
        try:
            for part in received:
                name = part.filename or "unknown"
                if part.error or part.written is None:
                    failed.append({"filename": shown_name(name), "error": part.error or "Empty file"})
                elif problems := name_problems(name):
                    failed.append({"filename": shown_name(name), "error": "; ".join(problems)})
                else:
                    try:
                        uploads.append(await self.store(user_id, name, part.written, "public"))
                    except BadInput as exc:
                        failed.append({"filename": name, "error": exc.message})
        finally:
            self._discard(received)  # what was neither stored nor refused yet (a failure half-way)
        if overflow:
            limit = self.limits.max_files
            failed.append({"filename": "remaining files", "error": f"Maximum {limit} files per upload exceeded"})
        if not uploads:
            raise NothingUploaded(failed)
        return Stored(uploads, failed)

    def _discard(self, received: list[Received]) -> None:
        for part in received:
            if part.written is not None:
                self.storage.discard(part.written)

    async def delete(self, user_id: uuid.UUID, upload_id: uuid.UUID) -> None:
        async with self.uow() as uow:
            upload = owned(await uow.uploads.get(upload_id), user_id)
            await uow.uploads.remove(upload_id)
        self.storage.delete(upload.storage_path)

    async def remove_avatar(self, user_id: uuid.UUID) -> None:
        async with self.uow() as uow:
            current = await uow.uploads.avatar(user_id)
            if current is None:
                raise NotFound("No profile picture")
            upload = owned(current, user_id, "avatar")
            await uow.uploads.remove(upload.upload_id)
        self.storage.delete(upload.storage_path)
        await self._tell_users(user_id, None)

    async def _tell_users(self, user_id: uuid.UUID, url: str | None) -> None:
        """A queued command survives a users outage; if even the broker refuses it, the file is still
        right and the failure is logged."""
        try:
            await self.users.set_avatar(user_id, url)
        except Exception:
            log.exception("could not tell users about %s's new avatar", user_id)


class Download(msgspec.Struct, frozen=True):
    upload: Upload
    path: Path


@dataclass(eq=False)
class UploadQueries:
    uow: Callable[[], FilesUnitOfWork]
    storage: FileStorage

    def _download(self, upload: Upload) -> Download:
        return Download(upload, self.storage.path(upload.storage_path))

    async def public(self, upload_id: uuid.UUID) -> Download:
        """A public file, for anyone."""
        async with self.uow() as uow:
            upload = await uow.uploads.get(upload_id)
        if upload is None or upload.storage_type != "public" or upload.kind != "file":
            raise NotFound("File not found")
        return self._download(upload)

    async def private(self, user_id: uuid.UUID, upload_id: uuid.UUID) -> Download:
        async with self.uow() as uow:
            return self._download(owned(await uow.uploads.get(upload_id), user_id))

    async def avatar_by_id(self, user_id: uuid.UUID, upload_id: uuid.UUID) -> Download:
        async with self.uow() as uow:
            return self._download(owned(await uow.uploads.get(upload_id), user_id, "avatar"))

    async def _avatar(self, user_id: uuid.UUID) -> Upload:
        async with self.uow() as uow:
            current = await uow.uploads.avatar(user_id)
        if current is None:
            raise NotFound("No profile picture")
        return owned(current, user_id, "avatar")

    async def avatar(self, user_id: uuid.UUID) -> Download:
        return self._download(await self._avatar(user_id))

    async def avatar_info(self, user_id: uuid.UUID) -> UploadView:
        return upload_view(await self._avatar(user_id))

    async def mine(self, user_id: uuid.UUID, limit: int, offset: int) -> tuple[list[UploadView], int]:
        """A page of the user's files, newest first, and how many there are."""
        async with self.uow() as uow:
            uploads, total = await uow.uploads.page(user_id, limit, offset)
        return [upload_view(u) for u in uploads], total
