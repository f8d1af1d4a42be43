"""multipart/form-data read as a stream (python-multipart): each file part goes straight to a
temporary file through a ``Sink`` — memory stays bounded whatever the upload's size. What it gives
the use cases is the files ``Received``, each already in temporary storage."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING

from python_multipart.multipart import MultipartParser, MultipartState, parse_options_header

from blazing_app import BadInput
from blazing_service import UnsupportedMediaType
from files.adapters.storage import Sink
from files.application.ports import Received, TooLarge

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks


_FILENAME_KEY = re.compile(rb"(^|;)\s*filename\s*=", re.IGNORECASE)


def boundary_of(content_type: str) -> bytes:
    media, options = parse_options_header(content_type)
    if media != b"multipart/form-data":
        raise UnsupportedMediaType("Send the file as multipart/form-data")
    boundary = options.get(b"boundary")
    if not boundary:
        raise BadInput("Multipart error: no boundary")
    return bytes(boundary)


class _Parts:
    """python-multipart's callbacks: collects the file parts, each written through its own sink."""

    def __init__(self, new_sink: Callable[[], Sink], max_files: int) -> None:
        self.new_sink = new_sink
        self.max_files = max_files
        self.parts: list[Received] = []
        self.overflow = False
        self.headers: dict[str, bytes] = {}
        self.field, self.value = b"", b""
        self.sink: Sink | None = None
        self.name: str | None = None
        self.error: str | None = None

    def callbacks(self) -> MultipartCallbacks:
        return {
            "on_part_begin": self.on_part_begin,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
        }

    def on_part_begin(self) -> None:
        self.headers, self.sink, self.name, self.error = {}, None, None, None

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.value += data[start:end]

    def on_header_end(self) -> None:
        self.headers[self.field.decode("latin-1").lower()] = self.value
        self.field, self.value = b"", b""

    def on_headers_finished(self) -> None:
        # python-multipart cuts a Windows path in a filename down to its last part (an old IE habit):
        # read the parameter under another key, so the name is judged exactly as it was sent
        disposition = _FILENAME_KEY.sub(b"\\1filename-as-sent=", self.headers.get("content-disposition", b""))
        _, options = parse_options_header(disposition)
        filename = options.get(b"filename-as-sent")
        if filename is None:
            return  # a plain form field: ignored
        if len(self.parts) >= self.max_files:
            self.overflow = True
            return
        self.name = filename.decode("utf-8", "surrogateescape")  # undecodable bytes stay visible to the checks
        self.sink = self.new_sink()

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.sink is None or self.error:
            return
        try:
            self.sink.write(data[start:end])
        except TooLarge as exc:
            self.error = exc.message

    def on_part_end(self) -> None:
        if self.name is None:
            return
        if self.error:
            self.parts.append(Received(self.name, None, self.error))
        elif self.sink is not None:
            self.parts.append(Received(self.name, self.sink.close()))
        self.sink = None

    def abort(self) -> None:
        if self.sink is not None:
            self.sink.abort()
        discard(self.parts)


async def read_files(
    content_type: str,
    stream: AsyncIterator[bytes],
    new_sink: Callable[[], Sink],
    max_files: int,
) -> tuple[list[Received], bool]:
    """The file parts of the body (fields without a filename are skipped), each already written to
    a temporary file; and whether more than ``max_files`` were sent (the rest is read and dropped).
    A part over the size limit is recorded with its error; the others are kept. A body that is not
    well-formed up to its closing boundary is refused whole."""
    collected = _Parts(new_sink, max_files)
    parser = MultipartParser(boundary_of(content_type), callbacks=collected.callbacks())
    try:
        async for piece in stream:
            parser.write(piece)
        parser.finalize()
        if parser.state not in (MultipartState.START, MultipartState.END):  # START: an empty body
            raise BadInput("Multipart error: the body ends before its closing boundary")
    except BaseException as exc:  # a refused or dropped request leaves no temporary file behind
        collected.abort()
        if isinstance(exc, BadInput) or not isinstance(exc, Exception):
            raise
        raise BadInput(f"Multipart error: {exc}") from exc
    return collected.parts, collected.overflow


def discard(parts: list[Received]) -> None:
    """Removes the temporary files of parts that will not be stored."""
    for part in parts:
        if part.written is not None:
            part.written.path.unlink(missing_ok=True)
