"""SMTP delivery through reused connections (aiosmtplib), STARTTLS and auth when configured — the
mailbox port. SMTP failures are classified here, and only here: 4xx and connection trouble are
``MailServerUnavailable`` (transient); 5xx and what the server cannot take (an extension it lacks,
e.g. SMTPUTF8 for a non-ASCII address) are ``Undeliverable`` (permanent); any other failure is
judged as the command runner judges it (``is_permanent``: bad data is permanent, the rest not)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from email.message import EmailMessage

import aiosmtplib
from opentelemetry.trace import SpanKind

from blazing_commands import is_permanent
from blazing_service.tracing import span
from mailer.application.ports import MailServerUnavailable, Undeliverable
from mailer.settings import MailerSettings


class SmtpPool:
    def __init__(self, settings: MailerSettings) -> None:
        self._settings = settings
        self._idle: asyncio.Queue[aiosmtplib.SMTP] = asyncio.Queue()
        for _ in range(settings.smtp_connections):
            self._idle.put_nowait(self._client())

    def _client(self) -> aiosmtplib.SMTP:
        s = self._settings
        return aiosmtplib.SMTP(
            hostname=s.mail_host,
            port=s.mail_port,
            username=s.mail_username,
            password=s.mail_password,
            start_tls=s.mail_starttls,
            timeout=s.mail_timeout,
        )

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[aiosmtplib.SMTP]:
        client = await self._idle.get()
        try:
            if not client.is_connected:
                await client.connect()
            yield client
        except BaseException:
            client.close()  # a broken connection is never reused
            raise
        finally:
            self._idle.put_nowait(client)

    async def send(self, message: EmailMessage) -> None:
        try:
            with span("smtp send", SpanKind.CLIENT, **{"server.address": self._settings.mail_host}):
                async with self._connection() as client:
                    await client.send_message(message)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            raise _classify(min(codes) if codes else 550, str(exc)) from exc
        except aiosmtplib.SMTPResponseException as exc:
            raise _classify(exc.code, exc.message) from exc
        except aiosmtplib.SMTPNotSupported as exc:
            raise Undeliverable(f"SMTP server cannot take this message: {exc}") from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise MailServerUnavailable(f"SMTP unavailable: {exc}") from exc
        except Exception as exc:  # e.g. a message the client cannot serialise: the port raises its two errors only
            failure = Undeliverable if is_permanent(exc) else MailServerUnavailable
            raise failure(f"{type(exc).__name__}: {exc}") from exc

    async def close(self) -> None:
        """Says QUIT on the idle connections. Shutdown calls it before the deliveries in hand are
        drained: each connection goes back to the pool (one still needed connects again), so no
        delivery waits for a connection that was taken away."""
        for _ in range(self._idle.qsize()):
            client = self._idle.get_nowait()
            try:
                if client.is_connected:
                    with contextlib.suppress(Exception):
                        await client.quit()
            finally:
                self._idle.put_nowait(client)


def _classify(code: int, message: str) -> Undeliverable | MailServerUnavailable:
    if 400 <= code < 500:
        return MailServerUnavailable(f"SMTP {code}: {message}")
    return Undeliverable(f"SMTP {code}: {message}")
