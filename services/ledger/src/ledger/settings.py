"""The ledger's settings: the shared ones (it has none of its own)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from blazing_service import ServiceSettings

PORT = 8003
MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def load(env: Mapping[str, str] | None = None) -> ServiceSettings:
    return ServiceSettings.from_env("ledger", PORT, env)
