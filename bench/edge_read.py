"""Authenticated read through nginx → gateway → users, beside the same read straight to users and
the original app's GET /api/v1/user, all in the same run (SPEC §10: through the edge ≥ 0.6 x the
original's straight read, aim 1.0 x, p99 ≤ 40 ms at 64 connections; straight ≥ 1.0 x; CPU per read,
every process of the stack, ≤ 0.8 ms).

    .venv/bin/python bench/edge_read.py [--seconds 10] [--connections 64] [--repeat 3]

Load from wrk (Debian's package, installed by `make up`); CPU per request per component from /proc
(bench/cpu.py). The original runs when ../shared/peers/money-flow/setup.sh started it (else one line
says it did not). The gateway is restarted for the run with its per-client rate limit lifted (this
measures capacity, not the limit), then restarted as configured. Results: bench/results/edge_read.json.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cpu import arguments, gateway_unlimited, measured, save
from peer import THROUGH, Peer, through_beside_straight
from signin import PASSWORD, make_users

from blazing_service.identity import Identity, sign
from blazing_testing import stack_env

ENV = stack_env()
AUTH = f"http://127.0.0.1:{ENV['AUTH_PORT']}"


async def main() -> None:
    args = arguments(seconds=10.0, connections=64)
    async with httpx.AsyncClient(timeout=30) as client:
        [email] = await make_users(client, 1)
        session = (await client.post(f"{AUTH}/api/v1/auth/sign-in", json={"email": email, "password": PASSWORD})).json()
    user_id = uuid.UUID(session["user"]["id"])
    peer = Peer.find(ENV.admin_database_url)
    with gateway_unlimited():
        edge, direct, original = [], [], []
        for _ in range(args.repeat):
            bearer = {"Authorization": f"Bearer {session['access_token']}"}
            edge.append(
                measured(
                    "https://localhost/api/v1/user", headers=bearer, seconds=args.seconds, connections=args.connections
                )
            )
            signed = sign(Identity(user_id=user_id, permissions=1), ENV["GATEWAY_IDENTITY_SECRET"])  # valid 30 s
            direct.append(
                measured(
                    f"http://127.0.0.1:{ENV['USERS_PORT']}/api/v1/user",
                    headers=signed,
                    seconds=args.seconds,
                    connections=args.connections,
                )
            )
            if peer:
                original.append(peer.run("/api/v1/user", args.seconds, args.connections))
    figures = {"connections": args.connections, "seconds": args.seconds}
    result, ratios, through, through_cpu, through_net = through_beside_straight(
        edge, ("straight_to_service", direct), ("original_straight", original), "req", figures
    )
    result["targets"] = {
        "through_ratio": 0.6,
        "through_ratio_aim": 1.0,
        "p99_ms": 40,
        "straight_ratio": 1.0,
        "cpu_ms": 0.8,
    }
    print(
        f"ratios to the original: through {ratios[THROUGH]} (target >= 0.6, aim 1.0), "
        f"straight {ratios['straight_to_service']} (target >= 1.0)"
    )
    print(
        f"targets: p99 through {through['p99_ms']} ms (<= 40); CPU per read {through_cpu['stack_total']} ms,"
        f" net of idle {through_net['stack_total']} ms (<= 0.8)"
    )
    save(result, "edge_read")


if __name__ == "__main__":
    asyncio.run(main())
