"""The users service's ports in memory, for application tests without a server — held to the same
tests as the PostgreSQL adapters (tests/integration/test_adapters.py)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

import msgspec

from blazing_app import Conflict
from blazing_es.memory import TablesDatabase, TablesUnitOfWork
from users.application.commands import TAKEN
from users.application.ports import EarlyActivations, Profile, ProfileViews, Revocation, projected
from users.domain import user as u


@dataclass
class ProfileRow:
    profile: Profile
    balance_version: int = 0
    created_by: uuid.UUID | None = None


@dataclass
class UsersTables:
    profiles: dict[uuid.UUID, ProfileRow] = field(default_factory=dict)
    early_activations: set[uuid.UUID] = field(default_factory=set)


@dataclass(eq=False)
class InMemoryProfileViews:
    t: UsersTables

    async def apply(self, before: u.User, event: u.Event, after: u.User, at: datetime) -> None:
        user = after.user_id
        match event:
            case u.Created():
                if await self.email_taken(after.email):  # the unique index of the real table
                    raise Conflict(TAKEN)
                profile = Profile(
                    id=user, email=after.email, balance=0, created_at=at, updated_at=at, **projected(after)
                )
                self.t.profiles[user] = ProfileRow(profile, created_by=event.created_by)
            case u.Deleted():
                self.t.profiles.pop(user, None)
            case u.BalanceChanged():
                row = self.t.profiles[user]
                if row.balance_version < event.ledger_version:
                    row.profile = msgspec.structs.replace(row.profile, balance=event.balance)
                    row.balance_version = event.ledger_version
                row.profile = msgspec.structs.replace(row.profile, updated_at=at)
            case _:
                row = self.t.profiles[user]
                row.profile = msgspec.structs.replace(row.profile, updated_at=at, **projected(after))

    async def email_taken(self, email: str) -> bool:
        return any(row.profile.email.lower() == email.lower() for row in self.t.profiles.values())


@dataclass(eq=False)
class InMemoryEarlyActivations:
    t: UsersTables

    async def keep(self, user_id: uuid.UUID) -> None:
        self.t.early_activations.add(user_id)

    async def take(self, user_id: uuid.UUID) -> bool:
        if user_id not in self.t.early_activations:
            return False
        self.t.early_activations.discard(user_id)
        return True


class InMemoryUsersUnitOfWork(TablesUnitOfWork[UsersTables]):
    def bind_tables(self, tables: UsersTables) -> None:
        self.profiles: ProfileViews = InMemoryProfileViews(tables)
        self.early_activations: EarlyActivations = InMemoryEarlyActivations(tables)


@dataclass(eq=False)
class InMemoryProfileReads:
    db: TablesDatabase[UsersTables]

    async def permissions(self, user_id: uuid.UUID) -> int | None:
        row = self.db.tables.profiles.get(user_id)
        return row.profile.permissions if row else None

    async def profile(self, user_id: uuid.UUID) -> Profile | None:
        row = self.db.tables.profiles.get(user_id)
        return row.profile if row else None

    async def by_email(self, email: str) -> Profile | None:
        return next(
            (r.profile for r in self.db.tables.profiles.values() if r.profile.email.lower() == email.lower()), None
        )

    async def search(self, query: str | None, limit: int, offset: int) -> tuple[list[Profile], int]:
        def matches(p: Profile) -> bool:
            q = (query or "").lower()
            return not q or any(q in text.lower() for text in (p.email, p.first_name, p.last_name))

        found = sorted(
            (r.profile for r in self.db.tables.profiles.values() if matches(r.profile)),
            key=lambda p: p.created_at,
            reverse=True,
        )
        return found[offset : offset + limit], len(found)


class InMemorySessions:
    """Auth's end of the sessions: records each revocation; ``confirms`` False plays an auth that
    does not answer in time."""

    def __init__(self, *, confirms: bool = True) -> None:
        self.confirms = confirms
        self.revoked: list[Revocation] = []

    async def revoke(self, revocation: Revocation) -> bool:
        self.revoked.append(revocation)
        return self.confirms
