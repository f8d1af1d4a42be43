"""The ops ports on PostgreSQL and in memory, held to one contract: the same dead letters, filters,
replay jobs, discards and audit entries read the same — so the application tests on the fakes
(tests/unit/test_application.py) say something about the real service. PostgreSQL here is a scratch
database of each test's own (the running ops service would otherwise claim its replay jobs)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest

from blazing_es import install
from blazing_es.memory import TablesDatabase
from blazing_service.db import open_database
from blazing_testing import stack_env
from blazing_testing.postgres import scratch_database
from ops.adapters.memory import FakePublisher, InMemoryOpsReads, InMemoryOpsUnitOfWork, OpsTables
from ops.adapters.postgres import PostgresOpsReads, PostgresOpsUnitOfWork
from ops.application.dead_letters import DeadLetterQueries, DiscardDeadLetters, StoreDeadLetters, ViewDeadLetter
from ops.application.ports import OpsReads, OpsUnitOfWork
from ops.application.replays import ReplayCommands, ReplayWorker
from ops.domain.audit import Actor
from ops.domain.dead_letters import DeadLetter, Filter
from ops.settings import MIGRATIONS

pytestmark = pytest.mark.integration
T0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
ADA = Actor(user_id=uuid.uuid4(), name="ada")


class Backend:
    def __init__(self, uow: Callable[[], OpsUnitOfWork], reads: OpsReads) -> None:
        self.uow, self.reads = uow, reads
        self.store = StoreDeadLetters(uow)
        self.queries = DeadLetterQueries(reads)
        self.view = ViewDeadLetter(reads, uow)
        self.discard = DiscardDeadLetters(uow)
        self.replays = ReplayCommands(uow, reads, default_rate=500, max_rate=10_000)
        self.kafka, self.rabbit = FakePublisher(), FakePublisher()

        async def no_wait(_: float) -> None:
            return None

        self.worker = ReplayWorker(
            uow, {"kafka": self.kafka, "rabbitmq": self.rabbit}, max_replays=2, batch_size=2, sleep=no_wait
        )


@pytest.fixture(params=["memory", "postgres"])
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    if request.param == "memory":
        db = TablesDatabase(tables=OpsTables())
        yield Backend(lambda: InMemoryOpsUnitOfWork(db), InMemoryOpsReads(db))
        return
    async with scratch_database(stack_env(), "ops_contract") as url:
        pool = await open_database(url, name="ops-contract", migrations=MIGRATIONS, prepare=install, max_size=4)
        try:
            yield Backend(lambda: PostgresOpsUnitOfWork(pool), PostgresOpsReads(pool))
        finally:
            await pool.close()


def letter(
    n: int,
    *,
    consumer: str = "mailer.user-events",
    error: str = "TimeoutError",
    source: str = "kafka",
    hours: int = 0,
    replays: int | None = None,
    value: bytes | None = None,
) -> DeadLetter:
    at = T0 + timedelta(hours=hours)
    return DeadLetter(
        dead_letter_id=uuid.UUID(int=n),
        source=source,  # type: ignore[arg-type]
        original_topic="user.events" if source == "kafka" else "jobs.send_email",
        partition=0 if source == "kafka" else None,
        offset=n if source == "kafka" else None,
        key=b"key" if source == "kafka" else None,
        value=value if value is not None else msgspec.json.encode({"n": n, "email": f"user{n}@example.org"}),
        headers=[("traceparent", b"00-x"), *([("replay_count", str(replays).encode())] if replays else [])],
        consumer_group=consumer,
        service="mailer",
        error_type=error,
        error_message=f"user{n}@example.org: 50%_off\x00",
        traceback="Traceback\x00 …" if n == 1 else None,
        attempts=n,
        poison=n == 3,
        event_id=uuid.UUID(int=1000 + n),
        event_type=None if n == 3 else "user.created",
        aggregate_id=f"agg-{n}",
        first_failure_at=at,
        last_failure_at=at,
    )


def scrub(value: Any) -> Any:
    """Timestamps of each clock and generated ids aside, everything must agree."""
    if isinstance(value, list):
        return [scrub(v) for v in value]
    if isinstance(value, dict):
        dropped = {"received_at", "at", "created_at", "started_at", "finished_at", "updated_at", "last_replayed_at"}
        return {k: scrub(v) for k, v in value.items() if k not in dropped | {"id", "job_id"}}
    return value


async def test_the_same_dead_letters_read_the_same(backend: Backend) -> None:
    letters = [
        letter(1, hours=0),
        letter(2, hours=1, error="KeyError"),
        letter(3, hours=2, value=b"\xffraw"),
        letter(4, hours=3, source="rabbitmq", consumer="send_email", replays=1),
    ]
    for one_letter in letters:  # one at a time: each received after the one before
        assert await backend.store([one_letter]) == 1
        await asyncio.sleep(0.01)
    assert await backend.store(letters[:2]) == 0, "stored once"

    async def listed(**f: Any) -> list[int]:
        items, total = await backend.queries.listing(Filter(**f), 100, 0)
        assert total == len(items)
        return [i["dead_letter_id"].int for i in items]

    assert await listed() == [4, 3, 2, 1], "newest first"
    assert await listed(topic="jobs.send_email") == [4]
    assert await listed(error="50%_OFF") == [4, 3, 2, 1], "% and _ are text, any case"
    assert await listed(error="keyerror") == [2]
    assert await listed(error="%") == [4, 3, 2, 1]
    assert await listed(error="5_%") == []
    assert await listed(source="rabbitmq", consumer_group="send_email", service="mailer") == [4]
    assert await listed(event_type="user.created", aggregate_id="agg-2") == [2]
    assert await listed(since=T0 + timedelta(hours=1), until=T0 + timedelta(hours=3)) == [3, 2]
    assert await listed(ids=[uuid.UUID(int=1), uuid.UUID(int=4)]) == [4, 1]
    assert await listed(status="pending", fingerprint=letters[1].fingerprint) == [2]
    page, total = await backend.queries.listing(Filter(), 2, 1)
    assert ([i["dead_letter_id"].int for i in page], total) == ([3, 2], 4)
    shown = scrub(page[1])
    assert shown == {
        "dead_letter_id": uuid.UUID(int=2),
        "source": "kafka",
        "original_topic": "user.events",
        "consumer_group": "mailer.user-events",
        "service": "mailer",
        "event_type": "user.created",
        "aggregate_id": "agg-2",
        "error_type": "KeyError",
        "error_message": "u•••@example.org: 50%_off",
        "attempts": 2,
        "poison": False,
        "fingerprint": letters[1].fingerprint,
        "status": "pending",
        "replay_count": 0,
        "last_failure_at": T0 + timedelta(hours=1),
        "preview": '{"n":2,"email":"•••"}',
    }

    groups = await backend.queries.groups(Filter(consumer_group="mailer.user-events"))
    assert scrub(groups) == [
        {
            "fingerprint": g.fingerprint,
            "event_type": g.event_type,
            "consumer_group": "mailer.user-events",
            "error_type": g.error_type,
            "service": "mailer",
            "source": "kafka",
            "total": 1,
            "pending": 1,
            "quarantined": 0,
            "first_seen": g.last_failure_at,
            "last_seen": g.last_failure_at,
            "sample_error": "u•••@example.org: 50%_off",
        }
        for g in sorted(letters[:3], key=lambda d: d.fingerprint)
    ]

    one = await backend.view(uuid.UUID(int=1), ADA)
    assert scrub(one) == {
        "dead_letter_id": uuid.UUID(int=1),
        "source": "kafka",
        "original_topic": "user.events",
        "partition": 0,
        "offset": 1,
        "consumer_group": "mailer.user-events",
        "service": "mailer",
        "error_type": "TimeoutError",
        "error_message": "user1@example.org: 50%_off",
        "traceback": "Traceback …",
        "attempts": 1,
        "poison": False,
        "event_id": uuid.UUID(int=1001),
        "event_type": "user.created",
        "aggregate_id": "agg-1",
        "fingerprint": letters[0].fingerprint,
        "first_failure_at": T0,
        "last_failure_at": T0,
        "status": "pending",
        "replay_count": 0,
        "key": "key",
        "payload": {"n": 1, "email": "user1@example.org"},
        "raw_value": None,
        "headers": [{"name": "traceparent", "value": "00-x"}],
        "history": [{"action": "received", "actor": "system", "detail": None}],
    }
    raw = await backend.view(uuid.UUID(int=3), ADA)
    assert (raw["payload"], raw["raw_value"], raw["event_type"], raw["poison"]) == (None, "/3Jhdw==", None, True)
    assert (await backend.view(uuid.UUID(int=4), ADA))["replay_count"] == 1, "inherited from its header"
    assert await backend.reads.dead_letter(uuid.uuid4()) is None

    assert await backend.discard(Filter(error="KeyError"), ADA, dry_run=True) == 1
    assert await backend.discard(Filter(error="KeyError"), ADA) == 1
    assert await backend.queries.replayable(Filter()) == 3
    assert await listed(status="discarded") == [2]
    counts, oldest = await backend.reads.stored()
    assert counts == {"pending": 3, "replayed": 0, "discarded": 1, "quarantined": 0}
    assert oldest >= 0

    await backend.uow().__aenter__()  # an abandoned unit of work commits nothing
    entries = await backend.queries.audit(10)
    assert [(e["action"], e["count"], e["actor"], e["actor_id"]) for e in entries] == [
        ("discard", 1, "ada", ADA.user_id),
        ("discard_dry_run", 1, "ada", ADA.user_id),
        ("viewed", 1, "ada", ADA.user_id),
        ("viewed", 1, "ada", ADA.user_id),
        ("viewed", 1, "ada", ADA.user_id),
    ]
    assert entries[0]["target"] == {"filter": {"error": "KeyError"}}
    async with backend.uow() as uow:
        await uow.audit.operator(ADA.user_id, "ada@example.org")
    assert {e["actor"] for e in await backend.queries.audit(10, 0, "discard")} == {"ada@example.org"}
    assert len(await backend.queries.audit(2, 3)) == 2


async def test_replay_jobs_run_alike(backend: Backend) -> None:
    # received together (one transaction, one time): in the order of their ids
    await backend.store([letter(n, hours=n) for n in (4, 2, 3, 1)])
    await backend.store([letter(5, hours=5, source="rabbitmq", consumer="send_email", replays=2)])
    assert [i["dead_letter_id"].int for i in (await backend.queries.listing(Filter(), 10, 0))[0]] == [5, 1, 2, 3, 4]
    await asyncio.sleep(0.01)
    job = await backend.replays.start(Filter(status="pending"), 3, ADA)
    assert scrub(job) == {
        "selector": {"status": "pending"},
        "rate_per_s": 3,
        "status": "queued",
        "total": 5,
        "replayed": 0,
        "quarantined": 0,
        "failed": 0,
        "error": None,
        "created_by": "ada",
    }
    await asyncio.sleep(0.01)
    await backend.store([letter(6, hours=6)])  # after the job was made: not part of it

    async with backend.uow() as uow:  # a worker that stopped after one batch
        claimed = await uow.jobs.claim()
        assert claimed is not None
        assert (claimed.job_id, claimed.rate_per_s, claimed.cursor) == (job["job_id"], 3, None)
        assert await uow.jobs.claim() is None, "one job, claimed once"
        items, position = await uow.dead_letters.batch(claimed.selector, claimed.created_at, None, 2)
        assert [i.dead_letter_id.int for i in items] == [1, 2]
        await uow.dead_letters.replayed([i.dead_letter_id for i in items], job["job_id"])
        assert position is not None
        await uow.jobs.progress(job["job_id"], 2, 0, position)
    async with backend.uow() as uow:
        assert await uow.jobs.requeue_running() == 1

    await backend.worker.run_queued()
    done = await backend.replays.job(job["job_id"])
    assert (done["status"], done["replayed"], done["quarantined"], done["error"]) == ("completed", 4, 1, None)
    assert [i.int for i in backend.kafka.ids] == [3, 4], "resumed after its place"
    assert backend.rabbit.sent == [], "replayed twice already (its header): quarantined"
    one = await backend.view(uuid.UUID(int=1), ADA)
    assert (one["status"], one["replay_count"]) == ("replayed", 1)
    assert [(h["action"], h["actor"], h["detail"]) for h in one["history"]] == [
        ("received", "system", None),
        ("replayed", "replay job", str(job["job_id"])),
    ]
    five = await backend.view(uuid.UUID(int=5), ADA)
    assert (five["status"], five["history"][-1]["action"]) == ("quarantined", "quarantined")
    assert (await backend.view(uuid.UUID(int=6), ADA))["status"] == "pending"

    second = await backend.replays.start(Filter(ids=[uuid.UUID(int=6)]), None, ADA)
    cancelled = await backend.replays.cancel(second["job_id"], ADA)
    assert (cancelled["status"], cancelled["finished_at"] is not None) == ("cancelled", True)
    resumed = await backend.replays.resume(second["job_id"], ADA)
    assert (resumed["status"], resumed["finished_at"]) == ("queued", None)
    backend.kafka.down = ConnectionError("away")
    await backend.worker.run_queued()
    failed = await backend.replays.job(second["job_id"])
    assert (failed["status"], failed["error"]) == ("failed", "ConnectionError: away")
    async with backend.uow() as uow:
        await uow.jobs.finish(second["job_id"], "completed")
        assert await uow.jobs.current(second["job_id"]) == "failed", "only a running job finishes"
        assert await uow.jobs.status(second["job_id"]) == ("failed", 1)
        assert await uow.jobs.status(uuid.uuid4()) is None

    jobs = await backend.replays.jobs(10)
    assert [j["job_id"] for j in jobs] == [second["job_id"], job["job_id"]], "newest first"
    assert jobs[0]["selector"] == {"ids": [str(uuid.UUID(int=6))]}
    actions = [(e["action"], e["count"]) for e in await backend.queries.audit(20) if e["action"] != "viewed"]
    assert actions == [("replay_resumed", 1), ("replay_cancelled", 1), ("replay_started", 1), ("replay_started", 5)]


async def test_a_record_with_nul_characters_and_huge_numbers_is_stored_with_the_rest_of_its_batch(
    backend: Backend,
) -> None:
    """A record PostgreSQL refused failed its whole batch, which came again and again: nothing after
    it was stored. Header names, event type and aggregate id come as the failed record had them."""
    hostile = msgspec.structs.replace(
        letter(1),
        original_topic="user\x00.events",
        headers=[("trace\x00parent", b"00-x")],
        consumer_group="mailer\x00",
        service="mail\x00er",
        error_type="Timeout\x00Error",
        event_type="user\x00.created",
        aggregate_id="\x00",
        partition=2**40,
        offset=2**70,
        attempts=2**40,
    )
    assert await backend.store([hostile, letter(2)]) == 2
    _, total = await backend.queries.listing(Filter(), 10, 0)
    assert total == 2
    stored = await backend.view(uuid.UUID(int=1), ADA)
    assert (stored["original_topic"], stored["consumer_group"], stored["aggregate_id"]) == (
        "user.events",
        "mailer",
        None,
    )
    assert (stored["headers"], stored["attempts"], stored["offset"]) == (
        [{"name": "traceparent", "value": "00-x"}],
        2**31 - 1,
        2**63 - 1,
    )


async def test_erasing_a_user_leaves_none_of_their_data_in_the_dead_letters(backend: Backend) -> None:
    """SPEC: user.deleted erases a user's data in dead letters' payloads — an event of the user's own
    streams, and a job naming the user's id or address (which user.created told)."""
    user, address = uuid.uuid4(), "Ada.Erased@example.org"
    own_event = msgspec.structs.replace(letter(11), aggregate_id=str(user))
    mail_job = letter(12, source="rabbitmq", value=msgspec.json.encode({"to_email": address.lower()}))
    avatar_job = letter(13, source="rabbitmq", value=msgspec.json.encode({"user_id": str(user)}))
    quarantined = msgspec.structs.replace(letter(14), aggregate_id=str(user))
    someone_else = letter(15, source="rabbitmq")
    await backend.store([own_event, mail_job, avatar_job, quarantined, someone_else])
    async with backend.uow() as uow:
        await uow.dead_letters.quarantined([quarantined.dead_letter_id], uuid.uuid4())
        await uow.people.keep(user, address)
    async with backend.uow() as uow:
        assert await uow.dead_letters.erase(user, await uow.people.forget(user)) == 4
    for item in (own_event, mail_job, avatar_job, quarantined):
        one = await backend.view(item.dead_letter_id, ADA)
        assert (one["key"], one["headers"], one["traceback"]) == (None, [], None), item.dead_letter_id
        assert one["payload"] == {"erased": "user.deleted"}
        assert "example.org" not in one["error_message"]
        assert one["history"][-1]["action"] == "erased"
    assert (await backend.view(own_event.dead_letter_id, ADA))["status"] == "discarded", "never replayed again"
    assert (await backend.view(quarantined.dead_letter_id, ADA))["status"] == "quarantined"
    other = await backend.view(someone_else.dead_letter_id, ADA)
    assert (other["status"], other["payload"]) == ("pending", {"n": 15, "email": "user15@example.org"})
    async with backend.uow() as uow:
        assert await uow.people.forget(user) is None
        assert await uow.dead_letters.erase(user, None) == 0, "erased already: nothing more"


async def test_an_empty_address_erases_no_one_elses_jobs(backend: Backend) -> None:
    """An empty text is in every payload (PostgreSQL's position('' IN value) is 1): an address that is
    empty must name no one, as an unknown one does."""
    user = uuid.uuid4()
    someone_else = letter(16, source="rabbitmq")
    await backend.store([someone_else])
    async with backend.uow() as uow:
        assert await uow.dead_letters.erase(user, "") == 0
    assert (await backend.view(someone_else.dead_letter_id, ADA))["status"] == "pending"
