"""The MIME message of one job, built strictly: a recipient that is not a valid address, or a header
value with a line break or another control character, is refused here (``InvalidMessage``, a refusal:
no attempt can succeed) instead of being passed on — the email package would refuse a CR/LF only once
the header is set (a ValueError, retried as if transient), and it silently shortens an address it
cannot parse (``ada@exa mple.org`` became ``<ada@exa>``)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from email.headerregistry import Address
from email.message import EmailMessage

from blazing_app import Refused
from blazing_app.email import email_problems

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class InvalidMessage(Refused):
    """The job's data cannot make a valid message; no attempt can succeed."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        super().__init__(f"{field}: {reason}")


def header_value(field: str, value: str) -> str:
    if found := _CONTROL.search(value):
        raise InvalidMessage(field, f"control character {found.group()!r} (header injection)")
    return value


def recipient(to_name: str, to_email: str) -> Address:
    header_value("to_email", to_email)
    if problems := email_problems(to_email):
        raise InvalidMessage("to_email", f"{problems[0]}: {to_email!r}")
    local, _, domain = to_email.strip(" ").rpartition("@")
    return Address(display_name=header_value("to_name", to_name), username=local, domain=domain)


def compose(
    *,
    sender: str,
    to_name: str,
    to_email: str,
    subject: str,
    text: str,
    html: str,
    headers: Mapping[str, str],
) -> EmailMessage:
    """``headers`` are set after From / To / Subject, in order (Date, Message-ID, X-…)."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient(to_name, to_email)
    message["Subject"] = header_value("subject", subject)
    for name, value in headers.items():
        message[name] = header_value(name, value)
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message
