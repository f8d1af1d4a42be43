"""The send_email use case on the in-memory fakes: what is sent, what the sent log records, and what
the command consumer hands the broker — never two e-mails for one job, bad data refused at once,
the mail server's 4xx tried again and its 5xx not. No server."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from blazing_app import Refused, Unavailable
from blazing_commands import PermanentFailure, TransientFailure, is_permanent
from blazing_contracts import CommandEnvelope, SendEmail, make_command
from mailer.adapters.memory import InMemoryMailLogReads, InMemorySentLog, MailerMemory, MemoryMailbox, MemoryTemplates
from mailer.application.message import InvalidMessage
from mailer.application.ports import MailServerUnavailable, NewEntry, RenderError, Undeliverable
from mailer.application.queries import MailLogQueries
from mailer.application.rendering import Renderer
from mailer.application.send_email import SendEmailHandler
from mailer.domain.catalogue import CATALOGUE
from mailer.entrypoints.consumers import send_email_handler

BASE = "https://money.example.org"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class Mailer:
    def __init__(self) -> None:
        self.clock = Clock()
        self.db = MailerMemory(now=self.clock)
        self.mailbox = MemoryMailbox()
        self.send = SendEmailHandler(
            InMemorySentLog(self.db),
            self.mailbox,
            Renderer(MemoryTemplates(), BASE, self.clock),
            "noreply@blazingsun.app",
            "Blazing Sun",
        )
        self.consume = send_email_handler(self.send)
        self.log = MailLogQueries(InMemoryMailLogReads(self.db))

    async def status(self, job: CommandEnvelope[SendEmail]) -> tuple[str, int, str | None]:
        entries, _ = await self.log.list(limit=10, offset=0, to_email=job.payload.to_email)
        [entry] = [e for e in entries if e.job_id == job.job_id]
        return entry.status, entry.attempts, entry.last_error


def job(
    template: str = "welcome",
    variables: dict[str, str] | None = None,
    *,
    to_name: str = "Ada Lovelace",
    to_email: str = "ada@example.org",
    attempt: int = 1,
    max_attempts: int = 3,
    job_id: uuid.UUID | None = None,
    correlation_id: str = "c-1",
) -> CommandEnvelope[SendEmail]:
    command: CommandEnvelope[SendEmail] = make_command(  # type: ignore[assignment]
        SendEmail(
            to_email=to_email,
            to_name=to_name,
            template=template,  # type: ignore[arg-type]
            variables={"first_name": "Ada"} if variables is None else variables,
        ),
        job_id=job_id or uuid.uuid4(),
        created_at=datetime(2026, 12, 1, tzinfo=UTC),
        correlation_id=correlation_id,
        max_attempts=max_attempts,
    )
    return msgspec.structs.replace(command, attempt=attempt)


@pytest.fixture
def mailer() -> Mailer:
    return Mailer()


async def test_a_job_is_sent_once_with_its_headers_and_logged_as_sent(mailer: Mailer) -> None:
    command = job()
    await mailer.send(command)
    [message] = mailer.mailbox.sent
    assert message["From"] == "Blazing Sun <noreply@blazingsun.app>"
    assert message["To"] == "Ada Lovelace <ada@example.org>"
    assert message["Subject"] == CATALOGUE["welcome"].subject
    assert message["Message-ID"] == f"<{command.job_id}@blazingsun.app>"
    assert (message["X-Job-Id"], message["X-Correlation-Id"]) == (str(command.job_id), "c-1")
    text = message.get_body(("plain",))
    assert text is not None
    assert f"sign_in_url: {BASE}/sign-in" in text.get_content()
    assert await mailer.status(command) == ("sent", 1, None)


async def test_never_two_mails_for_one_job_id(mailer: Mailer) -> None:
    command = job()
    await mailer.send(command)
    await mailer.send(command)  # the broker delivered it again
    await mailer.consume(command, None)  # type: ignore[arg-type]
    assert len(mailer.mailbox.sent) == 1
    assert (await mailer.status(command))[0] == "sent"


async def test_a_job_in_flight_elsewhere_is_tried_later_and_never_sent_alongside(mailer: Mailer) -> None:
    command = job()
    entry = NewEntry(
        job_id=command.job_id,
        to_email="ada@example.org",
        to_name="Ada",
        template="welcome",
        priority=3,
        correlation_id="c",
    )
    assert await InMemorySentLog(mailer.db).claim(entry) == "claimed"  # another delivery holds the lease
    with pytest.raises(Unavailable):
        await mailer.send(command)
    with pytest.raises(TransientFailure):
        await mailer.consume(command, None)  # type: ignore[arg-type]
    assert mailer.mailbox.sent == []


async def test_a_send_cut_off_is_uncertain_dead_lettered_and_never_resent(mailer: Mailer) -> None:
    command = job()
    mailer.mailbox.failures.append(KeyboardInterrupt())  # type: ignore[arg-type] # the process dies mid-send
    with pytest.raises(KeyboardInterrupt):
        await mailer.send(command)
    mailer.clock.advance(31)  # the lease ran out
    with pytest.raises(PermanentFailure, match="delivery uncertain") as failed:
        await mailer.consume(command, None)  # type: ignore[arg-type]
    assert is_permanent(failed.value)
    assert mailer.mailbox.sent == []
    assert (await mailer.status(command))[0] == "uncertain"
    with pytest.raises(Refused):
        await mailer.send(command)
    assert mailer.mailbox.sent == []


@pytest.mark.parametrize("template", sorted(t for t in CATALOGUE if len(CATALOGUE[t].required) > 1))
async def test_a_missing_variable_is_permanent_and_nothing_is_sent(mailer: Mailer, template: str) -> None:
    required = CATALOGUE[template].required
    command = job(template, dict.fromkeys(required[:-1], "x"))
    with pytest.raises(RenderError, match=required[-1]):
        await mailer.send(command)
    with pytest.raises(PermanentFailure, match=f"missing variable\\(s\\): {required[-1]}") as failed:
        await mailer.consume(command, None)  # type: ignore[arg-type]
    assert is_permanent(failed.value)
    assert mailer.mailbox.sent == []
    status, _, error = await mailer.status(command)
    assert status == "failed"
    assert error is not None
    assert required[-1] in error


async def test_an_unknown_template_is_permanent(mailer: Mailer) -> None:
    with pytest.raises(PermanentFailure, match="unknown template"):
        await mailer.consume(job("newsletter"), None)  # type: ignore[arg-type]
    assert mailer.mailbox.sent == []


async def test_a_variable_the_template_needs_but_nobody_gave_is_a_render_error() -> None:
    renderer = Renderer(MemoryTemplates({"welcome": ("first_name", "nickname")}), BASE)
    with pytest.raises(RenderError, match="nickname"):
        renderer.render("welcome", "a@b.co", "Ada", {"first_name": "Ada"})


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"to_name": "Ada\r\nBcc: victim@example.org"}, "to_name"),
        ({"to_name": "Ada\nLovelace"}, "to_name"),
        ({"to_name": "Ada\x00"}, "to_name"),
        ({"to_email": "ada@example.org\r\nBcc: victim@example.org"}, "to_email"),
        ({"to_email": "ada@exa mple.org"}, "to_email"),
        ({"to_email": "not-an-address"}, "to_email"),
        ({"correlation_id": "c\r\nBcc: victim@example.org"}, "X-Correlation-Id"),
    ],
)
async def test_header_injection_and_bad_addresses_are_permanent_before_anything_is_logged(
    mailer: Mailer, options: dict[str, str], field: str
) -> None:
    command = job(
        "account_activation",
        {"first_name": "Ada", "activation_code": "A", "expires_in_minutes": "5"},
        max_attempts=8,
        **options,
    )
    with pytest.raises(InvalidMessage) as refused:
        await mailer.send(command)
    assert refused.value.field == field
    with pytest.raises(PermanentFailure, match=field) as failed:
        await mailer.consume(command, None)  # type: ignore[arg-type]
    assert is_permanent(failed.value), "one attempt, then the dead letters (issue #17, item 13)"
    assert mailer.mailbox.sent == []
    assert mailer.db.rows == {}, "nothing the sent log cannot store is stored"


async def test_smtp_4xx_is_transient_logged_retrying_then_sent_once(mailer: Mailer) -> None:
    command = job(max_attempts=3)
    mailer.mailbox.failures.append(MailServerUnavailable("SMTP 451: Try again later"))
    with pytest.raises(TransientFailure, match="SMTP 451") as failed:
        await mailer.consume(command, None)  # type: ignore[arg-type]
    assert not is_permanent(failed.value)
    assert await mailer.status(command) == ("retrying", 1, "MailServerUnavailable: SMTP 451: Try again later")
    await mailer.consume(job(job_id=command.job_id, attempt=2), None)  # type: ignore[arg-type]
    assert len(mailer.mailbox.sent) == 1
    assert (await mailer.status(command))[:2] == ("sent", 2)


async def test_smtp_4xx_on_the_last_attempt_is_logged_failed(mailer: Mailer) -> None:
    command = job(attempt=3, max_attempts=3)
    mailer.mailbox.failures.append(MailServerUnavailable("SMTP 452: Mailbox full"))
    with pytest.raises(TransientFailure):
        await mailer.consume(command, None)  # type: ignore[arg-type]
    assert (await mailer.status(command))[0] == "failed"


async def test_smtp_5xx_is_permanent_and_logged_failed(mailer: Mailer) -> None:
    command = job(max_attempts=8)
    mailer.mailbox.failures.append(Undeliverable("SMTP 550: No such user"))
    with pytest.raises(PermanentFailure, match="SMTP 550") as failed:
        await mailer.consume(command, None)  # type: ignore[arg-type]
    assert is_permanent(failed.value)
    assert await mailer.status(command) == ("failed", 1, "Undeliverable: SMTP 550: No such user")
    assert mailer.mailbox.sent == []


async def test_the_mail_log_filters_by_status_and_address_newest_first(mailer: Mailer) -> None:
    first, second = job(to_email="Ada@Example.org"), job(to_email="ada@example.org")
    await mailer.send(first)
    mailer.clock.advance(1)
    mailer.mailbox.failures.append(Undeliverable("SMTP 550: No such user"))
    with pytest.raises(Undeliverable):
        await mailer.send(second)
    entries, total = await mailer.log.list(limit=10, offset=0, to_email="ADA@example.ORG")
    assert ([e.job_id for e in entries], total) == ([second.job_id, first.job_id], 2)
    sent, total = await mailer.log.list(limit=10, offset=0, status="sent")
    assert ([e.job_id for e in sent], total) == ([first.job_id], 1)
    page, total = await mailer.log.list(limit=1, offset=1)
    assert ([e.job_id for e in page], total) == ([first.job_id], 2)
