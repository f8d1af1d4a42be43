"""Processes tests and benchmarks start on their own (and kill, for fault tests)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from blazing_testing.stack import stack_env


def start_relay(dsn: str, service: str, *, batch_size: int = 1000, log: Path | None = None) -> subprocess.Popen[bytes]:
    """An outbox relay (``python -m blazing_es.relay``) as a process of its own."""
    out = log.open("ab") if log else subprocess.DEVNULL
    return subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
        [
            sys.executable,
            "-m",
            "blazing_es.relay",
            "--dsn",
            dsn,
            "--kafka",
            stack_env().kafka_bootstrap,
            "--service",
            service,
            "--batch-size",
            str(batch_size),
        ],
        stdout=out,
        stderr=subprocess.STDOUT if log else subprocess.DEVNULL,
        start_new_session=True,
    )
