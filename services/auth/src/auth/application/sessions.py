"""A user's sessions: the list, and signing out (this session, the others, or one chosen)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from auth.application.credentials import Credentials, context_of
from auth.application.ports import AuthReads, AuthUnitOfWork, RequestContext, RevocationList, SessionRow
from auth.domain import credential as c
from auth.domain import sessions as ds
from blazing_app import NotFound

Uow = Callable[[], AuthUnitOfWork]


@dataclass(eq=False)
class ListSessions:
    reads: AuthReads

    async def __call__(self, user_id: uuid.UUID) -> list[SessionRow]:
        return await self.reads.sessions(user_id)


class SignOut:
    """Ends sessions of the caller's and records it (auth.sign_out); the gateway refuses their
    access tokens from now on."""

    def __init__(self, uow: Uow, credentials: Credentials, revocations: RevocationList) -> None:
        self.uow, self.credentials, self.revocations = uow, credentials, revocations

    async def __call__(
        self, user_id: uuid.UUID, session_id: uuid.UUID | None, scope: c.Scope, ctx: RequestContext
    ) -> int:
        selection = ds.signing_out(scope, session_id)
        async with self.uow() as uow:
            await self.credentials.lock(uow, user_id)
            revoked = await uow.sessions.revoke(
                user_id, reason=f"sign_out_{scope}", only=selection.only, keep=selection.keep
            )
            await self.credentials.write(
                uow, user_id, lambda s: c.sign_out(s, scope, revoked), context_of(ctx, user_id)
            )
        await self.revocations.publish(revoked)
        return len(revoked)


class RevokeSession:
    """Ends one of the caller's live sessions (another user's, or one that ended, is not found)."""

    def __init__(self, reads: AuthReads, sign_out: SignOut) -> None:
        self.reads, self.sign_out = reads, sign_out

    async def __call__(self, user_id: uuid.UUID, session_id: uuid.UUID, ctx: RequestContext) -> None:
        if session_id not in {s.session_id for s in await self.reads.sessions(user_id)}:
            raise NotFound("Session not found")
        await self.sign_out(user_id, session_id, "session", ctx)
