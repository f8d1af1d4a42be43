"""deploy/local/lib.sh's process bookkeeping, run in bash against real processes."""

from __future__ import annotations

import os
import subprocess
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
    `make up` took the service for started (unhealthy) and never started it. A pid file spawn wrote
    holds the start time of its process; a kernel thread is never a service."""
    pidfile = tmp_path / "svc-x.pid"
    since = bash(f"started_at {os.getpid()}", tmp_path)
    pidfile.write_text(f"{os.getpid()}\n{since}\n")
    assert alive("svc-x", tmp_path) == "alive"
    pidfile.write_text(f"{os.getpid()}\n{int(since) + 1}\n")  # the same pid, another process
    assert alive("svc-x", tmp_path) == "gone"
    pidfile.write_text("2\n")  # kthreadd: running, but no command line
    assert alive("svc-x", tmp_path) == "gone"
    pidfile.write_text(f"{os.getpid()}\n")  # a pid file a daemon wrote itself
    assert alive("svc-x", tmp_path) == "alive"


def test_the_wall_clock_has_no_say(tmp_path: Path) -> None:
    """Comparing a process's age with its pid file's mtime took a service that was running for gone
    once the wall clock had moved on faster than the kernel's (a suspended machine): stop left it
    running and start found its port taken. Only the kernel's clock is compared now."""
    assert (
        bash(
            "spawn sleeper sleep 30; touch -d '2 hours' \"$RUN/sleeper.pid\"; pid_alive sleeper && echo alive", tmp_path
        )
        == "alive"
    )
    bash("stop_pid sleeper 5", tmp_path)
    assert alive("sleeper", tmp_path) == "gone"
