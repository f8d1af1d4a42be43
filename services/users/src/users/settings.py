"""The users service's settings: the shared ones (it has none of its own)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from blazing_service import ServiceSettings

PORT = 8001
MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
REVOKE_WAIT_SECONDS = 5.0
"""How long a permission change or a deletion waits for auth to end the user's sessions."""


def load(env: Mapping[str, str] | None = None) -> ServiceSettings:
    return ServiceSettings.from_env("users", PORT, env)
