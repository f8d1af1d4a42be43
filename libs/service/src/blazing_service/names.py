"""One rule for people's names (first and last, at sign-up, in the profile, by an admin): 2 to 50
characters once trimmed, one line, nothing invisible.

``Checks.length`` refuses control characters (CR, LF, NUL …); a name must also not carry invisible
formatting characters that change how the text around it reads — bidirectional overrides
(U+202E turns ``Ada`` into a reversed, spoofed string in every e-mail and page), zero-width
spaces, a byte-order mark. The joiners U+200C / U+200D stay: some scripts and emoji need them.
"""

from __future__ import annotations

import unicodedata

from blazing_service.body import Checks

MIN_LENGTH, MAX_LENGTH = 2, 50
_JOINERS = frozenset("\u200c\u200d")


def has_invisible_characters(value: str) -> bool:
    """Format (Cf), surrogate (Cs) or private-use (Co) characters other than the two joiners."""
    return any(unicodedata.category(ch) in ("Cf", "Cs", "Co") and ch not in _JOINERS for ch in value)


def check_name(c: Checks, value: str | None, field: str, label: str) -> None:
    """Adds ``field``'s problems to ``c``; ``value`` is taken as trimmed (None: not given)."""
    if value is None:
        return
    name = value.strip()
    c.length(name, field, MIN_LENGTH, MAX_LENGTH, label)
    c.require(not has_invisible_characters(name), field, f"{label} must not contain invisible formatting characters")
