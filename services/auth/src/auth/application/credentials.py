"""The credential streams, written only through the one event-sourced write (blazing_es.runner) with
the credentials read model kept in the same transaction, at the stream's version.

Lock order: a unit of work that changes a user's sessions takes the credential stream's lock first
(``lock``; the runner takes the same lock for every write). So a sign-in opening a session and a
permission change, an erasure or a new password ending them never interleave: a session is never
opened with a level a committed change has replaced, and no two of them wait for each other.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from auth.application.ports import AuthUnitOfWork, RequestContext
from auth.application.publishing import CREDENTIAL
from auth.domain import credential as c
from blazing_es.runner import Context, EventSourced, Written, utc_now

Streams = EventSourced[AuthUnitOfWork, c.Credential, c.Event]
Decide = Callable[[c.Credential], Sequence[c.Event]]


def streams(clock: Callable[[], datetime] = utc_now) -> Streams:
    """Writes of the credential aggregate, one stream per user, serialised per stream."""
    return EventSourced(CREDENTIAL, producer="auth", serialize=True, cache_size=10_000, clock=clock)


def context_of(ctx: RequestContext, actor: uuid.UUID | None, causation: str | None = None) -> Context:
    return Context(correlation_id=ctx.correlation_id or str(uuid.uuid4()), causation_id=causation, actor_id=actor)


@dataclass(eq=False)
class Credentials:
    streams: Streams

    async def lock(self, uow: AuthUnitOfWork, user_id: uuid.UUID) -> None:
        await uow.lock(self.streams.stream_id(user_id))

    async def load(self, uow: AuthUnitOfWork, user_id: uuid.UUID) -> c.Credential:
        state, _version = await self.streams.load(uow, user_id)
        return state

    async def write(
        self, uow: AuthUnitOfWork, user_id: uuid.UUID, decide: Decide, context: Context
    ) -> Written[c.Credential, c.Event]:
        """Appends what ``decide`` gives (under the stream's lock), publishes its contract events
        and saves the read model's row at the new version."""
        written = await self.streams.write(uow, user_id, decide, context=context)
        if written.events:
            await uow.credentials.save(written.state, written.version)
        return written

    async def erase(self, uow: AuthUnitOfWork, user_id: uuid.UUID) -> None:
        """Personal data leaves the stream too: its events keep their shape, not their content."""
        await self.streams.erase(uow, user_id, keep=["erased"])
        uow.after_commit(lambda: self.streams.forget(user_id))  # no write cached the erased state
