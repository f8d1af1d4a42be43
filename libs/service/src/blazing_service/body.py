"""Strict JSON request bodies: the right content type, a bounded size, well-formed JSON of bounded
depth, no NUL characters, exact types (``"5"`` is not an integer) and every field rule reported at
once in the API's validation shape."""

from __future__ import annotations

import re
import unicodedata
from typing import Any, Final, TypeVar, get_args

import msgspec
from litestar import Request

from blazing_service.errors import (
    BadRequest,
    FieldErrors,
    PayloadTooLarge,
    UnsupportedMediaType,
    ValidationFailed,
)

T = TypeVar("T")
MAX_DEPTH = 32
"""No request of this API nests deeper; a deeper document is refused before it is walked."""

_PATH = re.compile(r"^(?P<message>.*?) - at `\$\.?(?P<path>[^`]*)`$")
_MISSING = re.compile(r"^Object missing required field `(?P<field>[^`]+)`(?: - at `\$\.?(?P<path>[^`]*)`)?$")
_UNKNOWN = re.compile(r"^Object contains unknown field `(?P<field>[^`]+)`(?: - at `\$\.?(?P<path>[^`]*)`)?$")
_LINE_BREAKS = frozenset("\n\r\t")


def field_errors_of(exc: msgspec.ValidationError) -> FieldErrors:
    text = str(exc)
    if m := _MISSING.match(text):
        prefix = f"{m['path']}." if m["path"] else ""
        return {prefix + m["field"]: ["This field is required"]}
    if m := _UNKNOWN.match(text):
        prefix = f"{m['path']}." if m["path"] else ""
        return {prefix + m["field"]: ["This field is not accepted"]}
    if m := _PATH.match(text):
        return {m["path"] or "body": [m["message"]]}
    return {"body": [text]}


def missing_fields(data: Any, cls: type[Any]) -> FieldErrors:
    """Every required field of a Struct that ``data`` lacks (msgspec stops at the first one); a
    ``null`` where the field takes no null counts as missing, as in the original."""
    if not isinstance(data, dict) or not (isinstance(cls, type) and issubclass(cls, msgspec.Struct)):
        return {}
    return {
        f.encode_name: ["This field is required"]
        for f in msgspec.structs.fields(cls)
        if f.required and data.get(f.encode_name) is None and not _takes_none(f.type)
    }


def _takes_none(annotation: Any) -> bool:
    return annotation is None or annotation is type(None) or type(None) in get_args(annotation)


def field_errors(data: Any, cls: type[Any]) -> FieldErrors:
    """Every field error of ``data`` as a ``cls`` at once — missing fields, each field of the wrong
    type, fields not accepted — where msgspec stops at the first."""
    errors = missing_fields(data, cls)
    if not isinstance(data, dict) or not (isinstance(cls, type) and issubclass(cls, msgspec.Struct)):
        return errors
    fields = msgspec.structs.fields(cls)
    for f in fields:
        if f.encode_name not in data or f.encode_name in errors:
            continue
        try:
            msgspec.convert(data[f.encode_name], type=f.type, strict=True)
        except msgspec.ValidationError as exc:
            for path, messages in field_errors_of(exc).items():
                name = f.encode_name if path == "body" else f.encode_name + ("" if path.startswith("[") else ".") + path
                errors.setdefault(name, []).extend(messages)
    if cls.__struct_config__.forbid_unknown_fields:
        known = {f.encode_name for f in fields}
        errors.update({str(k): ["This field is not accepted"] for k in data if k not in known})
    return errors


def convert(data: Any, cls: type[T]) -> T:
    """Types plain data strictly into ``cls`` and runs its ``validate()``; raises ValidationFailed
    naming every field at fault at once."""
    try:
        value = msgspec.convert(data, type=cls, strict=True)
    except msgspec.ValidationError as exc:
        raise ValidationFailed(field_errors(data, cls) or field_errors_of(exc)) from None
    validate = getattr(value, "validate", None)
    if callable(validate) and (errors := validate()):
        raise ValidationFailed(errors)
    return value


def unsafe_strings(data: Any, *, max_depth: int = MAX_DEPTH) -> FieldErrors:
    """Field errors for NUL characters anywhere in a decoded document (no database stores them, and
    no field of this API needs one); raises BadRequest when it nests deeper than ``max_depth``.
    Walks without recursion, so a hostile document cannot exhaust the stack."""
    errors: FieldErrors = {}
    stack: list[tuple[Any, str, int]] = [(data, "", 0)]
    while stack:
        value, path, depth = stack.pop()
        if depth > max_depth:
            raise BadRequest(f"JSON nested deeper than {max_depth} levels")
        if isinstance(value, str):
            if "\x00" in value:
                errors.setdefault(path or "body", []).append("Must not contain NUL characters")
        elif isinstance(value, dict):
            for key, item in value.items():
                child = f"{path}.{key}" if path else str(key)
                if "\x00" in key:
                    errors.setdefault(path or "body", []).append("Field names must not contain NUL characters")
                    continue
                stack.append((item, child, depth + 1))
        elif isinstance(value, list):
            stack.extend((item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value))
    return errors


def decode_json(body: bytes) -> Any:
    """Decodes a request body: malformed, too deep or NUL-carrying documents are a 400."""
    if not body.strip():
        raise BadRequest("Request body is empty")
    try:
        data = msgspec.json.decode(body)
    except msgspec.DecodeError:
        raise BadRequest("Malformed JSON body") from None
    except RecursionError:
        raise BadRequest(f"JSON nested deeper than {MAX_DEPTH} levels") from None
    if errors := unsafe_strings(data):
        raise ValidationFailed(errors)
    return data


_UTF8: Final = frozenset({"utf-8", "utf8", "us-ascii", "ascii"})
"""The charsets a JSON body may name: UTF-8, and the ASCII within it (RFC 8259: JSON is UTF-8)."""


def json_media(content_type: str, content_encoding: str) -> None:
    """Raises UnsupportedMediaType unless the body is JSON, in UTF-8, not compressed or otherwise
    encoded (RFC 7694: a content coding the server does not read is a 415, not a malformed body)."""
    media, *parameters = (part.strip() for part in content_type.split(";"))
    media = media.lower()
    if media != "application/json" and not media.endswith("+json"):
        raise UnsupportedMediaType()
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in _UTF8:
            raise UnsupportedMediaType("A JSON body must be UTF-8 (no other charset is read)")
    if content_encoding.strip().lower() not in ("", "identity"):
        raise UnsupportedMediaType("Content-Encoding is not accepted: send the body as it is")


async def read_json(request: Request[Any, Any, Any], cls: type[T], *, max_bytes: int = 1_048_576) -> T:
    json_media(request.headers.get("content-type", ""), request.headers.get("content-encoding", ""))
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLarge()
    body = await request.body()
    if len(body) > max_bytes:
        raise PayloadTooLarge()
    data = decode_json(body)
    if not isinstance(data, dict):
        raise BadRequest("The JSON body must be an object")
    return convert(data, cls)


def has_control_characters(value: str, *, multiline: bool = False) -> bool:
    """Unicode control characters (Cc: NUL, CR, LF, ESC, DEL …) and, on one line, the line and
    paragraph separators (Zl, Zp: U+2028, U+2029 break a line as LF does); ``multiline`` allows CR,
    LF, TAB and the separators."""
    return any(
        ((category := unicodedata.category(ch)) == "Cc" and not (multiline and ch in _LINE_BREAKS))
        or (category in ("Zl", "Zp") and not multiline)
        for ch in value
    )


_JOINERS = frozenset("\u200c\u200d")


def has_invisible_characters(value: str) -> bool:
    """Invisible formatting characters that change how the text around them reads: format (Cf:
    bidirectional overrides — U+202E shows ``Ada`` reversed, spoofed, in every e-mail and page —,
    zero-width spaces, a byte-order mark, soft hyphens), surrogate (Cs) and private-use (Co)
    characters. The joiners U+200C / U+200D stay: some scripts and emoji need them."""
    return any(unicodedata.category(ch) in ("Cf", "Cs", "Co") and ch not in _JOINERS for ch in value)


class Checks:
    """Collects field errors: ``c = Checks(); c.require(cond, "field", "msg"); c.errors``."""

    def __init__(self) -> None:
        self.errors: FieldErrors = {}

    def require(self, ok: bool, field: str, message: str) -> None:
        if not ok:
            self.errors.setdefault(field, []).append(message)

    def length(
        self,
        value: str | None,
        field: str,
        low: int,
        high: int,
        label: str | None = None,
        *,
        multiline: bool = False,
    ) -> None:
        """Length within [low, high], no control characters (a name, a memo: one line; a description
        may be ``multiline``: CR, LF and TAB allowed, other controls still refused) and nothing
        invisible (every text a person writes and others read: names, memos, descriptions …)."""
        if value is None:
            return
        name = label or field.replace("_", " ").capitalize()
        self.require(low <= len(value) <= high, field, f"{name} must be between {low} and {high} characters")
        self.require(
            not has_control_characters(value, multiline=multiline),
            field,
            f"{name} must not contain control characters",
        )
        self.require(
            not has_invisible_characters(value), field, f"{name} must not contain invisible formatting characters"
        )
