"""What other contexts learn of a credential (auth.events): the contract events each stored event
stands for, and the credential as an aggregate of the one event-sourced write (blazing_es.runner) —
so that every auth.events event is the publication of a stored event, carrying its stream version."""

from __future__ import annotations

from typing import Any

from auth.domain import credential as c
from blazing_contracts import EventPayload
from blazing_contracts.events import auth as ev
from blazing_es.codec import EventCodec
from blazing_es.runner import Aggregate

USER_AGENT_MAX = 200


def published(  # noqa: PLR0911 - one branch per published event
    before: c.Credential, event: c.Event, after: c.Credential
) -> list[EventPayload]:
    user = after.user_id
    match event:
        case c.SignedIn():
            agent = (event.user_agent or "")[:USER_AGENT_MAX] or None
            return [ev.SignedIn(user_id=user, session_id=event.session_id, ip=event.ip, user_agent=agent)]
        case c.SignInFailed() if before.status == "new":  # an address nobody holds: no one's id
            return [ev.SignInFailed(reason="invalid_credentials", ip=event.ip)]
        case c.SignInFailed():
            return [
                ev.SignInFailed(
                    reason="invalid_credentials", user_id=user, ip=event.ip, failed_attempts=after.failed_attempts
                )
            ]
        case c.SignInRefused():
            return [
                ev.SignInFailed(reason=event.reason, user_id=user, ip=event.ip, failed_attempts=after.failed_attempts)
            ]
        case c.SignedOut():
            return [ev.SignedOut(user_id=user, scope=event.scope, session_ids=event.session_ids)]
        case c.Locked():
            return [ev.AccountLocked(user_id=user, locked_until=event.until, failed_attempts=event.failed_attempts)]
        case c.Unlocked():
            return [ev.AccountUnlocked(user_id=user, reason=event.reason)]
        case c.Activated():
            return [ev.AccountActivated(user_id=user, method=event.method)]
        case c.ResetRequested():
            return [ev.PasswordResetRequested(user_id=user)]
        case c.PasswordSet(method="reset"):
            return [ev.PasswordResetCompleted(user_id=user, sessions_revoked=event.sessions_revoked)]
        case c.PasswordSet(method="change"):
            return [ev.PasswordChanged(user_id=user, sessions_revoked=event.sessions_revoked)]
        case _:  # registered, a first password (its activation is published), failures reset, erased
            return []


CREDENTIAL: Aggregate[c.Credential, Any] = Aggregate(
    name="credential",
    codec=EventCodec.of(c.EVENT_TYPES),
    initial=c.initial,
    evolve=c.evolve,
    publish=published,
    state_type=c.Credential,
    snapshot_every=50,  # every sign-in is an event: a busy account's stream is read from its snapshot
)
