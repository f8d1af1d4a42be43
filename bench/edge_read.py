"""Authenticated read through nginx → gateway → users (SPEC §10: ≥ 1,500 req/s at 64 connections,
p99 ≤ 25 ms), beside the same request sent straight to the service in the same run.

    .venv/bin/python bench/edge_read.py [--seconds 10] [--connections 64] [--repeat 3]

Load from wrk (Debian's package, installed by `make up`). The gateway is restarted for the run with
its per-client rate limit lifted (this measures capacity, not the limit), then restarted as configured.
Results: bench/results/edge_read.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from signin import PASSWORD, make_users

from blazing_service.identity import Identity, sign
from blazing_testing import REPO_ROOT, control, stack_env

ENV = stack_env()
AUTH = f"http://127.0.0.1:{ENV['AUTH_PORT']}"
RESULTS = REPO_ROOT / "bench" / "results"
UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk(
    url: str, headers: dict[str, str], seconds: float, connections: int, script: str | None = None
) -> dict[str, float]:
    args = ["wrk", "-t2", f"-c{connections}", f"-d{int(seconds)}s", "--latency", url]
    if script:
        args[1:1] = ["-s", script]
    for name, value in headers.items():
        args[1:1] = ["-H", f"{name}: {value}"]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    total = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s)", out)
    seconds_run = float(total.group(2)) * UNITS[total.group(3)] / 1000  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: .*", out)
    failed = int(non2xx.group(1)) if non2xx else 0
    return {  # only answers in 2xx count: a fast 429 or 503 is not throughput
        "req_per_s": round((int(total.group(1)) - failed) / seconds_run, 1),  # type: ignore[union-attr]
        "p50_ms": float(p50.group(1)) * UNITS[p50.group(2)],  # type: ignore[union-attr]
        "p99_ms": float(p99.group(1)) * UNITS[p99.group(2)],  # type: ignore[union-attr]
        "non_2xx": failed,
        "socket_errors": errors.group(0) if errors else "",
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    async with httpx.AsyncClient(timeout=30) as client:
        [email] = await make_users(client, 1)
        session = (await client.post(f"{AUTH}/api/v1/auth/sign-in", json={"email": email, "password": PASSWORD})).json()
    user_id = uuid.UUID(session["user"]["id"])
    control("stop", "svc-gateway")
    control("start", "svc-gateway", env={"GATEWAY_RATE_LIMIT": "100000000"})
    try:
        edge, direct = [], []
        for _ in range(args.repeat):
            edge.append(
                wrk(
                    "https://localhost/api/v1/user",
                    {"Authorization": f"Bearer {session['access_token']}"},
                    args.seconds,
                    args.connections,
                )
            )
            signed = sign(Identity(user_id=user_id, permissions=1), ENV["GATEWAY_IDENTITY_SECRET"])
            direct.append(
                wrk(f"http://127.0.0.1:{ENV['USERS_PORT']}/api/v1/user", signed, args.seconds, args.connections)
            )
    finally:
        control("stop", "svc-gateway")
        control("start", "svc-gateway")
    result = {
        "when": datetime.now(UTC).isoformat(),
        "connections": args.connections,
        "seconds": args.seconds,
        "through_nginx_gateway": {
            "req_per_s": statistics.median(r["req_per_s"] for r in edge),
            "p99_ms": statistics.median(r["p99_ms"] for r in edge),
            "runs": edge,
        },
        "straight_to_service": {
            "req_per_s": statistics.median(r["req_per_s"] for r in direct),
            "p99_ms": statistics.median(r["p99_ms"] for r in direct),
            "runs": direct,
        },
        "targets": {"req_per_s": 1500, "p99_ms": 25},
    }
    print(
        f"through nginx + gateway: {result['through_nginx_gateway']['req_per_s']:.0f} req/s, "
        f"p99 {result['through_nginx_gateway']['p99_ms']:.1f} ms"
    )
    print(
        f"straight to users:       {result['straight_to_service']['req_per_s']:.0f} req/s, "
        f"p99 {result['straight_to_service']['p99_ms']:.1f} ms"
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "edge_read.json").write_text(json.dumps(result, indent=2))
    print("saved bench/results/edge_read.json")


if __name__ == "__main__":
    asyncio.run(main())
