"""The ops service's settings: the shared service settings plus auth's address and replay limits."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

from blazing_service import ServiceSettings, ServiceUrl, Var

PORT = 8006
MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


class OpsSettings(ServiceSettings, frozen=True, kw_only=True):
    auth_url: Annotated[str, ServiceUrl("AUTH")] = "http://127.0.0.1:8002"
    """Where the console's sign-in form is checked (auth's own address, not the public one)."""
    replay_rate: Annotated[int, Var("OPS_REPLAY_RATE")] = 500
    """Replays per second a job runs at unless the operator asks for another rate."""
    replay_max_rate: Annotated[int, Var("OPS_REPLAY_MAX_RATE")] = 10_000
    max_replays: Annotated[int, Var("OPS_MAX_REPLAYS")] = 3
    """After this many replays a dead letter is quarantined instead of replayed again."""

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None) -> OpsSettings:
        return cls.from_env("ops", PORT, env)


def load(env: Mapping[str, str] | None = None) -> OpsSettings:
    return OpsSettings.load(env)
