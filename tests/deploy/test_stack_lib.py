"""deploy/local/lib.sh's process bookkeeping, run in bash against real processes."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def bash(script: str, run_dir: Path) -> str:
    done = subprocess.run(
        ["/bin/bash", "-c", f'. deploy/local/lib.sh; RUN="{run_dir}"; LOG="{run_dir}"; {script}'],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert not done.stderr, done.stderr
    return done.stdout.strip()


def alive(name: str, run_dir: Path) -> str:
    return bash(f"pid_alive {name} && echo alive || echo gone", run_dir)


def test_a_spawned_process_is_alive_until_it_is_stopped(tmp_path: Path) -> None:
    assert bash("spawn sleeper sleep 30; pid_alive sleeper && echo alive", tmp_path) == "alive"
    bash("stop_pid sleeper 5", tmp_path)
    assert alive("sleeper", tmp_path) == "gone"
    assert not (tmp_path / "sleeper.pid").exists()


def test_a_pid_another_process_took_since_is_not_the_service(tmp_path: Path) -> None:
    """After the machine restarted, var/run/svc-mailer.pid named a pid a kernel thread had taken:
    `make up` took the service for started (unhealthy) and never started it. A process that started
    after its pid file was written is not the one the file recorded."""
    pidfile = tmp_path / "svc-x.pid"
    pidfile.write_text(f"{os.getpid()}\n")
    assert alive("svc-x", tmp_path) == "alive"
    an_hour_ago = time.time() - 3600  # the file is older than this (test) process
    os.utime(pidfile, (an_hour_ago, an_hour_ago))
    assert alive("svc-x", tmp_path) == "gone"
