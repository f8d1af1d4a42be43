"""The running mailer, through the real RabbitMQ and the SMTP sink's Maildir."""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from collections import Counter
from datetime import UTC, datetime

import httpx
import pytest

from blazing_commands import CommandBus
from blazing_contracts import SendEmail, make_command
from blazing_service.identity import Identity, sign
from blazing_testing import control, edge_client, stack_env
from blazing_testing.accounts import activated_account
from blazing_testing.maildir import find, text_and_html, wait_for_messages
from blazing_testing.ops import stored_dead_letters
from blazing_testing.stack import stopped
from mailer.application.ports import ERASED
from mailer.domain.catalogue import CATALOGUE

pytestmark = pytest.mark.integration
ENV = stack_env()
MAILER = f"http://127.0.0.1:{ENV['MAILER_PORT']}"
BASE = ENV["PUBLIC_BASE_URL"]


def job(
    template: str,
    variables: dict[str, str],
    *,
    priority: int = 3,
    max_attempts: int = 3,
    to: str | None = None,
    to_name: str = "Ada",
) -> tuple[uuid.UUID, object]:
    job_id = uuid.uuid4()
    return job_id, make_command(
        SendEmail(
            to_email=to or f"user-{job_id.hex[:8]}@example.org",
            to_name=to_name,
            template=template,  # type: ignore[arg-type]
            variables=variables,
        ),
        job_id=job_id,
        created_at=datetime.now(UTC),
        correlation_id=f"test-{job_id}",
        priority=priority,
        max_attempts=max_attempts,
    )


def of_jobs(ids: set[str]):  # type: ignore[no-untyped-def]
    return lambda m: m["X-Job-Id"] in ids


VARIABLES = {
    "first_name": "Ada",
    "activation_code": "Act1vati0nC0de",
    "reset_code": "ResetCode123",
    "change_code": "ChangeCode123",
    "code": "SetCode123",
    "user_id": str(uuid.uuid4()),
    "expires_in_minutes": "60",
    "expires_in_hours": "24",
    "locked_until": "2026-11-29 16:00 UTC",
}


async def test_every_template_arrives_with_both_parts_and_absolute_links(bus: CommandBus) -> None:
    sent: dict[str, str] = {}
    for template, spec in CATALOGUE.items():
        job_id, command = job(template, {k: VARIABLES[k] for k in spec.required})
        await bus.send(command)  # type: ignore[arg-type]
        sent[str(job_id)] = template
    arrived = await asyncio.to_thread(wait_for_messages, ENV.maildir, of_jobs(set(sent)), len(sent), 30)
    assert len(arrived) == len(sent)
    for message in arrived:
        template = sent[message["X-Job-Id"]]
        spec = CATALOGUE[template]
        assert message["Subject"] == spec.subject
        assert message["From"] == f"{ENV['MAIL_FROM_NAME']} <{ENV['MAIL_FROM_ADDRESS']}>"
        text, html = text_and_html(message)
        for part in (text, html):
            assert "{{" not in part
            assert "Ada" in part
        for path, _params in spec.links.values():
            assert f"{BASE}{path}" in text, (template, path)
            assert f'href="{BASE}{path}' in html, (template, path)
        if template == "account_activation":
            assert f"{BASE}/activate?code=Act1vati0nC0de" in text


async def test_missing_variable_dead_letters_the_job_with_a_clear_error(bus: CommandBus) -> None:
    job_id, command = job("forgot_password", {"first_name": "Ada", "expires_in_minutes": "60"})
    await bus.send(command)  # type: ignore[arg-type]
    [letter] = await stored_dead_letters(ENV, "event_id = %s", (job_id,))
    headers = letter["headers"]
    assert (letter["source"], letter["original_topic"], letter["status"]) == ("rabbitmq", "jobs.send_email", "pending")
    assert headers["x-error-reason"] == "permanent"
    assert "missing variable(s): reset_code" in str(headers["x-error-message"])
    assert headers["x-original-queue"] == "jobs.send_email"
    assert find(ENV.maildir, lambda m: m["X-Job-Id"] == str(job_id)) == []


@pytest.mark.parametrize(
    ("to_name", "to_email", "why"),
    [
        ("Ada\r\nBcc: victim@example.org", None, "to_name"),
        ("Ada\nLovelace", None, "to_name"),
        ("Ada\x00", None, "to_name"),
        ("Ada", "ada@exa mple.org", "to_email"),  # the header would have said <ada@exa>
        ("Ada", "ada@example.org\r\nBcc: victim@example.org", "to_email"),
        ("Ada", "not-an-address", "to_email"),
    ],
)
async def test_a_message_that_cannot_be_sent_is_dead_lettered_after_one_attempt(
    bus: CommandBus, to_name: str, to_email: str | None, why: str
) -> None:
    """Header injection and invalid addresses are permanent: one attempt, straight to the dead
    letters (the activation mail of a CR/LF name was retried 8 times over 4 minutes)."""
    job_id, command = job("account_activation", VARIABLES, max_attempts=8, to=to_email, to_name=to_name)
    started = time.monotonic()
    await bus.send(command)  # type: ignore[arg-type]
    [letter] = await stored_dead_letters(ENV, "event_id = %s", (job_id,), within=15)
    assert time.monotonic() - started < 10
    headers = letter["headers"]
    assert (headers["x-error-reason"], headers["x-attempts"]) == ("permanent", "1"), headers
    assert why in headers["x-error-message"]
    assert find(ENV.maildir, lambda m: m["X-Job-Id"] == str(job_id)) == []
    assert find(ENV.maildir, lambda m: "victim@example.org" in str(m["X-Sink-Rcpt-To"])) == []


async def test_duplicate_delivery_sends_once(bus: CommandBus) -> None:
    job_id, command = job("welcome", {"first_name": "Ada"})
    for _ in range(3):
        await bus.send(command)  # type: ignore[arg-type]
    await asyncio.to_thread(wait_for_messages, ENV.maildir, of_jobs({str(job_id)}), 1, 15)
    await asyncio.sleep(1.5)
    assert len(find(ENV.maildir, of_jobs({str(job_id)}))) == 1


async def test_priority_five_all_before_priority_one(bus: CommandBus) -> None:
    await asyncio.to_thread(control, "stop", "svc-mailer")
    priorities: dict[str, int] = {}
    try:
        for i in range(200):
            priority = 1 + i % 5
            job_id, command = job("welcome", {"first_name": "Ada"}, priority=priority)
            await bus.send(command)  # type: ignore[arg-type]
            priorities[str(job_id)] = priority
    finally:
        await asyncio.to_thread(control, "start", "svc-mailer")
    arrived = await asyncio.to_thread(wait_for_messages, ENV.maildir, of_jobs(set(priorities)), 200, 60)
    order = [priorities[m["X-Job-Id"]] for m in sorted(arrived, key=lambda m: m["X-Sink-Sequence"])]
    last_five = max(i for i, p in enumerate(order) if p == 5)
    first_one = min(i for i, p in enumerate(order) if p == 1)
    assert last_five < first_one, order


async def test_smtp_outage_of_twenty_seconds_delays_but_loses_nothing(bus: CommandBus) -> None:
    ids: set[str] = set()
    async with stopped("smtp"):
        for _ in range(20):
            job_id, command = job("welcome", {"first_name": "Ada"}, max_attempts=8)
            await bus.send(command)  # type: ignore[arg-type]
            ids.add(str(job_id))
        await asyncio.sleep(20)
    arrived = await asyncio.to_thread(wait_for_messages, ENV.maildir, of_jobs(ids), 20, 60)
    await asyncio.sleep(1)
    counts = Counter(m["X-Job-Id"] for m in find(ENV.maildir, of_jobs(ids)))
    assert set(counts) == ids
    assert max(counts.values()) == 1, "no e-mail arrives twice"
    assert len(arrived) == 20


async def test_kill_nine_mid_batch_never_sends_twice(bus: CommandBus) -> None:
    ids: set[str] = set()
    for _ in range(300):
        job_id, command = job("welcome", {"first_name": "Ada"}, max_attempts=8)
        await bus.send(command)  # type: ignore[arg-type]
        ids.add(str(job_id))
    await asyncio.to_thread(wait_for_messages, ENV.maildir, of_jobs(ids), 60, 30)
    pid = int((ENV.var / "run" / "svc-mailer.pid").read_text().split()[0])  # the pid, then its start time
    os.kill(pid, signal.SIGKILL)
    await asyncio.sleep(0.5)
    await asyncio.to_thread(control, "start", "svc-mailer")

    # Each job ends either delivered once, or dead-lettered as "uncertain" when the kill hit it
    # mid-send (it is never guessed at and resent).
    def settled() -> bool:
        return len({m["X-Job-Id"] for m in find(ENV.maildir, of_jobs(ids))}) + len(uncertain) >= len(ids)

    uncertain: set[str] = set()
    deadline = asyncio.get_running_loop().time() + 120
    while not settled():
        assert asyncio.get_running_loop().time() < deadline, "jobs neither delivered nor dead-lettered"
        letters = await stored_dead_letters(ENV, "event_id = ANY(%s)", ([uuid.UUID(i) for i in ids],), count=0)
        uncertain |= {str(m["event_id"]) for m in letters}
        await asyncio.sleep(0.5)
    counts = Counter(m["X-Job-Id"] for m in find(ENV.maildir, of_jobs(ids)))
    assert max(counts.values()) == 1, "no job was sent twice"
    assert set(counts) | uncertain == ids, "every job delivered, or dead-lettered as uncertain"
    # "uncertain" means "maybe delivered": the kill can hit a job after the SMTP server accepted it
    # and before the sent log recorded it. Only deliveries in hand at the kill can be uncertain.
    assert len(uncertain) <= 16


async def test_mail_log_api_is_for_admins_only() -> None:
    secret = ENV["GATEWAY_IDENTITY_SECRET"]
    admin = sign(Identity(user_id=uuid.uuid4(), permissions=10), secret)
    user = sign(Identity(user_id=uuid.uuid4(), permissions=1), secret)
    forged = sign(Identity(user_id=uuid.uuid4(), permissions=100), "guessed-secret")
    async with httpx.AsyncClient(base_url=MAILER, timeout=10) as client:
        assert (await client.get("/ops/api/mail-log")).status_code == 401
        assert (await client.get("/ops/api/mail-log", headers=forged)).status_code == 401
        assert (await client.get("/ops/api/mail-log", headers=user)).status_code == 403
        response = await client.get("/ops/api/mail-log", params={"limit": 5, "status": "sent"}, headers=admin)
        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "success"
        assert body["total"] >= 1
        assert len(body["items"]) <= 5
        assert all(item["status"] == "sent" for item in body["items"])
        bad = await client.get("/ops/api/mail-log", params={"limit": 1000}, headers=admin)
        assert bad.status_code == 400


async def test_a_deleted_users_address_and_name_leave_the_mail_log() -> None:
    """SPEC: user.deleted makes every service erase that user's personal data — the mail log kept
    every address and name it ever sent to."""
    async with edge_client() as edge:
        email, session = await activated_account(edge, prefix="mail-erased")
        bearer = {"authorization": f"Bearer {session['access_token']}"}
        assert (await edge.delete(f"/api/v1/user/{session['user']['id']}", headers=bearer)).status_code in (200, 202)
    admin = sign(Identity(user_id=uuid.uuid4(), permissions=10), ENV["GATEWAY_IDENTITY_SECRET"])
    async with httpx.AsyncClient(base_url=MAILER, timeout=10) as client:
        deadline = time.monotonic() + 30
        while (await client.get("/ops/api/mail-log", params={"to_email": email}, headers=admin)).json()["total"]:
            assert time.monotonic() < deadline, f"{email} still in the mail log 30 s after the deletion"
            await asyncio.sleep(0.5)
        erased = (await client.get("/ops/api/mail-log", params={"to_email": ERASED}, headers=admin)).json()
    assert erased["total"] >= 1, "the mails sent to the user stay in the log, without address or name"
