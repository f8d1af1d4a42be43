"""What the mailer's use cases need, as protocols: PostgreSQL, SMTP and Jinja implement them in
adapters/ (postgres.py, smtp.py, templates.py), the in-memory fakes in adapters/memory.py (held to
the same contract: tests/integration/test_adapters.py, tests/unit/test_templates.py)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from email.message import EmailMessage
from typing import Literal, Protocol
from uuid import UUID

import msgspec

from blazing_app import Refused, Unavailable

ClaimResult = Literal["claimed", "sent", "in_flight", "uncertain"]


class Undeliverable(Refused):
    """No attempt can deliver it: the mail server refused it for good (a 5xx) or cannot take it
    (an extension it lacks, e.g. SMTPUTF8 for a non-ASCII address)."""


class MailServerUnavailable(Unavailable):
    """Not delivered this time (no connection, a timeout, a 4xx): a later attempt may succeed."""


class RenderError(Refused):
    """The e-mail cannot be rendered from what the job carries (a variable missing, an unknown
    template): no attempt can succeed."""


class Mailbox(Protocol):
    async def send(self, message: EmailMessage) -> None:
        """Hands the message to the mail server; fails only with ``Undeliverable`` or
        ``MailServerUnavailable`` (which one decides whether the job is tried again)."""


class Templates(Protocol):
    def render(self, template: str, context: Mapping[str, object]) -> tuple[str, str]:
        """The plain-text and the (autoescaped) HTML part; ``RenderError`` when the template uses a
        variable the context lacks (never a blank)."""


class NewEntry(msgspec.Struct, frozen=True, kw_only=True):
    job_id: UUID
    to_email: str
    to_name: str
    template: str
    priority: int
    correlation_id: str


class SentLog(Protocol):
    """The idempotency record of every send_email job. Each call is one transaction, committed when
    it returns: a claim is durable before the SMTP conversation starts."""

    async def claim(self, entry: NewEntry) -> ClaimResult:
        """Takes the job for a send attempt: ``claimed`` (first time, or after a failed attempt),
        ``sent`` (done before), ``in_flight`` (another delivery holds its lease), ``uncertain`` (a
        send was cut off — its lease ran out —: marked so, never resent)."""

    async def sent(self, job_id: UUID, subject: str, message_id: str) -> None: ...

    async def failed(self, job_id: UUID, error: str, *, retrying: bool) -> None:
        """Not delivered: ``retrying`` (a later attempt will come) or ``failed`` for good."""


class MailLogEntry(msgspec.Struct, frozen=True, kw_only=True):
    job_id: UUID
    to_email: str
    to_name: str
    template: str
    subject: str | None
    status: str
    attempts: int
    priority: int
    last_error: str | None
    correlation_id: str | None
    created_at: datetime
    sent_at: datetime | None


class MailLogReads(Protocol):
    async def list(
        self, *, limit: int, offset: int, status: str | None, to_email: str | None
    ) -> tuple[list[MailLogEntry], int]:
        """Newest first; ``to_email`` matches whatever the case; with the total of the filter."""


ERASED = "(erased)"
"""What an erased user's address and name read as in the mail log."""


class Recipients(Protocol):
    """The users' addresses (from user.created): user.deleted names the user, the mail log the address."""

    async def known(self, user_id: UUID, email: str) -> None:
        """Remembers the user's address (told again: no change)."""

    async def erase(self, user_id: UUID) -> int:
        """In one transaction: every mail log row to the user's address (whatever its case) keeps no
        address, name or error text, and the user is forgotten; how many rows (0: a user not known)."""
