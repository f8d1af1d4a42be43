"""The rules of an upload: the limits in force, a client's file name, and what a chunked upload may
declare (how many chunks, how big, where it goes). Pure: the refusals are this module's errors,
every broken field rule at once."""

from __future__ import annotations

import unicodedata
from typing import Final, Literal

import msgspec

from files.domain.content import ContentError, check_extension

MAX_NAME: Final = 255
IMAGES: Final = frozenset({"jpg", "jpeg", "png", "gif", "webp"})
"""What a profile picture may be."""
STORAGE_TYPES: Final = ("public", "private")
StorageType = Literal["public", "private"]
Kind = Literal["file", "avatar"]
FieldErrors = dict[str, list[str]]
_SHA256: Final = frozenset("0123456789abcdef")


class Limits(msgspec.Struct, frozen=True, kw_only=True):
    max_file_size: int = 104_857_600
    """Bytes, for a single upload and for a chunked upload's whole file."""
    max_files: int = 10
    """Files in one multiple upload."""
    allowed_types: frozenset[str] = frozenset()
    max_chunk_size: int = 8_388_608
    max_chunks: int = 1600
    """Chunks per chunked upload: bounds every session's bookkeeping and its status answer."""
    max_open_sessions: int = 10
    """Chunked uploads a user may have open at once (each may hold up to max_file_size on disk)."""
    avatar_max_size: int = 10_485_760
    chunk_session_hours: int = 24


class UploadRefused(Exception):
    """Fields break their rules: every broken rule, per field."""

    def __init__(self, errors: FieldErrors) -> None:
        super().__init__("Validation failed")
        self.errors = errors


class TooLargeError(Exception):
    """More bytes than a limit allows; the message is for the caller."""


def _problems(errors: FieldErrors, ok: bool, field: str, message: str) -> None:
    if not ok:
        errors.setdefault(field, []).append(message)


def _has_control_characters(value: str) -> bool:
    return any(unicodedata.category(ch) == "Cc" for ch in value)


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: bytes that were not UTF-8
        return False
    return True


def name_problems(filename: str) -> list[str]:
    """Why a client's file name is refused: a name, not a path, one line, at most 255 characters
    (it is kept as the download's name; where the bytes live is always the service's own choice)."""
    errors: FieldErrors = {}
    _problems(
        errors, 1 <= len(filename) <= MAX_NAME, "filename", f"File name must be between 1 and {MAX_NAME} characters"
    )
    _problems(
        errors, not _has_control_characters(filename), "filename", "File name must not contain control characters"
    )
    _problems(
        errors, "/" not in filename and "\\" not in filename, "filename", "File name must not contain a path (/ or \\)"
    )
    _problems(errors, _utf8(filename), "filename", "File name must be UTF-8")
    return errors.get("filename", [])


class ChunkPlan(msgspec.Struct, frozen=True, kw_only=True):
    """What a chunked upload declares at its start."""

    filename: str
    total_chunks: int
    total_size: int
    storage_type: str
    sha256: str | None = None


class Planned(msgspec.Struct, frozen=True, kw_only=True):
    extension: str
    storage_type: StorageType


def plan_chunked(plan: ChunkPlan, limits: Limits) -> Planned:
    """The session's extension and storage type — or every field error at once (``UploadRefused``);
    a declared size over the limit is ``TooLargeError``, checked once the fields are sound."""
    errors: FieldErrors = {}
    problems = name_problems(plan.filename)
    for problem in problems:
        _problems(errors, False, "filename", problem)
    extension = ""
    if not problems:
        try:
            extension = check_extension(plan.filename, limits.allowed_types)
        except ContentError as exc:
            _problems(errors, False, "filename", str(exc))
    storage_type = plan.storage_type.strip().lower()
    _problems(errors, storage_type in STORAGE_TYPES, "storage_type", "Invalid storage type (use 'public' or 'private')")
    _problems(errors, plan.total_chunks >= 1, "total_chunks", "Must be a positive integer")
    _problems(errors, plan.total_size >= 1, "total_size", "Must be a positive integer")
    if plan.sha256 is not None:
        sound = len(plan.sha256) == 64 and set(plan.sha256) <= _SHA256
        _problems(errors, sound, "sha256", "Must be 64 lower-case hex digits")
    if errors:
        raise UploadRefused(errors)
    if plan.total_size > limits.max_file_size:
        raise TooLargeError(
            f"File too large: {plan.total_size / 1_048_576:.2f} MB (max: {limits.max_file_size / 1_048_576:.2f} MB)"
        )
    if plan.total_chunks > limits.max_chunks:
        _problems(errors, False, "total_chunks", f"At most {limits.max_chunks} chunks")
    elif plan.total_chunks > plan.total_size:
        _problems(errors, False, "total_chunks", "More chunks than bytes: each chunk holds at least one byte")
    elif -(-plan.total_size // plan.total_chunks) > limits.max_chunk_size:
        _problems(errors, False, "total_chunks", f"Too few chunks: each may hold at most {limits.max_chunk_size} bytes")
    if errors:
        raise UploadRefused(errors)
    return Planned(extension=extension, storage_type="public" if storage_type == "public" else "private")


def check_index(index: int, total_chunks: int) -> None:
    if not 0 <= index < total_chunks:
        raise UploadRefused({"index": [f"Invalid chunk index: use 0 to {total_chunks - 1}"]})


def over_total(total_size: int) -> TooLargeError:
    return TooLargeError(f"The chunks would hold more than the declared total_size of {total_size} bytes")


def chunk_room(limits: Limits, total_size: int, held_by_others: int) -> int:
    """How many bytes chunk ``index`` may hold, given what the session's other chunks hold: never
    more than the chunk limit, nor than would take the session past its declared total."""
    room = min(limits.max_chunk_size, total_size - held_by_others)
    if room <= 0:
        raise over_total(total_size)
    return room


def chunk_too_large(limits: Limits, total_size: int, room: int) -> TooLargeError:
    """Why a chunk that did not fit in ``room`` is refused: the session's total, or the chunk limit."""
    if room < limits.max_chunk_size:
        return over_total(total_size)
    return TooLargeError(f"Chunk too large (max: {limits.max_chunk_size} bytes)")
