"""What the mailer refuses before SMTP and how it classifies what SMTP says: bad data and 5xx are
refusals — permanent for the broker (one attempt, then the dead letters) —, connection trouble and
4xx are unavailability — transient (tried again)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from blazing_app import Refused
from blazing_commands import PermanentFailure, TransientFailure, is_permanent
from blazing_contracts import CommandEnvelope, SendEmail, make_command
from blazing_testing.stack import free_port
from mailer.adapters.memory import InMemorySentLog, MailerMemory
from mailer.adapters.smtp import SmtpPool
from mailer.adapters.templates import JinjaTemplates
from mailer.application.message import InvalidMessage, compose
from mailer.application.ports import MailServerUnavailable, Undeliverable
from mailer.application.rendering import Renderer
from mailer.application.send_email import SendEmailHandler
from mailer.entrypoints.consumers import send_email_handler
from mailer.settings import MailerSettings


def message(to_name: str = "Ada Lovelace", to_email: str = "ada@example.org", **headers: str) -> EmailMessage:
    return compose(
        sender="Blazing Sun <noreply@blazingsun.app>",
        to_name=to_name,
        to_email=to_email,
        subject="Activate your Blazing Sun account",
        text="text",
        html="<p>html</p>",
        headers={"X-Job-Id": "1", **headers},
    )


def test_a_valid_message_names_its_recipient_exactly() -> None:
    composed = message("Ada O'Brien, Countess", " ada+1@example.org ")
    assert composed["To"] == '"Ada O\'Brien, Countess" <ada+1@example.org>'
    assert [a.addr_spec for a in composed["To"].addresses] == ["ada+1@example.org"]
    assert composed["X-Job-Id"] == "1"


@pytest.mark.parametrize(
    ("to_name", "to_email", "field"),
    [
        ("Ada\r\nBcc: victim@example.org", "ada@example.org", "to_name"),
        ("Ada\nLovelace", "ada@example.org", "to_name"),
        ("Ada\r", "ada@example.org", "to_name"),
        ("Ada\x00", "ada@example.org", "to_name"),
        ("Ada\x1b[31m", "ada@example.org", "to_name"),
        ("Ada", "ada@example.org\r\nBcc: victim@example.org", "to_email"),
        ("Ada", "ada@exa mple.org", "to_email"),
        ("Ada", "ada@b@example.org", "to_email"),
        ("Ada", "not-an-address", "to_email"),
        ("Ada", "@.", "to_email"),
        ("Ada", "", "to_email"),
        ("Ada", "ädä@example.org", "to_email"),
    ],
)
def test_what_cannot_be_a_header_or_an_address_is_a_permanent_failure(to_name: str, to_email: str, field: str) -> None:
    with pytest.raises(InvalidMessage) as refused:
        message(to_name, to_email)
    assert refused.value.field == field
    assert isinstance(refused.value, Refused), "a refusal: the consumer dead-letters it at once (test_send_email)"


def test_a_control_character_in_any_other_header_is_refused_too() -> None:
    with pytest.raises(InvalidMessage, match="X-Correlation-Id"):
        message(**{"X-Correlation-Id": "abc\r\nBcc: victim@example.org"})


@dataclass(eq=False)
class Refusing:
    """An SMTP server answering RCPT TO with a fixed reply."""

    reply: str

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        return self.reply


@contextlib.asynccontextmanager
async def smtp(reply: str | None) -> AsyncIterator[SmtpPool]:
    port = free_port()
    if reply is None:  # nobody listening
        yield SmtpPool(settings(port))
        return
    controller = Controller(Refusing(reply), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        pool = SmtpPool(settings(port))
        yield pool
        await pool.close()
    finally:
        controller.stop()


def settings(port: int) -> MailerSettings:
    return MailerSettings(service="mailer", port=8004, identity_secret="x", mail_port=port, mail_timeout=5)


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("550 5.1.1 No such user", Undeliverable),
        ("553 5.1.3 Malformed address", Undeliverable),
        ("451 4.3.0 Try again later", MailServerUnavailable),
        ("452 4.2.2 Mailbox full", MailServerUnavailable),
        (None, MailServerUnavailable),
    ],
)
async def test_smtp_5xx_is_undeliverable_and_4xx_or_no_server_unavailable(reply: str | None, expected: type) -> None:
    async with smtp(reply) as pool:
        with pytest.raises(expected) as failed:
            await pool.send(message())
    if reply is not None:
        assert f"SMTP {reply[:3]}" in str(failed.value)


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("550 5.1.1 No such user", PermanentFailure),
        ("553 5.1.3 Malformed address", PermanentFailure),
        ("451 4.3.0 Try again later", TransientFailure),
        ("452 4.2.2 Mailbox full", TransientFailure),
        (None, TransientFailure),
    ],
)
async def test_through_the_consumer_smtp_5xx_is_permanent_and_4xx_or_no_server_transient(
    reply: str | None, expected: type
) -> None:
    """The whole path: the real SMTP client, the send_email use case, the command consumer — what
    the command runner is handed decides retry or dead letter."""
    async with smtp(reply) as pool:
        handle = consumer(pool)
        with pytest.raises(expected) as failed:
            await handle(command(), None)  # type: ignore[arg-type]
    assert is_permanent(failed.value) is (expected is PermanentFailure)


def consumer(mailbox: SmtpPool):  # type: ignore[no-untyped-def]
    send = SendEmailHandler(
        InMemorySentLog(MailerMemory()),
        mailbox,
        Renderer(JinjaTemplates(), "https://money.example.org"),
        "noreply@blazingsun.app",
        "Blazing Sun",
    )
    return send_email_handler(send)


def command() -> CommandEnvelope[SendEmail]:
    return make_command(  # type: ignore[return-value]
        SendEmail(to_email="ada@example.org", to_name="Ada", template="welcome", variables={"first_name": "Ada"}),
        job_id=uuid.uuid4(),
        created_at=datetime.now(UTC),
        correlation_id="test",
        max_attempts=3,
    )


class Accepting:
    def __init__(self) -> None:
        self.received: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append(envelope.content.decode())
        return "250 OK"


async def test_a_send_after_close_connects_again() -> None:
    """Shutdown closes the idle connections before the deliveries in hand are drained: one of them
    still finds a connection (it was not taken away) and sends."""
    port = free_port()
    sink = Accepting()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        pool = SmtpPool(settings(port))
        await pool.send(message())
        await pool.close()
        await pool.send(message())
        await pool.close()
    finally:
        controller.stop()
    assert len(sink.received) == 2
