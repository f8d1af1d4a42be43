"""The users use cases: profiles from create_user, self service, admin, erasure, balance.

Admin actions are judged by the level the actor holds now (``actor``) and the rules of
``domain.user``; a permission change or a deletion ends the user's sessions through auth before
the answer (``AuthAccess``), so it holds from the user's next request on."""

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
from blazing_service import Conflict, Forbidden, NotFound
from users.adapters.access import AuthAccess
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
                          created_by, created_at, updated_at)
    VALUES (%(user_id)s, %(email)s, %(first_name)s, %(last_name)s, %(permissions)s, %(activated)s, %(avatar_url)s,
            %(version)s, %(created_by)s, %(at)s, %(at)s)
    ON CONFLICT (user_id) DO UPDATE SET
        first_name = excluded.first_name, last_name = excluded.last_name, permissions = excluded.permissions,
        activated = excluded.activated, avatar_url = excluded.avatar_url, version = excluded.version,
        updated_at = excluded.updated_at
    """
)
_PROFILE_COLUMNS: Final = (
    "user_id, email, first_name, last_name, balance, permissions, activated, avatar_url, created_at, updated_at"
)


class UsersService:
    def __init__(
        self,
        pool: AsyncConnectionPool,
        access: AuthAccess | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """``access`` None (the CLI): auth follows user.permissions_changed on its own."""
        self.pool = pool
        self.access = access
        self.now = now
        self.streams: StreamRepository[u.User, u.Event] = StreamRepository(
            aggregate_type="user",
            event_types=u.EVENT_TYPES,
            evolve=u.evolve,
            initial=lambda user_id: u.User(user_id=user_id),
        )

    def _event(
        self,
        payload: EventPayload,
        user_id: uuid.UUID,
        version: int,
        correlation_id: str,
        actor: uuid.UUID | None,
        at: datetime,
    ) -> Any:
        """``at`` is also the profile's updated_at: other contexts' views of it (auth's sign-in
        reply) show the same timestamps as GET /api/v1/user."""
        return make_event(
            payload,
            event_id=uuid.uuid4(),
            aggregate_id=str(user_id),
            aggregate_version=version,
            occurred_at=at,
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
        at = self.now()
        published = [self._event(p, state.user_id, new_version, correlation_id, actor, at) for p in payloads]
        await self.streams.save(conn, state.user_id, version, events, published, now=at)
        state = msgspec.structs.replace(self.streams.fold(state, events), version=new_version)
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
                    "at": at,
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
        actor: u.Actor | None = None,
    ) -> str:
        """Idempotent by user id: "created" or "already_exists". An e-mail taken by another user
        is a conflict; a level above the creating ``actor``'s own is refused (None: a sign-up)."""
        if actor is not None and (refusal := u.grant_refusal(actor, permissions)):
            raise Forbidden(refusal)
        async with self.pool.connection() as conn, conn.transaction():
            state, version = await self.streams.load(conn, user_id)
            if state.exists or state.deleted:
                return "already_exists"
            taken = await (
                await conn.execute("SELECT 1 FROM profiles WHERE lower(email) = lower(%s)", (email,))
            ).fetchone()
            if taken:
                raise Conflict("A user with this e-mail already exists")
            early = await (
                await conn.execute("DELETE FROM early_activations WHERE user_id = %s RETURNING user_id", (user_id,))
            ).fetchone()
            events: list[u.Event] = [
                u.Created(
                    email=email,
                    first_name=first_name,
                    last_name=last_name,
                    permissions=permissions,
                    created_by=created_by,
                )
            ]
            payloads: list[EventPayload] = [
                ue.UserCreated(
                    user_id=user_id,
                    email=email,
                    first_name=first_name,
                    last_name=last_name,
                    permissions=cast(Permission, permissions),
                    activated=False,
                    created_by=created_by,
                )
            ]
            if early:  # the owner activated before the profile existed
                events.append(u.Activated())
                payloads.append(ue.UserActivated(user_id=user_id))
            await self._write(conn, state, version, events, payloads, correlation_id, created_by, created_by)
        return "created"

    # ------------------------------------------------------------------ reads

    async def actor(self, user_id: uuid.UUID, claimed: int) -> u.Actor:
        """The caller at the level they hold now: the lower of the token's claim and the profile's
        (0 without a profile) — a token minted before a demotion or a deletion counts for no more."""
        async with self.pool.connection() as conn:
            row = await (
                await conn.execute("SELECT permissions FROM profiles WHERE user_id = %s", (user_id,), prepare=True)
            ).fetchone()
        return u.Actor(user_id=user_id, level=min(claimed, int(row[0])) if row else 0)

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
        self, user_id: uuid.UUID, permissions: int, actor: u.Actor | None, correlation_id: str
    ) -> bool:
        """Sets the level, if ``actor`` may (None: the command line). True when it holds from the
        user's next request on (auth ended their sessions, or nothing changed); False when auth
        has not confirmed yet (queued: it will)."""
        changed = False
        by = actor.user_id if actor else None

        def decide(state: u.User) -> tuple[list[u.Event], list[EventPayload]]:
            nonlocal changed
            if actor is not None and (refusal := u.change_refusal(actor, state, permissions)):
                raise Forbidden(refusal)
            changed = state.permissions != permissions
            if not changed:
                return [], []
            return (
                [u.PermissionsChanged(permissions=permissions, previous=state.permissions, changed_by=by)],
                [
                    ue.UserPermissionsChanged(
                        user_id=user_id,
                        permissions=cast(Permission, permissions),
                        previous_permissions=cast(Permission, state.permissions),
                        changed_by=by,
                    )
                ],
            )

        state = await self._change(user_id, decide, correlation_id, by)
        if not changed or state is None or self.access is None:
            return True
        return await self.access.revoke(
            user_id, "permissions_changed", correlation_id, cast(Permission, permissions), state.version
        )

    async def delete(self, user_id: uuid.UUID, actor: u.Actor, correlation_id: str) -> bool:
        """Deletes the user, if ``actor`` may; True when their sessions ended already (see
        ``set_permissions``). user.deleted makes every context erase the user's data."""

        def decide(state: u.User) -> tuple[list[u.Event], list[EventPayload]]:
            if refusal := u.delete_refusal(actor, state):
                raise Forbidden(refusal)
            return [u.Deleted(deleted_by=actor.user_id)], [ue.UserDeleted(user_id=user_id, deleted_by=actor.user_id)]

        await self._change(user_id, decide, correlation_id, actor.user_id)
        return await self.access.revoke(user_id, "deleted", correlation_id) if self.access else True

    async def activated(self, user_id: uuid.UUID, correlation_id: str, once: tuple[Inbox, uuid.UUID]) -> None:
        """auth.account_activated. One that arrives before the profile (the sign-up answered 202,
        create_user is still queued) is kept for create_user to apply, not refused."""
        for _ in range(3):
            try:
                async with self.pool.connection() as conn, conn.transaction():
                    if not await once[0].claim(conn, once[1]):
                        return
                    state, version = await self.streams.load(conn, user_id)
                    if not state.exists:
                        if not state.deleted:
                            await conn.execute(
                                "INSERT INTO early_activations (user_id) VALUES (%s) ON CONFLICT DO NOTHING", (user_id,)
                            )
                        return
                    if not state.activated:
                        await self._write(
                            conn,
                            state,
                            version,
                            [u.Activated()],
                            [ue.UserActivated(user_id=user_id)],
                            correlation_id,
                            user_id,
                        )
                    return
            except ConcurrencyError:
                continue
        raise Conflict("The user changed concurrently; try again")

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
        at = self.now()
        cursor = await conn.execute(
            "UPDATE profiles SET balance = %s, balance_version = %s, updated_at = %s"
            " WHERE user_id = %s AND balance_version < %s",
            (balance, ledger_version, at, user_id, ledger_version),
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
                        at,
                    )
                ],
            )
        return cursor.rowcount == 1
