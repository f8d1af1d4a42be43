"""Reading what the SMTP sink stored under var/mail/ (each file parsed once, however often asked)."""

from __future__ import annotations

import email
import email.policy
import time
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path

_cache: dict[Path, EmailMessage] = {}


def messages(maildir: Path) -> list[EmailMessage]:
    found = []
    for folder in ("new", "cur"):
        directory = maildir / folder
        if not directory.is_dir():
            continue
        for path in directory.iterdir():
            msg = _cache.get(path)
            if msg is None:
                parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
                assert isinstance(parsed, EmailMessage)
                msg = _cache[path] = parsed
            found.append(msg)
    return found


def find(maildir: Path, match: Callable[[EmailMessage], bool]) -> list[EmailMessage]:
    return [m for m in messages(maildir) if match(m)]


def wait_for_message(maildir: Path, match: Callable[[EmailMessage], bool], timeout: float = 10.0) -> EmailMessage:
    return wait_for_messages(maildir, match, 1, timeout)[0]


def wait_for_messages(
    maildir: Path, match: Callable[[EmailMessage], bool], count: int, timeout: float = 10.0
) -> list[EmailMessage]:
    deadline = time.monotonic() + timeout
    while True:
        found = find(maildir, match)
        if len(found) >= count:
            return found
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(found)} of {count} expected messages arrived in the Maildir")
        time.sleep(0.1)


def text_and_html(msg: EmailMessage) -> tuple[str, str]:
    plain, html = msg.get_body(("plain",)), msg.get_body(("html",))
    assert plain is not None, "no text/plain part"
    assert html is not None, "no text/html part"
    return plain.get_content(), html.get_content()
