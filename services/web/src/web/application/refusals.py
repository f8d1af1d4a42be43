"""What a form shows when an API refuses it: the API's message and field errors. A session that
ended and an API that is away are not refusals of the form: they end the request (sign in again;
the 503 page)."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

import msgspec

from blazing_app import ApplicationError, FieldErrors, Invalid, NotFound, Unavailable
from web.application.ports import SessionEnded

T = TypeVar("T")
FORM = "Please correct the form"
NOT_YOURS = "Not found: it does not exist, or it is not yours"


class Refusal(msgspec.Struct, frozen=True, kw_only=True):
    message: str
    errors: FieldErrors = msgspec.field(default_factory=dict)


def refusal_of(exc: ApplicationError) -> Refusal:
    return Refusal(message=exc.message, errors=exc.errors if isinstance(exc, Invalid) else {})


async def attempt(call: Awaitable[T], *, ends: type[NotFound] | None = None) -> T | Refusal:
    """The call's result, or the API's refusal of it; ``ends=NotFound``: what is not found is not
    a refusal of the form but the 404 page (see ``mine``)."""
    try:
        return await (mine(call) if ends is not None else call)
    except (SessionEnded, Unavailable):
        raise
    except ApplicationError as exc:
        if ends is not None and isinstance(exc, ends):
            raise
        return refusal_of(exc)


async def mine(call: Awaitable[T]) -> T:
    """The call's result; what is not found is not found whether it does not exist or is someone
    else's (the page does not tell them apart)."""
    try:
        return await call
    except NotFound:
        raise NotFound(NOT_YOURS) from None
