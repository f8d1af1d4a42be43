"""Ledger write benchmark (SPEC §10: ≥ 600 cmd/s through nginx, p99 ≤ 100 ms, CPU per write of every
process, consumers included, ≤ 4 ms; write → read model visible in another service p99 ≤ 150 ms at
200 cmd/s), beside the original app's nearest write in the same run.

    .venv/bin/python bench/ledger.py [--seconds 10] [--connections 64] [--repeat 3] [--users 64] [--lag-users 16]

* write commands (POST /api/v1/transactions, an income each) with wrk, each request for the next
  of ``--users`` users (a user's writes are serialised by its ledger, different users' are not):
  through nginx → gateway → ledger, beside the same requests straight to the ledger, in the same
  run; each with CPU ms per request per component (bench/cpu.py). The writes' fan-out (relay, Kafka,
  consumers) runs partly after wrk stops: the CPU is measured until the users service has caught up
  with the burst, so a write's figure holds its whole cost
* the original app's PATCH /api/v1/user (it has no transaction API), when setup.sh started it;
  else one line says it did not
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
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cpu import (
    CpuMeter,
    arguments,
    cpu_fields,
    gateway_unlimited,
    latency_medians,
    percentiles,
    save,
    wrk,
)
from peer import THROUGH, Peer, through_beside_straight

from blazing_contracts import decode_event
from blazing_contracts.topology import USER_EVENTS
from blazing_service.identity import Identity, sign
from blazing_testing import stack_env
from blazing_testing.accounts import activated_account
from blazing_testing.kafka import KafkaTail

ENV = stack_env()
AUTH = f"http://127.0.0.1:{ENV['AUTH_PORT']}"
LEDGER = f"http://127.0.0.1:{ENV['LEDGER_PORT']}"


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
    burst left in Kafka is drained), so the lag run measures lag, not an earlier burst's queue.
    Read in each database with one query per poll, not through the services: the wait must not add
    requests to the CPU of the burst it measures. The bench only adds income, so users' balance of
    a user is at most the ledger's: the sums are equal when every user caught up."""
    query = "select coalesce(sum(balance), 0) from {} where user_id = any(%s::uuid[])"
    start = time.perf_counter()
    async with (
        await psycopg.AsyncConnection.connect(ENV.database_url("ledger"), autocommit=True) as ledger,
        await psycopg.AsyncConnection.connect(ENV.database_url("users"), autocommit=True) as users,
    ):
        while time.perf_counter() - start < within:
            want = await (await ledger.execute(query.format("balances"), (user_ids,))).fetchone()
            have = await (await users.execute(query.format("profiles"), (user_ids,))).fetchone()
            if want == have:
                return time.perf_counter() - start
            await asyncio.sleep(0.2)
    raise RuntimeError(f"users did not catch up within {within} s")


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
            # a pooled connection the server closed meanwhile fails the send: sent again under
            # the same Idempotency-Key, so a write that did land is answered, not made twice
            key = str(uuid.uuid4())
            for attempt in range(3):
                try:
                    async with slots:  # signed when sent: a queued request must not outlive its identity
                        r = await client.post(
                            f"{LEDGER}/api/v1/transactions",
                            headers={**identity(user_id), "Idempotency-Key": key},
                            json={"category_id": category_id, "type": "income", "amount": 1, "memo": "lag"},
                        )
                    break
                except httpx.TransportError:
                    if attempt == 2:
                        raise
            if r.status_code not in (200, 201):
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
    return {"writes": len(written), "users": len(users), **percentiles(lags)}


async def burst(url: str, script: str, user_ids: list[str], args: argparse.Namespace) -> dict[str, object]:
    """A wrk write burst, its CPU measured until users has applied every write of it."""
    meter = CpuMeter()
    meter.idle()
    with meter.measure():
        result = wrk(url, None, args.seconds, args.connections, script)
        drained = await settle(user_ids)
    print(f"{url}: {result['req_per_s']}/s; users caught up {drained:.1f} s after the burst")
    return {**result, "drained_s": round(drained, 1), **cpu_fields(meter, int(result["requests"]))}


async def main() -> None:
    args = arguments(seconds=10.0, connections=64, users=64, lag_users=16)
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
    peer = Peer.find(ENV.admin_database_url)
    user_ids = [uid for uid, _, _ in accounts]
    await settle(user_ids)
    with gateway_unlimited():
        edge, direct, original, lags = [], [], [], []
        for _ in range(args.repeat):
            edge.append(await burst("https://localhost/api/v1/transactions", edge_script, user_ids, args))
            direct_script = post_script([(identity(uid), cat) for uid, _, cat in accounts])  # valid for 30 s
            direct.append(await burst(f"{LEDGER}/api/v1/transactions", direct_script, user_ids, args))
            if peer:
                original.append(peer.run("/api/v1/user", args.seconds, args.connections, peer.patch_script()))
            lags.append(await lag(lag_users, 200, 10))
    figures = {"connections": args.connections, "users": args.users}
    result, ratios, through, through_cpu, through_net = through_beside_straight(
        edge, ("straight_to_ledger", direct), ("original_patch_user", original), "write", figures
    )
    vis = result["write_to_users_balance_at_200_per_s"] = latency_medians(lags)
    result["targets"] = {"cmd_per_s": 600, "p99_ms": 100, "cpu_ms": 4, "visibility_p99_ms": 150}
    print(
        f"ratios to the original's PATCH /api/v1/user: through {ratios[THROUGH]}, "
        f"straight {ratios['straight_to_ledger']}"
    )
    print(
        f"targets: through {through['req_per_s']}/s (>= 600), p99 {through['p99_ms']} ms (<= 100), "
        f"CPU per write {through_cpu['stack_total']} ms, net of idle {through_net['stack_total']} ms (<= 4); "
        f"write -> users balance at 200/s p50 {vis['p50_ms']} ms, p99 {vis['p99_ms']} ms (<= 150)"
    )
    save(result, "ledger")


if __name__ == "__main__":
    asyncio.run(main())
