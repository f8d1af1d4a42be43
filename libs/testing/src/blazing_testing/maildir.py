"""Reading what the SMTP sink stored under var/mail/.

Each file is read once however often asked, and only its headers at first (decoded once and
cached): a test polling for its one mail among thousands pays a directory listing and a few dict
lookups per poll — the body is parsed only for the mails a test actually opens."""

from __future__ import annotations

import email
import email.header
import email.parser
import email.policy
import os
import time
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any


class Mail:
    """A stored message: ``mail["To"]`` reads a cached, decoded header; anything else an
    EmailMessage offers (``get_body``, ``walk``…) parses the whole message once."""

    __slots__ = ("_full", "_headers", "path")

    def __init__(self, path: Path) -> None:
        self.path = path
        with path.open("rb") as f:  # the header block only, parsed the fast (compat32) way
            parsed = email.parser.BytesHeaderParser(policy=email.policy.compat32).parse(f, headersonly=True)
        self._headers = {name.lower(): _decoded(value) for name, value in parsed.items()}
        self._full: EmailMessage | None = None

    def __getitem__(self, name: str) -> str | None:
        return self._headers.get(name.lower())

    def get(self, name: str, default: str | None = None) -> str | None:
        return self._headers.get(name.lower(), default)

    @property
    def full(self) -> EmailMessage:
        if self._full is None:
            parsed = email.message_from_bytes(self.path.read_bytes(), policy=email.policy.default)
            assert isinstance(parsed, EmailMessage)
            self._full = parsed
        return self._full

    def __getattr__(self, name: str) -> Any:
        return getattr(self.full, name)


def _decoded(value: str) -> str:
    """A header's text: RFC 2047 encoded words (a subject or name in UTF-8) decoded."""
    text = str(value)
    return str(email.header.make_header(email.header.decode_header(text))) if "=?" in text else text


_seen: dict[Path, dict[str, Mail]] = {}


def messages(maildir: Path) -> list[Mail]:
    found: list[Mail] = []
    for folder in ("new", "cur"):
        directory = maildir / folder
        try:
            names = os.listdir(directory)
        except FileNotFoundError:
            continue
        known = _seen.setdefault(directory, {})
        for name in names:
            if name not in known:
                known[name] = Mail(directory / name)
        found.extend(known[name] for name in names)
    return found


def find(maildir: Path, match: Callable[[Mail], bool]) -> list[Mail]:
    return [m for m in messages(maildir) if match(m)]


def wait_for_message(maildir: Path, match: Callable[[Mail], bool], timeout: float = 10.0) -> Mail:
    return wait_for_messages(maildir, match, 1, timeout)[0]


def wait_for_messages(maildir: Path, match: Callable[[Mail], bool], count: int, timeout: float = 10.0) -> list[Mail]:
    deadline = time.monotonic() + timeout
    while True:
        found = find(maildir, match)
        if len(found) >= count:
            return found
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(found)} of {count} expected messages arrived in the Maildir")
        time.sleep(0.1)


def text_and_html(msg: Mail | EmailMessage) -> tuple[str, str]:
    plain, html = msg.get_body(("plain",)), msg.get_body(("html",))
    assert plain is not None, "no text/plain part"
    assert html is not None, "no text/html part"
    return plain.get_content(), html.get_content()
