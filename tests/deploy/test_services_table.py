"""deploy/services.tsv is the one table of service names, ports and databases. What reads it is
checked to follow it (the stack's settings, make deploy, the firewall); what cannot read it — the
compose file's databases and its .env.example (its builds: test_compose), the committed Prometheus
configuration for compose, the services' own default ports and upstream URLs — is held to it here."""

from __future__ import annotations

import ast
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from blazing_testing.services import TABLE, Service, service, services
from gateway.settings import GatewaySettings
from ops.settings import OpsSettings
from web.settings import WebSettings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "deploy/compose"
ROWS = services()


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, check=False, cwd=ROOT, env=env)


def assignments(path: Path) -> dict[str, str]:
    return dict(re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", path.read_text(), re.MULTILINE))


def test_the_table_names_every_service_once_with_a_port_and_a_variable_of_its_own() -> None:
    packages = {p.name for p in (ROOT / "services").iterdir() if (p / "pyproject.toml").exists()}
    assert packages
    assert {s.name for s in ROWS} == packages
    for column in ("name", "port", "variable"):
        values = [getattr(s, column) for s in ROWS]
        assert len(set(values)) == len(values), f"{column} repeated in {TABLE}"
    for s in ROWS:
        assert (ROOT / f"services/{s.name}/src/{s.name}/__main__.py").exists(), f"python -m {s.name}"
        assert re.fullmatch(r"[A-Z][A-Z0-9_]*_PORT", s.variable), s
        assert 1024 < s.port < 65536, s


def stack_settings(**overrides: str) -> dict[str, str]:
    """The settings as deploy/local/lib.sh's load_env makes them (what stack.sh and the tests use),
    from a clean environment plus OVERRIDES."""
    clean = {k: v for k, v in os.environ.items() if k not in {s.variable for s in ROWS}}
    done = run("/bin/bash", "-c", ". deploy/local/lib.sh; load_env; env -0", env={**clean, **overrides})
    assert done.returncode == 0, done.stderr
    return dict(item.split("=", 1) for item in done.stdout.split("\0") if "=" in item)


def test_the_local_stack_gives_each_service_its_tables_port_unless_overridden() -> None:
    assert not {s.variable for s in ROWS} & set(assignments(ROOT / "deploy/local/defaults.env")), (
        "a service port in defaults.env would be a second place to change it: the table is the one"
    )
    settings = stack_settings()
    assert {s.variable: settings.get(s.variable) for s in ROWS} == {s.variable: str(s.port) for s in ROWS}
    assert stack_settings(USERS_PORT="18001")["USERS_PORT"] == "18001", "the environment still overrides"


def test_make_deploy_accepts_exactly_the_tables_services() -> None:
    for s in ROWS:
        assert run("make", "-n", "deploy", f"SERVICE={s.name}").returncode == 0, s.name
    refused = run("make", "deploy", "SERVICE=nope")
    assert refused.returncode != 0
    assert f"usage: make deploy SERVICE=<{' '.join(s.name for s in ROWS)}>" in refused.stdout


def test_the_firewall_blocks_every_services_port() -> None:
    done = run("deploy/compose/firewall-setup.sh", "--print-ports")
    assert done.returncode == 0, done.stderr
    blocked = {int(p) for p in done.stdout.split()}
    assert {s.port for s in ROWS} <= blocked, sorted({s.port for s in ROWS} - blocked)
    assert {5432, 6379, 5672, 9092, 9090} <= blocked, "and the infrastructure's"


def test_compose_gives_a_database_to_exactly_the_services_that_own_one(resolved: dict[str, Any]) -> None:
    svcs = resolved["services"]
    owners = {s.name for s in ROWS if s.database}
    assert set(svcs["postgres"]["environment"]["SERVICE_DATABASES"].split()) == owners
    for s in ROWS:
        url = svcs[s.name]["environment"].get("DATABASE_URL", "")
        assert (f"@postgres:5432/{s.name}" in url) == s.database, s.name


def test_the_example_environment_agrees_with_the_table() -> None:
    example = assignments(COMPOSE / ".env.example")
    for s in ROWS:
        assert example.get(s.variable) == str(s.port), s.variable
        if s.name != "gateway":  # the services' address for the gateway, web and ops
            assert example.get(f"{s.name.upper()}_URL") == f"http://{s.name}:{s.port}", s.name
        assert (f"{s.name.upper()}_DATABASE_URL" in example) == s.database, s.name


def test_the_compose_prometheus_configuration_is_generated_from_the_table() -> None:
    done = run("deploy/local/stack.sh", "prometheus-compose")
    assert done.returncode == 0, done.stderr
    committed = (ROOT / "deploy/prometheus/prometheus.yml").read_text()
    assert committed == done.stdout, (
        "stale: deploy/local/stack.sh prometheus-compose > deploy/prometheus/prometheus.yml"
    )
    jobs = {j["job_name"]: j["static_configs"][0]["targets"] for j in yaml.safe_load(committed)["scrape_configs"]}
    for s in ROWS:
        assert jobs[s.name] == [f"{s.name}:{s.port}"]


def default_ports(s: Service) -> set[int]:
    """The port each `ServiceSettings.from_env("<name>", PORT, …)` call of the service's code names
    (a number, or a module constant holding one)."""
    found: set[int] = set()
    for path in (ROOT / f"services/{s.name}/src").rglob("*.py"):
        tree = ast.parse(path.read_text())
        constants = {
            t.id: node.value.value
            for node in tree.body
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
            for t in node.targets
            if isinstance(t, ast.Name)
        }
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "from_env"
                and len(node.args) >= 2
                and isinstance(node.args[0], ast.Constant)
                and node.args[0].value == s.name
            ):
                arg = node.args[1]
                value = arg.value if isinstance(arg, ast.Constant) else constants.get(getattr(arg, "id", ""))
                found.add(value if isinstance(value, int) else -1)  # -1: a port this test cannot read
    return found


@pytest.mark.parametrize("row", ROWS, ids=lambda s: s.name)
def test_each_services_own_default_port_is_the_tables(row: Service) -> None:
    assert default_ports(row) == {row.port}


def test_the_default_upstreams_of_gateway_web_and_ops_are_the_tables() -> None:
    env = {"GATEWAY_IDENTITY_SECRET": "probe"}
    instances = GatewaySettings.load(env).instances
    assert instances == {s.name: [f"http://127.0.0.1:{s.port}"] for s in ROWS if s.name != "gateway"}
    web = WebSettings.load(env)
    for name in ("auth", "users", "ledger"):
        assert getattr(web, f"{name}_url") == f"http://127.0.0.1:{service(name).port}"
    assert OpsSettings.load(env).auth_url == f"http://127.0.0.1:{service('auth').port}"
