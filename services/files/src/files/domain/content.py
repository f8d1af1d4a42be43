"""What a file is, from its bytes — never from its name.

The extension the client gives must be allowed and must agree with what the first bytes say:
a ``.png`` whose bytes are a PDF, or a ``.txt`` that is binary, is refused whatever it is called.
The MIME type stored and served is the one the bytes prove.
"""

from __future__ import annotations

import re
from typing import Final

import filetype
import msgspec

SNIFF_BYTES: Final = 8192
"""How much of the start of a file the type is decided on."""

# extension -> MIME types its content may be identified as (the first is what a text type is served as)
KINDS: Final[dict[str, tuple[str, ...]]] = {
    "jpg": ("image/jpeg",),
    "jpeg": ("image/jpeg",),
    "png": ("image/png",),
    "gif": ("image/gif",),
    "webp": ("image/webp",),
    "ico": ("image/x-icon", "image/vnd.microsoft.icon"),
    "svg": ("image/svg+xml",),
    "pdf": ("application/pdf",),
    "doc": ("application/x-ole-storage", "application/msword"),
    "xls": ("application/x-ole-storage", "application/vnd.ms-excel"),
    "ppt": ("application/x-ole-storage", "application/vnd.ms-powerpoint"),
    "docx": ("application/zip", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    "xlsx": ("application/zip", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "pptx": ("application/zip", "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
    "txt": ("text/plain",),
    "csv": ("text/csv",),
    "zip": ("application/zip",),
    "rar": ("application/x-rar-compressed", "application/vnd.rar"),
    "7z": ("application/x-7z-compressed",),
    "tar": ("application/x-tar",),
    "gz": ("application/gzip",),
}
SERVED_AS: Final[dict[str, str]] = {
    "doc": "application/msword",
    "xls": "application/vnd.ms-excel",
    "ppt": "application/vnd.ms-powerpoint",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "ico": "image/x-icon",
    "rar": "application/vnd.rar",
}
TEXT: Final = frozenset({"txt", "csv", "svg"})
RASTER: Final = frozenset({"jpg", "jpeg", "png", "gif", "webp", "ico"})
"""The only kinds a browser is let show inline: pixels, nothing that can carry script (nginx's
/storage/ location lists the same extensions)."""
_OLE2: Final = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_SVG: Final = re.compile(rb"<svg[\s>]", re.IGNORECASE)
_NAME: Final = re.compile(r"[^\w.\- ()]+")


class ContentError(Exception):
    """The file is refused; the message is for the caller."""


class Kind(msgspec.Struct, frozen=True):
    extension: str
    mime_type: str


def extension_of(filename: str) -> str:
    base = filename.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    if "." not in base.strip("."):
        raise ContentError("Invalid file name: it needs an extension")
    return base.rsplit(".", 1)[1].lower()


def safe_name(filename: str) -> str:
    """The client's name without a path and without characters that do not belong in a header."""
    base = filename.rsplit("/", 1)[-1].rsplit("\\", 1)[-1].strip()
    return (_NAME.sub("_", base) or "file")[:255]


def check_extension(filename: str, allowed: frozenset[str]) -> str:
    ext = extension_of(filename)
    if ext not in allowed or ext not in KINDS:
        raise ContentError(f"Invalid file extension: '{ext}'. Allowed types: {', '.join(sorted(allowed & set(KINDS)))}")
    return ext


def _is_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:  # a multi-byte character cut at the end of the sample is fine
        return exc.start >= len(head) - 3
    return True


def identify(filename: str, head: bytes, allowed: frozenset[str]) -> Kind:
    """The kind of a file from its name's extension and its first bytes; ContentError when they
    disagree or the type is not allowed."""
    ext = check_extension(filename, allowed)
    if not head:
        raise ContentError("Empty file")
    if ext in TEXT:
        if not _is_text(head):
            raise ContentError(f"The content is not a .{ext} file")
        if ext == "svg":
            if not _SVG.search(head):
                raise ContentError("The content is not a .svg file")
            return Kind(ext, "image/svg+xml")
        return Kind(ext, KINDS[ext][0])
    if head.startswith(_OLE2):
        detected = "application/x-ole-storage"
    else:
        guess = filetype.guess(head)
        detected = guess.mime if guess is not None else "unknown"
    if detected not in KINDS[ext]:
        raise ContentError(f"The content ({detected}) is not a .{ext} file")
    return Kind(ext, SERVED_AS.get(ext, detected))
