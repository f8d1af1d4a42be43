"""Who the caller is now: the level their account holds (never more than their token claims), and
whether it lets them act on a user (``domain.user``'s rules)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from blazing_app import Forbidden, NotFound
from users.application.ports import Caller, ProfileReads
from users.domain import user as u


@dataclass(eq=False)
class Access:
    reads: ProfileReads

    async def actor(self, caller: Caller) -> u.Actor:
        """The caller at the level they hold now: the lower of the token's claim and the profile's
        (0 without a profile) — a token minted before a demotion or a deletion counts for no more."""
        held = await self.reads.permissions(caller.user_id)
        return u.Actor(user_id=caller.user_id, level=min(caller.permissions, held) if held is not None else 0)

    async def admin(self, caller: Caller) -> u.Actor:
        """The caller, if their account holds an admin level now."""
        actor = await self.actor(caller)
        if not actor.administers:
            raise Forbidden(u.INSUFFICIENT)
        return actor

    async def super_admin(self, caller: Caller) -> u.Actor:
        actor = await self.actor(caller)
        if actor.level != u.SUPER_ADMIN:
            raise Forbidden(u.INSUFFICIENT)
        return actor

    async def on(self, caller: Caller, user_id: uuid.UUID) -> u.Actor:
        """The caller acting on ``user_id``: themselves, or an admin — to anyone else it is not found."""
        actor = await self.actor(caller)
        if not u.sees(actor, user_id):
            raise NotFound(u.MISSING)
        return actor
