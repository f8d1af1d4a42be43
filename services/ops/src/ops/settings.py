"""The ops service's settings: the shared service settings plus auth's address and replay limits."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from blazing_service import Env, ServiceSettings

PORT = 8006
MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


class OpsSettings(ServiceSettings, frozen=True, kw_only=True):
    auth_url: str = "http://127.0.0.1:8002"
    """Where the console's sign-in form is checked (auth's own address, not the public one)."""
    replay_rate: int = 500
    """Replays per second a job runs at unless the operator asks for another rate."""
    replay_max_rate: int = 10_000
    max_replays: int = 3
    """After this many replays a dead letter is quarantined instead of replayed again."""

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None) -> OpsSettings:
        e = Env(env)
        return cls.from_env(
            "ops",
            PORT,
            env,
            auth_url=e.service_url("AUTH", 8002),
            replay_rate=e.integer("OPS_REPLAY_RATE", 500),
            replay_max_rate=e.integer("OPS_REPLAY_MAX_RATE", 10_000),
            max_replays=e.integer("OPS_MAX_REPLAYS", 3),
        )


def load(env: Mapping[str, str] | None = None) -> OpsSettings:
    return OpsSettings.load(env)
