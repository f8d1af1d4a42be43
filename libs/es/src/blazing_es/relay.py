"""``python -m blazing_es.relay --dsn … --kafka … --service …``: an outbox relay as its own process
(services run the same OutboxRelay inside their lifespan)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal

from blazing_es.outbox import OutboxRelay, kafka_producer


async def main_async(dsn: str, kafka: str, service: str, batch_size: int) -> None:
    relay = OutboxRelay(dsn, lambda: kafka_producer(kafka, f"{service}-relay"), service=service, batch_size=batch_size)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, relay.stop)
    await relay.run()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--kafka", required=True)
    parser.add_argument("--service", required=True)
    parser.add_argument("--batch-size", type=int, default=1000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asyncio.run(main_async(args.dsn, args.kafka, args.service, args.batch_size))


if __name__ == "__main__":
    main()
