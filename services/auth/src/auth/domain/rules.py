"""Input rules of the auth context: the original's password rules (SPEC §4.1). E-mail addresses and
names follow the rules every service shares (``blazing_service.email`` / ``.names``)."""

from __future__ import annotations

import re

SPECIAL = re.compile(r"[^A-Za-z0-9]")


def password_problems(password: str) -> list[str]:
    problems = []
    if not 8 <= len(password) <= 128:
        problems.append("Password must be between 8 and 128 characters")
    if not re.search(r"[A-Z]", password):
        problems.append("Password must contain an uppercase letter")
    if not re.search(r"[a-z]", password):
        problems.append("Password must contain a lowercase letter")
    if not re.search(r"[0-9]", password):
        problems.append("Password must contain a digit")
    if not SPECIAL.search(password):
        problems.append("Password must contain a special character")
    return problems
