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

from blazing_commands import PermanentFailure, TransientFailure
from blazing_contracts import CommandEnvelope, SendEmail
from mailer.adapters.mail_log import MailLog
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
            message = EmailMessage()
            message["From"] = self._from
            message["To"] = formataddr((p.to_name, p.to_email))
            message["Subject"] = rendered.subject
            message["Date"] = formatdate(localtime=False)
            message["Message-ID"] = f"<{job}@{self._domain}>"
            message["X-Job-Id"] = str(job)
            message["X-Correlation-Id"] = command.correlation_id
            message.set_content(rendered.text)
            message.add_alternative(rendered.html, subtype="html")
            await self._sender.send(message)
        except RenderError as exc:
            await self._failed(command, f"render error: {exc}", retrying=False)
            raise PermanentFailure(f"render error: {exc}") from exc
        except PermanentFailure as exc:
            await self._failed(command, str(exc), retrying=False)
            raise
        except Exception as exc:
            # Known not delivered (the SMTP server did not accept it): safe to try again.
            await self._failed(command, f"{type(exc).__name__}: {exc}", retrying=command.attempt < command.max_attempts)
            raise TransientFailure(str(exc)) from exc
        async with self._pool.connection() as conn:
            await self._log.sent(conn, job, rendered.subject, message["Message-ID"])
        EMAILS.labels(p.template, "sent").inc()

    async def _failed(self, command: CommandEnvelope[SendEmail], error: str, *, retrying: bool) -> None:
        EMAILS.labels(command.payload.template, "retrying" if retrying else "failed").inc()
        async with self._pool.connection() as conn:
            await self._log.failed(conn, command.job_id, error, retrying=retrying)
