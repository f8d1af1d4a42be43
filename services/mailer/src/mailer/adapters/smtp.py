"""SMTP delivery through reused connections (aiosmtplib), STARTTLS and auth when configured.
SMTP failures are classified here: 4xx and connection trouble are transient; 5xx and what the
server cannot take (an extension it lacks, e.g. SMTPUTF8 for a non-ASCII address) are permanent."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from email.message import EmailMessage

import aiosmtplib
from opentelemetry.trace import SpanKind

from blazing_commands import PermanentFailure, TransientFailure
from blazing_service.tracing import span
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
            raise PermanentFailure(f"SMTP server cannot take this message: {exc}") from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise TransientFailure(f"SMTP unavailable: {exc}") from exc

    async def close(self) -> None:
        while not self._idle.empty():
            client = self._idle.get_nowait()
            if client.is_connected:
                with contextlib.suppress(Exception):
                    await client.quit()


def _classify(code: int, message: str) -> Exception:
    if 400 <= code < 500:
        return TransientFailure(f"SMTP {code}: {message}")
    return PermanentFailure(f"SMTP {code}: {message}")
