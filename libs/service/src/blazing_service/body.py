"""Strict JSON request bodies: the right content type, a bounded size, well-formed JSON, exact types
(``"5"`` is not an integer) and every field rule reported at once in the API's validation shape."""

from __future__ import annotations

import re
from typing import Any, Protocol, TypeVar

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
_PATH = re.compile(r"^(?P<message>.*?) - at `\$\.?(?P<path>[^`]*)`$")
_MISSING = re.compile(r"^Object missing required field `(?P<field>[^`]+)`(?: - at `\$\.?(?P<path>[^`]*)`)?$")
_UNKNOWN = re.compile(r"^Object contains unknown field `(?P<field>[^`]+)`(?: - at `\$\.?(?P<path>[^`]*)`)?$")


class SelfValidating(Protocol):
    def validate(self) -> FieldErrors:
        """Field rules beyond types (lengths, formats, cross-field); empty when valid."""


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


def convert(data: Any, cls: type[T]) -> T:
    """Types plain data strictly into ``cls`` and runs its ``validate()``; raises ValidationFailed."""
    try:
        value = msgspec.convert(data, type=cls, strict=True)
    except msgspec.ValidationError as exc:
        raise ValidationFailed(field_errors_of(exc)) from None
    validate = getattr(value, "validate", None)
    if callable(validate) and (errors := validate()):
        raise ValidationFailed(errors)
    return value


async def read_json(request: Request[Any, Any, Any], cls: type[T], *, max_bytes: int = 1_048_576) -> T:
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        raise UnsupportedMediaType()
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLarge()
    body = await request.body()
    if len(body) > max_bytes:
        raise PayloadTooLarge()
    if not body.strip():
        raise BadRequest("Request body is empty")
    try:
        data = msgspec.json.decode(body)
    except msgspec.DecodeError:
        raise BadRequest("Malformed JSON body") from None
    if not isinstance(data, dict):
        raise BadRequest("The JSON body must be an object")
    return convert(data, cls)


class Checks:
    """Collects field errors: ``c = Checks(); c.require(cond, "field", "msg"); c.errors``."""

    def __init__(self) -> None:
        self.errors: FieldErrors = {}

    def require(self, ok: bool, field: str, message: str) -> None:
        if not ok:
            self.errors.setdefault(field, []).append(message)

    def length(self, value: str | None, field: str, low: int, high: int, label: str | None = None) -> None:
        if value is None:
            return
        name = label or field.replace("_", " ").capitalize()
        self.require(low <= len(value) <= high, field, f"{name} must be between {low} and {high} characters")
