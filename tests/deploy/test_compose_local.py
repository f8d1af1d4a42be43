"""Local runs of the compose deployment (deploy/compose/docker-compose.local.yml over the main file,
images from `make images`), checked without a Docker engine: no image comes from a registry, each
one is built by deploy/docker/images.sh on a base argument that defaults to the public Debian image,
what Debian lacks sits in a profile that local runs leave off, and the main file keeps the public
images for real users. (The running deployment: test_compose_run.py, under `make compose-test`.)"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from blazing_testing.services import services

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "deploy/compose"
IMAGES = ROOT / "deploy/docker/images.sh"
ADMIN_UIS = {"grafana", "kafka-ui", "pgadmin"}  # no Debian package


def built_by_make_images() -> set[str]:
    infra = re.search(r"^INFRA=\(([^)]*)\)$", IMAGES.read_text(), re.MULTILINE)
    assert infra, "images.sh names its infrastructure images"
    return {f"blazing-sun/{name}:local" for name in [*infra.group(1).split(), *(s.name for s in services())]}


def test_local_runs_need_no_image_registry(local: dict[str, Any]) -> None:
    active = {name: s for name, s in local["services"].items() if not s.get("profiles")}
    assert {"postgres", "redis", "rabbitmq", "kafka", "nginx", "prometheus", "smtp"} <= set(active)
    images = {name: s["image"] for name, s in active.items()}
    assert set(images.values()) <= built_by_make_images(), images
    assert set(images.values()) == built_by_make_images(), "every image make images builds is used"


def test_what_debian_lacks_is_in_a_profile_that_local_runs_leave_off(
    local: dict[str, Any], resolved: dict[str, Any]
) -> None:
    for name in ADMIN_UIS:
        assert local["services"][name]["profiles"] == ["admin-ui"], name
        assert "profiles" not in resolved["services"][name], f"{name} starts by default for real users"
    assert "admin-ui" in (ROOT / "README.md").read_text(), "the README says so"


def test_the_main_file_keeps_the_public_images(resolved: dict[str, Any]) -> None:
    for name in ("postgres", "redis", "rabbitmq", "kafka", "prometheus", *ADMIN_UIS):
        assert not resolved["services"][name]["image"].startswith("blazing-sun/"), name
    assert "smtp" not in resolved["services"], "the SMTP sink is for local runs only"


def test_every_local_image_builds_on_a_base_argument_defaulting_to_public_debian() -> None:
    dockerfiles = sorted(ROOT.glob("deploy/docker/debian/*/Dockerfile"))
    assert dockerfiles
    for dockerfile in dockerfiles:
        text = dockerfile.read_text()
        assert re.search(r"^ARG DEBIAN_IMAGE=debian:bookworm-slim$", text, re.MULTILINE), dockerfile
        assert text.index("ARG DEBIAN_IMAGE") < text.index("FROM ")
        bases = re.findall(r"^FROM (\S+)", text, re.MULTILINE)
        assert bases[0] == "${DEBIAN_IMAGE}", dockerfile
        assert "--no-install-recommends" in text, dockerfile
    assert '--build-arg "DEBIAN_IMAGE=$BASE"' in IMAGES.read_text()
    assert '--build-arg "PYTHON_IMAGE=$BASE"' in IMAGES.read_text()


def test_the_mailer_sends_to_the_sink_which_the_tests_read(local: dict[str, Any]) -> None:
    assert local["services"]["mailer"]["depends_on"]["smtp"]["condition"] == "service_healthy"
    [mount] = local["services"]["smtp"]["volumes"]
    assert Path(mount.split(":")[0]) == ROOT / "var/compose/mail"
    assert local["services"]["smtp"]["networks"]["devnet"]["ipv4_address"].startswith("172.28.0.")
