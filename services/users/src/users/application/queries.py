"""The users read use cases, on the profiles read model."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from users.application.access import Access
from users.application.commands import shown
from users.application.ports import Caller, Profile, ProfileReads


@dataclass(eq=False)
class UsersQueries:
    reads: ProfileReads
    access: Access

    async def me(self, caller: Caller) -> Profile:
        return await shown(self.reads, caller.user_id)

    async def profile(self, caller: Caller, user_id: uuid.UUID) -> Profile:
        """The caller's own profile, or any as an admin; anyone else's is not found."""
        await self.access.on(caller, user_id)
        return await shown(self.reads, user_id)

    async def search(self, caller: Caller, query: str | None, limit: int, offset: int) -> tuple[list[Profile], int]:
        """Admins only: the page of profiles matching ``query`` and how many match in all."""
        await self.access.admin(caller)
        return await self.reads.search(query, limit, offset)
