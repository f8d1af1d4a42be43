"""Auth's periodic work (run by the composition root's ``runtime.every``; the key rotation is in keys.py)."""

from __future__ import annotations

from auth.application.ports import AuthReads, RevocationList, UserDirectory
from auth.application.rules import AuthRules


class ReconcileCreateUser:
    """Sends create_user again for credentials whose profile was never confirmed (the command could
    not be published, or users could not answer); users handles a repeat as a no-op."""

    def __init__(self, reads: AuthReads, users: UserDirectory, rules: AuthRules) -> None:
        self.reads, self.users, self.rules = reads, users, rules

    async def __call__(self) -> int:
        pending = await self.reads.unconfirmed(self.rules.reconcile_after)
        for user in pending:
            await self.users.create_later(user, str(user.user_id))
        return len(pending)


class ResyncRevocations:
    """PostgreSQL (the sessions) is the truth of what was revoked; the gateway's list in Redis is
    told again, so that a Redis restart that lost it is healed within a period."""

    def __init__(self, reads: AuthReads, revocations: RevocationList, rules: AuthRules) -> None:
        self.reads, self.revocations, self.rules = reads, revocations, rules

    async def __call__(self) -> int:
        revoked = await self.reads.revoked_since(self.rules.revocation_window)
        await self.revocations.publish(revoked)
        return len(revoked)
