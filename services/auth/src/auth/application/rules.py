"""The numbers auth's use cases follow, given by the composition root (from the settings)."""

from __future__ import annotations

from datetime import timedelta

import msgspec

from auth.domain.codes import Purpose
from auth.domain.credential import Policy


def _code_minutes() -> dict[str, int]:
    return {"activation": 60, "forgot_password": 60, "must_set_password": 1440, "password_change": 15}


class AuthRules(msgspec.Struct, frozen=True, kw_only=True):
    lock: Policy = Policy()
    code_minutes: dict[str, int] = msgspec.field(default_factory=_code_minutes)
    access_ttl_seconds: int = 900
    refresh_ttl: timedelta = timedelta(days=30)
    create_user_wait_seconds: float = 5.0
    """How long a sign-up waits for the users service to create the profile (then 202)."""
    reconcile_after: timedelta = timedelta(minutes=1)
    """An unconfirmed profile older than this is asked for again."""

    def lifetime(self, purpose: Purpose) -> timedelta:
        return timedelta(minutes=self.code_minutes[purpose])

    @property
    def revocation_window(self) -> timedelta:
        """How long a revoked session's access token can still be presented (then it expired)."""
        return timedelta(seconds=self.access_ttl_seconds + 60)
