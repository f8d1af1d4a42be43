"""What auth does with the users context's news: the revoke_sessions command (users waits for it)
and user.events (each event once: the inbox claim commits with its effects).

* user.created — the profile read model; a sign-up's profile is confirmed; an admin-created user
  gets a credential waiting for its password, and the set-password link by mail (nothing once the
  user was deleted: a late or replayed user.created does not bring a deleted user back);
* user.permissions_changed — the new level for the next sign-in and the end of the user's
  sessions (their tokens carry the old level), unless the command applied it already;
* user.deleted — erasure: sessions end, the credential, its codes and profile go, the stream keeps
  its shape without its content;
* the other profile events keep the read model that the sign-in reply shows.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from auth.application.credentials import Credentials, context_of
from auth.application.mail import AccountMail
from auth.application.ports import AuthUnitOfWork, ProfileChange, RequestContext, RevocationList
from auth.application.rules import AuthRules
from auth.domain import credential as c
from blazing_contracts import AnyEvent
from blazing_contracts.events import user as ue

Uow = Callable[[], AuthUnitOfWork]


@dataclass(eq=False)
class Access:
    """Who may hold a session, changed under the credential's lock (credentials.py)."""

    credentials: Credentials

    async def changed(
        self, uow: AuthUnitOfWork, user_id: uuid.UUID, permissions: int | None, user_version: int, *, always: bool
    ) -> list[uuid.UUID]:
        """The new level recorded when newer than the last one; the sessions end when it was
        (``always``: in any case — the command's promise to users)."""
        await self.credentials.lock(uow, user_id)
        changed = False
        if permissions is not None:
            written = await self.credentials.write(
                uow,
                user_id,
                lambda s: c.change_permissions(s, permissions, user_version),
                context_of(RequestContext(), user_id),
            )
            changed = bool(written.events)
        if not (changed or always):
            return []
        return await uow.sessions.revoke(user_id, reason="access_changed")

    async def erase(self, uow: AuthUnitOfWork, user_id: uuid.UUID) -> list[uuid.UUID]:
        """Erasure (a repeat changes nothing); returns the sessions it ended."""
        await self.credentials.lock(uow, user_id)
        revoked = await uow.sessions.revoke(user_id, reason="user_deleted")
        await self.credentials.write(uow, user_id, c.erase, context_of(RequestContext(), user_id))
        await self.credentials.erase(uow, user_id)
        await uow.codes.erase(user_id)
        await uow.profiles.erase(user_id)
        await uow.sessions.forget_clients(user_id)
        return revoked


class RevokeAccess:
    """The revoke_sessions command: every session of the user ends now — in PostgreSQL and on the
    gateway's revocation list — with the new level recorded for the next sign-in, or (``deleted``)
    the credentials erased. Returns how many sessions ended."""

    def __init__(self, uow: Uow, access: Access, revocations: RevocationList) -> None:
        self.uow, self.access, self.revocations = uow, access, revocations

    async def __call__(self, user_id: uuid.UUID, reason: str, permissions: int | None, user_version: int) -> int:
        async with self.uow() as uow:
            if reason == "deleted":
                revoked = await self.access.erase(uow, user_id)
            else:
                revoked = await self.access.changed(uow, user_id, permissions, user_version, always=True)
        await self.revocations.publish(revoked)
        return len(revoked)


class UserEvents:
    def __init__(
        self,
        uow: Uow,
        credentials: Credentials,
        access: Access,
        revocations: RevocationList,
        mail: AccountMail,
        rules: AuthRules,
        consumer: str,
    ) -> None:
        self.uow, self.credentials, self.access, self.revocations = uow, credentials, access, revocations
        self.mail, self.rules, self.consumer = mail, rules, consumer

    async def __call__(self, event: AnyEvent) -> bool:
        """False when this event was handled before (the inbox)."""
        p = event.payload
        revoked: list[uuid.UUID] = []
        after: Callable[[], Awaitable[None]] | None = None
        async with self.uow() as uow:
            if not await uow.inbox.claim(self.consumer, event.event_id):
                return False
            if isinstance(p, ue.UserCreated):
                after = await self._created(uow, event, p)
            else:
                await self._profile(uow, event)
            if isinstance(p, ue.UserPermissionsChanged):
                revoked = await self.access.changed(
                    uow, p.user_id, p.permissions, event.aggregate_version, always=False
                )
            elif isinstance(p, ue.UserDeleted):
                revoked = await self.access.erase(uow, p.user_id)
        await self.revocations.publish(revoked)
        if after is not None:
            await after()
        return True

    async def _profile(self, uow: AuthUnitOfWork, event: AnyEvent) -> None:
        """The read model's row changes (a row that is gone stays gone: these only update)."""
        p, at, profiles = event.payload, event.occurred_at, uow.profiles
        if isinstance(p, ue.UserUpdated):
            await profiles.updated(ProfileChange(user_id=p.user_id, first_name=p.first_name, last_name=p.last_name), at)
        elif isinstance(p, ue.UserProfileUpdated):
            change = ProfileChange(
                user_id=p.user_id,
                first_name=p.first_name,
                last_name=p.last_name,
                avatar_changed="avatar_url" in p.fields_changed,
                avatar_url=p.avatar_url,
            )
            await profiles.updated(change, at)
        elif isinstance(p, ue.UserBalanceUpdated):
            await profiles.balance(p.user_id, p.balance, at)
        elif isinstance(p, ue.UserActivated | ue.UserPasswordChanged | ue.UserPermissionsChanged):
            await profiles.touch(p.user_id, at)
        # user.deleted: the erasure takes the profile

    async def _created(
        self, uow: AuthUnitOfWork, event: AnyEvent, p: ue.UserCreated
    ) -> Callable[[], Awaitable[None]] | None:
        """The profile's row; a sign-up's profile confirms its credential; an admin-created user
        gets a credential that waits for a password, and (once committed) its set-password link.
        Nothing for a user deleted already (the erasure's tombstone: this came late)."""
        if (await self.credentials.load(uow, p.user_id)).status == "erased":
            return None
        await uow.profiles.created(p.user_id, p.first_name, p.last_name, event.occurred_at)
        if p.created_by is None:
            await uow.credentials.mark_profile_confirmed(p.user_id)
            return None
        ctx = RequestContext(correlation_id=event.correlation_id)
        written = await self.credentials.write(
            uow,
            p.user_id,
            lambda s: c.register_invited(s, p.email, p.first_name, p.permissions),
            context_of(ctx, p.created_by, str(event.event_id)),
        )
        if not written.events:
            return None
        await uow.credentials.mark_profile_confirmed(p.user_id)
        code = await uow.codes.issue(p.user_id, "must_set_password", self.rules.lifetime("must_set_password"))
        return lambda: self.mail.set_password_link(p.email, p.first_name, p.user_id, code, ctx)
