"""multipart/form-data read as a stream (python-multipart): each file part goes straight to a
temporary file through a ``Sink`` — memory stays bounded whatever the upload's size."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import msgspec
from python_multipart.multipart import MultipartParser, parse_options_header

from blazing_service import BadRequest, PayloadTooLarge, UnsupportedMediaType
from files.adapters.storage import Sink, Written


class FilePart(msgspec.Struct, frozen=True):
    filename: str | None
    written: Written | None
    error: str | None = None


def boundary_of(content_type: str) -> bytes:
    media, options = parse_options_header(content_type)
    if media != b"multipart/form-data":
        raise UnsupportedMediaType("Send the file as multipart/form-data")
    boundary = options.get(b"boundary")
    if not boundary:
        raise BadRequest("Multipart error: no boundary")
    return bytes(boundary)


async def read_files(
    content_type: str,
    stream: AsyncIterator[bytes],
    new_sink: Callable[[], Sink],
    max_files: int,
) -> tuple[list[FilePart], bool]:
    """The file parts of the body (fields without a filename are skipped), each already written to
    a temporary file; and whether more than ``max_files`` were sent (the rest is read and dropped).
    A part over the size limit is recorded with its error; the others are kept."""
    boundary = boundary_of(content_type)
    parts: list[FilePart] = []
    state: dict[str, Any] = {"headers": {}, "field": b"", "value": b"", "sink": None, "name": None, "error": None}
    overflow = False

    def on_part_begin() -> None:
        state.update(headers={}, sink=None, name=None, error=None)

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state["field"] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        state["value"] += data[start:end]

    def on_header_end() -> None:
        state["headers"][state["field"].decode("latin-1").lower()] = state["value"]
        state["field"], state["value"] = b"", b""

    def on_headers_finished() -> None:
        nonlocal overflow
        _, options = parse_options_header(state["headers"].get("content-disposition", b""))
        filename = options.get(b"filename")
        if filename is None:
            return  # a plain form field: ignored
        if len(parts) >= max_files:
            overflow = True
            return
        state["name"] = filename.decode("utf-8", "replace")
        state["sink"] = new_sink()

    def on_part_data(data: bytes, start: int, end: int) -> None:
        sink: Sink | None = state["sink"]
        if sink is None or state["error"]:
            return
        try:
            sink.write(data[start:end])
        except PayloadTooLarge as exc:
            state["error"] = exc.message

    def on_part_end() -> None:
        sink: Sink | None = state["sink"]
        if state["name"] is None:
            return
        if state["error"]:
            parts.append(FilePart(state["name"], None, state["error"]))
        elif sink is not None:
            parts.append(FilePart(state["name"], sink.close()))
        state["sink"] = None

    parser = MultipartParser(
        boundary,
        callbacks={
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        },
    )
    try:
        async for piece in stream:
            parser.write(piece)
        parser.finalize()
    except Exception as exc:
        if state["sink"] is not None:
            state["sink"].abort()
        for part in parts:
            if part.written is not None:
                part.written.path.unlink(missing_ok=True)
        if isinstance(exc, BadRequest | PayloadTooLarge):
            raise
        raise BadRequest(f"Multipart error: {exc}") from exc
    return parts, overflow
