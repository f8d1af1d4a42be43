"""The chaos run: load through nginx while faults hit the system, then a check of the invariants.

    .venv/bin/python tests/reliability/chaos.py [--rounds 3] [--workers 12]     (make chaos)
    .venv/bin/python tests/reliability/chaos.py --recovery    (each fault's time until no route family answers 5xx)

Load (bounded, stops by itself): ledger writes with Idempotency-Key for a pool of accounts, sign-ins
and sign-ups, each through https://localhost from its own loopback address. Faults, one after the
other, each followed by the time until a probe request succeeds again: ``kill -9`` of every service
(restarted by the script, as a supervisor would), then a restart of PostgreSQL, Kafka, RabbitMQ and
Redis. The checker, once the load stopped and the system settled:

* every write answered 2xx exists exactly once in the ledger's event store and its read model, and
  the users service (another context, through Kafka) shows each account's ledger balance;
* no event exists that was not committed: every transaction id published on Kafka is in the event
  store, and every transaction in the read model is in the event store;
* each consumer applied each event once, in order: the users read model holds the balance of the
  last ledger event of each account (its version guard refuses an older one; an event applied twice
  or out of order would leave another balance);
* every sign-up answered 2xx has exactly one credential and (once create_user ran) one profile;
* every outbox drained; a session revoked before the faults is still refused after them.

No 5xx once a fault is over (``Prober``, ``test_reliability``): after each fault and
``RECOVERY_WINDOW_S``, every route family (auth sign-in / sign-up / refresh, users read, ledger
read and write, files list, ops API, web pages, the gateway's own) is probed at once and answers
without a 5xx; ``--recovery`` measures how long each fault actually takes to get there.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
from aiokafka import AIOKafkaConsumer, TopicPartition

from blazing_contracts import ContractError, decode_event
from blazing_contracts.topology import ALL_TOPICS, TRANSACTION_EVENTS
from blazing_es.lag import LagMonitor
from blazing_testing import REPO_ROOT, control, edge_client, stack_env
from blazing_testing.accounts import PASSWORD, activated_account, admin_account, new_email

ENV = stack_env()
AUTH = f"http://127.0.0.1:{ENV['AUTH_PORT']}"
SERVICES = sorted(p.name for p in (REPO_ROOT / "services").iterdir() if (p / "src").exists())
INFRA = ("postgres", "kafka", "rabbitmq", "redis")
OUTBOX_DATABASES = ("users", "auth", "ledger")


@dataclass
class Account:
    email: str
    user_id: str
    token: str
    category: str


@dataclass
class Tally:
    sent: Counter[str] = field(default_factory=Counter)
    ok: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    writes: list[tuple[str, str]] = field(default_factory=list)  # (user id, transaction id) answered 2xx
    sign_ups: list[str] = field(default_factory=list)
    recovery: list[dict[str, Any]] = field(default_factory=list)


async def accounts(count: int) -> list[Account]:
    out = []
    async with httpx.AsyncClient(timeout=30) as client:
        for _ in range(count):
            email, session = await activated_account(client, base=AUTH, prefix="chaos")
            headers = {"authorization": f"Bearer {session['access_token']}"}
            async with edge_client() as edge:
                r = await edge.post("/api/v1/categories", json={"name": "chaos"}, headers=headers)
                r.raise_for_status()
            out.append(Account(email, session["user"]["id"], session["access_token"], r.json()["category"]["id"]))
    return out


async def load(pool: list[Account], tally: Tally, stop: asyncio.Event, worker: int) -> None:
    rng = random.Random(worker)
    async with edge_client(timeout=10) as edge:
        while not stop.is_set():
            kind = rng.choices(["write", "sign_in", "sign_up"], weights=[8, 1, 1])[0]
            tally.sent[kind] += 1
            try:
                if kind == "write":
                    account = rng.choice(pool)
                    r = await edge.post(
                        "/api/v1/transactions",
                        json={"category_id": account.category, "type": "income", "amount": 1, "memo": "chaos"},
                        headers={"authorization": f"Bearer {account.token}", "idempotency-key": uuid.uuid4().hex},
                    )
                    if r.status_code == 201:
                        tally.writes.append((account.user_id, r.json()["transaction"]["id"]))
                elif kind == "sign_in":
                    account = rng.choice(pool)
                    async with edge_client(timeout=10) as other:  # its own address: the strict limit is per client
                        r = await other.post(
                            "/api/v1/auth/sign-in", json={"email": account.email, "password": PASSWORD}
                        )
                else:
                    email = new_email("chaos-signup")
                    body = {
                        "email": email,
                        "password": PASSWORD,
                        "confirm_password": PASSWORD,
                        "first_name": "Chaos",
                        "last_name": "Monkey",
                    }
                    async with edge_client(timeout=10) as other:
                        r = await other.post("/api/v1/auth/sign-up", json=body)
                    if r.status_code in (201, 202):
                        tally.sign_ups.append(email)
                (tally.ok if r.status_code < 300 else tally.failed)[kind] += 1
            except (httpx.HTTPError, OSError):
                tally.failed[kind] += 1
                await asyncio.sleep(0.05)


async def probe(account: Account, within: float = 180) -> float:
    """Seconds until a signed-in read through the edge answers 200 again."""
    start = time.monotonic()
    while time.monotonic() - start < within:
        with contextlib.suppress(httpx.HTTPError, OSError):
            async with edge_client(timeout=5) as edge:
                r = await edge.get("/api/v1/balance", headers={"authorization": f"Bearer {account.token}"})
                if r.status_code == 200:
                    return time.monotonic() - start
        await asyncio.sleep(0.2)
    raise TimeoutError(f"no recovery within {within} s")


def pids() -> dict[str, str]:
    """Each service's process id (from its pid file): a change means someone restarted it."""
    run = ENV.var / "run"
    return {s: (run / f"svc-{s}.pid").read_text().split()[0] for s in SERVICES if (run / f"svc-{s}.pid").exists()}


async def revive(services: list[str]) -> None:
    """Starts each of ``services`` whose health check does not answer (left down by a start that
    failed while a broker was away)."""
    for service in services:
        port = ENV["APP_PORT"] if service == "gateway" else ENV[f"{service.upper()}_PORT"]
        try:
            async with httpx.AsyncClient(timeout=3) as client:
                (await client.get(f"http://127.0.0.1:{port}/health")).raise_for_status()
        except httpx.HTTPError:
            await asyncio.to_thread(control, "start", f"svc-{service}")


def kill_nine(service: str) -> None:
    pid = int((ENV.var / "run" / f"svc-{service}.pid").read_text().split()[0])
    os.kill(pid, signal.SIGKILL)


async def faults(tally: Tally, account: Account, services: list[str], infra: list[str]) -> None:
    for service in services:
        await asyncio.sleep(1)
        await asyncio.to_thread(kill_nine, service)
        started = time.monotonic()
        await asyncio.sleep(0.3)
        await asyncio.to_thread(control, "start", f"svc-{service}")
        recovered = await probe(account)
        tally.recovery.append({"fault": f"kill -9 {service}", "recovery_s": round(time.monotonic() - started, 2)})
        del recovered
    for component in infra:
        await asyncio.sleep(1)
        started = time.monotonic()
        await asyncio.to_thread(control, "stop", component)
        await asyncio.to_thread(control, "start", component)
        await probe(account)
        tally.recovery.append({"fault": f"restart {component}", "recovery_s": round(time.monotonic() - started, 2)})


# ------------------------------------------------------------------ no 5xx once a fault is over

RECOVERY_WINDOW_S = 10.0
"""How long after a fault is over (the faulted component answers its health check again) the system
may still answer 5xx. From then on every route family answers without one: pooled connections the
fault killed are replaced (or retried once) by the clients, not handed to a request to fail."""

FAULTS = [f"kill -9 {s}" for s in SERVICES] + [f"restart {c}" for c in INFRA]


@dataclass
class Prober:
    """What probing every route family needs: a signed-in account with a category, an admin."""

    email: str
    token: str
    category: str
    admin_token: str

    @classmethod
    async def make(cls) -> Prober:
        async with httpx.AsyncClient(timeout=60) as client:
            [account] = await accounts(1)
            _, admin = await admin_account(client, base=AUTH)
        return cls(account.email, account.token, account.category, admin["access_token"])

    async def sign_in(self) -> httpx.Response:
        async with edge_client(timeout=15) as edge:  # its own address: the strict limit is per client
            return await edge.post("/api/v1/auth/sign-in", json={"email": self.email, "password": PASSWORD})

    async def refresh(self) -> httpx.Response:
        signed_in = await self.sign_in()
        if signed_in.status_code != 200:
            return signed_in
        async with edge_client(timeout=15) as edge:
            return await edge.post("/api/v1/auth/refresh", json={"refresh_token": signed_in.json()["refresh_token"]})

    async def sign_up(self) -> httpx.Response:
        body = {
            "email": new_email("recovery"),
            "password": PASSWORD,
            "confirm_password": PASSWORD,
            "first_name": "Re",
            "last_name": "Covery",
        }
        async with edge_client(timeout=15) as edge:
            return await edge.post("/api/v1/auth/sign-up", json=body)

    async def get(self, path: str, token: str | None = None, cookie: bool = False) -> httpx.Response:
        headers = {"authorization": f"Bearer {token}"} if token and not cookie else {}
        if cookie:
            headers["cookie"] = f"bs_session={token}"
        async with edge_client(timeout=15) as edge:
            return await edge.get(path, headers=headers)

    async def write(self) -> httpx.Response:
        async with edge_client(timeout=15) as edge:
            return await edge.post(
                "/api/v1/transactions",
                json={"category_id": self.category, "type": "income", "amount": 1, "memo": "recovery"},
                headers={"authorization": f"Bearer {self.token}", "idempotency-key": uuid.uuid4().hex},
            )

    def families(self) -> dict[str, list[Any]]:
        """Each route family and the requests that probe it (coroutine factories)."""
        return {
            "auth sign-in": [self.sign_in],
            "auth sign-up": [self.sign_up],
            "auth refresh": [self.refresh],
            "users read": [lambda: self.get("/api/v1/user", self.token)],
            "ledger read": [
                lambda: self.get("/api/v1/transactions?limit=5", self.token),
                lambda: self.get("/api/v1/balance", self.token),
                lambda: self.get("/api/v1/categories", self.token),
            ],
            "ledger write": [self.write],
            "files list": [lambda: self.get("/api/v1/upload/user", self.token)],
            "ops api": [
                lambda: self.get("/ops/api/dead-letters?limit=1", self.admin_token),
                lambda: self.get("/ops/api/groups", self.admin_token),
            ],
            "web pages": [
                lambda: self.get("/sign-in"),
                lambda: self.get("/balance", self.token, cookie=True),
                lambda: self.get("/transactions", self.token, cookie=True),
            ],
            "gateway": [
                lambda: self.get("/.well-known/jwks.json"),
                lambda: self.get("/api/docs/openapi.json"),
                lambda: self.get("/api/v1/no-such-route", self.token),
            ],
        }

    async def probe(self, per_family: int = 6) -> dict[str, Counter[str]]:
        """Every route family ``per_family`` times, all at once (concurrency is what reaches every
        pooled connection, not only the one a sequential client would reuse): family → outcomes
        (status codes, or the transport error's name)."""

        async def one(family: str, request: Any) -> tuple[str, str]:
            try:
                return family, str((await request()).status_code)
            except (httpx.HTTPError, OSError) as exc:
                return family, type(exc).__name__

        jobs = [
            one(family, requests[i % len(requests)])
            for family, requests in self.families().items()
            for i in range(per_family)
        ]
        outcomes: dict[str, Counter[str]] = {}
        for family, outcome in await asyncio.gather(*jobs):
            outcomes.setdefault(family, Counter())[outcome] += 1
        return outcomes


def server_errors(outcomes: dict[str, Counter[str]]) -> dict[str, dict[str, int]]:
    """The 5xx (and transport errors: no answer at all) of a probe, by family."""
    bad = {
        family: {o: n for o, n in counts.items() if not o.isdigit() or int(o) >= 500}
        for family, counts in outcomes.items()
    }
    return {family: found for family, found in bad.items() if found}


async def inflict(fault: str) -> float:
    """One fault of ``FAULTS``; returns when the component is up again (its health check answers),
    with the seconds that took."""
    started = time.monotonic()
    kind, _, target = fault.rpartition(" ")
    if kind == "kill -9":
        await asyncio.to_thread(kill_nine, target)
        await asyncio.sleep(0.3)
        await asyncio.to_thread(control, "start", f"svc-{target}")
    else:
        try:
            await asyncio.to_thread(control, "stop", target)
        finally:  # whatever happened, the component runs again
            await asyncio.to_thread(control, "start", target)
    return time.monotonic() - started


async def time_to_recover(prober: Prober, fault: str, within: float = 120.0) -> dict[str, Any]:
    """Measures ``RECOVERY_WINDOW_S``: seconds from the end of ``fault`` (the component answers its
    health check) to the first probe round of every route family without a 5xx (``--recovery``)."""
    await prober.probe()  # the pools hold connections the fault will kill
    took = await inflict(fault)
    start, seen = time.monotonic(), []
    while True:
        outcomes = await prober.probe(per_family=2)
        ok = not server_errors(outcomes)
        seen.append({"at_s": round(time.monotonic() - start, 1), "5xx": server_errors(outcomes)})
        if ok or time.monotonic() - start > within:
            return {
                "fault": fault,
                "fault_s": round(took, 1),
                "recovered_after_s": round(time.monotonic() - start, 1) if ok else None,
                "rounds": seen,
            }


# ------------------------------------------------------------------ the checker


async def rows(service: str, query: str, *params: Any) -> list[tuple[Any, ...]]:
    async with await psycopg.AsyncConnection.connect(ENV.database_url(service)) as conn:
        return await (await conn.execute(query, params)).fetchall()  # type: ignore[arg-type]


async def settle(pool: list[Account], within: float = 180) -> float:
    """Waits until every outbox is empty, every consumer group caught up, and users shows each
    account's ledger balance; returns how long that took."""
    start = time.monotonic()
    lag = LagMonitor(ENV.kafka_bootstrap, ALL_TOPICS)
    while time.monotonic() - start < within:
        try:
            backlog = sum([(await rows(db, "SELECT count(*) FROM es_outbox"))[0][0] for db in OUTBOX_DATABASES])
            behind = sum(v for (group, _, _), v in (await lag.measure()).items() if "." in group)
            differ = 0
            for account in pool:
                ledger = await rows("ledger", "SELECT balance FROM balances WHERE user_id = %s", account.user_id)
                users = await rows("users", "SELECT balance FROM profiles WHERE user_id = %s", account.user_id)
                differ += (ledger[0][0] if ledger else 0) != (users[0][0] if users else None)
            if backlog == 0 and behind == 0 and differ == 0:
                return time.monotonic() - start
        except Exception:
            pass
        await asyncio.sleep(1)
    raise TimeoutError("the system did not settle")


async def published_transaction_ids(user_ids: set[str]) -> set[str]:
    consumer = AIOKafkaConsumer(bootstrap_servers=ENV.kafka_bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        parts = [
            TopicPartition(TRANSACTION_EVENTS, p)
            for p in consumer.partitions_for_topic(TRANSACTION_EVENTS) or (0, 1, 2)
        ]
        consumer.assign(parts)
        ends = await consumer.end_offsets(parts)
        await consumer.seek_to_beginning(*parts)
        found: set[str] = set()

        async def behind() -> bool:
            return any([await consumer.position(tp) < ends[tp] for tp in parts])

        while await behind():
            for records in (await consumer.getmany(timeout_ms=1000, max_records=5000)).values():
                for record in records:
                    with contextlib.suppress(ContractError):
                        event = decode_event(record.value)
                        p = event.payload
                        if str(getattr(p, "user_id", "")) in user_ids and hasattr(p, "transaction_id"):
                            found.add(str(p.transaction_id))  # type: ignore[attr-defined]
        return found
    finally:
        await consumer.stop()


async def check(pool: list[Account], tally: Tally, revoked: str) -> list[str]:
    violations: list[str] = []
    users = {a.user_id for a in pool}
    store = await rows(
        "ledger",
        "SELECT data->>'transaction_id', count(*) FROM es_events"
        " WHERE event_type = 'transaction_created' AND stream_id = ANY(%s) GROUP BY 1",
        [f"ledger-{u}" for u in users],
    )
    in_store = dict(store)
    model = {
        str(tid): n
        for tid, n in await rows(
            "ledger",
            "SELECT transaction_id, count(*) FROM transactions WHERE user_id = ANY(%s::uuid[]) GROUP BY 1",
            list(users),
        )
    }
    for _, tid in tally.writes:
        if in_store.get(tid) != 1:
            violations.append(f"2xx write {tid}: {in_store.get(tid, 0)} event(s) in the store")
        if model.get(tid) != 1:
            violations.append(f"2xx write {tid}: {model.get(tid, 0)} row(s) in the read model")
    for tid in model:
        if tid not in in_store:
            violations.append(f"read model row {tid} has no event in the store")
    for tid in await published_transaction_ids(users):
        if tid not in in_store:
            violations.append(f"transaction {tid} published on Kafka but not in the store")
    for account in pool:
        ledger = await rows("ledger", "SELECT balance FROM balances WHERE user_id = %s", account.user_id)
        profile = await rows("users", "SELECT balance FROM profiles WHERE user_id = %s", account.user_id)
        if not ledger or not profile or ledger[0][0] != profile[0][0]:
            violations.append(f"{account.user_id}: users shows {profile}, the ledger {ledger}")
    for email in tally.sign_ups:
        creds = await rows("auth", "SELECT count(*) FROM credentials WHERE email = %s", email)
        profiles = await rows("users", "SELECT count(*) FROM profiles WHERE email = %s", email)
        if creds[0][0] != 1 or profiles[0][0] != 1:
            violations.append(f"sign-up {email}: {creds[0][0]} credential(s), {profiles[0][0]} profile(s)")
    for db in OUTBOX_DATABASES:
        left = (await rows(db, "SELECT count(*) FROM es_outbox"))[0][0]
        if left:
            violations.append(f"{db}: {left} outbox record(s) not published")
    async with edge_client() as edge:
        if (await edge.get("/api/v1/user", headers={"authorization": f"Bearer {revoked}"})).status_code != 401:
            violations.append("a session revoked before the faults is accepted after them")
    return violations


async def run(rounds: int, workers: int, services: list[str], infra: list[str]) -> dict[str, Any]:
    pool = await accounts(6)
    async with httpx.AsyncClient(timeout=30) as client:
        _, session = await activated_account(client, base=AUTH, prefix="chaos-revoked")
    async with edge_client() as edge:
        signed_out = await edge.post(
            "/api/v1/auth/sign-out", headers={"authorization": f"Bearer {session['access_token']}"}
        )
        assert signed_out.status_code == 200, signed_out.text
    tally, stop = Tally(), asyncio.Event()
    started = time.monotonic()
    loaders = [asyncio.create_task(load(pool, tally, stop, w)) for w in range(workers)]
    try:
        for _ in range(rounds):
            await faults(tally, pool[0], services, infra)
        await asyncio.sleep(2)
    finally:
        stop.set()
        await asyncio.gather(*loaders, return_exceptions=True)
    settled = await settle(pool)
    violations = await check(pool, tally, session["access_token"])
    return {
        "seconds": round(time.monotonic() - started, 1),
        "requests": {k: {"sent": tally.sent[k], "2xx": tally.ok[k], "other": tally.failed[k]} for k in tally.sent},
        "writes_checked": len(tally.writes),
        "sign_ups_checked": len(tally.sign_ups),
        "faults": len(tally.recovery),
        "recovery": tally.recovery,
        "settled_within_s": round(settled, 1),
        "violations": violations,
    }


async def recovery(faults: list[str]) -> list[dict[str, Any]]:
    prober = await Prober.make()
    return [await time_to_recover(prober, fault) for fault in faults]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=12)
    parser.add_argument("--recovery", action="store_true", help="only measure each fault's recovery time")
    parser.add_argument("--fault", action="append", choices=FAULTS, help="with --recovery: only these faults")
    args = parser.parse_args()
    if args.recovery:
        measured = asyncio.run(recovery(args.fault or FAULTS))
        (REPO_ROOT / "var" / "recovery.json").write_text(json.dumps(measured, indent=2))
        print(json.dumps(measured, indent=2))
        return 1 if any(m["recovered_after_s"] is None for m in measured) else 0
    result = asyncio.run(run(args.rounds, args.workers, SERVICES, list(INFRA)))
    out = REPO_ROOT / "var" / "chaos.json"
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    print(f"saved {out.relative_to(REPO_ROOT)}")
    return 1 if result["violations"] else 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    sys.exit(main())
