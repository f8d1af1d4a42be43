"""user.events in the mailer: user.created says whose address it is, user.deleted erases that
address from the mail log — through the consumer's handler, on the in-memory fakes."""

from __future__ import annotations

import uuid
from typing import Any

from blazing_contracts.events.user import UserCreated, UserDeleted
from blazing_es import RecordInfo
from blazing_testing.events import event_of
from mailer.adapters.memory import InMemoryMailLogReads, InMemoryRecipients, InMemorySentLog, MailerMemory
from mailer.application.erasure import ForgetDeletedUsers
from mailer.application.ports import ERASED, NewEntry
from mailer.entrypoints.consumers import user_events_handler


def envelope(payload: Any) -> Any:
    return event_of(payload, aggregate_id=str(payload.user_id), producer="users")


async def test_a_deleted_users_mails_keep_no_address_or_name() -> None:
    db = MailerMemory()
    log, handle = InMemorySentLog(db), user_events_handler(ForgetDeletedUsers(InMemoryRecipients(db)))
    user, address = uuid.uuid4(), "ada@example.org"
    job = NewEntry(
        job_id=uuid.uuid4(), to_email=address, to_name="Ada", template="welcome", priority=3, correlation_id="c"
    )
    await log.claim(job)  # the activation mail goes out before the user exists
    info = RecordInfo(topic="user.events", partition=0, offset=0, key=None, value=b"", headers=[])
    created = UserCreated(user_id=user, email=address, first_name="Ada", last_name="L", permissions=1, activated=False)
    await handle(envelope(created), info)
    await handle(envelope(UserDeleted(user_id=user, deleted_by=user)), info)
    [row], total = await InMemoryMailLogReads(db).list(limit=10, offset=0, status=None, to_email=None)
    assert (row.job_id, row.to_email, row.to_name, total) == (job.job_id, ERASED, ERASED, 1)
    assert db.recipients == {}
