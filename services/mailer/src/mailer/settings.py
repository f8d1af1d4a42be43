"""The mailer's settings: the shared service settings plus SMTP."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

from blazing_service import ServiceSettings, Var

PORT = 8004
MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


class MailerSettings(ServiceSettings, frozen=True, kw_only=True):
    mail_host: Annotated[str, Var("MAIL_HOST")] = "127.0.0.1"
    mail_port: Annotated[int, Var("MAIL_PORT")] = 1025
    mail_username: Annotated[str | None, Var("MAIL_USERNAME")] = None
    mail_password: Annotated[str | None, Var("MAIL_PASSWORD")] = None
    mail_starttls: Annotated[bool, Var("MAIL_STARTTLS")] = False
    mail_timeout: float = 10.0
    mail_from_address: Annotated[str, Var("MAIL_FROM_ADDRESS")] = "noreply@blazingsun.app"
    mail_from_name: Annotated[str, Var("MAIL_FROM_NAME")] = "Blazing Sun"
    smtp_connections: Annotated[int, Var("MAILER_SMTP_CONNECTIONS")] = 4
    """SMTP connections kept open and reused; also the number of e-mails sent at once."""
    prefetch: Annotated[int, Var("MAILER_PREFETCH")] = 16


def load(env: Mapping[str, str] | None = None) -> MailerSettings:
    return MailerSettings.from_env("mailer", PORT, env)
