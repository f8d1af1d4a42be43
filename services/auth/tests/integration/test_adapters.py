"""Auth's ports on PostgreSQL, Redis, argon2 and the signing keys, and their in-memory fakes, held to
one contract: the same use cases store and read the same — so the application tests on the fakes
say something about the real service."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from psycopg_pool import AsyncConnectionPool
from redis.asyncio import Redis

from auth.adapters.hashing import Argon2Hasher
from auth.adapters.memory import (
    AuthMemory,
    FakeHasher,
    FakeTokens,
    FakeUsers,
    InMemoryAuthReads,
    InMemoryAuthUnitOfWork,
    MemoryFailedSignIns,
    MemoryMailAllowance,
    MemoryRevocations,
    RecordingMailer,
)
from auth.adapters.postgres import PostgresAuthReads, PostgresAuthUnitOfWork
from auth.adapters.redis import REVOKED, RedisFailedSignIns, RedisMailAllowance, RedisRevocations
from auth.adapters.tokens import SigningKeys
from auth.application.credentials import streams
from auth.application.handlers import AuthHandlers, Ports, build
from auth.application.ports import AuthReads, AuthUnitOfWork, EmailTaken, PasswordHasher, ProfileChange, RequestContext
from auth.application.rules import AuthRules
from auth.domain import credential as c
from blazing_app import BadInput, NotFound, Unauthenticated
from blazing_contracts import make_event
from blazing_contracts.events import user as ue
from blazing_es.events import ERASED
from blazing_service import ServiceSettings
from blazing_testing import stack_env

pytestmark = pytest.mark.integration
ENV = stack_env()
PASSWORD = "Str0ng!Passw0rd"
CTX = RequestContext(ip="10.1.2.3", user_agent="contract", correlation_id="contract")


@pytest.fixture(scope="module")
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(ServiceSettings.from_env("auth", 8002, dict(ENV)).redis_url)
    async with client:
        yield client


@dataclass
class Backend:
    uow: Callable[[], AuthUnitOfWork]
    reads: AuthReads
    handlers: AuthHandlers
    mailer: RecordingMailer
    revocations: MemoryRevocations

    def code(self, email: str, template: str) -> str:
        mail = self.mailer.to(email, template)[-1]
        return next(v for k, v in mail.variables.items() if k.endswith("code") or k == "code")


@pytest.fixture(params=["memory", "postgres"])
def backend(request: pytest.FixtureRequest, pool: AsyncConnectionPool) -> Backend:
    uow: Callable[[], AuthUnitOfWork]
    reads: AuthReads
    if request.param == "memory":
        db = AuthMemory()
        uow, reads = (lambda: InMemoryAuthUnitOfWork(db)), InMemoryAuthReads(db)
    else:
        uow, reads = (lambda: PostgresAuthUnitOfWork(pool)), PostgresAuthReads(pool)
    mailer, revocations = RecordingMailer(), MemoryRevocations()
    ports = Ports(
        uow=uow,
        reads=reads,
        hasher=FakeHasher(),
        tokens=FakeTokens(),
        revocations=revocations,
        allowance=MemoryMailAllowance(per_hour=100),
        failures=MemoryFailedSignIns(limit=1000, window=timedelta(minutes=15)),
        mailer=mailer,
        users=FakeUsers(),
    )
    handlers = build(ports, streams(), AuthRules(), consumer=f"contract-{uuid.uuid4()}", now=lambda: datetime.now(UTC))
    return Backend(uow, reads, handlers, mailer, revocations)


def new_email() -> str:
    return f"Contract-{uuid.uuid4().hex[:10]}@Example.org"


async def active(b: Backend, email: str) -> uuid.UUID:
    await b.handlers.sign_up(email.lower(), PASSWORD, "Ada", "Byron", CTX)
    await b.handlers.background.drain()
    await b.handlers.activate(b.code(email.lower(), "account_activation"), CTX)
    user_id = await b.reads.user_id_by_email(email)  # any case finds it
    assert user_id is not None
    return user_id


async def test_sign_in_sessions_and_refresh_behave_alike(backend: Backend) -> None:
    b, email = backend, new_email()
    user_id = await active(b, email)
    first = await b.handlers.sign_in(email.lower(), PASSWORD, CTX)
    second = await b.handlers.sign_in(email.lower(), PASSWORD, RequestContext(ip=None, user_agent="x" * 400))
    account = first.account
    assert (account.id, account.email, account.first_name, account.last_name, account.balance, account.permissions) == (
        user_id,
        email.lower(),
        "Ada",
        "Byron",
        0,
        1,
    )
    assert account.created_at <= account.updated_at
    sessions = await b.reads.sessions(user_id)
    assert [s.session_id for s in sessions] == [second.tokens.session_id, first.tokens.session_id]
    assert [(s.ip, s.user_agent) for s in sessions] == [(None, "x" * 300), ("10.1.2.3", "contract")]
    assert all(s.expires_at - s.created_at == timedelta(days=30) for s in sessions)
    rotated = await b.handlers.refresh(first.tokens.refresh_token)
    assert rotated.session_id == first.tokens.session_id
    with pytest.raises(Unauthenticated, match="reuse"):
        await b.handlers.refresh(first.tokens.refresh_token)
    with pytest.raises(Unauthenticated, match="Invalid or expired"):
        await b.handlers.refresh(rotated.refresh_token)
    assert [s.session_id for s in await b.reads.sessions(user_id)] == [second.tokens.session_id]
    assert first.tokens.session_id in await b.reads.revoked_since(timedelta(minutes=1))
    assert await b.handlers.sign_out(user_id, second.tokens.session_id, "session", CTX) == 1
    assert await b.reads.sessions(user_id) == []


async def test_codes_behave_alike(backend: Backend) -> None:
    b, owner = backend, uuid.uuid4()
    async with b.uow() as uow:
        first = await uow.codes.issue(owner, "forgot_password", timedelta(minutes=5))
        second = await uow.codes.issue(owner, "forgot_password", timedelta(minutes=5))
        other = await uow.codes.issue(owner, "password_change", timedelta(minutes=5))
        expired = await uow.codes.issue(owner, "activation", timedelta(seconds=-1))
    assert len(first) == 40
    assert first.isalnum()
    async with b.uow() as uow:
        found = {code: await uow.codes.find(code, lock=False) for code in (first, second, other, expired)}
        assert await uow.codes.find("N" * 40, lock=False) is None
    assert [(f.owner, f.purpose, f.usable) for f in found.values() if f] == [
        (owner, "forgot_password", False),  # replaced by the second
        (owner, "forgot_password", True),
        (owner, "password_change", True),  # another purpose's code stays
        (owner, "activation", False),
    ]
    async with b.uow() as uow:
        await uow.codes.find(second, lock=True)
        await uow.codes.spend(second)
    async with b.uow() as uow:
        spent = await uow.codes.find(second, lock=False)
        assert spent is not None
        assert not spent.usable
        await uow.codes.erase(owner)
    async with b.uow() as uow:
        assert await uow.codes.find(other, lock=False) is None

    class Failed(Exception):
        pass

    async def rolled_back() -> None:
        async with b.uow() as uow:
            raise Failed(await uow.codes.issue(owner, "activation", timedelta(minutes=5)))

    with pytest.raises(Failed) as failed:
        await rolled_back()
    async with b.uow() as uow:
        assert await uow.codes.find(str(failed.value), lock=False) is None, "nothing of a failed unit of work stays"
        activation = await uow.codes.issue(owner, "activation", timedelta(minutes=5))
    with pytest.raises(BadInput, match="Invalid code type"):
        await b.handlers.verify_code(activation)
    with pytest.raises(NotFound, match="Invalid or expired code"):
        await b.handlers.verify_code("N" * 40)


async def test_one_credential_per_address_whatever_its_case(backend: Backend) -> None:
    b, email = backend, new_email()
    await active(b, email)
    other = c.Credential(user_id=uuid.uuid4())

    async def save_another() -> None:
        async with b.uow() as uow:
            await uow.credentials.save(c.fold(other, c.register(other, email.upper(), "Eve", "h")), 1)

    with pytest.raises(EmailTaken):
        await save_another()
    assert await b.reads.user_id_by_email(email.upper()) != other.user_id


async def test_the_profile_view_and_reconciliation_behave_alike(backend: Backend) -> None:
    b, email = backend, new_email()
    user_id = await active(b, email)
    at = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)  # after the sign-up's first row
    async with b.uow() as uow:
        await uow.profiles.created(user_id, "Augusta", "King", at)
        change = ProfileChange(user_id=user_id, last_name="Lovelace", avatar_changed=True, avatar_url="/a")
        await uow.profiles.updated(change, at + timedelta(minutes=1))
        await uow.profiles.balance(user_id, 700, at + timedelta(minutes=3))
        await uow.profiles.balance(user_id, 5, at + timedelta(minutes=2))  # older: ignored
        await uow.profiles.touch(user_id, at - timedelta(days=1))  # never backwards
        account = await uow.credentials.account(user_id)
    assert account is not None
    assert (account.first_name, account.last_name, account.avatar_url, account.balance) == (
        "Augusta",
        "Lovelace",
        "/a",
        700,
    )
    assert (account.created_at, account.updated_at) == (at, at + timedelta(minutes=3))
    pending = [u for u in await b.reads.unconfirmed(timedelta(seconds=-60)) if u.user_id == user_id]
    assert pending == [], "its profile was confirmed at sign-up"
    async with b.uow() as uow:
        other = c.Credential(user_id=uuid.uuid4())
        await uow.credentials.save(c.fold(other, c.register(other, new_email(), "Eve", "h")), 1)
    unconfirmed = {u.user_id: u for u in await b.reads.unconfirmed(timedelta(seconds=-60))}
    assert other.user_id in unconfirmed
    assert (unconfirmed[other.user_id].first_name, unconfirmed[other.user_id].permissions) == ("Eve", 1)


async def test_erasure_behaves_alike(backend: Backend) -> None:
    b, email = backend, new_email()
    user_id = await active(b, email)
    session = (await b.handlers.sign_in(email.lower(), PASSWORD, CTX)).tokens.session_id
    deleted = ue.UserDeleted(user_id=user_id)
    event = _event(deleted)
    assert await b.handlers.user_events(event)
    assert not await b.handlers.user_events(event)
    assert b.revocations.revoked == [session]
    assert await b.reads.user_id_by_email(email) is None
    async with b.uow() as uow:
        assert await uow.credentials.account(user_id) is None
        stored = await uow.events.read_stream(f"credential-{user_id}")
    assert [e.event_type for e in stored][-1] == "erased"
    assert all(e.data == ERASED for e in stored if e.event_type != "erased")
    assert session in await b.reads.revoked_since(timedelta(minutes=1))


def _event(payload: Any) -> Any:
    return make_event(
        payload,
        event_id=uuid.uuid4(),
        aggregate_id=str(payload.user_id),
        aggregate_version=2,
        occurred_at=datetime.now(UTC),
        producer="users",
        correlation_id="contract",
    )


# ---------------------------------------------------------------------------------- Redis, argon2, keys


@pytest.mark.parametrize("kind", ["memory", "redis"])
async def test_failed_sign_ins_and_the_mail_allowance_behave_alike(kind: str, redis: Redis) -> None:
    ip, address = f"contract-{uuid.uuid4()}", new_email()
    if kind == "memory":
        failures: Any = MemoryFailedSignIns(limit=2, window=timedelta(seconds=60))
        allowance: Any = MemoryMailAllowance(per_hour=2)
    else:
        failures, allowance = RedisFailedSignIns(redis, limit=2, window_seconds=60), RedisMailAllowance(redis, 2)
    assert await failures.retry_after(ip) is None
    await failures.count(ip)
    assert await failures.retry_after(ip) is None
    await failures.count(ip)
    assert 1 <= (await failures.retry_after(ip) or 0) <= 60
    assert await failures.retry_after(f"{ip}-other") is None
    assert [await allowance.allow(address) for _ in range(3)] == [True, True, False]
    assert await allowance.allow(address.lower()) is False, "one address whatever its case"


async def test_revocations_reach_redis_for_as_long_as_a_token_lives(redis: Redis) -> None:
    sessions = [uuid.uuid4(), uuid.uuid4()]
    await RedisRevocations(redis, access_ttl_seconds=900).publish(sessions)
    await RedisRevocations(redis, access_ttl_seconds=900).publish([])
    for sid in sessions:
        assert await redis.get(f"{REVOKED}{sid}") == b"1"
        assert 900 < await redis.ttl(f"{REVOKED}{sid}") <= 960


@pytest.mark.parametrize("hasher", [FakeHasher(), Argon2Hasher(memory_kib=1024, time_cost=1, parallelism=1)])
async def test_hashers_agree(hasher: PasswordHasher) -> None:
    hashed = await hasher.hash(PASSWORD)
    assert hashed != PASSWORD
    assert await hasher.verify(hashed, PASSWORD)
    assert not await hasher.verify(hashed, "Wr0ng!Passw0rd")
    assert not await hasher.verify(None, PASSWORD)


async def test_signing_keys_issue_tokens_their_jwks_verifies(pool: AsyncConnectionPool) -> None:
    keys = SigningKeys(
        pool, rotation=timedelta(days=30), token_ttl=timedelta(seconds=900), issuer="https://contract", audience="aud"
    )
    with pytest.raises(RuntimeError):
        keys.issue(user_id=uuid.uuid4(), session_id=uuid.uuid4(), permissions=1)
    await keys.rotate()
    user_id, session_id = uuid.uuid4(), uuid.uuid4()
    token = keys.issue(user_id=user_id, session_id=session_id, permissions=10)
    kid = jwt.get_unverified_header(token)["kid"]
    [jwk] = [k for k in keys.jwks()["keys"] if k["kid"] == kid]
    public = jwt.PyJWK(jwk).key
    claims = jwt.decode(token, public, algorithms=["EdDSA"], audience="aud", issuer="https://contract")
    assert (claims["sub"], claims["sid"], claims["permissions"], claims["exp"] - claims["iat"]) == (
        str(user_id),
        str(session_id),
        10,
        900,
    )
    fake = FakeTokens()
    await fake.rotate()
    assert fake.jwks()["keys"], "the fake publishes a key set too"
