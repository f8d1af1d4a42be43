"""Auth's ports in memory, for application tests without a server — the unit of work and the reads
held to the same contract tests as the PostgreSQL adapters (tests/integration/test_adapters.py),
and fakes of the hasher, the signing keys, Redis and the commands that record what they were told.

A unit of work works on a copy of the tables and, when it commits, writes back the rows it changed
(row by row, as concurrent transactions would), or nothing when it fails."""

from __future__ import annotations

import copy
import secrets
import string
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Any

from auth.adapters.rows import credential_row
from auth.application.credentials import streams
from auth.application.handlers import Ports, build
from auth.application.ports import (
    Account,
    CredentialViews,
    EmailTaken,
    Mail,
    NewUser,
    OneTimeCodes,
    ProfileChange,
    ProfileViews,
    RequestContext,
    SessionRow,
    Sessions,
)
from auth.application.rules import AuthRules
from auth.domain.codes import Code, Purpose
from auth.domain.credential import Credential
from auth.domain.sessions import RefreshToken
from blazing_contracts.types import EmailTemplate
from blazing_es.events import StoredEvent
from blazing_es.memory import TablesDatabase, TablesUnitOfWork

Row = dict[str, Any]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class AuthTables:
    credentials: dict[uuid.UUID, Row] = field(default_factory=dict)
    codes: dict[str, Row] = field(default_factory=dict)
    sessions: dict[uuid.UUID, Row] = field(default_factory=dict)
    refresh_tokens: dict[str, Row] = field(default_factory=dict)
    profiles: dict[uuid.UUID, Row] = field(default_factory=dict)


@dataclass
class AuthMemory(TablesDatabase[AuthTables]):
    tables: AuthTables = field(default_factory=AuthTables)
    clock: Callable[[], datetime] = utc_now
    """The database's ``now()``."""


@dataclass(eq=False)
class InMemoryCredentials:
    db: AuthMemory
    t: AuthTables

    async def save(self, state: Credential, version: int) -> None:
        if state.status == "erased":
            self.t.credentials.pop(state.user_id, None)
            return
        if not state.exists:
            return
        for table in (self.t.credentials, self.db.tables.credentials):  # the unique index on lower(email)
            for user_id, row in table.items():
                if user_id != state.user_id and row["email"].lower() == state.email.lower():
                    raise EmailTaken(state.email)
        old = self.t.credentials.get(state.user_id, {})
        self.t.credentials[state.user_id] = {
            **credential_row(state, version),
            "profile_confirmed": old.get("profile_confirmed", False),
            "created_at": old.get("created_at", self.db.clock()),
        }

    async def user_id_by_email(self, email: str) -> uuid.UUID | None:
        return _by_email(self.t, email)

    async def mark_profile_confirmed(self, user_id: uuid.UUID) -> None:
        if user_id in self.t.credentials:
            self.t.credentials[user_id]["profile_confirmed"] = True

    async def account(self, user_id: uuid.UUID) -> Account | None:
        row = self.t.credentials.get(user_id)
        if row is None or row["status"] != "active":
            return None
        p = self.t.profiles.get(user_id)
        return Account(
            id=user_id,
            email=row["email"],
            permissions=row["permissions"],
            first_name=p["first_name"] if p else row["first_name"],
            last_name=p["last_name"] if p else "",
            balance=p["balance"] if p else 0,
            activated=True,
            avatar_url=p["avatar_url"] if p else None,
            created_at=p["created_at"] if p else row["created_at"],
            updated_at=p["updated_at"] if p else row["created_at"],
        )


def _by_email(tables: AuthTables, email: str) -> uuid.UUID | None:
    return next((k for k, row in tables.credentials.items() if row["email"].lower() == email.lower()), None)


@dataclass(eq=False)
class InMemoryCodes:
    db: AuthMemory
    t: AuthTables

    async def issue(self, user_id: uuid.UUID, purpose: Purpose, lifetime: timedelta) -> str:
        for row in self.t.codes.values():
            if row["owner"] == user_id and row["purpose"] == purpose and not row["used"]:
                row["revoked"] = True
        code = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(40))
        self.t.codes[code] = {
            "owner": user_id,
            "purpose": purpose,
            "expires_at": self.db.clock() + lifetime,
            "used": False,
            "revoked": False,
        }
        return code

    async def find(self, code: str, *, lock: bool) -> Code | None:
        row = self.t.codes.get(code)
        if row is None:
            return None
        usable = not row["used"] and not row["revoked"] and row["expires_at"] > self.db.clock()
        return Code(owner=row["owner"], purpose=row["purpose"], usable=usable)

    async def spend(self, code: str) -> None:
        if code in self.t.codes:
            self.t.codes[code]["used"] = True

    async def erase(self, user_id: uuid.UUID) -> None:
        for code in [k for k, row in self.t.codes.items() if row["owner"] == user_id]:
            del self.t.codes[code]


@dataclass(eq=False)
class InMemorySessions:
    db: AuthMemory
    t: AuthTables

    async def open(
        self, session_id: uuid.UUID, user_id: uuid.UUID, ttl: timedelta, ip: str | None, user_agent: str | None
    ) -> str:
        now = self.db.clock()
        self.t.sessions[session_id] = {
            "user_id": user_id,
            "created_at": now,
            "last_seen_at": now,
            "expires_at": now + ttl,
            "ip": ip,
            "user_agent": (user_agent or "")[:300] or None,
            "revoked_at": None,
            "revoked_reason": None,
        }
        return self._new_refresh(session_id)

    def _new_refresh(self, session_id: uuid.UUID) -> str:
        token = secrets.token_urlsafe(48)
        self.t.refresh_tokens[token] = {"session_id": session_id, "rotated": False}
        return token

    async def find_refresh(self, refresh_token: str) -> RefreshToken | None:
        row = self.t.refresh_tokens.get(refresh_token)
        if row is None:
            return None
        session = self.t.sessions[row["session_id"]]
        return RefreshToken(
            session_id=row["session_id"],
            user_id=session["user_id"],
            rotated=row["rotated"],
            session_revoked=session["revoked_at"] is not None,
            session_expired=session["expires_at"] <= self.db.clock(),
        )

    async def rotate(self, refresh_token: str, session_id: uuid.UUID) -> str:
        self.t.refresh_tokens[refresh_token]["rotated"] = True
        self.t.sessions[session_id]["last_seen_at"] = self.db.clock()
        return self._new_refresh(session_id)

    async def revoke(
        self, user_id: uuid.UUID, *, reason: str, only: uuid.UUID | None = None, keep: uuid.UUID | None = None
    ) -> list[uuid.UUID]:
        revoked = []
        for session_id, row in self.t.sessions.items():
            if row["user_id"] != user_id or row["revoked_at"] is not None:
                continue
            if (only is not None and session_id != only) or (keep is not None and session_id == keep):
                continue
            row["revoked_at"], row["revoked_reason"] = self.db.clock(), reason
            revoked.append(session_id)
        return revoked

    async def forget_clients(self, user_id: uuid.UUID) -> None:
        for row in self.t.sessions.values():
            if row["user_id"] == user_id:
                row["ip"] = row["user_agent"] = None


@dataclass(eq=False)
class InMemoryProfiles:
    t: AuthTables

    async def started(self, user_id: uuid.UUID, first_name: str, last_name: str, at: datetime) -> None:
        self.t.profiles.setdefault(user_id, _profile(first_name, last_name, at))

    async def created(self, user_id: uuid.UUID, first_name: str, last_name: str, at: datetime) -> None:
        row = self.t.profiles.get(user_id)
        if row is None:
            self.t.profiles[user_id] = _profile(first_name, last_name, at)
            return
        row.update(first_name=first_name, last_name=last_name, created_at=at, updated_at=max(row["updated_at"], at))

    async def updated(self, change: ProfileChange, at: datetime) -> None:
        row = self.t.profiles.get(change.user_id)
        if row is None:
            return
        row["first_name"] = change.first_name if change.first_name is not None else row["first_name"]
        row["last_name"] = change.last_name if change.last_name is not None else row["last_name"]
        if change.avatar_changed:
            row["avatar_url"] = change.avatar_url
        row["updated_at"] = max(row["updated_at"], at)

    async def balance(self, user_id: uuid.UUID, balance: int, at: datetime) -> None:
        row = self.t.profiles.get(user_id)
        if row is None or (row["balance_at"] is not None and row["balance_at"] > at):
            return
        row.update(balance=balance, balance_at=at, updated_at=max(row["updated_at"], at))

    async def touch(self, user_id: uuid.UUID, at: datetime) -> None:
        if (row := self.t.profiles.get(user_id)) is not None:
            row["updated_at"] = max(row["updated_at"], at)

    async def erase(self, user_id: uuid.UUID) -> None:
        self.t.profiles.pop(user_id, None)


def _profile(first_name: str, last_name: str, at: datetime) -> Row:
    return {
        "first_name": first_name,
        "last_name": last_name,
        "balance": 0,
        "balance_at": None,
        "avatar_url": None,
        "created_at": at,
        "updated_at": at,
    }


class InMemoryAuthUnitOfWork(TablesUnitOfWork[AuthTables]):
    db: AuthMemory

    def bind_tables(self, tables: AuthTables) -> None:
        self._base = copy.deepcopy(self.db.tables)
        self.credentials: CredentialViews = InMemoryCredentials(self.db, tables)
        self.codes: OneTimeCodes = InMemoryCodes(self.db, tables)
        self.sessions: Sessions = InMemorySessions(self.db, tables)
        self.profiles: ProfileViews = InMemoryProfiles(tables)

    def commit_views(self) -> None:
        """The rows this unit of work inserted, changed or deleted — not the whole tables (a unit of
        work that committed meanwhile keeps its own rows)."""
        for table in fields(AuthTables):
            base, staged = getattr(self._base, table.name), getattr(self.staged, table.name)
            live = getattr(self.db.tables, table.name)
            for key in base.keys() - staged.keys():
                live.pop(key, None)
            for key, row in staged.items():
                if base.get(key) != row:
                    live[key] = row


@dataclass(eq=False)
class InMemoryAuthReads:
    db: AuthMemory

    async def user_id_by_email(self, email: str) -> uuid.UUID | None:
        return _by_email(self.db.tables, email)

    async def sessions(self, user_id: uuid.UUID) -> list[SessionRow]:
        now = self.db.clock()
        live = [
            (session_id, row)
            for session_id, row in self.db.tables.sessions.items()
            if row["user_id"] == user_id and row["revoked_at"] is None and row["expires_at"] > now
        ]
        live.sort(key=lambda item: item[1]["created_at"], reverse=True)
        return [
            SessionRow(
                session_id=session_id,
                created_at=row["created_at"],
                last_seen_at=row["last_seen_at"],
                expires_at=row["expires_at"],
                ip=row["ip"],
                user_agent=row["user_agent"],
            )
            for session_id, row in live
        ]

    async def unconfirmed(self, older_than: timedelta) -> list[NewUser]:
        since = self.db.clock() - older_than
        return [
            NewUser(
                user_id=user_id,
                email=row["email"],
                first_name=row["first_name"],
                last_name=self.db.tables.profiles.get(user_id, {}).get("last_name", ""),
                permissions=row["permissions"],
            )
            for user_id, row in self.db.tables.credentials.items()
            if not row["profile_confirmed"] and row["created_at"] < since
        ][:100]

    async def revoked_since(self, within: timedelta) -> list[uuid.UUID]:
        since = self.db.clock() - within
        return [k for k, row in self.db.tables.sessions.items() if row["revoked_at"] and row["revoked_at"] > since]


# ---------------------------------------------------------------------------------- the other ports


class FakeHasher:
    """Not argon2: a readable "hash", and a record of every check (the same work on every path)."""

    def __init__(self) -> None:
        self.checked: list[str | None] = []

    async def hash(self, password: str) -> str:
        return f"hashed:{password}"

    async def verify(self, password_hash: str | None, password: str) -> bool:
        self.checked.append(password_hash)
        return password_hash is not None and password_hash == f"hashed:{password}"


class FakeTokens:
    """Tokens that say what they carry; the key set changes with each rotation."""

    def __init__(self) -> None:
        self.rotations = 0

    def issue(self, *, user_id: uuid.UUID, session_id: uuid.UUID, permissions: int) -> str:
        return f"access:{user_id}:{session_id}:{permissions}"

    def jwks(self) -> dict[str, Any]:
        return {"keys": [{"kid": f"key-{self.rotations}"}]}

    async def rotate(self) -> None:
        self.rotations += 1


class MemoryRevocations:
    def __init__(self) -> None:
        self.revoked: list[uuid.UUID] = []

    async def publish(self, session_ids: Sequence[uuid.UUID]) -> None:
        self.revoked.extend(session_ids)


class MemoryMailAllowance:
    def __init__(self, per_hour: int) -> None:
        self.per_hour = per_hour
        self.counts: dict[str, int] = {}

    async def allow(self, email: str) -> bool:
        key = email.lower()
        self.counts[key] = self.counts.get(key, 0) + 1
        return self.counts[key] <= self.per_hour


class MemoryFailedSignIns:
    def __init__(self, limit: int, window: timedelta, clock: Callable[[], datetime] = utc_now) -> None:
        self.limit, self.window, self.clock = limit, window, clock
        self.counts: dict[str, tuple[int, datetime]] = {}

    def _live(self, ip: str) -> tuple[int, datetime] | None:
        found = self.counts.get(ip)
        return found if found is not None and found[1] > self.clock() else None

    async def retry_after(self, ip: str) -> int | None:
        found = self._live(ip)
        if found is None or found[0] < self.limit:
            return None
        return max(int((found[1] - self.clock()).total_seconds()), 1)

    async def count(self, ip: str) -> None:
        found = self._live(ip)
        self.counts[ip] = (found[0] + 1, found[1]) if found else (1, self.clock() + self.window)


class RecordingMailer:
    def __init__(self) -> None:
        self.sent: list[Mail] = []
        self.fail = False

    async def send(self, mail: Mail) -> None:
        if self.fail:
            raise ConnectionError("the broker is away")
        self.sent.append(mail)

    def to(self, email: str, template: str | None = None) -> list[Mail]:
        return [m for m in self.sent if m.to == email and (template is None or m.template == template)]


class FakeUsers:
    """The users service: confirms a create_user in time unless told it is slow."""

    def __init__(self) -> None:
        self.confirms = True
        self.created: list[NewUser] = []
        self.sent_later: list[NewUser] = []

    async def create(self, user: NewUser, correlation_id: str, wait_seconds: float) -> bool:
        self.created.append(user)
        return self.confirms

    async def create_later(self, user: NewUser, correlation_id: str) -> None:
        self.sent_later.append(user)


# ---------------------------------------------------------------------------------- the whole service


class Clock:
    """A clock the tests move."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 12, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class InMemoryAuth:
    """Every use case of auth on the fakes above, with the fakes to look at (application tests)."""

    def __init__(self, rules: AuthRules | None = None, *, consumer: str = "auth.user-events") -> None:
        self.clock = Clock()
        self.rules = rules or AuthRules()
        self.db = AuthMemory(clock=self.clock)
        self.hasher = FakeHasher()
        self.tokens = FakeTokens()
        self.revocations = MemoryRevocations()
        self.allowance = MemoryMailAllowance(per_hour=5)
        self.failures = MemoryFailedSignIns(limit=50, window=self.rules.lock.window, clock=self.clock)
        self.mailer = RecordingMailer()
        self.users = FakeUsers()
        self.streams = streams(self.clock)
        self.ports = Ports(
            uow=lambda: InMemoryAuthUnitOfWork(self.db),
            reads=InMemoryAuthReads(self.db),
            hasher=self.hasher,
            tokens=self.tokens,
            revocations=self.revocations,
            allowance=self.allowance,
            failures=self.failures,
            mailer=self.mailer,
            users=self.users,
        )
        self.handlers = build(self.ports, self.streams, self.rules, consumer=consumer, now=self.clock)

    # ------------------------------------------------------------------ what the tests look at

    def stored(self, user_id: uuid.UUID) -> list[StoredEvent]:
        return self.db.streams.get(self.streams.stream_id(user_id), [])

    def published(self, user_id: uuid.UUID | None = None) -> list[str]:
        return [e.event_type for e in self.db.published if user_id is None or e.aggregate_id == str(user_id)]

    def code(self, email: str, template: EmailTemplate) -> str:
        """The code of the last ``template`` mail to ``email``."""
        mail = self.mailer.to(email, template)[-1]
        found = [v for k, v in mail.variables.items() if k in ("activation_code", "reset_code", "change_code", "code")]
        return found[0]

    async def settled(self) -> None:
        """The work after the answers (account mails) is done."""
        await self.handlers.background.drain()

    async def activation_code(self, email: str, password: str, ctx: RequestContext) -> str:
        """Signed up: the code of the activation mail."""
        await self.handlers.sign_up(email, password, "Ada", "Byron", ctx)
        await self.settled()
        return self.code(email, "account_activation")

    async def activated(self, email: str, password: str, ctx: RequestContext) -> uuid.UUID:
        """Signed up and activated, as a person does."""
        await self.handlers.activate(await self.activation_code(email, password, ctx), ctx)
        user_id = await self.ports.reads.user_id_by_email(email)
        assert user_id is not None
        return user_id
