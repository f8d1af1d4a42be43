"""The mailer's sent log and its reads on PostgreSQL and in memory, held to one contract: the same
claims give the same answers — so the use-case tests on the fakes say something about the real
service. The templates port: the Jinja templates and the fake refuse a missing variable alike."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from psycopg_pool import AsyncConnectionPool

from mailer.adapters.memory import (
    InMemoryMailLogReads,
    InMemoryRecipients,
    InMemorySentLog,
    MailerMemory,
    MemoryTemplates,
)
from mailer.adapters.postgres import PostgresMailLogReads, PostgresRecipients, PostgresSentLog
from mailer.adapters.templates import JinjaTemplates
from mailer.application.ports import ERASED, MailLogReads, NewEntry, Recipients, RenderError, SentLog, Templates

pytestmark = pytest.mark.integration

Backend = tuple[SentLog, SentLog, MailLogReads]
"""A sent log with the usual lease, one whose leases are over at once, and the reads."""


@pytest.fixture(params=["memory", "postgres"])
def backend(request: pytest.FixtureRequest, pool: AsyncConnectionPool) -> Backend:
    if request.param == "memory":
        db = MailerMemory()
        return InMemorySentLog(db), InMemorySentLog(db, lease_seconds=-1), InMemoryMailLogReads(db)
    return PostgresSentLog(pool), PostgresSentLog(pool, lease_seconds=-1), PostgresMailLogReads(pool)


def entry(to_email: str | None = None, template: str = "welcome") -> NewEntry:
    """A job to ``to_email``, by default an address of its own."""
    return NewEntry(
        job_id=uuid.uuid4(),
        to_email=to_email or f"contract-{uuid.uuid4().hex[:8]}@example.org",
        to_name="Ada",
        template=template,
        priority=3,
        correlation_id="contract",
    )


async def test_a_job_is_claimed_once_until_it_fails(backend: Backend) -> None:
    log, _, reads = backend
    job = entry()
    assert await log.claim(job) == "claimed"
    assert await log.claim(job) == "in_flight", "another delivery while the lease runs"
    await log.failed(job.job_id, "MailServerUnavailable: SMTP 451", retrying=True)
    assert await log.claim(job) == "claimed", "a failed attempt may be tried again"
    await log.failed(job.job_id, "x" * 3000, retrying=False)
    assert await log.claim(job) == "claimed"
    await log.sent(job.job_id, "Welcome", f"<{job.job_id}@blazingsun.app>")
    assert await log.claim(job) == "sent"
    [shown], total = await reads.list(limit=10, offset=0, status=None, to_email=job.to_email)
    assert total == 1
    assert (shown.job_id, shown.status, shown.attempts, shown.subject, shown.last_error) == (
        job.job_id,
        "sent",
        3,
        "Welcome",
        None,
    )
    assert (shown.to_email, shown.to_name, shown.template, shown.priority, shown.correlation_id) == (
        job.to_email,
        "Ada",
        "welcome",
        3,
        "contract",
    )
    assert shown.sent_at is not None
    assert shown.sent_at.tzinfo is not None


async def test_a_send_whose_lease_ran_out_is_uncertain_for_good(backend: Backend) -> None:
    _, expiring, reads = backend
    job = entry()
    assert await expiring.claim(job) == "claimed"
    assert await expiring.claim(job) == "uncertain", "the mailer stopped while sending"
    assert await expiring.claim(job) == "uncertain", "and stays so"
    [shown], _ = await reads.list(limit=10, offset=0, status="uncertain", to_email=job.to_email)
    assert (shown.status, shown.last_error) == ("uncertain", "the mailer stopped while sending")


async def test_failures_keep_their_error_cut_to_2000_characters(backend: Backend) -> None:
    log, _, reads = backend
    job = entry()
    await log.claim(job)
    await log.failed(job.job_id, "e" * 3000, retrying=False)
    [shown], _ = await reads.list(limit=10, offset=0, status="failed", to_email=job.to_email)
    assert shown.last_error == "e" * 2000


async def test_the_log_reads_newest_first_filtered_and_paged(backend: Backend) -> None:
    log, _, reads = backend
    address = f"Contract-{uuid.uuid4().hex[:8]}@Example.org"
    jobs = [entry(address, template) for template in ("welcome", "account_locked", "forgot_password")]
    for job in jobs:
        await log.claim(job)
    await log.sent(jobs[0].job_id, "Welcome", "<m@b>")
    everything, total = await reads.list(limit=10, offset=0, status=None, to_email=address.upper())
    assert total == 3
    assert [e.job_id for e in everything] == [j.job_id for j in reversed(jobs)]
    page, total = await reads.list(limit=1, offset=1, status=None, to_email=address.lower())
    assert ([e.job_id for e in page], total) == ([jobs[1].job_id], 3)
    pending, total = await reads.list(limit=10, offset=0, status="pending", to_email=job.to_email)
    assert ({e.job_id for e in pending}, total) == ({jobs[1].job_id, jobs[2].job_id}, 2)
    assert await reads.list(limit=10, offset=0, status="sent", to_email=f"nobody-{uuid.uuid4()}@x.org") == ([], 0)
    assert all(e.created_at <= datetime.now(UTC) for e in everything)


@pytest.fixture(params=["memory", "postgres"])
def erasure(request: pytest.FixtureRequest, pool: AsyncConnectionPool) -> tuple[SentLog, Recipients, MailLogReads]:
    if request.param == "memory":
        db = MailerMemory()
        return InMemorySentLog(db), InMemoryRecipients(db), InMemoryMailLogReads(db)
    return PostgresSentLog(pool), PostgresRecipients(pool), PostgresMailLogReads(pool)


async def test_erasing_a_user_leaves_no_address_name_or_error_of_theirs_in_the_log(
    erasure: tuple[SentLog, Recipients, MailLogReads],
) -> None:
    log, recipients, reads = erasure
    user, address = uuid.uuid4(), f"Erased-{uuid.uuid4().hex[:8]}@Example.org"
    theirs = [entry(address), entry(address.lower())]
    other = entry()
    for job in (*theirs, other):
        await log.claim(job)
    await log.failed(theirs[0].job_id, f"550 <{address.lower()}>: mailbox unavailable", retrying=False)
    await recipients.known(user, address)
    await recipients.known(user, address)  # told twice (a redelivered user.created): no change
    assert await recipients.erase(user) == 2
    assert await reads.list(limit=10, offset=0, status=None, to_email=address) == ([], 0)
    erased, _ = await reads.list(limit=10, offset=0, status=None, to_email=ERASED)
    mine = [e for e in erased if e.job_id in {j.job_id for j in theirs}]
    assert len(mine) == 2
    assert all((e.to_email, e.to_name, e.last_error) == (ERASED, ERASED, None) for e in mine)
    [kept], _ = await reads.list(limit=10, offset=0, status=None, to_email=other.to_email)
    assert (kept.to_email, kept.to_name) == (other.to_email, "Ada"), "another address is untouched"
    assert await recipients.erase(user) == 0, "a redelivered user.deleted has nothing left to erase"
    assert await recipients.erase(uuid.uuid4()) == 0, "a user never known"


@pytest.mark.parametrize("templates", [JinjaTemplates(), MemoryTemplates({"welcome": ("first_name", "sign_in_url")})])
def test_templates_refuse_a_missing_variable(templates: Templates) -> None:
    context = {"first_name": "Ada", "sign_in_url": "https://m.example/sign-in", "app_name": "Blazing Sun"}
    context |= {"base_url": "https://m.example", "email": "a@b.co", "to_name": "Ada", "year": 2026}
    text, html = templates.render("welcome", context)
    assert "Ada" in text
    assert "Ada" in html
    del context["sign_in_url"]
    with pytest.raises(RenderError, match="sign_in_url"):
        templates.render("welcome", context)
