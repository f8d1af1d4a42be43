"""Auth on PostgreSQL: its unit of work (event store, outbox, inbox and the credentials, codes,
sessions and profiles tables on one connection, one transaction) and the reads outside it."""

from __future__ import annotations

import hashlib
import secrets
import string
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from psycopg import AsyncConnection, errors
from psycopg_pool import AsyncConnectionPool

from auth.adapters.rows import credential_row
from auth.application.ports import (
    Account,
    CredentialViews,
    EmailTaken,
    NewUser,
    OneTimeCodes,
    ProfileChange,
    ProfileViews,
    SessionRow,
    Sessions,
)
from auth.domain.codes import Code, Purpose
from auth.domain.credential import Credential
from auth.domain.sessions import RefreshToken
from blazing_es.postgres import PostgresUnitOfWork

_ALPHABET: Final = string.ascii_letters + string.digits


class PostgresAuthUnitOfWork(PostgresUnitOfWork):
    def bind(self, conn: AsyncConnection[Any]) -> None:
        self.credentials: CredentialViews = PostgresCredentials(conn)
        self.codes: OneTimeCodes = PostgresCodes(conn)
        self.sessions: Sessions = PostgresSessions(conn)
        self.profiles: ProfileViews = PostgresProfiles(conn)


# ---------------------------------------------------------------------------------- credentials

_UPSERT: Final = """
    INSERT INTO credentials (user_id, email, first_name, password_hash, status, permissions, must_set_password,
                             failed_attempts, failure_window_start, locked_until, version)
    VALUES (%(user_id)s, %(email)s, %(first_name)s, %(password_hash)s, %(status)s, %(permissions)s,
            %(must_set_password)s, %(failed_attempts)s, %(window_start)s, %(locked_until)s, %(version)s)
    ON CONFLICT (user_id) DO UPDATE SET
        email = excluded.email, first_name = excluded.first_name, password_hash = excluded.password_hash,
        status = excluded.status, permissions = excluded.permissions,
        must_set_password = excluded.must_set_password, failed_attempts = excluded.failed_attempts,
        failure_window_start = excluded.failure_window_start, locked_until = excluded.locked_until,
        version = excluded.version, updated_at = now()
"""
_BY_EMAIL: Final = "SELECT user_id FROM credentials WHERE lower(email) = lower(%s)"
_ACCOUNT: Final = (
    "SELECT c.email, c.permissions, c.created_at, coalesce(p.first_name, c.first_name),"
    " coalesce(p.last_name, ''), coalesce(p.balance, 0), p.avatar_url,"
    " coalesce(p.created_at, c.created_at), coalesce(p.updated_at, c.created_at)"
    " FROM credentials c LEFT JOIN profiles p USING (user_id) WHERE c.user_id = %s AND c.status = 'active'"
)


@dataclass(eq=False)
class PostgresCredentials:
    conn: AsyncConnection[Any]

    async def save(self, state: Credential, version: int) -> None:
        if state.status == "erased":
            await self.conn.execute("DELETE FROM credentials WHERE user_id = %s", (state.user_id,))
            return
        if not state.exists:  # a stream that records an attempt on an address nobody holds
            return
        try:
            await self.conn.execute(_UPSERT, {"user_id": state.user_id, **credential_row(state, version)}, prepare=True)
        except errors.UniqueViolation as exc:
            raise EmailTaken(state.email) from exc

    async def user_id_by_email(self, email: str) -> uuid.UUID | None:
        row = await (await self.conn.execute(_BY_EMAIL, (email,), prepare=True)).fetchone()
        return row[0] if row else None

    async def mark_profile_confirmed(self, user_id: uuid.UUID) -> None:
        await self.conn.execute("UPDATE credentials SET profile_confirmed = true WHERE user_id = %s", (user_id,))

    async def account(self, user_id: uuid.UUID) -> Account | None:
        row = await (await self.conn.execute(_ACCOUNT, (user_id,), prepare=True)).fetchone()
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


# ---------------------------------------------------------------------------------- one-time codes


def new_code() -> str:
    """40 characters of [A-Za-z0-9] from a CSPRNG (SPEC §4.1)."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(40))


def digest(secret: str) -> bytes:
    """Codes and refresh tokens are kept as their SHA-256 only."""
    return hashlib.sha256(secret.encode()).digest()


_FIND_CODE: Final = (
    "SELECT user_id, purpose, used_at IS NULL AND revoked_at IS NULL AND expires_at > now()"
    " FROM one_time_codes WHERE code_hash = %s"
)


@dataclass(eq=False)
class PostgresCodes:
    conn: AsyncConnection[Any]

    async def issue(self, user_id: uuid.UUID, purpose: Purpose, lifetime: timedelta) -> str:
        await self.conn.execute(
            "UPDATE one_time_codes SET revoked_at = now()"
            " WHERE user_id = %s AND purpose = %s AND used_at IS NULL AND revoked_at IS NULL",
            (user_id, purpose),
        )
        code = new_code()
        await self.conn.execute(
            "INSERT INTO one_time_codes (code_hash, user_id, purpose, expires_at) VALUES (%s, %s, %s, now() + %s)",
            (digest(code), user_id, purpose, lifetime),
        )
        return code

    async def find(self, code: str, *, lock: bool) -> Code | None:
        query = _FIND_CODE + " FOR UPDATE" if lock else _FIND_CODE
        row = await (await self.conn.execute(query, (digest(code),))).fetchone()
        return Code(owner=row[0], purpose=row[1], usable=row[2]) if row else None

    async def spend(self, code: str) -> None:
        await self.conn.execute("UPDATE one_time_codes SET used_at = now() WHERE code_hash = %s", (digest(code),))

    async def erase(self, user_id: uuid.UUID) -> None:
        await self.conn.execute("DELETE FROM one_time_codes WHERE user_id = %s", (user_id,))


# ---------------------------------------------------------------------------------- sessions


@dataclass(eq=False)
class PostgresSessions:
    conn: AsyncConnection[Any]

    async def open(
        self, session_id: uuid.UUID, user_id: uuid.UUID, ttl: timedelta, ip: str | None, user_agent: str | None
    ) -> str:
        await self.conn.execute(
            "INSERT INTO sessions (session_id, user_id, expires_at, ip, user_agent)"
            " VALUES (%s, %s, now() + %s, %s, %s)",
            (session_id, user_id, ttl, ip, (user_agent or "")[:300] or None),
        )
        return await self._new_refresh(session_id)

    async def _new_refresh(self, session_id: uuid.UUID) -> str:
        token = secrets.token_urlsafe(48)
        await self.conn.execute(
            "INSERT INTO refresh_tokens (token_hash, session_id) VALUES (%s, %s)", (digest(token), session_id)
        )
        return token

    async def find_refresh(self, refresh_token: str) -> RefreshToken | None:
        row = await (
            await self.conn.execute(
                "SELECT r.session_id, s.user_id, r.rotated_at IS NOT NULL, s.revoked_at IS NOT NULL,"
                " s.expires_at <= now() FROM refresh_tokens r JOIN sessions s USING (session_id)"
                " WHERE r.token_hash = %s FOR UPDATE",
                (digest(refresh_token),),
            )
        ).fetchone()
        if row is None:
            return None
        return RefreshToken(
            session_id=row[0], user_id=row[1], rotated=row[2], session_revoked=row[3], session_expired=row[4]
        )

    async def rotate(self, refresh_token: str, session_id: uuid.UUID) -> str:
        await self.conn.execute(
            "UPDATE refresh_tokens SET rotated_at = now() WHERE token_hash = %s", (digest(refresh_token),)
        )
        await self.conn.execute("UPDATE sessions SET last_seen_at = now() WHERE session_id = %s", (session_id,))
        return await self._new_refresh(session_id)

    async def revoke(
        self, user_id: uuid.UUID, *, reason: str, only: uuid.UUID | None = None, keep: uuid.UUID | None = None
    ) -> list[uuid.UUID]:
        rows = await (
            await self.conn.execute(
                "UPDATE sessions SET revoked_at = now(), revoked_reason = %s"
                " WHERE user_id = %s AND revoked_at IS NULL"
                " AND (%s::uuid IS NULL OR session_id = %s) AND (%s::uuid IS NULL OR session_id <> %s)"
                " RETURNING session_id",
                (reason, user_id, only, only, keep, keep),
            )
        ).fetchall()
        return [r[0] for r in rows]

    async def forget_clients(self, user_id: uuid.UUID) -> None:
        await self.conn.execute("UPDATE sessions SET ip = NULL, user_agent = NULL WHERE user_id = %s", (user_id,))


# ---------------------------------------------------------------------------------- profiles

_TOUCH: Final = "UPDATE profiles SET updated_at = greatest(updated_at, %(at)s) WHERE user_id = %(user_id)s"


@dataclass(eq=False)
class PostgresProfiles:
    conn: AsyncConnection[Any]

    async def started(self, user_id: uuid.UUID, first_name: str, last_name: str, at: datetime) -> None:
        await self.conn.execute(
            "INSERT INTO profiles (user_id, first_name, last_name, created_at, updated_at)"
            " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (user_id) DO NOTHING",
            (user_id, first_name, last_name, at, at),
        )

    async def created(self, user_id: uuid.UUID, first_name: str, last_name: str, at: datetime) -> None:
        await self.conn.execute(
            "INSERT INTO profiles (user_id, first_name, last_name, created_at, updated_at)"
            " VALUES (%(user_id)s, %(first)s, %(last)s, %(at)s, %(at)s) ON CONFLICT (user_id) DO UPDATE SET"
            " first_name = excluded.first_name, last_name = excluded.last_name,"
            " created_at = excluded.created_at, updated_at = greatest(profiles.updated_at, excluded.updated_at)",
            {"user_id": user_id, "first": first_name, "last": last_name, "at": at},
        )

    async def updated(self, change: ProfileChange, at: datetime) -> None:
        await self.conn.execute(
            "UPDATE profiles SET first_name = coalesce(%(first)s, first_name),"
            " last_name = coalesce(%(last)s, last_name),"
            " avatar_url = CASE WHEN %(avatar)s THEN %(avatar_url)s ELSE avatar_url END,"
            " updated_at = greatest(updated_at, %(at)s) WHERE user_id = %(user_id)s",
            {
                "user_id": change.user_id,
                "first": change.first_name,
                "last": change.last_name,
                "avatar": change.avatar_changed,
                "avatar_url": change.avatar_url,
                "at": at,
            },
        )

    async def balance(self, user_id: uuid.UUID, balance: int, at: datetime) -> None:
        await self.conn.execute(
            "UPDATE profiles SET balance = %(balance)s, balance_at = %(at)s, updated_at = greatest(updated_at, %(at)s)"
            " WHERE user_id = %(user_id)s AND (balance_at IS NULL OR balance_at <= %(at)s)",
            {"user_id": user_id, "balance": balance, "at": at},
        )

    async def touch(self, user_id: uuid.UUID, at: datetime) -> None:
        await self.conn.execute(_TOUCH, {"user_id": user_id, "at": at})

    async def erase(self, user_id: uuid.UUID) -> None:
        await self.conn.execute("DELETE FROM profiles WHERE user_id = %s", (user_id,))


# ---------------------------------------------------------------------------------- reads


@dataclass(eq=False)
class PostgresAuthReads:
    pool: AsyncConnectionPool

    async def user_id_by_email(self, email: str) -> uuid.UUID | None:
        async with self.pool.connection() as conn:
            row = await (await conn.execute(_BY_EMAIL, (email,), prepare=True)).fetchone()
        return row[0] if row else None

    async def sessions(self, user_id: uuid.UUID) -> list[SessionRow]:
        async with self.pool.connection() as conn:
            rows = await (
                await conn.execute(
                    "SELECT session_id, created_at, last_seen_at, expires_at, ip, user_agent FROM sessions"
                    " WHERE user_id = %s AND revoked_at IS NULL AND expires_at > now() ORDER BY created_at DESC",
                    (user_id,),
                )
            ).fetchall()
        return [
            SessionRow(session_id=r[0], created_at=r[1], last_seen_at=r[2], expires_at=r[3], ip=r[4], user_agent=r[5])
            for r in rows
        ]

    async def unconfirmed(self, older_than: timedelta) -> list[NewUser]:
        async with self.pool.connection() as conn:
            rows = await (
                await conn.execute(
                    "SELECT c.user_id, c.email, c.first_name, coalesce(p.last_name, ''), c.permissions"
                    " FROM credentials c LEFT JOIN profiles p USING (user_id)"
                    " WHERE NOT c.profile_confirmed AND c.created_at < now() - %s LIMIT 100",
                    (older_than,),
                )
            ).fetchall()
        return [NewUser(user_id=r[0], email=r[1], first_name=r[2], last_name=r[3], permissions=r[4]) for r in rows]

    async def revoked_since(self, within: timedelta) -> list[uuid.UUID]:
        async with self.pool.connection() as conn:
            rows = await (
                await conn.execute("SELECT session_id FROM sessions WHERE revoked_at > now() - %s", (within,))
            ).fetchall()
        return [r[0] for r in rows]
