"""Reading what the SMTP sink stored under var/mail/."""

from __future__ import annotations

import email
import email.policy
import time
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path


def messages(maildir: Path) -> list[EmailMessage]:
    found = []
    for folder in ("new", "cur"):
        for path in sorted((maildir / folder).glob("*")):
            msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            assert isinstance(msg, EmailMessage)
            found.append(msg)
    return found


def wait_for_message(
    maildir: Path, match: Callable[[EmailMessage], bool], timeout: float = 10.0
) -> EmailMessage:
    deadline = time.monotonic() + timeout
    while True:
        for msg in messages(maildir):
            if match(msg):
                return msg
        if time.monotonic() > deadline:
            raise TimeoutError("no matching message arrived in the Maildir")
        time.sleep(0.1)
