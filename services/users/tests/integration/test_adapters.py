"""The users service's ports on PostgreSQL and in memory, held to one contract: the same writes give
the same profiles, searches, e-mail checks, early activations and erasure — so application tests on
the fakes say something about the real service."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest
from psycopg_pool import AsyncConnectionPool

from blazing_app import Conflict
from blazing_es.events import ERASED
from blazing_es.memory import TablesDatabase
from blazing_es.runner import Context
from users.adapters.memory import InMemoryProfileReads, InMemorySessions, InMemoryUsersUnitOfWork, UsersTables
from users.adapters.postgres import PostgresProfileReads, PostgresUsersUnitOfWork
from users.application.access import Access
from users.application.commands import (
    ChangePermissions,
    CreateUser,
    DeleteUser,
    NewUser,
    RecordActivation,
    TakeBalance,
    UpdateProfile,
)
from users.application.ports import Caller, ProfileReads, UsersUnitOfWork
from users.application.publishing import user_streams
from users.domain import user as u

pytestmark = pytest.mark.integration


@dataclass
class Backend:
    uow: Callable[[], UsersUnitOfWork]
    reads: ProfileReads

    def __post_init__(self) -> None:
        self.streams = user_streams()
        access = Access(self.reads)
        sessions = InMemorySessions()
        self.create = CreateUser(self.uow, self.streams, access, self.reads)
        self.update = UpdateProfile(self.uow, self.streams, self.reads)
        self.permissions = ChangePermissions(self.uow, self.streams, access, self.reads, sessions)
        self.delete = DeleteUser(self.uow, self.streams, access, sessions)
        self.activated = RecordActivation(self.uow, self.streams, f"contract-{uuid.uuid4()}")
        self.balance = TakeBalance(self.uow, self.streams, f"contract-{uuid.uuid4()}")


@pytest.fixture(params=["memory", "postgres"])
def backend(request: pytest.FixtureRequest, pool: AsyncConnectionPool) -> Backend:
    if request.param == "memory":
        db = TablesDatabase(tables=UsersTables())
        return Backend(lambda: InMemoryUsersUnitOfWork(db), InMemoryProfileReads(db))
    return Backend(lambda: PostgresUsersUnitOfWork(pool), PostgresProfileReads(pool))


def scrub(value: Any) -> Any:
    """Timestamps come from each clock; everything else must agree."""
    return {k: v for k, v in msgspec.structs.asdict(value).items() if k not in ("created_at", "updated_at")}


async def sign_up(b: Backend, tag: str, first: str, last: str, **fields: Any) -> uuid.UUID:
    user_id = fields.pop("user_id", uuid.uuid4())
    new = NewUser(user_id=user_id, email=f"{first.lower()}-{tag}@example.org", first_name=first, last_name=last)
    assert await b.create.sign_up(new, "contract") == "created"
    return user_id


async def project_creation(b: Backend, email: str) -> None:
    created = u.Created(email=email, first_name="G", last_name="H", permissions=u.BASIC)
    user = u.initial(uuid.uuid4())
    async with b.uow() as uow:
        await uow.profiles.apply(user, created, u.evolve(user, created), datetime.now(UTC))


async def test_the_same_writes_read_the_same(backend: Backend) -> None:
    b, tag = backend, uuid.uuid4().hex[:10]
    grace = await sign_up(b, tag, "Grace", f"Hopper{tag}")
    ada = await sign_up(b, tag, "Ada", f"Byron{tag}")
    alan = await sign_up(b, tag, "Alan", f"Turing{tag}")
    await b.update(Caller(user_id=ada, permissions=u.BASIC), None, f"Lovelace{tag}", "contract")
    async with b.uow() as uow:  # the operator's level change, no rule but existence
        await b.streams.write(
            uow, alan, lambda s: u.decide_permissions(s, u.ADMIN, None), context=Context(correlation_id="contract")
        )
    await b.activated(uuid.uuid4(), grace, "contract")

    profile = await b.reads.profile(ada)
    assert profile is not None
    assert scrub(profile) == {
        "id": ada,
        "email": f"ada-{tag}@example.org",
        "first_name": "Ada",
        "last_name": f"Lovelace{tag}",
        "balance": 0,
        "permissions": u.BASIC,
        "activated": False,
        "avatar_url": None,
    }
    assert profile.updated_at > profile.created_at
    assert (await b.reads.profile(grace)).activated  # type: ignore[union-attr]
    assert await b.reads.profile(uuid.uuid4()) is None
    assert (await b.reads.permissions(alan), await b.reads.permissions(uuid.uuid4())) == (u.ADMIN, None)
    by_email = await b.reads.by_email(f"ADA-{tag}@Example.ORG")
    assert by_email is not None
    assert by_email.id == ada

    found, total = await b.reads.search(tag, 10, 0)
    assert ([p.id for p in found], total) == ([alan, ada, grace], 3), "newest first"
    page, total = await b.reads.search(tag.upper(), 1, 1)
    assert ([p.id for p in page], total) == ([ada], 3)
    assert (await b.reads.search(f"lovelace{tag}", 10, 0))[1] == 1
    assert (await b.reads.search(f"%{tag}", 10, 0))[1] == 0, "% is a character, not a wildcard"
    assert (await b.reads.search(f"_ovelace{tag}", 10, 0))[1] == 0, "_ is a character, not a wildcard"


async def test_emails_early_activations_balances_and_erasure_behave_alike(backend: Backend) -> None:
    b, tag = backend, uuid.uuid4().hex[:10]
    early = uuid.uuid4()
    await b.activated(uuid.uuid4(), early, "contract")
    grace = await sign_up(b, tag, "Grace", "Hopper", user_id=early)
    assert (await b.reads.profile(grace)).activated, "the activation kept for the creation"  # type: ignore[union-attr]
    async with b.uow() as uow:
        assert not await uow.early_activations.take(grace), "applied once"
        assert await uow.profiles.email_taken(f"GRACE-{tag}@example.org")
        assert not await uow.profiles.email_taken(f"nobody-{tag}@example.org")
    with pytest.raises(Conflict):
        await sign_up(b, tag, "Grace", "Other")
    with pytest.raises(Conflict):  # the table's own guard, should a creation skip the check
        await project_creation(b, f"grace-{tag}@example.org")

    for version, balance in ((1, 100), (3, 300), (2, 200)):
        await b.balance(uuid.uuid4(), grace, balance, version, "contract")
    assert (await b.reads.profile(grace)).balance == 300  # type: ignore[union-attr]

    assert await b.delete(Caller(user_id=grace, permissions=u.BASIC), grace, "contract")
    assert await b.reads.profile(grace) is None
    assert await b.reads.by_email(f"grace-{tag}@example.org") is None
    async with b.uow() as uow:
        stream = await uow.events.read_stream(b.streams.stream_id(grace))
        assert not await uow.profiles.email_taken(f"grace-{tag}@example.org"), "the e-mail is free again"
    assert [e.event_type for e in stream] == ["created", "activated", "balance_changed", "balance_changed", "deleted"]
    assert [e.data == ERASED for e in stream] == [True, True, True, True, False]
