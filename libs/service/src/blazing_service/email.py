"""The one e-mail rule, under the name the HTTP entrypoints have always imported it by; it lives in
``blazing_app.email`` (pure), where application layers can use it too."""

from blazing_app.email import (
    INVALID,
    MAX_LENGTH,
    MAX_LOCAL_LENGTH,
    REQUIRED,
    TOO_LONG,
    email_problems,
    is_valid_email,
    normalize_email,
)

__all__ = [
    "INVALID",
    "MAX_LENGTH",
    "MAX_LOCAL_LENGTH",
    "REQUIRED",
    "TOO_LONG",
    "email_problems",
    "is_valid_email",
    "normalize_email",
]
