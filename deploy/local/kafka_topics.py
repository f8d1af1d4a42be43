"""Creates the event topics of SPEC §2.2 idempotently, or checks that they exist.

kafka_topics.py --create   create what is missing (3 partitions, 7 days retention)
kafka_topics.py --check    exit 0 only when the broker answers and every topic exists
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from blazing_contracts import topology


async def run(create: bool) -> int:
    bootstrap = f"{os.environ.get('KAFKA_HOST', '127.0.0.1')}:{os.environ.get('KAFKA_PORT', '9092')}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    try:
        await admin.start()
        existing = set(await admin.list_topics())
        missing = [t for t in topology.ALL_TOPICS if t not in existing]
        if missing and create:
            partitions = int(os.environ.get("KAFKA_NUM_PARTITIONS", str(topology.TOPIC_PARTITIONS)))
            retention_ms = int(os.environ.get("KAFKA_LOG_RETENTION_HOURS", "168")) * 3_600_000
            topics = [
                NewTopic(
                    name=t,
                    num_partitions=partitions,
                    replication_factor=1,
                    topic_configs={"retention.ms": str(retention_ms)},
                )
                for t in missing
            ]
            with contextlib.suppress(TopicAlreadyExistsError):  # a concurrent creator won
                await admin.create_topics(topics)
            print("created:", ", ".join(missing))
            return 0
        if missing:
            print("missing topics:", ", ".join(missing), file=sys.stderr)
            return 1
        return 0
    except (KafkaError, OSError) as exc:
        print(f"kafka not ready: {exc!r}", file=sys.stderr)
        return 1
    finally:
        await admin.close()


def main() -> int:
    parser = argparse.ArgumentParser()
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--create", action="store_true")
    group.add_argument("--check", action="store_true")
    args = parser.parse_args()
    return asyncio.run(run(create=args.create))


if __name__ == "__main__":
    raise SystemExit(main())
