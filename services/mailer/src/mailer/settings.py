"""The mailer's settings: the shared service settings plus SMTP."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from blazing_service import Env, ServiceSettings

PORT = 8004
MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


class MailerSettings(ServiceSettings, frozen=True, kw_only=True):
    mail_host: str = "127.0.0.1"
    mail_port: int = 1025
    mail_username: str | None = None
    mail_password: str | None = None
    mail_starttls: bool = False
    mail_timeout: float = 10.0
    mail_from_address: str = "noreply@blazingsun.app"
    mail_from_name: str = "Blazing Sun"
    smtp_connections: int = 4
    """SMTP connections kept open and reused; also the number of e-mails sent at once."""
    prefetch: int = 16


def load(env: Mapping[str, str] | None = None) -> MailerSettings:
    e = Env(env)
    return MailerSettings.from_env(
        "mailer",
        PORT,
        env,
        mail_host=e.text("MAIL_HOST", "127.0.0.1"),
        mail_port=e.integer("MAIL_PORT", 1025),
        mail_username=e.optional("MAIL_USERNAME"),
        mail_password=e.optional("MAIL_PASSWORD"),
        mail_starttls=e.flag("MAIL_STARTTLS", False),
        mail_from_address=e.text("MAIL_FROM_ADDRESS", "noreply@blazingsun.app"),
        mail_from_name=e.text("MAIL_FROM_NAME", "Blazing Sun"),
        smtp_connections=e.integer("MAILER_SMTP_CONNECTIONS", 4),
        prefetch=e.integer("MAILER_PREFETCH", 16),
    )
