"""The mailer's composition root: everything it runs, built from its settings."""

from __future__ import annotations

from litestar import Litestar

from blazing_contracts.topology import JOB_SEND_EMAIL, USER_EVENTS
from blazing_service import create_app
from blazing_service.runtime import Runtime
from mailer.adapters.postgres import PostgresMailLogReads, PostgresRecipients, PostgresSentLog
from mailer.adapters.smtp import SmtpPool
from mailer.adapters.templates import JinjaTemplates
from mailer.application.erasure import ForgetDeletedUsers
from mailer.application.queries import MailLogQueries
from mailer.application.rendering import Renderer
from mailer.application.send_email import SendEmailHandler
from mailer.entrypoints.consumers import USER_EVENT_TYPES, send_email_handler, user_events_handler
from mailer.entrypoints.http import MailLogController
from mailer.settings import MIGRATIONS, MailerSettings

CONSUMER = "mailer.user-events"


def build_app(settings: MailerSettings) -> Litestar:
    # a database connection for each e-mail in hand, and a few for the ops API
    runtime = Runtime(settings, migrations=MIGRATIONS, pool_size=settings.smtp_connections + 4)
    pool = runtime.pool
    smtp = SmtpPool(settings)
    runtime.on_stop(smtp.close)
    send = SendEmailHandler(
        PostgresSentLog(pool),
        smtp,
        Renderer(JinjaTemplates(), settings.public_base_url),
        settings.mail_from_address,
        settings.mail_from_name,
    )
    runtime.command(
        JOB_SEND_EMAIL, send_email_handler(send), concurrency=settings.smtp_connections, prefetch=settings.prefetch
    )
    runtime.consume(
        [USER_EVENTS],
        group_id=CONSUMER,
        handler=user_events_handler(ForgetDeletedUsers(PostgresRecipients(pool))),
        events=USER_EVENT_TYPES,
        wait=0.5,  # a user event may wait to share a fetch: not a fetch and a commit per event
    )
    app = create_app(
        settings,
        [MailLogController],
        runtime=runtime,
        description="Sends the system's e-mails; ops API for the mail log.",
    )
    app.state.queries = MailLogQueries(PostgresMailLogReads(pool))
    return app
