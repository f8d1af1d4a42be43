"""Mailer benchmark (SPEC §10: ≥ 100 mails/s to the SMTP sink), beside the sink's own limit.

    .venv/bin/python bench/mailer.py [--mails 2000] [--repeat 3]

* throughput: ``--mails`` send_email jobs queued while the mailer is stopped, then drained;
  mails/s from the first to the last message the sink accepted
* limit: the same number of messages sent straight to the sink with aiosmtplib over as many
  connections as the mailer uses (what the sink itself can take)
* latency: jobs enqueued at 50/s; enqueue → accepted by the sink, p50 / p99

Needs `make up`. Results: bench/results/mailer.json.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from datetime import UTC, datetime
from email.message import EmailMessage

import aiosmtplib
from cpu import arguments, latency_medians, percentiles, save
from faststream.rabbit import RabbitBroker

from blazing_commands import CommandBus
from blazing_testing import control, stack_env
from blazing_testing.commands import welcome_job
from blazing_testing.maildir import wait_for_messages

ENV = stack_env()
CONNECTIONS = int(ENV.get("MAILER_SMTP_CONNECTIONS", "4"))


def command(job_id: uuid.UUID) -> object:
    return welcome_job(job_id, f"bench-{job_id.hex[:8]}@example.org", "bench", name="Bench")


def accepted_ns(message: EmailMessage) -> int:
    return int(str(message["X-Sink-Sequence"]).split("-", 1)[0])


async def throughput(bus: CommandBus, mails: int) -> float:
    ids = {str(uuid.uuid4()) for _ in range(mails)}
    await asyncio.to_thread(control, "stop", "svc-mailer")
    try:
        await asyncio.gather(*(bus.send(command(uuid.UUID(i))) for i in ids))  # type: ignore[arg-type]
    finally:
        await asyncio.to_thread(control, "start", "svc-mailer")
    arrived = await asyncio.to_thread(wait_for_messages, ENV.maildir, lambda m: m["X-Job-Id"] in ids, mails, 300)
    times = sorted(accepted_ns(m) for m in arrived)
    return (mails - 1) / ((times[-1] - times[0]) / 1e9)


async def sink_limit(mails: int) -> float:
    marker = str(uuid.uuid4())
    clients = [aiosmtplib.SMTP(hostname=ENV["MAIL_HOST"], port=int(ENV["MAIL_PORT"])) for _ in range(CONNECTIONS)]
    for c in clients:
        await c.connect()

    async def worker(client: aiosmtplib.SMTP, count: int) -> None:
        for _ in range(count):
            msg = EmailMessage()
            msg["From"], msg["To"], msg["Subject"] = "bench@example.org", "sink@example.org", "limit"
            msg["X-Bench-Run"] = marker
            msg.set_content("plain")
            msg.add_alternative("<p>html</p>" * 50, subtype="html")
            await client.send_message(msg)

    start = time.perf_counter()
    await asyncio.gather(*(worker(c, mails // CONNECTIONS) for c in clients))
    elapsed = time.perf_counter() - start
    for c in clients:
        await c.quit()
    return (mails // CONNECTIONS) * CONNECTIONS / elapsed


async def latency(bus: CommandBus, rate: int, seconds: int) -> dict[str, float]:
    sent_at: dict[str, int] = {}
    start = time.perf_counter()
    for i in range(rate * seconds):
        if (delay := start + i / rate - time.perf_counter()) > 0:
            await asyncio.sleep(delay)
        job_id = uuid.uuid4()
        sent_at[str(job_id)] = time.time_ns()
        await bus.send(command(job_id))  # type: ignore[arg-type]
    arrived = await asyncio.to_thread(
        wait_for_messages, ENV.maildir, lambda m: m["X-Job-Id"] in sent_at, len(sent_at), 120
    )
    lags = sorted((accepted_ns(m) - sent_at[m["X-Job-Id"]]) / 1e6 for m in arrived)
    return {**percentiles(lags), "max_ms": round(lags[-1], 1), "mails": len(lags)}


async def main() -> None:
    args = arguments(mails=2000)
    broker = RabbitBroker(ENV.rabbitmq_url, logger=None)
    async with broker:
        await broker.start()
        bus = CommandBus(broker)
        ours = [await throughput(bus, args.mails) for _ in range(args.repeat)]
        print(f"mailer throughput: {statistics.median(ours):,.0f} mails/s  runs {[round(r) for r in ours]}")
        limit = [await sink_limit(args.mails) for _ in range(args.repeat)]
        print(f"limit (straight to the sink, {CONNECTIONS} connections): {statistics.median(limit):,.0f} mails/s")
        lat = latency_medians([await latency(bus, 50, 10) for _ in range(args.repeat)])
        print(f"enqueue -> accepted at 50 mails/s: p50 {lat['p50_ms']} ms, p99 {lat['p99_ms']} ms")
    results = {
        "when": datetime.now(UTC).isoformat(),
        "throughput_mails_per_s": {"median": round(statistics.median(ours), 1), "runs": ours, "target": 100},
        "limit_sink_mails_per_s": {
            "median": round(statistics.median(limit), 1),
            "runs": limit,
            "connections": CONNECTIONS,
        },
        "latency_at_50_per_s": lat,
    }
    save(results, "mailer")


if __name__ == "__main__":
    asyncio.run(main())
