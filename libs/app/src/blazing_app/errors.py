"""Errors of a use case. Each says what went wrong in the caller's terms; the message is for the
caller (never internals). Protocol adapters translate them (HTTP: blazing_service.errors)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

FieldErrors = dict[str, list[str]]


class ApplicationError(Exception):
    message = "The request cannot be served"

    def __init__(self, message: str | None = None) -> None:
        self.message = message or type(self).message
        super().__init__(self.message)

    def details(self) -> dict[str, Any]:
        """What the caller needs besides the message (the field errors of a validation failure)."""
        return {}


class BadInput(ApplicationError):
    """The input cannot be used as it is (malformed, contradictory)."""

    message = "Bad request"


class Invalid(BadInput):
    """Fields break their rules: every broken rule, per field."""

    message = "Validation failed"

    def __init__(self, errors: FieldErrors, message: str | None = None) -> None:
        super().__init__(message)
        self.errors = errors

    def details(self) -> dict[str, Any]:
        return {"errors": self.errors}


class Unauthenticated(ApplicationError):
    message = "Authentication required"


class Forbidden(ApplicationError):
    message = "Forbidden"


class NotFound(ApplicationError):
    """Absent — or someone else's, which the caller may not learn exists."""

    message = "Not found"


class Conflict(ApplicationError):
    """The current state does not allow it (a duplicate, a concurrent change)."""

    message = "Conflict"


class Stale(ApplicationError):
    """The caller's view is older than the current state (a stale If-Match)."""

    message = "The resource changed since you read it"


class Refused(ApplicationError):
    """A rule of the domain refuses it (a balance below zero, a code that expired)."""

    message = "Unprocessable"


class Throttled(ApplicationError):
    message = "Too many requests"

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        super().__init__(message)
        self.retry_after = max(1, retry_after)


class Unavailable(ApplicationError):
    """A dependency is away; the same request may succeed later."""

    message = "Service unavailable"


Translation = Mapping[type[Exception], Callable[[str], ApplicationError]]
"""Another layer's errors (a domain's refusals) and the application error each one stands for, made
from its message; the first entry whose type an error is wins (subclasses before their base)."""


@contextmanager
def translated(errors: Translation) -> Iterator[None]:
    """Runs the block with ``errors`` raised as the application's errors, chained to the original."""
    try:
        yield
    except tuple(errors) as exc:
        make = next(make for kind, make in errors.items() if isinstance(exc, kind))
        raise make(str(exc)) from exc
