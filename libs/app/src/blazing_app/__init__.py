"""The application layer's shared vocabulary: errors a use case raises, named for what went wrong,
never for a protocol (the HTTP entrypoints map them to statuses in one place, blazing_service)."""

from blazing_app.browser import Browser
from blazing_app.errors import (
    ApplicationError,
    BadInput,
    Conflict,
    FieldErrors,
    Forbidden,
    Invalid,
    NotFound,
    Refused,
    Stale,
    Throttled,
    Translation,
    Unauthenticated,
    Unavailable,
    translated,
)

__all__ = [
    "ApplicationError",
    "BadInput",
    "Browser",
    "Conflict",
    "FieldErrors",
    "Forbidden",
    "Invalid",
    "NotFound",
    "Refused",
    "Stale",
    "Throttled",
    "Translation",
    "Unauthenticated",
    "Unavailable",
    "translated",
]
