"""Dead-letter replay benchmark (SPEC §10: ≥ 2,000/s from Kafka, ≥ 1,000/s from RabbitMQ).

    .venv/bin/python bench/ops_replay.py [--kafka 20000] [--rabbitmq 10000] [--repeat 3]

For each source: dead letters whose origin is a scratch topic (or queue) are written where the
services write them (events.dead_letter, jobs.dead_letter); once the ops service stored them all,
one replay job takes them all at the highest rate allowed (OPS_REPLAY_MAX_RATE) and the rate is the
job's own start-to-finish time. Beside it, in the same run, the limit: the same records published
straight to the broker by one client (aiokafka with acks=all; aio-pika with publisher confirms).
Needs `make up`. Results: bench/results/ops_replay.json.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import aio_pika
import httpx
from aiokafka import AIOKafkaProducer
from cpu import arguments, save

from blazing_contracts.topology import DEAD_LETTER_TOPIC, JOBS_DEAD_LETTER_QUEUE
from blazing_service.identity import Identity, sign
from blazing_testing import stack_env
from blazing_testing.kafka import produce, scratch_topic
from blazing_testing.ops import dead_letter_record

ENV = stack_env()
OPS = f"http://127.0.0.1:{ENV['OPS_PORT']}"


def admin() -> dict[str, str]:
    return sign(Identity(user_id=uuid.uuid4(), permissions=100), ENV["GATEWAY_IDENTITY_SECRET"])


async def stored(client: httpx.AsyncClient, group: str, count: int, within: float = 300) -> float:
    start = time.perf_counter()
    while True:
        groups = (await client.get(f"{OPS}/ops/api/groups", params={"consumer_group": group}, headers=admin())).json()
        if groups["groups"] and groups["groups"][0]["total"] >= count:
            return time.perf_counter() - start
        if time.perf_counter() - start > within:
            raise TimeoutError(f"ops stored {groups} of {count}")
        await asyncio.sleep(0.25)


async def replay(client: httpx.AsyncClient, group: str, count: int) -> float:
    """Replays the group at the highest rate; the job's own start-to-finish rate."""
    r = await client.post(
        f"{OPS}/ops/api/replays",
        json={"filter": {"consumer_group": group}, "rate_per_s": 1_000_000},
        headers=admin(),
    )
    job_id = r.json()["job"]["job_id"]
    while True:
        job = (await client.get(f"{OPS}/ops/api/replays/{job_id}", headers=admin())).json()["job"]
        if job["status"] != "queued" and job["status"] != "running":
            break
        await asyncio.sleep(0.1)
    assert (job["status"], job["replayed"]) == ("completed", count), job
    took = (datetime.fromisoformat(job["finished_at"]) - datetime.fromisoformat(job["started_at"])).total_seconds()
    return round(count / took, 1)


async def kafka_run(client: httpx.AsyncClient, count: int) -> dict[str, Any]:
    group = f"bench-{uuid.uuid4().hex[:8]}"
    async with (
        scratch_topic(ENV.kafka_bootstrap, "ops-bench") as topic,
        scratch_topic(ENV.kafka_bootstrap, "ops-bench-peer") as peer_topic,
    ):
        records = [dead_letter_record(topic, group, n) for n in range(count)]
        await produce(ENV.kafka_bootstrap, DEAD_LETTER_TOPIC, records)
        ingest = await stored(client, group, count)
        rate = await replay(client, group, count)
        producer = AIOKafkaProducer(bootstrap_servers=ENV.kafka_bootstrap, acks="all", linger_ms=5)
        await producer.start()
        try:
            start = time.perf_counter()
            await asyncio.gather(*[await producer.send(peer_topic, r, key=b"k") for r in records])
            peer = round(count / (time.perf_counter() - start), 1)
        finally:
            await producer.stop()
    return {"replays_per_s": rate, "raw_publish_per_s": peer, "stored_within_s": round(ingest, 2)}


async def rabbit_run(client: httpx.AsyncClient, count: int) -> dict[str, Any]:
    group, queue_name = f"bench-{uuid.uuid4().hex[:8]}", f"bench.ops.{uuid.uuid4().hex[:8]}"
    connection = await aio_pika.connect_robust(ENV.rabbitmq_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        queue = await channel.declare_queue(queue_name, auto_delete=False)
        peer_queue = await channel.declare_queue(f"{queue_name}.peer", auto_delete=False)
        body = json.dumps({"job_id": str(uuid.uuid4()), "job_type": group, "payload": {"n": 1}}).encode()

        def message(n: int, headers: dict[str, Any]) -> aio_pika.Message:
            return aio_pika.Message(body, headers=headers, message_id=f"{group}-{n}", delivery_mode=2)

        dead = {
            "x-error-reason": "exhausted",
            "x-error-type": "TimeoutError",
            "x-error-message": "bench",
            "x-failed-service": "bench",
            "x-original-queue": queue_name,
            "x-job-type": group,
            "x-attempts": 5,
        }
        for start in range(0, count, 1000):
            await asyncio.gather(
                *(
                    channel.default_exchange.publish(message(n, dead), routing_key=JOBS_DEAD_LETTER_QUEUE)
                    for n in range(start, min(count, start + 1000))
                )
            )
        ingest = await stored(client, group, count)
        rate = await replay(client, group, count)
        start_peer = time.perf_counter()
        for start in range(0, count, 500):
            await asyncio.gather(
                *(
                    channel.default_exchange.publish(message(n, {"x-job-type": group}), routing_key=peer_queue.name)
                    for n in range(start, min(count, start + 500))
                )
            )
        peer = round(count / (time.perf_counter() - start_peer), 1)
        await queue.delete(if_unused=False, if_empty=False)
        await peer_queue.delete(if_unused=False, if_empty=False)
    return {"replays_per_s": rate, "raw_publish_per_s": peer, "stored_within_s": round(ingest, 2)}


async def main() -> None:
    args = arguments(kafka=20_000, rabbitmq=10_000)
    kafka, rabbit = [], []
    async with httpx.AsyncClient(timeout=60) as client:
        for _ in range(args.repeat):
            kafka.append(await kafka_run(client, args.kafka))
            print(f"kafka    {kafka[-1]}")
            rabbit.append(await rabbit_run(client, args.rabbitmq))
            print(f"rabbitmq {rabbit[-1]}")
    result = {
        "when": datetime.now(UTC).isoformat(),
        "kafka": {
            "dead_letters": args.kafka,
            "replays_per_s": statistics.median(r["replays_per_s"] for r in kafka),
            "raw_publish_per_s": statistics.median(r["raw_publish_per_s"] for r in kafka),
            "runs": kafka,
        },
        "rabbitmq": {
            "dead_letters": args.rabbitmq,
            "replays_per_s": statistics.median(r["replays_per_s"] for r in rabbit),
            "raw_publish_per_s": statistics.median(r["raw_publish_per_s"] for r in rabbit),
            "runs": rabbit,
        },
        "targets": {"kafka_per_s": 2000, "rabbitmq_per_s": 1000},
    }
    for source in ("kafka", "rabbitmq"):
        r = result[source]
        print(
            f"replay from {source}: {r['replays_per_s']:.0f}/s (one client publishing straight to the broker: "  # type: ignore[index]
            f"{r['raw_publish_per_s']:.0f}/s)"  # type: ignore[index]
        )
    save(result, "ops_replay")


if __name__ == "__main__":
    asyncio.run(main())
