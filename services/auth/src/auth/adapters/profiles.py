"""Auth's view of the users context's profiles (user.events): what the sign-in reply shows besides
the credentials. Methods work in the caller's transaction; the consumer's inbox makes each event
count once, and timestamps only move forward (a replayed old event changes nothing)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Final

import msgspec
from psycopg import AsyncConnection

from blazing_contracts import AnyEvent
from blazing_contracts.events import user as ue

_TOUCH: Final = "UPDATE profiles SET updated_at = greatest(updated_at, %(at)s) WHERE user_id = %(user_id)s"


class Account(msgspec.Struct, frozen=True, kw_only=True):
    """The signed-in user as the original's sign-in reply shows it (and GET /api/v1/user does)."""

    id: uuid.UUID
    email: str
    first_name: str
    last_name: str
    balance: int
    permissions: int
    activated: bool
    avatar_url: str | None
    created_at: datetime
    updated_at: datetime


class Profiles:
    async def started(
        self, conn: AsyncConnection[Any], user_id: uuid.UUID, first_name: str, last_name: str, at: datetime
    ) -> None:
        """The row a sign-up starts with, until user.created brings the users context's own."""
        await conn.execute(
            "INSERT INTO profiles (user_id, first_name, last_name, created_at, updated_at)"
            " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (user_id) DO NOTHING",
            (user_id, first_name, last_name, at, at),
        )

    async def apply(self, conn: AsyncConnection[Any], event: AnyEvent) -> None:
        p, at = event.payload, event.occurred_at
        if isinstance(p, ue.UserCreated):
            await conn.execute(
                "INSERT INTO profiles (user_id, first_name, last_name, created_at, updated_at)"
                " VALUES (%(user_id)s, %(first)s, %(last)s, %(at)s, %(at)s) ON CONFLICT (user_id) DO UPDATE SET"
                " first_name = excluded.first_name, last_name = excluded.last_name,"
                " created_at = excluded.created_at, updated_at = greatest(profiles.updated_at, excluded.updated_at)",
                {"user_id": p.user_id, "first": p.first_name, "last": p.last_name, "at": at},
            )
        elif isinstance(p, ue.UserUpdated | ue.UserProfileUpdated):
            avatar = isinstance(p, ue.UserProfileUpdated) and "avatar_url" in p.fields_changed
            await conn.execute(
                "UPDATE profiles SET first_name = coalesce(%(first)s, first_name),"
                " last_name = coalesce(%(last)s, last_name),"
                " avatar_url = CASE WHEN %(avatar)s THEN %(avatar_url)s ELSE avatar_url END,"
                " updated_at = greatest(updated_at, %(at)s) WHERE user_id = %(user_id)s",
                {
                    "user_id": p.user_id,
                    "first": p.first_name,
                    "last": p.last_name,
                    "avatar": avatar,
                    "avatar_url": p.avatar_url if isinstance(p, ue.UserProfileUpdated) else None,
                    "at": at,
                },
            )
        elif isinstance(p, ue.UserBalanceUpdated):
            await conn.execute(
                "UPDATE profiles SET balance = %(balance)s, balance_at = %(at)s,"
                " updated_at = greatest(updated_at, %(at)s)"
                " WHERE user_id = %(user_id)s AND (balance_at IS NULL OR balance_at <= %(at)s)",
                {"user_id": p.user_id, "balance": p.balance, "at": at},
            )
        elif isinstance(p, ue.UserDeleted):
            await self.erase(conn, p.user_id)
        elif isinstance(p, ue.UserActivated | ue.UserPasswordChanged | ue.UserPermissionsChanged):
            await conn.execute(_TOUCH, {"user_id": p.user_id, "at": at})

    async def erase(self, conn: AsyncConnection[Any], user_id: uuid.UUID) -> None:
        await conn.execute("DELETE FROM profiles WHERE user_id = %s", (user_id,))

    async def signed_in(self, conn: AsyncConnection[Any], user_id: uuid.UUID) -> Account | None:
        """The account of an active credential, its row locked (FOR SHARE) until the caller's
        transaction ends: a concurrent permission change or erasure waits for it, and then revokes
        the session it opened — or commits first, and this reads the new level. None otherwise."""
        row = await (
            await conn.execute(
                "SELECT c.email, c.permissions, c.created_at, coalesce(p.first_name, c.first_name),"
                " coalesce(p.last_name, ''), coalesce(p.balance, 0), p.avatar_url,"
                " coalesce(p.created_at, c.created_at), coalesce(p.updated_at, c.created_at)"
                " FROM credentials c LEFT JOIN profiles p USING (user_id)"
                " WHERE c.user_id = %s AND c.status = 'active' FOR SHARE OF c",
                (user_id,),
                prepare=True,
            )
        ).fetchone()
        if row is None:
            return None
        return Account(
            id=user_id,
            email=row[0],
            permissions=row[1],
            first_name=row[3],
            last_name=row[4],
            balance=row[5],
            activated=True,
            avatar_url=row[6],
            created_at=row[7],
            updated_at=row[8],
        )
