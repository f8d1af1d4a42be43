"""Sign-in benchmark (SPEC §10: ≥ 40 sign-ins/s, p99 ≤ 250 ms) at OWASP argon2id parameters,
beside the limit measured in the same run: bare argon2id verifications/s on the same cores.

    .venv/bin/python bench/signin.py [--users 40] [--seconds 10] [--concurrency 8] [--repeat 3]

Sign-ins go to the auth service (127.0.0.1:AUTH_PORT). Needs `make up`. Results: bench/results/signin.json.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import httpx
from argon2 import PasswordHasher
from cpu import arguments, save

from blazing_testing import stack_env
from blazing_testing.accounts import activation_code, new_email, sign_up

ENV = stack_env()
AUTH = f"http://127.0.0.1:{ENV['AUTH_PORT']}"
PASSWORD = "Bench!Passw0rd"


async def make_users(client: httpx.AsyncClient, count: int) -> list[str]:
    emails = [new_email("bench") for _ in range(count)]
    for email in emails:
        (await sign_up(client, email, PASSWORD, AUTH)).raise_for_status()
    for email in emails:
        code = await activation_code(email, within=60)
        (await client.post(f"{AUTH}/api/v1/account/activate-account", json={"code": code})).raise_for_status()
    return emails


async def sign_ins(client: httpx.AsyncClient, emails: list[str], seconds: float, concurrency: int) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def worker(i: int) -> None:
        nonlocal errors
        n = i
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            r = await client.post(
                f"{AUTH}/api/v1/auth/sign-in", json={"email": emails[n % len(emails)], "password": PASSWORD}
            )
            latencies.append(time.perf_counter() - start)
            errors += r.status_code != 200
            n += concurrency

    start = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    elapsed = time.perf_counter() - start
    latencies.sort()
    return {
        "per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(1000 * latencies[len(latencies) // 2], 1),
        "p99_ms": round(1000 * latencies[int(len(latencies) * 0.99)], 1),
        "errors": errors,
        "requests": len(latencies),
    }


def argon2_limit(seconds: float, threads: int) -> float:
    ph = PasswordHasher(memory_cost=19_456, time_cost=2, parallelism=1)
    digest = ph.hash(PASSWORD)
    deadline = time.perf_counter() + seconds

    def work() -> int:
        n = 0
        while time.perf_counter() < deadline:
            ph.verify(digest, PASSWORD)
            n += 1
        return n

    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        total = sum(pool.map(lambda _: work(), range(threads)))
    return total / (time.perf_counter() - start)


async def main() -> None:
    args = arguments(users=40, seconds=10.0, concurrency=8)
    limits = httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=args.concurrency)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        emails = await make_users(client, args.users)
        runs = [await sign_ins(client, emails, args.seconds, args.concurrency) for _ in range(args.repeat)]
    limit = [argon2_limit(min(args.seconds, 5), 2) for _ in range(args.repeat)]
    result = {
        "when": datetime.now(UTC).isoformat(),
        "argon2id": {"memory_kib": 19_456, "time_cost": 2, "parallelism": 1},
        "concurrency": args.concurrency,
        "sign_in_per_s": statistics.median(r["per_s"] for r in runs),
        "p99_ms": statistics.median(r["p99_ms"] for r in runs),
        "limit_bare_argon2_verify_per_s": round(statistics.median(limit), 1),
        "targets": {"per_s": 40, "p99_ms": 250},
        "runs": runs,
    }
    print(
        f"sign-in: {result['sign_in_per_s']}/s, p99 {result['p99_ms']} ms "
        f"(limit: bare argon2id verify {result['limit_bare_argon2_verify_per_s']}/s on 2 threads)"
    )
    save(result, "signin")


if __name__ == "__main__":
    asyncio.run(main())
