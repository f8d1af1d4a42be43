"""Auth's PostgreSQL adapters: the credential streams (with their inline read model and the
outbox), one-time codes and sessions. Every method works in the caller's transaction."""

from __future__ import annotations

import hashlib
import secrets
import string
import uuid
from datetime import datetime, timedelta
from typing import Any, Final

import msgspec
from psycopg import AsyncConnection, sql

from auth.domain.credential import EVENT_TYPES, Credential, Event, evolve, fold
from blazing_contracts import AnyEvent
from blazing_es import StreamRepository

_ALPHABET: Final = string.ascii_letters + string.digits


_UPSERT: Final = sql.SQL(
    """
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
)


class CredentialStore:
    def __init__(self) -> None:
        self.streams: StreamRepository[Credential, Event] = StreamRepository(
            aggregate_type="credential",
            event_types=EVENT_TYPES,
            evolve=evolve,
            initial=lambda user_id: Credential(user_id=user_id),
        )

    async def load(self, conn: AsyncConnection[Any], user_id: uuid.UUID) -> Credential:
        state, version = await self.streams.load(conn, user_id)
        return msgspec.structs.replace(state, version=version)

    async def lock(self, conn: AsyncConnection[Any], user_id: uuid.UUID) -> None:
        """Holds the credential row until the transaction ends. Everything that changes who may
        hold a session (permissions, erasure, a new password) takes it first, sign-in shares it:
        a session is never opened with a level that a committed change has replaced."""
        await conn.execute("SELECT 1 FROM credentials WHERE user_id = %s FOR UPDATE", (user_id,))

    async def user_id_by_email(self, conn: AsyncConnection[Any], email: str) -> uuid.UUID | None:
        row = await (
            await conn.execute("SELECT user_id FROM credentials WHERE lower(email) = lower(%s)", (email,), prepare=True)
        ).fetchone()
        return row[0] if row else None

    async def save(
        self,
        conn: AsyncConnection[Any],
        state: Credential,
        events: list[Event],
        published: list[AnyEvent],
        *,
        now: datetime,
        metadata: dict[str, Any] | None = None,
    ) -> Credential:
        """Appends ``events`` at the state's version (ConcurrencyError when it moved), updates the
        read model and queues the contract events — all in the caller's transaction."""
        if events:
            version = await self.streams.save(conn, state.user_id, state.version, events, now=now, metadata=metadata)
            state = msgspec.structs.replace(fold(state, events), version=version)
            if state.status == "erased":
                await conn.execute("DELETE FROM credentials WHERE user_id = %s", (state.user_id,))
            else:
                await conn.execute(
                    _UPSERT,
                    {
                        "user_id": state.user_id,
                        "email": state.email,
                        "first_name": state.first_name,
                        "password_hash": state.password_hash,
                        "status": state.status,
                        "permissions": state.permissions,
                        "must_set_password": state.must_set_password,
                        "failed_attempts": state.failed_attempts,
                        "window_start": state.window_start,
                        "locked_until": state.locked_until,
                        "version": version,
                    },
                )
        await self.streams.publish(conn, published)
        return state

    async def publish(self, conn: AsyncConnection[Any], published: list[AnyEvent]) -> None:
        """Contract events that change no stream (a failed sign-in of an unknown e-mail, a sign-out)."""
        await self.streams.publish(conn, published)

    async def erase(self, conn: AsyncConnection[Any], user_id: uuid.UUID) -> None:
        """Personal data leaves the stream too: the stored events keep their shape, not their content."""
        await self.streams.redact(conn, user_id, keep=["erased"])
        await conn.execute("DELETE FROM one_time_codes WHERE user_id = %s", (user_id,))

    async def mark_profile_confirmed(self, conn: AsyncConnection[Any], user_id: uuid.UUID) -> None:
        await conn.execute("UPDATE credentials SET profile_confirmed = true WHERE user_id = %s", (user_id,))

    async def unconfirmed_profiles(self, conn: AsyncConnection[Any], older_than: timedelta) -> list[tuple[Any, ...]]:
        return await (
            await conn.execute(
                "SELECT c.user_id, c.email, c.first_name, c.permissions, coalesce(p.last_name, '')"
                " FROM credentials c LEFT JOIN profiles p USING (user_id)"
                " WHERE NOT c.profile_confirmed AND c.created_at < now() - %s LIMIT 100",
                (older_than,),
            )
        ).fetchall()


def new_code() -> str:
    """40 characters of [A-Za-z0-9] from a CSPRNG (SPEC §4.1)."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(40))


def code_hash(code: str) -> bytes:
    return hashlib.sha256(code.encode()).digest()


class Codes:
    async def issue(self, conn: AsyncConnection[Any], user_id: uuid.UUID, purpose: str, lifetime: timedelta) -> str:
        """A new code; the older codes of the same purpose stop working."""
        await conn.execute(
            "UPDATE one_time_codes SET revoked_at = now()"
            " WHERE user_id = %s AND purpose = %s AND used_at IS NULL AND revoked_at IS NULL",
            (user_id, purpose),
        )
        code = new_code()
        await conn.execute(
            "INSERT INTO one_time_codes (code_hash, user_id, purpose, expires_at) VALUES (%s, %s, %s, now() + %s)",
            (code_hash(code), user_id, purpose, lifetime),
        )
        return code

    async def find(
        self, conn: AsyncConnection[Any], code: str, *, lock: bool = False
    ) -> tuple[uuid.UUID, str, bool] | None:
        """The owner, purpose and whether the code can still be used (not used, revoked or expired)
        of a code, or None when there is no such code; ``lock`` holds it until the caller's
        transaction ends (spending it)."""
        query = (
            "SELECT user_id, purpose, used_at IS NULL AND revoked_at IS NULL AND expires_at > now()"
            " FROM one_time_codes WHERE code_hash = %s"
        )
        row = await (await conn.execute(query + (" FOR UPDATE" if lock else ""), (code_hash(code),))).fetchone()
        return (row[0], row[1], row[2]) if row else None

    async def spend(self, conn: AsyncConnection[Any], code: str) -> None:
        """Single use: the code found (locked) in this transaction stops working."""
        await conn.execute("UPDATE one_time_codes SET used_at = now() WHERE code_hash = %s", (code_hash(code),))


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class SessionRow(msgspec.Struct, frozen=True, kw_only=True):
    session_id: uuid.UUID
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    ip: str | None
    user_agent: str | None


class Sessions:
    async def open(
        self, conn: AsyncConnection[Any], user_id: uuid.UUID, ttl: timedelta, ip: str | None, user_agent: str | None
    ) -> tuple[uuid.UUID, str]:
        session_id = uuid.uuid4()
        await conn.execute(
            "INSERT INTO sessions (session_id, user_id, expires_at, ip, user_agent)"
            " VALUES (%s, %s, now() + %s, %s, %s)",
            (session_id, user_id, ttl, ip, (user_agent or "")[:300] or None),
        )
        return session_id, await self._new_refresh(conn, session_id)

    async def _new_refresh(self, conn: AsyncConnection[Any], session_id: uuid.UUID) -> str:
        token = secrets.token_urlsafe(48)
        await conn.execute(
            "INSERT INTO refresh_tokens (token_hash, session_id) VALUES (%s, %s)", (token_hash(token), session_id)
        )
        return token

    async def rotate(
        self, conn: AsyncConnection[Any], refresh_token: str
    ) -> tuple[str, uuid.UUID, uuid.UUID, str | None]:
        """("ok", user, session, new token) | ("reused", user, session, None) | ("invalid", …)."""
        row = await (
            await conn.execute(
                "SELECT r.session_id, r.rotated_at, s.user_id, s.revoked_at, s.expires_at > now()"
                " FROM refresh_tokens r JOIN sessions s USING (session_id) WHERE r.token_hash = %s FOR UPDATE",
                (token_hash(refresh_token),),
            )
        ).fetchone()
        nil = uuid.UUID(int=0)
        if row is None:
            return "invalid", nil, nil, None
        session_id, rotated_at, user_id, revoked_at, alive = row
        if rotated_at is not None:
            return "reused", user_id, session_id, None
        if revoked_at is not None or not alive:
            return "invalid", user_id, session_id, None
        await conn.execute(
            "UPDATE refresh_tokens SET rotated_at = now() WHERE token_hash = %s", (token_hash(refresh_token),)
        )
        await conn.execute("UPDATE sessions SET last_seen_at = now() WHERE session_id = %s", (session_id,))
        return "ok", user_id, session_id, await self._new_refresh(conn, session_id)

    async def revoke(
        self,
        conn: AsyncConnection[Any],
        user_id: uuid.UUID,
        *,
        reason: str,
        only: uuid.UUID | None = None,
        keep: uuid.UUID | None = None,
    ) -> list[uuid.UUID]:
        """Revokes the user's live sessions (one, all, or all but one); returns their ids."""
        rows = await (
            await conn.execute(
                "UPDATE sessions SET revoked_at = now(), revoked_reason = %s"
                " WHERE user_id = %s AND revoked_at IS NULL"
                " AND (%s::uuid IS NULL OR session_id = %s) AND (%s::uuid IS NULL OR session_id <> %s)"
                " RETURNING session_id",
                (reason, user_id, only, only, keep, keep),
            )
        ).fetchall()
        return [r[0] for r in rows]

    async def is_live(self, conn: AsyncConnection[Any], session_id: uuid.UUID) -> bool:
        row = await (
            await conn.execute(
                "SELECT 1 FROM sessions WHERE session_id = %s AND revoked_at IS NULL AND expires_at > now()",
                (session_id,),
            )
        ).fetchone()
        return row is not None

    async def list(self, conn: AsyncConnection[Any], user_id: uuid.UUID) -> list[SessionRow]:
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
