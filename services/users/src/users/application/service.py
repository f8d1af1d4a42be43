"""The users use cases: profiles from create_user, self service, admin, erasure, balance."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final, cast

import msgspec
from psycopg import AsyncConnection, sql
from psycopg_pool import AsyncConnectionPool

from blazing_contracts import EventPayload, make_event
from blazing_contracts.events import user as ue
from blazing_contracts.types import Permission
from blazing_es import ConcurrencyError, Inbox, StreamRepository
from blazing_service import Conflict, NotFound
from users.domain import user as u


class Profile(msgspec.Struct, frozen=True, kw_only=True):
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


_UPSERT: Final = sql.SQL(
    """
    INSERT INTO profiles (user_id, email, first_name, last_name, permissions, activated, avatar_url, version,
                          created_by)
    VALUES (%(user_id)s, %(email)s, %(first_name)s, %(last_name)s, %(permissions)s, %(activated)s, %(avatar_url)s,
            %(version)s, %(created_by)s)
    ON CONFLICT (user_id) DO UPDATE SET
        first_name = excluded.first_name, last_name = excluded.last_name, permissions = excluded.permissions,
        activated = excluded.activated, avatar_url = excluded.avatar_url, version = excluded.version,
        updated_at = now()
    """
)
_PROFILE_COLUMNS: Final = (
    "user_id, email, first_name, last_name, balance, permissions, activated, avatar_url, created_at, updated_at"
)


class UsersService:
    def __init__(self, pool: AsyncConnectionPool, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.pool = pool
        self.now = now
        self.streams: StreamRepository[u.User, u.Event] = StreamRepository(
            aggregate_type="user",
            event_types=u.EVENT_TYPES,
            evolve=u.evolve,
            initial=lambda user_id: u.User(user_id=user_id),
        )

    def _event(
        self, payload: EventPayload, user_id: uuid.UUID, version: int, correlation_id: str, actor: uuid.UUID | None
    ) -> Any:
        return make_event(
            payload,
            event_id=uuid.uuid4(),
            aggregate_id=str(user_id),
            aggregate_version=version,
            occurred_at=self.now(),
            producer="users",
            correlation_id=correlation_id or str(uuid.uuid4()),
            actor_id=actor,
        )

    async def _write(
        self,
        conn: AsyncConnection[Any],
        state: u.User,
        version: int,
        events: list[u.Event],
        payloads: list[EventPayload],
        correlation_id: str,
        actor: uuid.UUID | None,
        created_by: uuid.UUID | None = None,
    ) -> u.User:
        new_version = version + len(events)
        published = [self._event(p, state.user_id, new_version, correlation_id, actor) for p in payloads]
        await self.streams.save(conn, state.user_id, version, events, published, now=self.now())
        state = self.streams.fold(state, events)
        if state.deleted:
            await conn.execute("DELETE FROM profiles WHERE user_id = %s", (state.user_id,))
            await self.streams.redact(conn, state.user_id, keep=["deleted"])
        else:
            await conn.execute(
                _UPSERT,
                {
                    "user_id": state.user_id,
                    "email": state.email,
                    "first_name": state.first_name,
                    "last_name": state.last_name,
                    "permissions": state.permissions,
                    "activated": state.activated,
                    "avatar_url": state.avatar_url,
                    "version": new_version,
                    "created_by": created_by,
                },
            )
        return state

    # ------------------------------------------------------------------ creation

    async def create(
        self,
        *,
        user_id: uuid.UUID,
        email: str,
        first_name: str,
        last_name: str,
        permissions: int,
        created_by: uuid.UUID | None,
        correlation_id: str,
    ) -> str:
        """Idempotent by user id: "created" or "already_exists". An e-mail taken by another user
        is a conflict."""
        async with self.pool.connection() as conn, conn.transaction():
            state, version = await self.streams.load(conn, user_id)
            if state.exists or state.deleted:
                return "already_exists"
            taken = await (
                await conn.execute("SELECT 1 FROM profiles WHERE lower(email) = lower(%s)", (email,))
            ).fetchone()
            if taken:
                raise Conflict("A user with this e-mail already exists")
            await self._write(
                conn,
                state,
                version,
                [
                    u.Created(
                        email=email,
                        first_name=first_name,
                        last_name=last_name,
                        permissions=permissions,
                        created_by=created_by,
                    )
                ],
                [
                    ue.UserCreated(
                        user_id=user_id,
                        email=email,
                        first_name=first_name,
                        last_name=last_name,
                        permissions=cast(Permission, permissions),
                        activated=False,
                        created_by=created_by,
                    )
                ],
                correlation_id,
                created_by,
                created_by,
            )
        return "created"

    # ------------------------------------------------------------------ reads

    async def profile(self, user_id: uuid.UUID) -> Profile:
        async with self.pool.connection() as conn:
            row = await (
                await conn.execute(
                    f"SELECT {_PROFILE_COLUMNS} FROM profiles WHERE user_id = %s",  # noqa: S608 - constant columns
                    (user_id,),
                    prepare=True,
                )
            ).fetchone()
        if row is None:
            raise NotFound("User not found")
        return Profile(
            id=row[0],
            email=row[1],
            first_name=row[2],
            last_name=row[3],
            balance=row[4],
            permissions=row[5],
            activated=row[6],
            avatar_url=row[7],
            created_at=row[8],
            updated_at=row[9],
        )

    async def search(self, query: str | None, limit: int, offset: int) -> tuple[list[Profile], int]:
        where, params = "", []
        if query:
            where = " WHERE email ILIKE %s OR first_name ILIKE %s OR last_name ILIKE %s"
            like = "%" + query.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_") + "%"
            params = [like, like, like]
        async with self.pool.connection() as conn:
            total = await (await conn.execute("SELECT count(*) FROM profiles" + where, params)).fetchone()  # noqa: S608
            rows = await (
                await conn.execute(
                    f"SELECT {_PROFILE_COLUMNS} FROM profiles{where} ORDER BY created_at DESC LIMIT %s OFFSET %s",  # noqa: S608
                    [*params, limit, offset],
                )
            ).fetchall()
        items = [
            Profile(
                id=r[0],
                email=r[1],
                first_name=r[2],
                last_name=r[3],
                balance=r[4],
                permissions=r[5],
                activated=r[6],
                avatar_url=r[7],
                created_at=r[8],
                updated_at=r[9],
            )
            for r in rows
        ]
        return items, int(total[0]) if total else 0

    # ------------------------------------------------------------------ changes

    async def _change(
        self,
        user_id: uuid.UUID,
        decide: Callable[[u.User], tuple[list[u.Event], list[EventPayload]]],
        correlation_id: str,
        actor: uuid.UUID | None,
        once: tuple[Inbox, uuid.UUID] | None = None,
    ) -> u.User | None:
        """Load, decide, append — retried on a concurrent change. ``once`` = (inbox, event id) makes
        a reaction to another context's event happen once, in the same transaction."""
        for _ in range(3):
            try:
                async with self.pool.connection() as conn, conn.transaction():
                    if once is not None and not await once[0].claim(conn, once[1]):
                        return None
                    state, version = await self.streams.load(conn, user_id)
                    if not state.exists:
                        raise NotFound("User not found")
                    events, payloads = decide(state)
                    if not events:
                        return state
                    return await self._write(conn, state, version, events, payloads, correlation_id, actor)
            except ConcurrencyError:
                continue
        raise Conflict("The user changed concurrently; try again")

    async def update_profile(
        self,
        user_id: uuid.UUID,
        first_name: str | None,
        last_name: str | None,
        *,
        actor: uuid.UUID,
        by_admin: bool,
        correlation_id: str,
    ) -> None:
        def decide(state: u.User) -> tuple[list[u.Event], list[EventPayload]]:
            events = u.update_profile(state, first_name, last_name, by_admin=by_admin)
            payloads: list[EventPayload] = []
            for e in events:
                assert isinstance(e, u.ProfileUpdated)
                kind = ue.UserUpdated if by_admin else ue.UserProfileUpdated
                payloads.append(
                    kind(
                        user_id=user_id, fields_changed=e.fields_changed, first_name=e.first_name, last_name=e.last_name
                    )
                )
            return events, payloads

        await self._change(user_id, decide, correlation_id, actor)

    async def set_avatar(
        self, user_id: uuid.UUID, avatar_url: str | None, correlation_id: str, once: tuple[Inbox, uuid.UUID]
    ) -> None:
        def decide(state: u.User) -> tuple[list[u.Event], list[EventPayload]]:
            events = u.change_avatar(state, avatar_url)
            payloads: list[EventPayload] = [
                ue.UserProfileUpdated(user_id=user_id, fields_changed=["avatar_url"], avatar_url=avatar_url)
                for _ in events
            ]
            return events, payloads

        await self._change(user_id, decide, correlation_id, user_id, once)

    async def set_permissions(
        self, user_id: uuid.UUID, permissions: int, actor: uuid.UUID | None, correlation_id: str
    ) -> None:
        def decide(state: u.User) -> tuple[list[u.Event], list[EventPayload]]:
            if state.permissions == permissions:
                return [], []
            return (
                [u.PermissionsChanged(permissions=permissions, previous=state.permissions, changed_by=actor)],
                [
                    ue.UserPermissionsChanged(
                        user_id=user_id,
                        permissions=cast(Permission, permissions),
                        previous_permissions=cast(Permission, state.permissions),
                        changed_by=actor,
                    )
                ],
            )

        await self._change(user_id, decide, correlation_id, actor)

    async def delete(self, user_id: uuid.UUID, actor: uuid.UUID, correlation_id: str) -> None:
        def decide(state: u.User) -> tuple[list[u.Event], list[EventPayload]]:
            return [u.Deleted(deleted_by=actor)], [ue.UserDeleted(user_id=user_id, deleted_by=actor)]

        await self._change(user_id, decide, correlation_id, actor)

    async def activated(
        self, user_id: uuid.UUID, correlation_id: str, once: tuple[Inbox, uuid.UUID] | None = None
    ) -> None:
        def decide(state: u.User) -> tuple[list[u.Event], list[EventPayload]]:
            if state.activated:
                return [], []
            return [u.Activated()], [ue.UserActivated(user_id=user_id)]

        await self._change(user_id, decide, correlation_id, user_id, once)

    async def password_changed(
        self, user_id: uuid.UUID, method: str, correlation_id: str, once: tuple[Inbox, uuid.UUID] | None = None
    ) -> None:
        def decide(state: u.User) -> tuple[list[u.Event], list[EventPayload]]:
            return [u.PasswordChanged(method=method)], [ue.UserPasswordChanged(user_id=user_id, method=method)]

        await self._change(user_id, decide, correlation_id, user_id, once)

    async def balance(
        self,
        conn: AsyncConnection[Any],
        user_id: uuid.UUID,
        balance: int,
        ledger_version: int,
        source_event_id: uuid.UUID,
        correlation_id: str,
    ) -> bool:
        """Takes the balance a ledger event carries, unless a newer one was already applied."""
        cursor = await conn.execute(
            "UPDATE profiles SET balance = %s, balance_version = %s, updated_at = now()"
            " WHERE user_id = %s AND balance_version < %s",
            (balance, ledger_version, user_id, ledger_version),
        )
        if cursor.rowcount == 1:
            await self.streams.publish(
                conn,
                [
                    self._event(
                        ue.UserBalanceUpdated(user_id=user_id, balance=balance, source_event_id=source_event_id),
                        user_id,
                        0,
                        correlation_id,
                        None,
                    )
                ],
            )
        return cursor.rowcount == 1
