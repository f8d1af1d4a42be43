"""The sent log in the mailer's database (``mail_log``): the idempotency record of every send_email
job, and its reads for the ops console. Each write is its own transaction, committed on return."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final
from uuid import UUID

from psycopg import sql
from psycopg_pool import AsyncConnectionPool

from mailer.application.ports import ERASED, ClaimResult, MailLogEntry, NewEntry

_CLAIM: Final = sql.SQL(
    """
    INSERT INTO mail_log (job_id, to_email, to_name, template, status, attempts, priority,
                          correlation_id, lease_until)
    VALUES (%(job_id)s, %(to_email)s, %(to_name)s, %(template)s, 'pending', 1, %(priority)s,
            %(correlation_id)s, now() + make_interval(secs => %(lease)s))
    ON CONFLICT (job_id) DO UPDATE
       SET status = 'pending', attempts = mail_log.attempts + 1, updated_at = now(),
           lease_until = now() + make_interval(secs => %(lease)s)
     WHERE mail_log.status IN ('retrying', 'failed')
    RETURNING attempts
    """
)
_STATE: Final = sql.SQL("SELECT status, lease_until < now() FROM mail_log WHERE job_id = %s FOR UPDATE")
_SET: Final = sql.SQL(
    "UPDATE mail_log SET status = %s, last_error = %s, updated_at = now(), lease_until = NULL WHERE job_id = %s"
)
_SENT: Final = sql.SQL(
    "UPDATE mail_log SET status = 'sent', subject = %s, message_id = %s, sent_at = now(), updated_at = now(),"
    " lease_until = NULL, last_error = NULL WHERE job_id = %s"
)
_KNOWN: Final = sql.SQL(
    "INSERT INTO recipients (user_id, email) VALUES (%s, %s) ON CONFLICT (user_id) DO UPDATE SET email = EXCLUDED.email"
)
_FORGET: Final = sql.SQL("DELETE FROM recipients WHERE user_id = %s RETURNING email")
_ERASE: Final = sql.SQL(
    "UPDATE mail_log SET to_email = %s, to_name = %s, last_error = NULL, updated_at = now()"
    " WHERE lower(to_email) = lower(%s)"
)
_LIST: Final = (
    "SELECT job_id, to_email, to_name, template, subject, status, attempts, priority, last_error,"
    " correlation_id, created_at, sent_at FROM mail_log{} ORDER BY created_at DESC LIMIT %s OFFSET %s"
)


@dataclass(eq=False)
class PostgresSentLog:
    pool: AsyncConnectionPool
    lease_seconds: float = 30.0

    async def claim(self, entry: NewEntry) -> ClaimResult:
        async with self.pool.connection() as conn, conn.transaction():
            row = await (
                await conn.execute(
                    _CLAIM,
                    {
                        "job_id": entry.job_id,
                        "to_email": entry.to_email,
                        "to_name": entry.to_name,
                        "template": entry.template,
                        "priority": entry.priority,
                        "correlation_id": entry.correlation_id,
                        "lease": self.lease_seconds,
                    },
                )
            ).fetchone()
            if row is not None:
                return "claimed"
            state = await (await conn.execute(_STATE, (entry.job_id,))).fetchone()
            assert state is not None
            status, lease_expired = state
            if status == "sent":
                return "sent"
            if status == "pending" and not lease_expired:
                return "in_flight"
            if status == "pending":
                await conn.execute(_SET, ("uncertain", "the mailer stopped while sending", entry.job_id))
            return "uncertain"

    async def sent(self, job_id: UUID, subject: str, message_id: str) -> None:
        async with self.pool.connection() as conn, conn.transaction():
            await conn.execute(_SENT, (subject, message_id, job_id))

    async def failed(self, job_id: UUID, error: str, *, retrying: bool) -> None:
        async with self.pool.connection() as conn, conn.transaction():
            await conn.execute(_SET, ("retrying" if retrying else "failed", error[:2000], job_id))


@dataclass(eq=False)
class PostgresMailLogReads:
    pool: AsyncConnectionPool

    async def list(
        self, *, limit: int, offset: int, status: str | None, to_email: str | None
    ) -> tuple[list[MailLogEntry], int]:
        where, params = [], []
        if status:
            where.append("status = %s")
            params.append(status)
        if to_email:
            where.append("lower(to_email) = lower(%s)")
            params.append(to_email)
        clause = sql.SQL(" WHERE " + " AND ".join(where) if where else "")  # constant fragments only
        async with self.pool.connection() as conn:
            total = await (
                await conn.execute(sql.SQL("SELECT count(*) FROM mail_log{}").format(clause), params)
            ).fetchone()
            rows = await (await conn.execute(sql.SQL(_LIST).format(clause), [*params, limit, offset])).fetchall()
        entries = [MailLogEntry(**dict(zip(MailLogEntry.__struct_fields__, r, strict=True))) for r in rows]
        return entries, int(total[0]) if total else 0


@dataclass(eq=False)
class PostgresRecipients:
    pool: AsyncConnectionPool

    async def known(self, user_id: UUID, email: str) -> None:
        async with self.pool.connection() as conn, conn.transaction():
            await conn.execute(_KNOWN, (user_id, email))

    async def erase(self, user_id: UUID) -> int:
        async with self.pool.connection() as conn, conn.transaction():
            row = await (await conn.execute(_FORGET, (user_id,))).fetchone()
            if row is None:
                return 0
            return (await conn.execute(_ERASE, (ERASED, ERASED, row[0]))).rowcount
