"""The users service on PostgreSQL: its unit of work (event store, outbox, inbox, the profiles read
model and the early activations on one connection, one transaction) and the profile queries."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from psycopg import AsyncConnection, errors
from psycopg.rows import class_row
from psycopg_pool import AsyncConnectionPool

from blazing_app import Conflict
from blazing_es.postgres import PostgresUnitOfWork
from users.application.commands import TAKEN
from users.application.ports import EarlyActivations, Profile, ProfileViews, projected
from users.domain import user as u


class PostgresUsersUnitOfWork(PostgresUnitOfWork):
    def bind(self, conn: AsyncConnection[Any]) -> None:
        self.profiles: ProfileViews = PostgresProfileViews(conn)
        self.early_activations: EarlyActivations = PostgresEarlyActivations(conn)


# ``version`` is the stream version the row reflects: 1 with the creation, one more per event after.
_CREATE: Final = (
    "INSERT INTO profiles (user_id, email, first_name, last_name, permissions, activated, avatar_url, version,"
    " created_by, created_at, updated_at)"
    " VALUES (%(user_id)s, %(email)s, %(first_name)s, %(last_name)s, %(permissions)s, %(activated)s,"
    " %(avatar_url)s, 1, %(created_by)s, %(at)s, %(at)s)"
)
_UPDATE: Final = (
    "UPDATE profiles SET first_name = %(first_name)s, last_name = %(last_name)s, permissions = %(permissions)s,"
    " activated = %(activated)s, avatar_url = %(avatar_url)s, version = version + 1, updated_at = %(at)s"
    " WHERE user_id = %(user_id)s"
)
# The decider takes only newer ledger versions; the row's own guard also holds for the balances a
# profile took before they were stored events (its stream has no balance_changed to compare with).
_BALANCE: Final = (
    "UPDATE profiles SET version = version + 1, updated_at = %(at)s,"
    " balance = CASE WHEN balance_version < %(v)s THEN %(balance)s ELSE balance END,"
    " balance_version = greatest(balance_version, %(v)s)"
    " WHERE user_id = %(user_id)s"
)
_DELETE: Final = "DELETE FROM profiles WHERE user_id = %s"


@dataclass(eq=False)
class PostgresProfileViews:
    conn: AsyncConnection[Any]

    async def apply(self, before: u.User, event: u.Event, after: u.User, at: datetime) -> None:
        row = {"user_id": after.user_id, "email": after.email, **projected(after), "at": at}
        match event:
            case u.Created():
                try:
                    await self.conn.execute(_CREATE, row | {"created_by": event.created_by})
                except errors.UniqueViolation as exc:  # the e-mail, taken since it was checked
                    raise Conflict(TAKEN) from exc
            case u.Deleted():
                await self.conn.execute(_DELETE, (after.user_id,))
            case u.BalanceChanged():
                await self.conn.execute(
                    _BALANCE, {"user_id": after.user_id, "balance": event.balance, "v": event.ledger_version, "at": at}
                )
            case _:
                await self.conn.execute(_UPDATE, row)

    async def email_taken(self, email: str) -> bool:
        cursor = await self.conn.execute("SELECT 1 FROM profiles WHERE lower(email) = lower(%s)", (email,))
        return await cursor.fetchone() is not None


@dataclass(eq=False)
class PostgresEarlyActivations:
    conn: AsyncConnection[Any]

    async def keep(self, user_id: uuid.UUID) -> None:
        await self.conn.execute(
            "INSERT INTO early_activations (user_id) VALUES (%s) ON CONFLICT DO NOTHING", (user_id,)
        )

    async def take(self, user_id: uuid.UUID) -> bool:
        cursor = await self.conn.execute(
            "DELETE FROM early_activations WHERE user_id = %s RETURNING user_id", (user_id,)
        )
        return await cursor.fetchone() is not None


_COLUMNS: Final = (
    "user_id AS id, email, first_name, last_name, balance, permissions, activated, avatar_url, created_at, updated_at"
)
"""A ``Profile``'s fields, which ``_AS_PROFILE`` makes of a row by their names."""
_AS_PROFILE: Final = class_row(Profile)
_PROFILE: Final = f"SELECT {_COLUMNS} FROM profiles WHERE user_id = %s"  # noqa: S608 - constant columns
_BY_EMAIL: Final = f"SELECT {_COLUMNS} FROM profiles WHERE lower(email) = lower(%s)"  # noqa: S608
# With and without a query: one statement each, from constants only (the query is a bound parameter).
_WHERE: Final = {False: "", True: " WHERE email ILIKE %s OR first_name ILIKE %s OR last_name ILIKE %s"}
_COUNT: Final = {matching: f"SELECT count(*) FROM profiles{where}" for matching, where in _WHERE.items()}  # noqa: S608
_PAGE: Final = {
    matching: f"SELECT {_COLUMNS} FROM profiles{where} ORDER BY created_at DESC LIMIT %s OFFSET %s"  # noqa: S608
    for matching, where in _WHERE.items()
}


@dataclass(eq=False)
class PostgresProfileReads:
    pool: AsyncConnectionPool

    async def permissions(self, user_id: uuid.UUID) -> int | None:
        async with self.pool.connection() as conn:
            cursor = await conn.execute("SELECT permissions FROM profiles WHERE user_id = %s", (user_id,), prepare=True)
            row = await cursor.fetchone()
        return int(row[0]) if row else None

    async def profile(self, user_id: uuid.UUID) -> Profile | None:
        async with self.pool.connection() as conn, conn.cursor(row_factory=_AS_PROFILE) as cursor:
            return await (await cursor.execute(_PROFILE, (user_id,), prepare=True)).fetchone()

    async def by_email(self, email: str) -> Profile | None:
        async with self.pool.connection() as conn, conn.cursor(row_factory=_AS_PROFILE) as cursor:
            return await (await cursor.execute(_BY_EMAIL, (email,))).fetchone()

    async def search(self, query: str | None, limit: int, offset: int) -> tuple[list[Profile], int]:
        params: list[Any] = []
        if query:
            like = "%" + query.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_") + "%"
            params = [like, like, like]
        matching = bool(query)
        async with self.pool.connection() as conn, conn.cursor(row_factory=_AS_PROFILE) as cursor:
            total = await (await conn.execute(_COUNT[matching], params)).fetchone()
            profiles = await (await cursor.execute(_PAGE[matching], [*params, limit, offset])).fetchall()
        return profiles, int(total[0]) if total else 0
