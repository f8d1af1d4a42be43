"""deploy/compose against the seed, checked without a Docker engine: the file validates with
.env.example, Dockerfiles pass hadolint and shell scripts shellcheck, every seed service, address,
port, volume and health check is there, every service is built from the one service template, the
variables are the local stack's, and what the template installs works in a fresh environment.
(The builds follow deploy/services.tsv here; its databases and .env.example: test_services_table.)"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from blazing_testing.services import services

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "deploy/compose"
SEED = Path(__file__).with_name("seed-infrastructure.md")  # a copy of the seed we reproduce, kept with its test
SERVICES = sorted(p.name for p in (ROOT / "services").iterdir() if (p / "pyproject.toml").exists())
RUST_ONLY_VOLUMES = {"cargo-cache", "target-cache"}  # the seed's Rust build caches: no Rust here
SEED_NAME = {"rust": "gateway"}  # the seed's application container is our edge, the gateway
TEMPLATE = ROOT / "deploy/docker/service.Dockerfile"  # every service's image
# what local runs build from Debian's packages (deploy/docker/debian/<name>/Dockerfile)
LOCAL_IMAGES = {"postgres", "redis", "rabbitmq", "kafka", "nginx", "prometheus", "smtp-sink"}


def run(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, check=False, cwd=ROOT, **kwargs)


def seed_services() -> list[dict[str, str]]:
    rows = []
    for line in SEED.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and re.fullmatch(r"172\.28\.0\.\d+", cells[1]):
            rows.append({"name": cells[0], "ip": cells[1], "ports": cells[2], "health": cells[3]})
    return rows


def seed_volumes() -> set[str]:
    section = SEED.read_text().split("## Volumes", 1)[1].split("\n---\n", 1)[0]
    return {m.group(1) for m in re.finditer(r"^\| (\w[\w-]*) +\|", section, re.MULTILINE)} - {"Volume"}


def test_the_compose_file_validates_with_the_example_environment(resolved: dict[str, Any]) -> None:
    assert {"postgres", "redis", "rabbitmq", "kafka", "nginx", "gateway"} <= set(resolved["services"])
    assert resolved["networks"]["devnet"]["ipam"]["config"] == [{"subnet": "172.28.0.0/16"}]


def test_every_dockerfile_passes_hadolint() -> None:
    assert not sorted(ROOT.glob("services/*/Dockerfile")), "services are built from the template, not their own"
    local = sorted(ROOT.glob("deploy/docker/debian/*/Dockerfile"))  # the infrastructure of local runs
    dockerfiles = [TEMPLATE, *sorted(COMPOSE.glob("*/Dockerfile")), *local]
    assert len(dockerfiles) == 2 + len(LOCAL_IMAGES)
    assert {p.parent.name for p in local} == LOCAL_IMAGES
    done = run(str(Path(sys.executable).parent / "hadolint"), *map(str, dockerfiles))
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_shell_script_passes_shellcheck() -> None:
    scripts = [*sorted(ROOT.glob("deploy/**/*.sh")), *sorted(ROOT.glob("tests/*/*.sh")), ROOT / ".ci/run"]
    assert ROOT / "deploy/docker/debian/kafka/run.sh" in scripts
    assert COMPOSE / "firewall-setup.sh" in scripts
    done = run("shellcheck", *map(str, scripts))
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("seed", seed_services(), ids=lambda s: s["name"])
def test_every_seed_service_is_there_with_its_address_ports_and_health_check(
    resolved: dict[str, Any], seed: dict[str, str]
) -> None:
    name = SEED_NAME.get(seed["name"], seed["name"])
    service = resolved["services"][name]
    assert service["networks"]["devnet"]["ipv4_address"] == seed["ip"]
    text = yaml.safe_dump(service)
    for port in re.findall(r"\d+", seed["ports"]):
        assert port in text, f"{name}: port {port}"
    health = " ".join(service.get("healthcheck", {}).get("test", []))
    for needed in {
        "postgres": ["pg_isready"],
        "redis": ["redis-cli", "ping"],
        "rabbitmq": ["rabbitmq-diagnostics", "ping"],
        "kafka": ["kafka-broker-api-versions", "/tmp/kafka-ready"],  # the seed's user.events: every topic made
    }.get(name, []):
        assert needed in health, f"{name}: {needed} in its health check"


def test_health_check_timings_and_the_three_start_phases_follow_the_seed(resolved: dict[str, Any]) -> None:
    s = resolved["services"]
    timings = {
        name: (s[name]["healthcheck"]["interval"], s[name]["healthcheck"]["retries"])
        for name in s
        if "healthcheck" in s[name]
    }
    assert timings["postgres"] == ("5s", 5)
    assert timings["redis"] == ("5s", 5)
    assert timings["rabbitmq"] == ("10s", 5)
    assert timings["kafka"] == ("10s", 10)
    infra = {"postgres", "redis", "rabbitmq", "kafka"}
    for name in SERVICES:
        if name == "gateway":
            continue
        needs = {k for k, v in s[name]["depends_on"].items() if v["condition"] == "service_healthy"}
        assert infra <= needs, f"{name} waits for the infrastructure (phase 2)"
    assert "gateway" in s["nginx"]["depends_on"], "phase 3: nginx after the application"
    assert s["kafka-ui"]["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert "postgres" in s["pgadmin"]["depends_on"]
    assert "prometheus" in s["grafana"]["depends_on"]


def test_every_seed_volume_is_there(resolved: dict[str, Any]) -> None:
    wanted = seed_volumes()
    assert {"pgdata", "kafkadata", "grafanadata"} <= wanted, "the seed's volume table was read"
    assert wanted - RUST_ONLY_VOLUMES <= set(resolved["volumes"])


def test_every_service_is_built_from_the_template_and_runs_as_a_non_root_user(resolved: dict[str, Any]) -> None:
    for name in SERVICES:
        build = resolved["services"][name]["build"]
        assert build["dockerfile"] == TEMPLATE.relative_to(ROOT).as_posix()
        assert Path(build["context"]).resolve() == ROOT
        assert build["args"]["SERVICE"] == name
        assert build["target"] in ("dev", "prod")
    dockerfile = TEMPLATE.read_text()
    assert dockerfile.count("FROM ") >= 2, "multi-stage"
    assert re.search(r"^FROM .* AS build$", dockerfile, re.MULTILINE)
    assert re.search(r"^FROM .* AS dev$", dockerfile, re.MULTILINE)
    assert re.search(r"^FROM .* AS prod$", dockerfile, re.MULTILINE)
    assert dockerfile.count("USER 10001:10001") == 2, "prod and dev"
    assert dockerfile.count("HEALTHCHECK ") == 2, "prod and dev"
    assert "/health" in dockerfile
    assert 'python -m \\"$SERVICE_NAME\\"' in dockerfile
    assert "SERVICE_NAME=${SERVICE}" in dockerfile
    assert "services/${SERVICE}/" in dockerfile, "copies only its own service"


def test_compose_builds_each_service_of_the_table_with_its_name_and_port(resolved: dict[str, Any]) -> None:
    template = TEMPLATE.relative_to(ROOT).as_posix()
    built = {name for name, svc in resolved["services"].items() if svc.get("build", {}).get("dockerfile") == template}
    assert built == {s.name for s in services()} == set(SERVICES)
    for s in services():
        assert resolved["services"][s.name]["build"]["args"] == {"SERVICE": s.name, "PORT": str(s.port)}, s.name


def test_the_template_builds_anywhere_from_a_base_image_argument() -> None:
    """Real users build on the public image by default; this machine (no registry) passes a local base."""
    dockerfile = TEMPLATE.read_text()
    args = dict(re.findall(r"^ARG (\w+)=(\S+)$", dockerfile, re.MULTILINE))
    assert args.get("PYTHON_IMAGE") == "python:3.11-slim-bookworm"
    assert dockerfile.index("ARG PYTHON_IMAGE") < dockerfile.index("FROM ")
    bases = re.findall(r"^FROM (\S+) AS (\w+)$", dockerfile, re.MULTILINE)
    assert {base for base, stage in bases if stage != "dev"} == {"${PYTHON_IMAGE}"}


def names(path: Path) -> set[str]:
    return set(re.findall(r"^([A-Z][A-Z0-9_]*)=", path.read_text(), re.MULTILINE))


def test_the_variables_are_the_local_stacks_and_everything_the_services_read() -> None:
    example = names(COMPOSE / ".env.example")
    assert names(ROOT / "deploy/local/defaults.env") <= example
    read = set()
    for source in [*ROOT.glob("services/*/src/**/*.py"), *ROOT.glob("libs/service/src/**/*.py")]:
        read |= set(re.findall(r'e\.(?:text|integer|flag|optional)\("([A-Z][A-Z0-9_]*)"', source.read_text()))
    per_container = {"SERVICE_HOST", "SERVICE_PORT", "DATABASE_URL"}
    assert read - per_container <= example, sorted(read - per_container - example)


def test_make_deploy_is_the_rolling_deploy_of_one_service_of_the_compose_deployment() -> None:
    done = run("make", "-n", "deploy", "SERVICE=ledger")
    assert done.returncode == 0, done.stderr
    assert "deploy/compose/local.sh deploy ledger" in done.stdout
    refused = run("make", "deploy", "SERVICE=nope")
    assert refused.returncode != 0
    assert "usage: make deploy SERVICE=" in refused.stdout


def test_every_service_runs_as_two_instances_behind_both_gateways(resolved: dict[str, Any]) -> None:
    """NAME and NAME-2: one image and configuration, two addresses; the gateways list both of every
    service, web and ops both of those they call, nginx both gateways."""
    svcs = resolved["services"]
    addresses = set()
    for s in services():
        first, second = svcs[s.name], svcs[f"{s.name}-2"]
        assert "build" not in second, "only the first instance builds the image"
        assert first["image"] == second["image"], s.name
        assert first["environment"] == second["environment"], s.name
        assert first.get("volumes") == second.get("volumes"), s.name
        addresses |= {first["networks"]["devnet"]["ipv4_address"], second["networks"]["devnet"]["ipv4_address"]}
        if s.name != "gateway":
            both = f"http://{s.name}:{s.port},http://{s.name}-2:{s.port}"
            assert svcs["gateway"]["environment"][f"{s.name.upper()}_URL"] == both, s.name
    assert len(addresses) == 2 * len(services()), "an address of its own for each instance"
    for caller, called in (("web", ("AUTH", "USERS", "LEDGER")), ("ops", ("AUTH",))):
        for name in called:
            assert "-2:" in svcs[caller]["environment"][f"{name}_URL"], (caller, name)
    template = (COMPOSE / "nginx/default.conf.template").read_text()
    assert "server ${APP_IP}:${APP_PORT}" in template
    assert "server ${APP_2_IP}:${APP_PORT}" in template
    assert svcs["nginx"]["environment"]["APP_2_IP"] == svcs["gateway-2"]["networks"]["devnet"]["ipv4_address"]


@pytest.mark.slow
def test_what_the_dockerfiles_install_works_in_a_fresh_environment(tmp_path: Path) -> None:
    """The template's build-stage RUN line (deploy/compose/install-service.sh) in a new virtual environment,
    then each service's app is built the way `python -m <service>` builds it."""
    venv = tmp_path / "venv"
    for name in SERVICES:
        done = run("deploy/compose/install-service.sh", name, str(venv))
        assert done.returncode == 0, done.stderr
    probe = (
        "import importlib, importlib.util, sys\n"
        "for name in sys.argv[1:]:\n"
        "    assert importlib.util.find_spec(name + '.__main__'), name\n"
        "    main = importlib.import_module(name + '.__main__')\n"
        "    assert callable(main.main), name  # its composition root imported with it\n"
        "print('ok')\n"
    )
    env = {"PATH": os.environ["PATH"], "GATEWAY_IDENTITY_SECRET": "probe"}
    done = run(str(venv / "bin/python"), "-c", probe, *SERVICES, env=env)
    assert (done.returncode, done.stdout.strip()) == (0, "ok"), done.stderr


def test_every_volume_a_service_mounts_starts_writable_for_its_user(resolved: dict[str, Any]) -> None:
    """A new named volume takes the owner of the image's mount point: a mount point the template does
    not make belongs to root, and the service (user 10001) cannot write there (files crashed on
    /data/storage in the first compose run)."""
    dockerfile = TEMPLATE.read_text()
    stages = re.split(r"^FROM ", dockerfile, flags=re.MULTILINE)[1:]
    targets = set()
    for name in SERVICES:
        for volume in resolved["services"][name].get("volumes", []):
            source, target, *mode = volume.split(":")  # docker-compose config: short syntax
            if not source.startswith((".", "/")) and mode != ["ro"]:  # a named volume it writes to
                targets.add(target)
    assert "/data/storage" in targets, "the files service's storage volume was read"
    for stage in (s for s in stages if re.match(r"\S+ AS (prod|dev)$", s.splitlines()[0])):
        for target in targets:
            made = re.search(rf"mkdir -p [^&\n]*{re.escape(target)}\b", stage)
            owned = re.search(r"chown -R 10001:10001 (\S+)", stage)
            assert made, f"{target} is not made in the stage {stage.splitlines()[0]}"
            assert owned, f"nothing is given to the app user in the stage {stage.splitlines()[0]}"
            assert target.startswith(owned.group(1)), f"{target} is not owned by the app user"


def test_ci_runs_compose_test_after_make_test_unless_explicitly_opted_out(tmp_path: Path) -> None:
    """.ci/run: make test, then make images and make compose-test, each timed; CI_COMPOSE=0 (where no
    Docker engine can run: make fresh-check's containers) says they were not run and why."""
    fake = tmp_path / "make"
    fake.write_text('#!/bin/sh\necho "make $*"\n')
    fake.chmod(0o755)

    def ci(**env: str) -> subprocess.CompletedProcess[str]:
        path = f"{tmp_path}:{os.environ['PATH']}"
        return run("bash", str(ROOT / ".ci/run"), env={**os.environ, "PATH": path, **env})

    done = ci()
    assert done.returncode == 0, done.stderr
    assert re.findall(r"^make (.+)$", done.stdout, re.MULTILINE) == ["test", "images", "compose-test"]
    for step in ("make test", "make images", "make compose-test"):
        assert re.search(rf"^ci: {step} passed in \d+s$", done.stdout, re.MULTILINE), step
    opted_out = ci(CI_COMPOSE="0", CI_COMPOSE_REASON="no Docker here")
    assert opted_out.returncode == 0, opted_out.stderr
    assert re.findall(r"^make (.+)$", opted_out.stdout, re.MULTILINE) == ["test"]
    assert "make images and make compose-test NOT run: CI_COMPOSE=0 — no Docker here" in opted_out.stdout
    assert ci(CI_COMPOSE="maybe").returncode == 2
    assert "CI_COMPOSE=0" in (ROOT / "tests/fresh/fresh-check.sh").read_text()
