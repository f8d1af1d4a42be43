"""The mailer's ports in memory, for application tests without a server — held to the same contract
as the real adapters (tests/integration/test_adapters.py: the sent log and its reads)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from uuid import UUID

import msgspec

from mailer.application.ports import ERASED, ClaimResult, MailLogEntry, NewEntry, RenderError


@dataclass
class Row:
    entry: NewEntry
    status: str
    attempts: int
    lease_until: datetime | None
    created_at: datetime
    order: int = 0
    """Insertion order: rows made within one tick of the clock still list newest first."""
    subject: str | None = None
    last_error: str | None = None
    message_id: str | None = None
    sent_at: datetime | None = None


@dataclass
class MailerMemory:
    """What the mailer's database is to the real adapters: shared by the sent log and its reads."""

    rows: dict[UUID, Row] = field(default_factory=dict)
    recipients: dict[UUID, str] = field(default_factory=dict)
    now: Callable[[], datetime] = lambda: datetime.now(UTC)


class InMemorySentLog:
    def __init__(self, db: MailerMemory, lease_seconds: float = 30.0) -> None:
        self.db = db
        self._lease = timedelta(seconds=lease_seconds)

    async def claim(self, entry: NewEntry) -> ClaimResult:
        now = self.db.now()
        row = self.db.rows.get(entry.job_id)
        if row is None:
            self.db.rows[entry.job_id] = Row(entry, "pending", 1, now + self._lease, now, len(self.db.rows))
            return "claimed"
        if row.status in ("retrying", "failed"):
            row.status, row.attempts, row.lease_until = "pending", row.attempts + 1, now + self._lease
            return "claimed"
        if row.status == "sent":
            return "sent"
        if row.status == "pending" and row.lease_until is not None and row.lease_until >= now:
            return "in_flight"
        if row.status == "pending":
            row.status, row.last_error, row.lease_until = "uncertain", "the mailer stopped while sending", None
        return "uncertain"

    async def sent(self, job_id: UUID, subject: str, message_id: str) -> None:
        if row := self.db.rows.get(job_id):
            row.status, row.subject, row.message_id, row.sent_at = "sent", subject, message_id, self.db.now()
            row.lease_until, row.last_error = None, None

    async def failed(self, job_id: UUID, error: str, *, retrying: bool) -> None:
        if row := self.db.rows.get(job_id):
            row.status, row.last_error, row.lease_until = "retrying" if retrying else "failed", error[:2000], None


@dataclass(eq=False)
class InMemoryMailLogReads:
    db: MailerMemory

    async def list(
        self, *, limit: int, offset: int, status: str | None, to_email: str | None
    ) -> tuple[list[MailLogEntry], int]:
        rows = [
            r
            for r in self.db.rows.values()
            if (not status or r.status == status) and (not to_email or r.entry.to_email.lower() == to_email.lower())
        ]
        rows.sort(key=lambda r: (r.created_at, r.order), reverse=True)
        entries = [
            MailLogEntry(
                **msgspec.structs.asdict(r.entry),
                subject=r.subject,
                status=r.status,
                attempts=r.attempts,
                last_error=r.last_error,
                created_at=r.created_at,
                sent_at=r.sent_at,
            )
            for r in rows[offset : offset + limit]
        ]
        return entries, len(rows)


@dataclass(eq=False)
class InMemoryRecipients:
    db: MailerMemory

    async def known(self, user_id: UUID, email: str) -> None:
        self.db.recipients[user_id] = email

    async def erase(self, user_id: UUID) -> int:
        email = self.db.recipients.pop(user_id, None)
        if email is None:
            return 0
        erased = [r for r in self.db.rows.values() if r.entry.to_email.lower() == email.lower()]
        for row in erased:
            row.entry = msgspec.structs.replace(row.entry, to_email=ERASED, to_name=ERASED)
            row.last_error = None
        return len(erased)


class MemoryMailbox:
    """Keeps what it was given; ``failures`` are raised, one per send, before anything is kept."""

    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []
        self.failures: list[Exception] = []

    async def send(self, message: EmailMessage) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append(message)


class MemoryTemplates:
    """Renders every template as its context, one ``name: value`` line each (HTML-escaped in the
    HTML part); a template listed in ``needs`` fails on a variable missing, as the strict Jinja
    templates do."""

    def __init__(self, needs: Mapping[str, tuple[str, ...]] | None = None) -> None:
        self.needs = needs or {}

    def render(self, template: str, context: Mapping[str, object]) -> tuple[str, str]:
        if missing := [n for n in self.needs.get(template, ()) if n not in context]:
            raise RenderError(f"'{missing[0]}' is undefined")
        text = "\n".join(f"{k}: {v}" for k, v in context.items())
        html = "".join(
            f"<p>{k}: {str(v).replace('&', '&amp;').replace('<', '&lt;').replace('>', '&gt;')}</p>"
            for k, v in context.items()
        )
        return text, html
