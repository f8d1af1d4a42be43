"""The tests of a running compose deployment and of the firewall in a network namespace belong to
`make compose-test` (tests/deploy/compose-test.sh), which makes what they need and says so in the
environment; `make test` does not collect them (rather than skip them)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

COMPOSE = Path(__file__).resolve().parents[2] / "deploy/compose"

collect_ignore = [
    name
    for name, variable in (
        ("test_compose_run.py", "BLAZING_COMPOSE_ENV"),
        ("test_firewall_netns.py", "BLAZING_FIREWALL_NETNS"),
    )
    if not os.environ.get(variable)
]


@pytest.fixture(scope="session")
def resolved() -> dict[str, Any]:
    """The compose file as docker-compose reads it with .env.example (variables interpolated)."""
    done = subprocess.run(
        [
            "docker-compose",
            "-f",
            str(COMPOSE / "docker-compose.yml"),
            "--env-file",
            str(COMPOSE / ".env.example"),
            "config",
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "COMPOSE_ENV_FILE": ".env.example"},
    )
    assert done.returncode == 0, done.stderr
    config: dict[str, Any] = yaml.safe_load(done.stdout)
    return config
