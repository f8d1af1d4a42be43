"""Auth's request bodies never show a password, code or token in their repr (a traceback, a debugger,
a log line), and still show the rest."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
import pytest
from litestar import Request

from auth.entrypoints.http import SECRET_FIELD, Body, context


def every_body() -> list[type[Body]]:
    found, todo = [], list(Body.__subclasses__())
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


@pytest.mark.parametrize("cls", every_body(), ids=lambda cls: cls.__name__)
def test_secrets_never_show_in_a_repr(cls: type[Body]) -> None:
    values = {
        f.encode_name: uuid.uuid4() if f.type is uuid.UUID else f"value-of-{f.encode_name}"
        for f in msgspec.structs.fields(cls)
    }
    shown = repr(msgspec.convert(values, type=cls))
    assert shown.startswith(f"{cls.__name__}(")
    for name, value in values.items():
        assert (str(value) in shown) is not bool(SECRET_FIELD.search(name)), (name, shown)


def test_every_body_with_a_secret_is_covered() -> None:
    secret = {
        f.encode_name for cls in every_body() for f in msgspec.structs.fields(cls) if SECRET_FIELD.search(f.encode_name)
    }
    assert {"password", "confirm_password", "code", "refresh_token"} <= secret


def test_the_request_context_reads_the_agent_and_address_as_utf8_text() -> None:
    """The session list showed a user agent "Café ☀" as "CafÃ© â\x98\x80" (its bytes read as Latin-1)."""
    headers = [(b"user-agent", "Café ☀".encode()), (b"x-forwarded-for", b"203.0.113.9, 10.0.0.1")]
    request: Request[Any, Any, Any] = Request({"type": "http", "headers": headers})  # type: ignore[typeddict-item]
    ctx = context(request)
    assert (ctx.user_agent, ctx.ip) == ("Café ☀", "203.0.113.9")
