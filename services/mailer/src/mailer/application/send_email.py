"""The send_email use case: claim the job in the sent log, render, send, record.

Never two e-mails for one job: the claim commits before the SMTP conversation, and a job found
mid-send (``pending``) is never sent again — while its lease runs it is retried later (another
delivery may still be sending it); once the lease is over it is ``uncertain`` (the mailer stopped
while sending) and goes to the dead letters for a person to decide.
"""

from __future__ import annotations

import logging
from email.message import EmailMessage
from email.utils import formataddr, formatdate
from typing import Protocol

from prometheus_client import Counter
from psycopg_pool import AsyncConnectionPool

from blazing_commands import PermanentFailure, TransientFailure, is_permanent
from blazing_contracts import CommandEnvelope, SendEmail
from mailer.adapters.mail_log import MailLog
from mailer.application.message import InvalidMessage, compose, header_value, recipient
from mailer.application.rendering import Renderer, RenderError

log = logging.getLogger(__name__)

EMAILS = Counter("emails_total", "E-mails by outcome", ["template", "outcome"])


class Sender(Protocol):
    async def send(self, message: EmailMessage) -> None: ...


class SendEmailHandler:
    def __init__(
        self,
        pool: AsyncConnectionPool,
        sender: Sender,
        renderer: Renderer,
        mail_log: MailLog,
        from_address: str,
        from_name: str,
    ) -> None:
        self._pool = pool
        self._sender = sender
        self._renderer = renderer
        self._log = mail_log
        self._from = formataddr((from_name, from_address))
        self._domain = from_address.rsplit("@", 1)[-1]

    async def __call__(self, command: CommandEnvelope[SendEmail]) -> None:
        job, p = command.job_id, command.payload
        # what the sent log stores must be valid first (a NUL is a DataError there, a CR/LF in a
        # name would only fail at the header): refused before the claim, with its field named
        recipient(p.to_name, p.to_email)
        header_value("X-Correlation-Id", command.correlation_id)
        async with self._pool.connection() as conn:
            claim = await self._log.claim(
                conn,
                job_id=job,
                to_email=p.to_email,
                to_name=p.to_name,
                template=p.template,
                priority=command.priority,
                correlation_id=command.correlation_id,
            )
        if claim == "sent":
            EMAILS.labels(p.template, "duplicate").inc()
            log.info("send_email %s already sent; duplicate delivery ignored", job)
            return
        if claim == "in_flight":
            raise TransientFailure("another delivery of this job is being sent")
        if claim == "uncertain":
            EMAILS.labels(p.template, "uncertain").inc()
            raise PermanentFailure("delivery uncertain: the mailer stopped while sending; not resent")
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
        except (RenderError, InvalidMessage) as exc:
            # bad data: no attempt can send it (a CR/LF in a name, an invalid address, a variable missing)
            await self._failed(command, str(exc), retrying=False)
            raise PermanentFailure(str(exc)) from exc
        try:
            await self._sender.send(message)
        except Exception as exc:
            # Known not delivered (the SMTP server did not accept it): another attempt is safe, and
            # worth it unless the failure is permanent (a 5xx, data the server cannot take).
            retrying = not is_permanent(exc) and command.attempt < command.max_attempts
            await self._failed(command, f"{type(exc).__name__}: {exc}", retrying=retrying)
            raise
        async with self._pool.connection() as conn:
            await self._log.sent(conn, job, rendered.subject, message["Message-ID"])
        EMAILS.labels(p.template, "sent").inc()

    async def _failed(self, command: CommandEnvelope[SendEmail], error: str, *, retrying: bool) -> None:
        EMAILS.labels(command.payload.template, "retrying" if retrying else "failed").inc()
        async with self._pool.connection() as conn:
            await self._log.failed(conn, command.job_id, error, retrying=retrying)
