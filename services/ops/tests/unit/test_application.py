"""The ops use cases on the in-memory fakes (adapters/memory.py): storing and grouping dead letters,
filters, replay jobs with fake publishers (dry run, rate, cancel / resume, failure, quarantine after
OPS_MAX_REPLAYS, interruption), discard, the audit log and the console's sign-in — no server."""

from __future__ import annotations

import asyncio
import base64
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest

from blazing_app import BadInput, Browser, Conflict, Forbidden, NotFound, Refused, Unauthenticated
from blazing_contracts.events.user import UserCreated, UserDeleted
from blazing_es import RecordInfo
from blazing_es.memory import TablesDatabase
from blazing_service.erasure import on_user_created_and_deleted
from blazing_testing.events import event_of
from ops.adapters.memory import FakeAuth, FakePublisher, InMemoryOpsReads, InMemoryOpsUnitOfWork, OpsTables
from ops.application.dead_letters import (
    OLDEST_PENDING,
    STORED,
    DeadLetterQueries,
    DiscardDeadLetters,
    StoreDeadLetters,
    StoredGauges,
    ViewDeadLetter,
)
from ops.application.erasure import EraseUserDeadLetters
from ops.application.operators import SignIn, SignOut
from ops.application.replays import ReplayCommands, ReplayWorker
from ops.domain.audit import Actor
from ops.domain.dead_letters import ERASED_PAYLOAD, DeadLetter, Filter

T0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
ADA = Actor(user_id=uuid.uuid4(), name="ada")
EVERY = Filter(since=T0 - timedelta(days=1))
"""What every test letter matches (a replay must name what it sends: an empty filter is refused)."""


def letter(
    n: int = 0,
    *,
    event_type: str | None = "user.created",
    consumer: str = "mailer.user-events",
    error: str = "TimeoutError",
    source: str = "kafka",
    topic: str = "user.events",
    replays: int | None = None,
    value: bytes | None = None,
    failed_at: datetime = T0,
) -> DeadLetter:
    return DeadLetter(
        dead_letter_id=uuid.uuid4(),
        source=source,  # type: ignore[arg-type]
        original_topic=topic if source == "kafka" else "jobs.send_email",
        partition=0 if source == "kafka" else None,
        offset=n if source == "kafka" else None,
        key=b"k",
        value=value if value is not None else msgspec.json.encode({"n": n, "email": f"user{n}@example.org"}),
        headers=[("event_type", b"x"), *([("replay_count", str(replays).encode())] if replays is not None else [])],
        consumer_group=consumer,
        service="mailer",
        error_type=error,
        error_message=f"failed for user{n}@example.org",
        traceback=None,
        attempts=3,
        poison=False,
        event_id=uuid.uuid4(),
        event_type=event_type,
        aggregate_id=f"agg-{n}",
        first_failure_at=failed_at,
        last_failure_at=failed_at,
    )


class Clock:
    """Seconds that pass only when the worker waits (so its rate is exact)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


class Ops:
    def __init__(self, *, max_replays: int = 3, batch_size: int = 500) -> None:
        self.db = TablesDatabase(tables=OpsTables())
        self.reads = InMemoryOpsReads(self.db)
        self.store = StoreDeadLetters(self.uow)
        self.queries = DeadLetterQueries(self.reads)
        self.view = ViewDeadLetter(self.reads, self.uow)
        self.discard = DiscardDeadLetters(self.uow)
        self.replays = ReplayCommands(self.uow, self.reads, default_rate=500, max_rate=10_000)
        self.kafka, self.rabbit = FakePublisher(), FakePublisher()
        self.clock = Clock()
        self.worker = ReplayWorker(
            self.uow,
            {"kafka": self.kafka, "rabbitmq": self.rabbit},
            max_replays=max_replays,
            batch_size=batch_size,
            clock=self.clock,
            sleep=self.clock.sleep,
        )

    def uow(self) -> InMemoryOpsUnitOfWork:
        return InMemoryOpsUnitOfWork(self.db)

    async def add(self, *items: DeadLetter) -> list[uuid.UUID]:
        await self.store(items)
        await asyncio.sleep(0.001)  # received strictly before what comes next (a job's creation)
        return [i.dead_letter_id for i in items]

    async def replay(self, f: Filter, rate: int | None = None) -> dict[str, Any]:
        job = await self.replays.start(f, rate, ADA)
        await self.worker.run_queued()
        return await self.replays.job(job["job_id"])

    def status(self, dead_letter_id: uuid.UUID) -> tuple[str, int]:
        row = self.db.tables.dead_letters[dead_letter_id]
        return row["status"], row["replay_count"]

    def audited(self) -> list[tuple[str, int]]:
        return [(e["action"], e["count"]) for e in self.db.tables.audit]


@pytest.fixture
def ops() -> Ops:
    return Ops()


# ------------------------------------------------------------------ storing, grouping, filters


async def test_dead_letters_are_stored_once_and_grouped_by_failure_biggest_group_first(ops: Ops) -> None:
    timeouts = [letter(n) for n in range(3)]
    other = letter(9, error="ValueError")
    assert await ops.store([*timeouts, other]) == 4
    assert await ops.store(timeouts) == 0, "a redelivered batch is stored once"
    assert await ops.store([]) == 0
    groups = await ops.queries.groups(Filter())
    assert [(g["error_type"], g["total"], g["pending"]) for g in groups] == [
        ("TimeoutError", 3, 3),
        ("ValueError", 1, 1),
    ]
    assert groups[0]["consumer_group"] == "mailer.user-events"
    assert groups[0]["sample_error"] == "failed for u•••@example.org", "the sample error is masked"
    narrowed = await ops.queries.groups(Filter(fingerprint=groups[1]["fingerprint"]))
    assert len(narrowed) == 2, "the groups of a filter are every group, whatever fingerprint was picked"
    items, total = await ops.queries.listing(Filter(), 2, 0)
    assert total == 4
    assert len(items) == 2
    assert "value" not in items[0]
    assert "@example.org" not in items[0]["preview"]
    assert items[0]["error_message"].startswith("failed for u•••@")


async def test_every_filter_narrows_and_all_of_them_hold(ops: Ops) -> None:
    a = letter(1, topic="user.events", error="TimeoutError", failed_at=T0)
    b = letter(2, topic="transaction.events", error="KeyError", failed_at=T0 + timedelta(hours=1))
    c = letter(
        3, source="rabbitmq", event_type="job.send_email", consumer="send_email", failed_at=T0 + timedelta(hours=2)
    )
    await ops.add(a, b, c)

    async def ids(**f: Any) -> set[uuid.UUID]:
        items, total = await ops.queries.listing(Filter(**f), 100, 0)
        assert total == len(items)
        return {i["dead_letter_id"] for i in items}

    assert await ids() == {a.dead_letter_id, b.dead_letter_id, c.dead_letter_id}
    assert await ids(topic="transaction.events") == {b.dead_letter_id}
    assert await ids(error="keyERR") == {b.dead_letter_id}, "error: any case, in the type or the message"
    assert await ids(error="USER3@") == {c.dead_letter_id}
    assert await ids(source="rabbitmq") == {c.dead_letter_id}
    assert await ids(consumer_group="send_email", event_type="job.send_email") == {c.dead_letter_id}
    assert await ids(since=T0 + timedelta(hours=1)) == {b.dead_letter_id, c.dead_letter_id}
    assert await ids(until=T0 + timedelta(hours=1)) == {a.dead_letter_id}, "until is excluded"
    assert await ids(ids=[a.dead_letter_id, c.dead_letter_id], source="kafka") == {a.dead_letter_id}
    assert await ids(ids=[]) == set()
    assert await ids(topic="user.events", error="KeyError") == set()


async def test_one_dead_letter_reads_decoded_and_every_look_is_audited(ops: Ops) -> None:
    [json_one, raw_one] = await ops.add(letter(1), letter(2, value=b"\xff not json"))
    one = await ops.view(json_one, ADA)
    assert one["payload"] == {"n": 1, "email": "user1@example.org"}, "the detail shows the payload as it is"
    assert one["raw_value"] is None
    assert one["key"] == "k"
    assert {"name": "event_type", "value": "x"} in one["headers"]
    assert [h["action"] for h in one["history"]] == ["received"]
    raw = await ops.view(raw_one, ADA)
    assert (raw["payload"], raw["raw_value"]) == (None, "/yBub3QganNvbg==")
    with pytest.raises(NotFound, match="Dead letter not found"):
        await ops.view(uuid.uuid4(), ADA)
    assert ops.audited() == [("viewed", 1), ("viewed", 1)]


async def test_the_gauges_count_what_is_stored_by_status(ops: Ops) -> None:
    [first, _second] = await ops.add(letter(1), letter(2))
    await ops.discard(Filter(ids=[first]), ADA)
    await StoredGauges(ops.reads)()
    assert STORED.labels("pending")._value.get() == 1
    assert STORED.labels("discarded")._value.get() == 1
    assert STORED.labels("quarantined")._value.get() == 0
    assert OLDEST_PENDING._value.get() >= 0


# ------------------------------------------------------------------ replay jobs


async def test_a_dry_run_counts_what_would_be_replayed_sends_nothing_and_is_audited(ops: Ops) -> None:
    await ops.add(*(letter(n) for n in range(4)), letter(9, consumer="other"))
    assert await ops.replays.dry_run(Filter(consumer_group="mailer.user-events"), ADA) == 4
    assert ops.kafka.sent == []
    assert ops.db.tables.jobs == {}
    [entry] = ops.db.tables.audit
    assert (entry["action"], entry["count"], entry["actor_id"]) == ("replay_dry_run", 4, ADA.user_id)
    assert entry["target"] == {"filter": {"consumer_group": "mailer.user-events"}}


async def test_a_job_sends_what_matched_when_it_was_made_in_order_to_its_origin_at_its_rate() -> None:
    ops = Ops(batch_size=500)
    kafka_ids = sorted(await ops.add(*(letter(n) for n in range(5))))  # received together: by id
    rabbit_ids = await ops.add(letter(7, source="rabbitmq"))
    job = await ops.replays.start(EVERY, 2, ADA)
    assert (job["status"], job["total"], job["rate_per_s"]) == ("queued", 6, 2)
    late = await ops.add(letter(8))  # received after the job was made: not part of it
    await ops.worker.run_queued()
    done = await ops.replays.job(job["job_id"])
    assert (done["status"], done["replayed"], done["quarantined"], done["total"]) == ("completed", 6, 0, 6)
    assert ops.kafka.ids == kafka_ids, "in the order they were received"
    assert ops.rabbit.ids == rabbit_ids, "a job goes back to its RabbitMQ queue"
    assert all(len(batch) <= 2 for _, batch in ops.kafka.sent + ops.rabbit.sent), "a second's worth a batch"
    assert sum(ops.clock.waits) == pytest.approx(6 / 2), "never ahead of its rate"
    assert ops.status(kafka_ids[0]) == ("replayed", 1)
    assert ops.status(late[0]) == ("pending", 0)
    history = (await ops.reads.dead_letter(kafka_ids[0]))[1]  # type: ignore[index]
    assert [(h["action"], h["actor"], h["detail"]) for h in history] == [
        ("received", "system", None),
        ("replayed", "replay job", str(job["job_id"])),
    ]
    assert ops.audited() == [("replay_started", 6)]
    assert ops.db.tables.audit[0]["target"] == {
        "job_id": str(job["job_id"]),
        "filter": msgspec.to_builtins(EVERY),
        "rate_per_s": 2,
    }


async def test_the_rate_is_the_default_unless_asked_and_never_above_the_maximum(ops: Ops) -> None:
    await ops.add(letter(1))
    assert (await ops.replays.start(EVERY, None, ADA))["rate_per_s"] == 500
    assert (await ops.replays.start(EVERY, 10**9, ADA))["rate_per_s"] == 10_000
    assert (await ops.replays.start(EVERY, 0, ADA))["rate_per_s"] == 1


async def test_a_cancelled_job_stops_after_its_batch_and_resumes_where_it_stopped() -> None:
    ops = Ops(batch_size=2)
    ids = sorted(await ops.add(*(letter(n) for n in range(5))))  # received together: a job takes them by id
    job = await ops.replays.start(EVERY, 100, ADA)
    cancelled: list[dict[str, Any]] = []

    class CancelledMidway(FakePublisher):
        async def publish(self, items: Any, job_id: uuid.UUID) -> None:
            await super().publish(items, job_id)
            if not cancelled:
                cancelled.append(await ops.replays.cancel(job_id, ADA))

    ops.worker.publishers = {"kafka": (publisher := CancelledMidway())}
    await ops.worker.run_queued()
    assert cancelled[0]["status"] == "cancelled"
    stopped = await ops.replays.job(job["job_id"])
    assert (stopped["status"], stopped["replayed"]) == ("cancelled", 2), "the batch in hand is recorded"
    assert stopped["finished_at"] is not None
    await ops.worker.run_queued()
    assert publisher.ids == ids[:2], "a cancelled job is not picked up again"

    resumed = await ops.replays.resume(job["job_id"], ADA)
    assert (resumed["status"], resumed["finished_at"]) == ("queued", None)
    await ops.worker.run_queued()
    assert publisher.ids == ids, "each one sent once, in order"
    assert (await ops.replays.job(job["job_id"]))["status"] == "completed"
    assert ops.audited() == [("replay_started", 5), ("replay_cancelled", 5), ("replay_resumed", 3)]


async def test_only_active_jobs_are_cancelled_and_only_stopped_ones_resumed(ops: Ops) -> None:
    await ops.add(letter(1))
    done = await ops.replay(EVERY)
    with pytest.raises(Conflict, match="A completed job cannot be cancelled"):
        await ops.replays.cancel(done["job_id"], ADA)
    with pytest.raises(Conflict, match="A completed job cannot be queued"):
        await ops.replays.resume(done["job_id"], ADA)
    queued = await ops.replays.start(EVERY, None, ADA)
    with pytest.raises(Conflict, match="A queued job cannot be queued"):
        await ops.replays.resume(queued["job_id"], ADA)
    for move in (ops.replays.cancel, ops.replays.resume, lambda job_id, _: ops.replays.job(job_id)):
        with pytest.raises(NotFound, match="Replay job not found"):
            await move(uuid.uuid4(), ADA)
    assert [a for a, _ in ops.audited()] == ["replay_started", "replay_started"], "a refused move is not audited"


async def test_a_job_whose_broker_refuses_fails_and_resumes_once_it_is_back(ops: Ops) -> None:
    ids = sorted(await ops.add(letter(1), letter(2)))
    ops.kafka.down = ConnectionError("kafka is away")
    job = await ops.replay(EVERY)
    assert (job["status"], job["replayed"]) == ("failed", 0)
    assert job["error"] == "ConnectionError: kafka is away"
    assert ops.status(ids[0]) == ("pending", 0), "nothing is marked replayed that was not sent"
    ops.kafka.down = None
    await ops.replays.resume(job["job_id"], ADA)
    await ops.worker.run_queued()
    again = await ops.replays.job(job["job_id"])
    assert (again["status"], again["replayed"], again["error"]) == ("completed", 2, None)
    assert ops.kafka.ids == ids


async def test_what_keeps_failing_is_quarantined_after_max_replays_and_never_sent_again() -> None:
    ops = Ops(max_replays=3)
    [item] = await ops.add(letter(1))
    for n in range(3):
        job = await ops.replay(Filter(ids=[item]))
        assert (job["replayed"], job["quarantined"]) == (1, 0)
        assert ops.status(item) == ("replayed", n + 1)
    job = await ops.replay(Filter(ids=[item]))
    assert (job["replayed"], job["quarantined"]) == (0, 1)
    assert ops.status(item) == ("quarantined", 3)
    assert len(ops.kafka.ids) == 3
    with pytest.raises(Refused, match="Nothing to replay"):  # not replayable any more
        await ops.replays.start(Filter(ids=[item]), None, ADA)
    history = (await ops.reads.dead_letter(item))[1]  # type: ignore[index]
    assert [h["action"] for h in history] == ["received", "replayed", "replayed", "replayed", "quarantined"]


async def test_a_record_that_failed_again_after_its_replays_comes_back_counting_on() -> None:
    ops = Ops(max_replays=3)
    [came_back] = await ops.add(letter(1, replays=3))  # the third replay failed again
    assert ops.status(came_back) == ("pending", 3)
    job = await ops.replay(EVERY)
    assert (job["replayed"], job["quarantined"]) == (0, 1)
    assert ops.kafka.sent == []


async def test_a_job_interrupted_by_a_shutdown_resumes_at_the_next_start_where_it_was() -> None:
    ops = Ops(batch_size=1)
    ids = sorted(await ops.add(*(letter(n) for n in range(3))))
    job = await ops.replays.start(EVERY, 100, ADA)

    stopping: list[asyncio.Task[None]] = []

    class StopsAfterOne(FakePublisher):
        async def publish(self, items: Any, job_id: uuid.UUID) -> None:
            await super().publish(items, job_id)
            if len(self.sent) == 1:  # the process is told to stop while a batch is in hand
                stopping.append(asyncio.create_task(ops.worker.stop()))
                await asyncio.sleep(0)

    ops.worker.publishers = {"kafka": (publisher := StopsAfterOne())}
    await ops.worker.run_queued()
    await stopping[0]
    left = await ops.replays.job(job["job_id"])
    assert (left["status"], left["replayed"]) == ("running", 1), "left running, its place kept"

    restarted = ReplayWorker(ops.uow, {"kafka": publisher}, clock=ops.clock, sleep=ops.clock.sleep)
    await restarted.recover()
    assert (await ops.replays.job(job["job_id"]))["status"] == "queued"
    await restarted.run_queued()
    assert publisher.ids == ids, "each one sent once"
    assert (await ops.replays.job(job["job_id"]))["status"] == "completed"


async def test_a_replay_of_nothing_replayable_is_refused_and_queues_no_job(ops: Ops) -> None:
    """A filter that matched nothing (unknown ids, or only discarded and quarantined letters) queued
    a job of 0 that completed at once: it looked to the operator as if something had been sent."""
    [gone] = await ops.add(letter(1))
    await ops.discard(Filter(ids=[gone]), ADA)
    for f in (Filter(ids=[uuid.uuid4()]), Filter(ids=[gone]), Filter(service="nobody")):
        with pytest.raises(Refused, match="Nothing to replay"):
            await ops.replays.start(f, None, ADA)
    assert await ops.replays.dry_run(Filter(ids=[gone]), ADA) == 0, "a dry run still counts"
    assert await ops.replays.jobs() == []
    assert [a for a, _ in ops.audited()] == ["discard", "replay_dry_run"], "a refused replay is not audited"


# ------------------------------------------------------------------ discard and the audit log


async def test_a_replay_needs_a_filter_too(ops: Ops) -> None:
    """An empty filter (a form whose fields were all misspelt, an API body without one) replayed every
    dead letter there was — 120,349 on the shared stack. Refused, as a discard is; nothing audited."""
    await ops.add(letter(1))
    with pytest.raises(BadInput, match="Replaying needs a filter or a selection"):
        await ops.replays.start(Filter(), None, ADA)
    with pytest.raises(BadInput, match="Replaying needs a filter or a selection"):
        await ops.replays.dry_run(Filter(), ADA)
    assert await ops.replays.jobs() == []
    assert ops.audited() == []


async def test_discard_needs_a_filter_counts_on_a_dry_run_and_is_audited(ops: Ops) -> None:
    ids = await ops.add(letter(1), letter(2), letter(3, consumer="other"))
    with pytest.raises(BadInput, match="Discarding needs a filter or a selection"):
        await ops.discard(Filter(), ADA)
    mine = Filter(consumer_group="mailer.user-events")
    assert await ops.discard(mine, ADA, dry_run=True) == 2
    assert ops.status(ids[0]) == ("pending", 0)
    assert await ops.discard(mine, ADA) == 2
    assert await ops.discard(mine, ADA) == 0, "what is discarded already is not again"
    assert ops.status(ids[0])[0] == "discarded"
    assert ops.status(ids[2])[0] == "pending"
    assert await ops.queries.replayable(Filter()) == 1
    assert ops.audited() == [("discard_dry_run", 2), ("discard", 2), ("discard", 0)]
    assert ops.db.tables.audit[1]["target"] == {"filter": {"consumer_group": "mailer.user-events"}}
    history = (await ops.reads.dead_letter(ids[0]))[1]  # type: ignore[index]
    assert [(h["action"], h["actor"]) for h in history] == [("received", "system"), ("discarded", "ada")]
    job = await ops.replay(EVERY)
    assert job["total"] == 1, "a discarded one is not replayed"


async def test_the_audit_log_is_newest_first_names_operators_by_e_mail_and_filters_by_action(ops: Ops) -> None:
    auth = FakeAuth()
    auth.accounts["admin@example.org"] = ("pw", 10)
    operator = await SignIn(auth, ops.uow)("admin@example.org", "pw", Browser(forwarded_for="", user_agent=""))
    await ops.replays.dry_run(EVERY, Actor(user_id=operator.user_id, name=str(operator.user_id)))
    entries = await ops.queries.audit(10)
    assert [(e["action"], e["actor"]) for e in entries] == [
        ("replay_dry_run", "admin@example.org"),
        ("signed_in", "admin@example.org"),
    ]
    assert [e["action"] for e in await ops.queries.audit(10, 0, "signed_in")] == ["signed_in"]
    assert [e["action"] for e in await ops.queries.audit(10, 1)] == ["signed_in"]


# ------------------------------------------------------------------ the console's sign-in


async def test_only_admins_get_a_console_session(ops: Ops) -> None:
    auth = FakeAuth()
    auth.accounts |= {"admin@example.org": ("pw", 100), "user@example.org": ("pw", 1)}
    sign_in = SignIn(auth, ops.uow)
    browser = Browser(forwarded_for="10.0.0.1", user_agent="test")
    admin = await sign_in("admin@example.org", "pw", browser)
    assert (admin.admin, admin.access_token, admin.expires_in) == (True, "token-of-admin@example.org", 900)
    assert ops.db.tables.operators == {admin.user_id: "admin@example.org"}
    with pytest.raises(Forbidden, match="The ops console is for admins only"):
        await sign_in("user@example.org", "pw", browser)
    assert len(auth.signed_out) == 1, "the session auth made for a non-admin is ended"
    with pytest.raises(Unauthenticated):
        await sign_in("admin@example.org", "wrong", browser)
    assert ops.audited() == [("signed_in", 0)], "only the admin's sign-in is audited"


async def test_an_admins_sign_out_is_audited_as_the_sign_in_is(ops: Ops) -> None:
    auth = FakeAuth()
    auth.accounts["admin@example.org"] = ("pw", 100)
    operator = await SignIn(auth, ops.uow)("admin@example.org", "pw", Browser(forwarded_for="", user_agent=""))
    await SignOut(auth, ops.uow)(operator.user_id, operator.session_id, operator.permissions, admin=True)
    assert auth.signed_out == [operator.session_id]
    assert [(e["action"], e["actor"]) for e in await ops.queries.audit(10)] == [
        ("signed_out", "admin@example.org"),
        ("signed_in", "admin@example.org"),
    ]
    await SignOut(auth, ops.uow)(uuid.uuid4(), uuid.uuid4(), 1, admin=False)
    assert ops.audited() == [("signed_in", 0), ("signed_out", 0)], "someone who is not an admin had no console"


@pytest.mark.parametrize("depth", [400, 999, 5000])
async def test_a_deeply_nested_payload_is_listed_and_shown_raw_not_an_error(ops: Ops, depth: int) -> None:
    """One dead letter whose payload is JSON nested deeper than Python recurses made every listing
    that held it fail (the console's list and the API's, for everyone) and its own page too."""
    value = b"[" * depth + b"]" * depth
    [deep] = await ops.add(letter(1, value=value))
    items, total = await ops.queries.listing(Filter(), 50, 0)
    assert total == 1
    assert items[0]["preview"].startswith("[[[")
    shown = await ops.view(deep, ADA)
    assert (shown["payload"], base64.b64decode(shown["raw_value"])) == (None, value)


# ------------------------------------------------------------------ personal data erasure


def user_event(payload: Any) -> Any:
    return event_of(payload, aggregate_id=str(payload.user_id), producer="users")


async def test_user_deleted_erases_the_dead_letters_holding_the_users_data_once(ops: Ops) -> None:
    """user.created tells whose address it is; user.deleted erases the jobs that name it (and the
    events of the user's streams); the same event delivered again has no second effect."""
    erasure = EraseUserDeadLetters(ops.uow, "ops.user-events")
    handle = on_user_created_and_deleted(erasure.known, erasure)
    info = RecordInfo(topic="user.events", partition=0, offset=0, key=None, value=b"", headers=[])
    user = uuid.uuid4()
    [job, kept] = await ops.add(
        letter(1, source="rabbitmq", value=msgspec.json.encode({"to_email": "ada@example.org"})), letter(2)
    )
    created = UserCreated(
        user_id=user, email="Ada@Example.org", first_name="A", last_name="L", permissions=1, activated=True
    )
    await handle(user_event(created), info)
    deleted = user_event(UserDeleted(user_id=user, deleted_by=user))
    await handle(deleted, info)
    assert ops.db.tables.dead_letters[job]["value"] == ERASED_PAYLOAD
    assert ops.status(job) == ("discarded", 0)
    assert ops.status(kept) == ("pending", 0)
    assert ops.db.tables.people == {}
    assert await erasure(deleted.event_id, user) is False, "a redelivery: claimed already"
