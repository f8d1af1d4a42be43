"""Ledger write benchmark (SPEC §10: ≥ 800 cmd/s through nginx, p99 ≤ 50 ms; write → read model
visible in another service p99 ≤ 250 ms at 200 cmd/s).

    .venv/bin/python bench/ledger.py [--seconds 10] [--connections 64] [--repeat 3] [--users 64] [--lag-users 16]

* write commands (POST /api/v1/transactions, an income each) with wrk, each request for the next
  of ``--users`` users (a user's writes are serialised by its ledger, different users' are not):
  through nginx → gateway → ledger, beside the same requests straight to the ledger, in the same
  run
* write → users balance visible: 200 writes/s for 10 s over ``--lag-users`` users, after the users
  service caught up with the burst before; for each write, the time until users
  published the new balance (user.balance_updated is written in the same transaction that makes it
  visible in the users read model, so this is an upper bound of the visibility lag)

The gateway runs with its per-client limit lifted for the run. Needs `make up`.
Results: bench/results/ledger.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from edge_read import wrk

from blazing_contracts import decode_event
from blazing_contracts.topology import USER_EVENTS
from blazing_service.identity import Identity, sign
from blazing_testing import REPO_ROOT, control, stack_env
from blazing_testing.accounts import activated_account
from blazing_testing.kafka import KafkaTail

ENV = stack_env()
AUTH = f"http://127.0.0.1:{ENV['AUTH_PORT']}"
LEDGER = f"http://127.0.0.1:{ENV['LEDGER_PORT']}"
RESULTS = REPO_ROOT / "bench" / "results"


def identity(user_id: str) -> dict[str, str]:
    """What the gateway would add (valid for 30 s: made per request)."""
    return sign(Identity(user_id=uuid.UUID(user_id), permissions=1), ENV["GATEWAY_IDENTITY_SECRET"])


def post_script(users: list[tuple[dict[str, str], str]]) -> str:
    """A wrk script sending each request as the next user: (headers, category id) per user."""
    entries = []
    for headers, category_id in users:
        body = json.dumps({"category_id": category_id, "type": "income", "amount": 1, "memo": "bench"})
        fields = ", ".join(f"[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items())
        entries.append(f"{{headers = {{{fields}}}, body = {json.dumps(body)}}}")
    lua = (
        "local users = {" + ",\n".join(entries) + "}\n"
        "local i = 0\n"
        "request = function()\n"
        "  i = i % #users + 1\n"
        "  local u = users[i]\n"
        '  u.headers["Content-Type"] = "application/json"\n'
        '  return wrk.format("POST", nil, u.headers, u.body)\n'
        "end\n"
    )
    path = Path(tempfile.mkstemp(suffix=".lua")[1])
    path.write_text(lua)
    return str(path)


async def settle(user_ids: list[str], within: float = 300) -> float:
    """Waits until the users service shows every bench user's ledger balance (the backlog a write
    burst left in Kafka is drained), so the lag run measures lag, not an earlier burst's queue."""
    users = f"http://127.0.0.1:{ENV['USERS_PORT']}/api/v1/user"
    start = time.perf_counter()
    async with httpx.AsyncClient(timeout=30) as client:
        pending = set(user_ids)
        while pending and time.perf_counter() - start < within:
            for uid in list(pending):
                want = (await client.get(f"{LEDGER}/api/v1/balance", headers=identity(uid))).json()["balance"]
                have = (await client.get(users, headers=identity(uid))).json()["user"]["balance"]
                if want == have:
                    pending.discard(uid)
            await asyncio.sleep(0.5)
        if pending:
            raise RuntimeError(f"users did not catch up within {within} s")
    return time.perf_counter() - start


async def lag(users: list[tuple[str, str]], rate: int, seconds: int) -> dict[str, float]:
    """Writes at ``rate``/s, each as the next of ``users`` (user id, category id); for each write the
    time until users published that user's new balance."""
    written: dict[tuple[str, int], float] = {}
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
    async with (
        KafkaTail(ENV.kafka_bootstrap, USER_EVENTS) as tail,
        httpx.AsyncClient(timeout=30, limits=limits) as client,
    ):
        start = time.perf_counter()

        slots = asyncio.Semaphore(32)

        async def one(user_id: str, category_id: str) -> None:
            async with slots:  # signed when sent: a queued request must not outlive its identity
                r = await client.post(
                    f"{LEDGER}/api/v1/transactions",
                    headers=identity(user_id),
                    json={"category_id": category_id, "type": "income", "amount": 1, "memo": "lag"},
                )
            if r.status_code != 201:
                raise RuntimeError(f"write refused: {r.status_code} {r.text}")
            written[(user_id, r.json()["transaction"]["balance"])] = time.time()

        tasks = []
        for i in range(rate * seconds):
            if (delay := start + i / rate - time.perf_counter()) > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(*users[i % len(users)])))
        await asyncio.gather(*tasks)
        seen: dict[tuple[str, int], float] = {}
        last = {uid: max(b for u, b in written if u == uid) for uid, _ in users}
        ids = set(last)

        def done(records: list[object]) -> bool:
            for record in records[len(seen_records) :]:
                seen_records.append(record)
                event = decode_event(record.value)  # type: ignore[attr-defined]
                if event.event_type == "user.balance_updated" and event.aggregate_id in ids:
                    key = (event.aggregate_id, event.payload.balance)  # type: ignore[attr-defined]
                    seen.setdefault(key, record.timestamp / 1000)  # type: ignore[attr-defined]
            return all(max((b for u, b in seen if u == uid), default=0) >= top for uid, top in last.items())

        seen_records: list[object] = []
        await tail.collect(done, within=60)
    # a balance the read model skipped (a newer one came first) became visible with the newer one
    lags: list[float] = []
    for uid in last:
        later = float("inf")
        for balance in sorted((b for u, b in written if u == uid), reverse=True):
            later = min(later, seen.get((uid, balance), later))
            lags.append(max(0.0, later - written[(uid, balance)]) * 1000)
    lags.sort()
    return {
        "writes": len(written),
        "users": len(users),
        "p50_ms": round(lags[len(lags) // 2], 1),
        "p99_ms": round(lags[int(len(lags) * 0.99)], 1),
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--users", type=int, default=64)
    parser.add_argument("--lag-users", type=int, default=16, help="users the 200/s lag run rotates over")
    args = parser.parse_args()
    accounts: list[tuple[str, str, str]] = []  # user id, access token, category id
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=64)) as client:

        async def account() -> None:
            _email, session = await activated_account(client, base=AUTH, prefix="bench-ledger")
            user_id = session["user"]["id"]
            r = await client.post(f"{LEDGER}/api/v1/categories", headers=identity(user_id), json={"name": "bench"})
            accounts.append((user_id, session["access_token"], r.json()["category"]["id"]))

        for _ in range(0, args.users, 8):
            await asyncio.gather(*(account() for _ in range(min(8, args.users - len(accounts)))))
    edge_script = post_script([({"Authorization": f"Bearer {token}"}, cat) for _, token, cat in accounts])
    lag_users = [(uid, cat) for uid, _, cat in accounts[: args.lag_users]]
    control("stop", "svc-gateway")
    control("start", "svc-gateway", env={"GATEWAY_RATE_LIMIT": "100000000"})
    try:
        edge, direct, lags = [], [], []
        for _ in range(args.repeat):
            edge.append(wrk("https://localhost/api/v1/transactions", {}, args.seconds, args.connections, edge_script))
            direct_script = post_script([(identity(uid), cat) for uid, _, cat in accounts])  # valid for 30 s
            direct.append(wrk(f"{LEDGER}/api/v1/transactions", {}, args.seconds, args.connections, direct_script))
            drained = await settle([uid for uid, _, _ in accounts])
            print(f"users caught up with the write burst {drained:.1f} s after it ended")
            lags.append(await lag(lag_users, 200, 10))
    finally:
        control("stop", "svc-gateway")
        control("start", "svc-gateway")
    result = {
        "when": datetime.now(UTC).isoformat(),
        "connections": args.connections,
        "users": args.users,
        "through_nginx_gateway": {
            "cmd_per_s": statistics.median(r["req_per_s"] for r in edge),
            "p99_ms": statistics.median(r["p99_ms"] for r in edge),
            "runs": edge,
        },
        "straight_to_ledger": {
            "cmd_per_s": statistics.median(r["req_per_s"] for r in direct),
            "p99_ms": statistics.median(r["p99_ms"] for r in direct),
            "runs": direct,
        },
        "write_to_users_balance_at_200_per_s": {
            "p50_ms": statistics.median(r["p50_ms"] for r in lags),
            "p99_ms": statistics.median(r["p99_ms"] for r in lags),
            "runs": lags,
        },
        "targets": {"cmd_per_s": 800, "p99_ms": 50, "visibility_p99_ms": 250},
    }
    print(
        f"writes through nginx + gateway: {result['through_nginx_gateway']['cmd_per_s']:.0f}/s, "
        f"p99 {result['through_nginx_gateway']['p99_ms']:.1f} ms"
    )
    print(
        f"writes straight to ledger:      {result['straight_to_ledger']['cmd_per_s']:.0f}/s, "
        f"p99 {result['straight_to_ledger']['p99_ms']:.1f} ms"
    )
    vis = result["write_to_users_balance_at_200_per_s"]
    print(f"write -> users balance at 200/s: p50 {vis['p50_ms']} ms, p99 {vis['p99_ms']} ms")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "ledger.json").write_text(json.dumps(result, indent=2))
    print("saved bench/results/ledger.json")


if __name__ == "__main__":
    asyncio.run(main())
