"""The send_email use case: claim the job in the sent log, render, send, record.

Never two e-mails for one job: the claim commits before the SMTP conversation, and a job found
mid-send (``pending``) is never sent again — while its lease runs it is retried later (another
delivery may still be sending it); once the lease is over it is ``uncertain`` (the mailer stopped
while sending) and goes to the dead letters for a person to decide.

Failures are the application's errors: a refusal (``Refused``: bad data, a template that cannot
render, a 5xx, an uncertain delivery) is permanent — no attempt can succeed —; ``Unavailable`` (the
mail server away or answering 4xx, the job in flight elsewhere) is worth another attempt. The
command consumer turns them into the broker's permanent / transient failures.
"""

from __future__ import annotations

import logging
from email.utils import formataddr, formatdate

from prometheus_client import Counter

from blazing_app import Refused, Unavailable
from blazing_contracts import CommandEnvelope, SendEmail
from mailer.application.message import compose, header_value, recipient
from mailer.application.ports import Mailbox, NewEntry, SentLog
from mailer.application.rendering import Renderer

log = logging.getLogger(__name__)

EMAILS = Counter("emails_total", "E-mails by outcome", ["template", "outcome"])


class SendEmailHandler:
    def __init__(
        self, sent_log: SentLog, mailbox: Mailbox, renderer: Renderer, from_address: str, from_name: str
    ) -> None:
        self._log = sent_log
        self._mailbox = mailbox
        self._renderer = renderer
        self._from = formataddr((from_name, from_address))
        self._domain = from_address.rsplit("@", 1)[-1]

    async def __call__(self, command: CommandEnvelope[SendEmail]) -> None:
        job, p = command.job_id, command.payload
        # what the sent log stores must be valid first (a NUL is a DataError there, a CR/LF in a
        # name would only fail at the header): refused before the claim, with its field named
        recipient(p.to_name, p.to_email)
        header_value("X-Correlation-Id", command.correlation_id)
        claim = await self._log.claim(
            NewEntry(
                job_id=job,
                to_email=p.to_email,
                to_name=p.to_name,
                template=p.template,
                priority=command.priority,
                correlation_id=command.correlation_id,
            )
        )
        if claim == "sent":
            EMAILS.labels(p.template, "duplicate").inc()
            log.info("send_email %s already sent; duplicate delivery ignored", job)
            return
        if claim == "in_flight":
            raise Unavailable("another delivery of this job is being sent")
        if claim == "uncertain":
            EMAILS.labels(p.template, "uncertain").inc()
            raise Refused("delivery uncertain: the mailer stopped while sending; not resent")
        try:
            rendered = self._renderer.render(p.template, p.to_email, p.to_name, p.variables)
            message = compose(
                sender=self._from,
                to_name=p.to_name,
                to_email=p.to_email,
                subject=rendered.subject,
                text=rendered.text,
                html=rendered.html,
                headers={
                    "Date": formatdate(localtime=False),
                    "Message-ID": f"<{job}@{self._domain}>",
                    "X-Job-Id": str(job),
                    "X-Correlation-Id": command.correlation_id,
                },
            )
        except Refused as exc:
            # bad data: no attempt can send it (a CR/LF in a name, an invalid address, a variable missing)
            await self._failed(command, str(exc), retrying=False)
            raise
        try:
            await self._mailbox.send(message)
        except Exception as exc:
            # Known not delivered (the mail server did not accept it): another attempt is safe, and
            # worth it unless the failure is permanent (a 5xx, data the server cannot take).
            retrying = not isinstance(exc, Refused) and command.attempt < command.max_attempts
            await self._failed(command, f"{type(exc).__name__}: {exc}", retrying=retrying)
            raise
        await self._log.sent(job, rendered.subject, message["Message-ID"])
        EMAILS.labels(p.template, "sent").inc()

    async def _failed(self, command: CommandEnvelope[SendEmail], error: str, *, retrying: bool) -> None:
        EMAILS.labels(command.payload.template, "retrying" if retrying else "failed").inc()
        await self._log.failed(command.job_id, error, retrying=retrying)
