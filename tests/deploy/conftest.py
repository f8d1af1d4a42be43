"""The tests of a running compose deployment and of the firewall in a network namespace belong to
`make compose-test` (tests/deploy/compose-test.sh), those of the swarm stack to `make swarm-test`
(deploy/swarm/swarm.sh test), which make what they need and say so in the environment; `make test`
does not collect them (rather than skip them)."""

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
        ("test_compose_deploys.py", "BLAZING_COMPOSE_ENV"),
        ("test_firewall_netns.py", "BLAZING_FIREWALL_NETNS"),
        ("test_swarm_run.py", "BLAZING_SWARM_ENV"),
    )
    if not os.environ.get(variable)
]


def config(*files: str) -> dict[str, Any]:
    """The compose files as docker-compose reads them with .env.example (variables interpolated)."""
    args = [a for f in files for a in ("-f", str(COMPOSE / f))]
    done = subprocess.run(
        ["docker-compose", *args, "--env-file", str(COMPOSE / ".env.example"), "config"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "COMPOSE_ENV_FILE": ".env.example"},
    )
    assert done.returncode == 0, done.stderr
    resolved: dict[str, Any] = yaml.safe_load(done.stdout)
    return resolved


@pytest.fixture(scope="session")
def resolved() -> dict[str, Any]:
    """The deployment's compose file, as real users run it."""
    return config("docker-compose.yml")


@pytest.fixture(scope="session")
def local() -> dict[str, Any]:
    """The compose file with the local override (images built here by `make images`)."""
    return config("docker-compose.yml", "docker-compose.local.yml")
