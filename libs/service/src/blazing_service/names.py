"""One rule for people's names (first and last, at sign-up, in the profile, by an admin): 2 to 50
characters once trimmed, one line, nothing invisible (``Checks.length``: control characters, line
separators, bidirectional overrides, zero-width spaces …)."""

from __future__ import annotations

from blazing_service.body import Checks

MIN_LENGTH, MAX_LENGTH = 2, 50


def check_name(c: Checks, value: str | None, field: str, label: str) -> None:
    """Adds ``field``'s problems to ``c``; ``value`` is taken as trimmed (None: not given)."""
    if value is None:
        return
    c.length(value.strip(), field, MIN_LENGTH, MAX_LENGTH, label)
