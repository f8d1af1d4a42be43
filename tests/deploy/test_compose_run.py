"""The compose deployment running on this machine (`make compose-test` starts it with `make compose-up` and
points BLAZING_COMPOSE_ENV at its env file; collected only then: tests/deploy/conftest.py), tested black-box
on its devnet addresses: every container healthy and none publishing a port (the native stack of `make up`
holds them), the services in production mode on the generated secrets, and a person's journey through the
compose nginx over HTTPS — sign-up, the activation e-mail (the SMTP sink's Maildir), sign-in, a ledger
category and an income, the balance, sign-out, the token refused."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from blazing_service.settings import placeholder_secrets
from blazing_testing.journey import edge_client, journey
from blazing_testing.services import services

ENV_FILE = os.environ.get("BLAZING_COMPOSE_ENV", "")
PROJECT = os.environ.get("BLAZING_COMPOSE_PROJECT", "blazing-sun")
EXAMPLE = Path(__file__).resolve().parents[2] / "deploy/compose/.env.example"


def read_env(path: Path) -> dict[str, str]:
    return dict(re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", path.read_text(), re.MULTILINE))


@pytest.fixture(scope="module")
def env() -> dict[str, str]:
    return read_env(Path(ENV_FILE))


def docker(*args: str) -> str:
    done = subprocess.run(["docker", *args], capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def containers() -> dict[str, dict[str, Any]]:
    """The project's containers by compose service, as docker inspect sees them."""
    ids = docker("ps", "-aq", "--filter", f"label=com.docker.compose.project={PROJECT}").split()
    assert ids, f"no container of the compose project {PROJECT}"
    found = json.loads(docker("inspect", *ids))
    return {c["Config"]["Labels"]["com.docker.compose.service"]: c for c in found}


def test_every_container_is_healthy_and_publishes_no_port(containers: dict[str, dict[str, Any]]) -> None:
    expected = set((Path(ENV_FILE).parent / "services").read_text().split())
    assert {"postgres", "redis", "rabbitmq", "kafka", "nginx", "smtp", *(s.name for s in services())} <= expected
    assert set(containers) == expected, "the admin UIs (profile admin-ui) stay off in local runs"
    checked = set()
    for name, container in containers.items():
        state = container["State"]
        if name == "rabbitmq-init":  # one shot: the definitions imported
            assert (state["Status"], state["ExitCode"]) == ("exited", 0), name
            continue
        assert state["Status"] == "running", name
        if "Health" in state:
            assert state["Health"]["Status"] == "healthy", (name, state["Health"]["Log"][-1:])
            checked.add(name)
        assert not container["HostConfig"]["PortBindings"], f"{name} publishes a port"
        assert container["NetworkSettings"]["Networks"], name
    assert {"postgres", "redis", "rabbitmq", "kafka", "smtp", *(s.name for s in services())} <= checked


def test_the_services_run_in_production_mode_on_generated_secrets(
    env: dict[str, str], containers: dict[str, dict[str, Any]]
) -> None:
    assert placeholder_secrets(read_env(EXAMPLE)), "the example's placeholders would be refused"
    assert placeholder_secrets(env) == []
    for service in services():
        variables = dict(v.split("=", 1) for v in containers[service.name]["Config"]["Env"])
        assert variables["APP_ENV"] == "production", service.name
        assert variables["GATEWAY_IDENTITY_SECRET"] == env["GATEWAY_IDENTITY_SECRET"], service.name


@pytest.fixture(scope="module")
def certificate(containers: dict[str, dict[str, Any]], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The certificate nginx made on its first start (in its volume)."""
    path = tmp_path_factory.mktemp("edge") / "server.crt"
    path.write_text(docker("exec", containers["nginx"]["Id"], "cat", "/etc/nginx/ssl/server.crt"))
    return path


@pytest.fixture
async def edge(env: dict[str, str], certificate: Path) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the compose nginx on its devnet address, as https://localhost (blazing_testing.journey)."""
    async with edge_client(f"https://{env['NGINX_IP']}", certificate) as client:
        yield client


async def test_plain_http_is_redirected_to_the_public_origin(env: dict[str, str]) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        plain = await client.get(f"http://{env['NGINX_IP']}/api/v1/user?x=1", headers={"host": "evil.example"})
    assert plain.status_code == 301
    assert plain.headers["location"] == f"{env['PUBLIC_BASE_URL']}/api/v1/user?x=1"


async def test_the_edge_serves_without_the_admin_uis(edge: httpx.AsyncClient) -> None:
    """Grafana is not deployed here: nginx started anyway and answers 502 for it alone."""
    health = await edge.get("/health")
    assert health.status_code == 200
    assert health.headers["strict-transport-security"].startswith("max-age=")
    missing = await edge.get("/grafana/", headers={"accept": "application/json"})
    assert missing.status_code == 502
    assert missing.json() == {"status": "error", "message": "Bad gateway"}


async def test_a_person_signs_up_keeps_a_ledger_and_signs_out(edge: httpx.AsyncClient) -> None:
    await journey(edge, Path(ENV_FILE).parent / "mail", "compose")
