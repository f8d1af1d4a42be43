"""import-linter holds every service's layers (docs/architecture.md) — and fails the build when one
is broken: the contracts are run against a copy of the sources with a forbidden import planted in
each service's domain and application."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from blazing_testing import REPO_ROOT

LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
SERVICES = sorted(p.name for p in (REPO_ROOT / "services").iterdir() if (p / "src" / p.name).is_dir())


def lint_imports(sources: list[Path], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(map(str, sources))}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def test_every_contract_is_kept() -> None:
    done = lint_imports([], REPO_ROOT)
    assert done.returncode == 0, done.stdout
    for service in SERVICES:
        assert f"{service}: layers point inward KEPT" in done.stdout
        assert f"{service}: the domain is pure KEPT" in done.stdout


def test_a_broken_layer_fails_the_build(tmp_path: Path) -> None:
    sources = []
    for src in [*REPO_ROOT.glob("libs/*/src"), *REPO_ROOT.glob("services/*/src")]:
        copy = tmp_path / src.relative_to(REPO_ROOT)
        shutil.copytree(src, copy, ignore=shutil.ignore_patterns("__pycache__"))
        sources.append(copy)
    for service in SERVICES:
        package = tmp_path / "services" / service / "src" / service
        (package / "domain" / "_probe.py").write_text("import psycopg  # a driver in the domain\n")
        (package / "entrypoints" / "_probe.py").write_text(f"import {service}.bootstrap  # an entrypoint on the root\n")
        if (package / "application").is_dir():
            (package / "application" / "_probe.py").write_text("import litestar  # a framework in the application\n")
    shutil.copy(REPO_ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    done = lint_imports(sources, tmp_path)
    assert done.returncode != 0
    for service in SERVICES:
        assert f"{service}: the domain is pure BROKEN" in done.stdout, service
        assert f"{service}: layers point inward BROKEN" in done.stdout, service
        if (tmp_path / "services" / service / "src" / service / "application").is_dir():
            assert f"{service}: the application knows no framework, driver or protocol BROKEN" in done.stdout, service
