"""One strict rule for e-mail addresses, shared by every service that takes one (auth's sign-up,
sign-in and account mails, users' admin create, the mailer's recipients): what one accepts, the
others do too. Pure (the standard library only), so an application layer may use it.

Strict on purpose: an address is a dot-atom local part (RFC 5322, no quoted strings, no comments)
``@`` a host name of at least two labels (letters, digits, inner hyphens) ending in an alphabetic
or IDNA (``xn--``) top-level label — ASCII only, no control or space characters, at most 100
characters (SPEC §4.1). ``"@."``, ``"a@b"``, ``"a..b@c.co"``, ``"a@-b.co"`` and a line break
anywhere are refused; surrounding spaces are a typing slip and are trimmed.
"""

from __future__ import annotations

import re

MAX_LENGTH = 100
MAX_LOCAL_LENGTH = 64
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LOCAL = re.compile(rf"{_ATOM}(?:\.{_ATOM})*", re.ASCII)
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?", re.ASCII)
_TOP_LABEL = re.compile(r"[A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59}", re.ASCII)

REQUIRED = "Email is required"
TOO_LONG = f"Email must be at most {MAX_LENGTH} characters"
INVALID = "Invalid email format"  # the original's words


def normalize_email(value: str) -> str:
    """The form an address is stored and looked up in: trimmed of spaces, lower case."""
    return value.strip(" ").lower()


def email_problems(value: str) -> list[str]:
    """Why ``value`` is not an acceptable e-mail address (empty when it is)."""
    address = value.strip(" ")
    if not address:
        return [REQUIRED]
    if len(address) > MAX_LENGTH:
        return [TOO_LONG]
    local, at, domain = address.rpartition("@")
    if not at or not _valid_local(local) or not _valid_domain(domain):
        return [INVALID]
    return []


def is_valid_email(value: str) -> bool:
    return not email_problems(value)


def _valid_local(local: str) -> bool:
    return 0 < len(local) <= MAX_LOCAL_LENGTH and _LOCAL.fullmatch(local) is not None


def _valid_domain(domain: str) -> bool:
    labels = domain.split(".")
    if len(labels) < 2:
        return False
    *names, top = labels
    return all(_LABEL.fullmatch(name) for name in names) and _TOP_LABEL.fullmatch(top) is not None
