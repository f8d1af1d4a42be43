"""The users write use cases: one handler per command, each one unit of work on the user's stream
through the one event-sourced write (the profiles read model projected inline).

Writes of one user are serialised (a lock on the stream for the transaction), so a profile change,
an activation and a balance from the ledger queue up instead of failing on the version check.
A permission change or a deletion ends the user's sessions through auth (``Sessions``) after the
commit and before the answer, so it holds from the user's next request on."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal

import msgspec

from blazing_app import Conflict, Forbidden, NotFound, Refused, Translation, translated
from blazing_es.errors import ConcurrencyError
from blazing_es.runner import Context, EventSourced
from users.application.access import Access
from users.application.ports import Caller, Profile, ProfileReads, Revocation, Sessions, UsersUnitOfWork
from users.domain import user as u

Users = EventSourced[UsersUnitOfWork, u.User, u.Event]
UnitOfWorks = Callable[[], UsersUnitOfWork]
Created = Literal["created", "already_exists"]
TAKEN = "A user with this e-mail already exists"
CONCURRENT = "The user changed concurrently; try again"


DOMAIN_ERRORS: Final[Translation] = {
    u.UserMissing: NotFound,
    u.NotAllowed: Forbidden,
    ConcurrencyError: lambda _: Conflict(CONCURRENT),  # only without the stream lock (never with it): a safety net
}
"""The user aggregate's refusals as the application's errors (the callers' vocabulary)."""


async def shown(reads: ProfileReads, user_id: uuid.UUID) -> Profile:
    profile = await reads.profile(user_id)
    if profile is None:
        raise NotFound(u.MISSING)
    return profile


class NewUser(msgspec.Struct, frozen=True, kw_only=True):
    user_id: uuid.UUID
    email: str
    first_name: str
    last_name: str
    permissions: int = u.BASIC


@dataclass(eq=False)
class CreateUser:
    """A profile, idempotent by user id: for auth's sign-up (create_user) or by an admin."""

    uow: UnitOfWorks
    users: Users
    access: Access
    reads: ProfileReads
    new_id: Callable[[], uuid.UUID] = uuid.uuid4

    async def sign_up(self, new: NewUser, correlation_id: str) -> Created:
        """Sign-ups start as basic users: only an admin grants more."""
        if new.permissions != u.BASIC:
            raise Refused(f"create_user for a sign-up with permissions {new.permissions} refused")
        return await self.create(new, None, correlation_id)

    async def by_admin(
        self, caller: Caller, email: str, first_name: str, last_name: str, permissions: int, correlation_id: str
    ) -> Profile:
        """A user created by an admin at most at their own level; they set a password from a mail."""
        creator = await self.access.admin(caller)
        if refusal := u.grant_refusal(creator, permissions):
            raise Forbidden(refusal)
        new = NewUser(
            user_id=self.new_id(), email=email, first_name=first_name, last_name=last_name, permissions=permissions
        )
        await self.create(new, creator.user_id, correlation_id)
        return await shown(self.reads, new.user_id)

    async def create(self, new: NewUser, created_by: uuid.UUID | None, correlation_id: str) -> Created:
        """ "created", or "already_exists" for a user id seen before; an e-mail another user has is a
        conflict. An activation that came first (``early_activations``) is applied with it."""
        async with self.uow() as uow:
            await uow.lock(self.users.stream_id(new.user_id))
            await uow.lock(f"user-email:{new.email.lower()}")  # two creations with one e-mail: one wins
            state, _ = await self.users.load(uow, new.user_id)
            if state.exists or state.deleted:
                return "already_exists"
            if await uow.profiles.email_taken(new.email):
                raise Conflict(TAKEN)
            activated = await uow.early_activations.take(new.user_id)
            with translated(DOMAIN_ERRORS):
                await self.users.write(
                    uow,
                    new.user_id,
                    lambda s: u.decide_create(
                        s,
                        email=new.email,
                        first_name=new.first_name,
                        last_name=new.last_name,
                        permissions=new.permissions,
                        created_by=created_by,
                        activated=activated,
                    ),
                    context=Context(correlation_id=correlation_id, actor_id=created_by),
                )
        return "created"


@dataclass(eq=False)
class UpdateProfile:
    """The caller changes their own names."""

    uow: UnitOfWorks
    users: Users
    reads: ProfileReads

    async def __call__(
        self, caller: Caller, first_name: str | None, last_name: str | None, correlation_id: str
    ) -> Profile:
        me = caller.user_id
        async with self.uow() as uow:
            with translated(DOMAIN_ERRORS):
                await self.users.write(
                    uow,
                    me,
                    lambda s: u.update_profile(s, first_name, last_name),
                    context=Context(correlation_id=correlation_id, actor_id=me),
                )
        return await shown(self.reads, me)


@dataclass(eq=False)
class OncePerMessage:
    """A handler of another service's command or event: applied once per message (the inbox)."""

    uow: UnitOfWorks
    users: Users
    consumer: str

    async def write_once(
        self, message_id: uuid.UUID, user_id: uuid.UUID, decide: Callable[[u.User], list[u.Event]], correlation_id: str
    ) -> bool:
        """``decide`` on the user's stream, the user its actor; False when the message was handled before."""
        async with self.uow() as uow:
            if not await uow.inbox.claim(self.consumer, message_id):
                return False
            with translated(DOMAIN_ERRORS):
                await self.users.write(
                    uow, user_id, decide, context=Context(correlation_id=correlation_id, actor_id=user_id)
                )
        return True


class SetAvatar(OncePerMessage):
    """set_avatar from the files service: where the profile picture is now (once per command)."""

    async def __call__(
        self, job_id: uuid.UUID, user_id: uuid.UUID, avatar_url: str | None, correlation_id: str
    ) -> bool:
        """False when this command was handled before; NotFound for a user deleted since."""
        return await self.write_once(job_id, user_id, lambda s: u.change_avatar(s, avatar_url), correlation_id)


class Changed(msgspec.Struct, frozen=True, kw_only=True):
    profile: Profile
    confirmed: bool
    """True when the change holds from the user's next request on (auth ended their sessions, or
    nothing changed); False when auth has not confirmed yet (the command is queued: it will)."""


@dataclass(eq=False)
class ChangePermissions:
    uow: UnitOfWorks
    users: Users
    access: Access
    reads: ProfileReads
    sessions: Sessions | None
    """None (the operator's command line): auth follows user.permissions_changed."""

    async def __call__(self, caller: Caller, user_id: uuid.UUID, permissions: int, correlation_id: str) -> Changed:
        """A super admin sets another user's level (the domain's rules say which)."""
        actor = await self.access.super_admin(caller)
        confirmed = await self.set(user_id, permissions, actor, correlation_id)
        return Changed(profile=await shown(self.reads, user_id), confirmed=confirmed)

    async def set(self, user_id: uuid.UUID, permissions: int, actor: u.Actor | None, correlation_id: str) -> bool:
        by = actor.user_id if actor is not None else None
        async with self.uow() as uow:
            with translated(DOMAIN_ERRORS):
                written = await self.users.write(
                    uow,
                    user_id,
                    lambda s: u.decide_permissions(s, permissions, actor),
                    context=Context(correlation_id=correlation_id, actor_id=by),
                )
        if not written.events or self.sessions is None:
            return True
        revocation = Revocation(
            user_id=user_id,
            reason="permissions_changed",
            correlation_id=correlation_id,
            permissions=permissions,
            user_version=written.version,
        )
        return await self.sessions.revoke(revocation)


@dataclass(eq=False)
class MakeAdmin:
    """The operator makes an existing user a super admin (the first admin: ``make admin``)."""

    reads: ProfileReads
    permissions: ChangePermissions

    async def __call__(self, email: str) -> Profile:
        """NotFound when nobody has this e-mail."""
        found = await self.reads.by_email(email)
        if found is None:
            raise NotFound(email)
        await self.permissions.set(found.id, u.SUPER_ADMIN, None, "make-admin")
        return found


@dataclass(eq=False)
class DeleteUser:
    """Deletes a user (themselves, or as an admin someone below them) and erases their personal data:
    the profile goes, the stream keeps its shape without its content; user.deleted tells every context."""

    uow: UnitOfWorks
    users: Users
    access: Access
    sessions: Sessions

    async def __call__(self, caller: Caller, user_id: uuid.UUID, correlation_id: str) -> bool:
        """True when the user's sessions ended already (see ``Changed.confirmed``)."""
        actor = await self.access.on(caller, user_id)
        async with self.uow() as uow:
            with translated(DOMAIN_ERRORS):
                await self.users.write(
                    uow,
                    user_id,
                    lambda s: u.decide_delete(s, actor),
                    context=Context(correlation_id=correlation_id, actor_id=actor.user_id),
                )
            await self.users.erase(uow, user_id, keep=u.KEPT_AFTER_ERASURE)
        return await self.sessions.revoke(Revocation(user_id=user_id, reason="deleted", correlation_id=correlation_id))


class RecordActivation(OncePerMessage):
    """auth.account_activated, once. One that arrives before the profile (the sign-up answered 202,
    create_user is still queued) is kept for the creation to apply, not refused."""

    async def __call__(self, event_id: uuid.UUID, user_id: uuid.UUID, correlation_id: str) -> bool:
        """False when this event was handled before."""
        async with self.uow() as uow:
            if not await uow.inbox.claim(self.consumer, event_id):
                return False
            await uow.lock(self.users.stream_id(user_id))  # the creation cannot slip in between
            state, _ = await self.users.load(uow, user_id)
            if not state.exists:
                if not state.deleted:
                    await uow.early_activations.keep(user_id)
                return True
            await self.users.write(
                uow, user_id, u.decide_activate, context=Context(correlation_id=correlation_id, actor_id=user_id)
            )
        return True


class RecordPasswordChange(OncePerMessage):
    """auth.password_changed / password_reset_completed, once (``method``: change or reset)."""

    async def __call__(self, event_id: uuid.UUID, user_id: uuid.UUID, method: str, correlation_id: str) -> bool:
        return await self.write_once(event_id, user_id, lambda s: u.decide_password_changed(s, method), correlation_id)


class TakeBalance(OncePerMessage):
    """The balance a ledger transaction event carries: applied once (the inbox), in order (the
    ledger stream version: an older one arriving late changes nothing), and published as
    user.balance_updated from the stored event."""

    async def __call__(
        self, event_id: uuid.UUID, user_id: uuid.UUID, balance: int, ledger_version: int, correlation_id: str
    ) -> bool:
        """True when the balance was taken (False: seen before, older, or no such user)."""
        async with self.uow() as uow:
            if not await uow.inbox.claim(self.consumer, event_id):
                return False
            written = await self.users.write(
                uow,
                user_id,
                lambda s: u.take_balance(s, balance, ledger_version, event_id),
                context=Context(correlation_id=correlation_id),
            )
        return bool(written.events)
