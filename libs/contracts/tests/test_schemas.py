"""The committed JSON Schema / AsyncAPI documents match the Structs, and the RabbitMQ
definitions agree with the topology the services declare."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from blazing_contracts import topology
from blazing_contracts.rabbitmq_definitions import definitions, password_hash
from blazing_contracts.schema import documents, render

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"
DOCS = documents()


@pytest.mark.parametrize("name", sorted(DOCS))
def test_committed_schema_is_current(name: str) -> None:
    path = SCHEMAS / name
    assert path.is_file(), f"{name} missing: run `make contracts-schemas`"
    assert json.loads(path.read_text()) == json.loads(render(DOCS[name])), (
        f"{name} is stale: a contract changed; run `make contracts-schemas` and review the diff"
    )


def test_asyncapi_lists_every_topic_and_job_queue() -> None:
    channels = DOCS["asyncapi.json"]["channels"]
    for topic in topology.ALL_TOPICS:
        assert channels[topic]["messages"], topic
    for job in topology.ALL_JOBS:
        assert topology.job_queue(job) in channels


def test_definitions_declare_priority_queues_with_dead_lettering() -> None:
    defs = definitions("app", "secret")
    queues = {q["name"]: q["arguments"] for q in defs["queues"]}
    for job in topology.ALL_JOBS:
        args = queues[topology.job_queue(job)]
        assert args["x-max-priority"] == topology.MAX_PRIORITY
        assert args["x-dead-letter-exchange"] == topology.DEAD_LETTER_EXCHANGE
    assert topology.JOBS_DEAD_LETTER_QUEUE in queues
    for tier in topology.RETRY_TIERS:
        assert queues[tier.queue]["x-message-ttl"] == tier.delay_ms
        assert queues[tier.queue]["x-dead-letter-exchange"] == topology.COMMANDS_EXCHANGE
    assert "secret" not in json.dumps(defs)


def test_quorum_definitions_drop_priorities_and_keep_dead_lettering_and_ttl() -> None:
    """RABBITMQ_QUEUE_TYPE=quorum (the swarm stack): every queue quorum; RabbitMQ 3.10's quorum queues
    take dead-lettering and message TTL but refuse x-max-priority."""
    defs = definitions("app", "secret", queue_type="quorum")
    assert {q["arguments"]["x-queue-type"] for q in defs["queues"]} == {"quorum"}
    jobs = [q for q in defs["queues"] if q["name"] in {topology.job_queue(j) for j in topology.ALL_JOBS}]
    assert len(jobs) == len(topology.ALL_JOBS)
    for queue in jobs:
        assert "x-max-priority" not in queue["arguments"]
        assert queue["arguments"]["x-dead-letter-exchange"] == topology.DEAD_LETTER_EXCHANGE
    assert all("x-message-ttl" in q["arguments"] for q in defs["queues"] if q["name"].startswith("jobs.retry."))
    with pytest.raises(ValueError, match="unknown queue type"):
        topology.job_queue_arguments("stream")


def test_retry_delays_grow_and_cap() -> None:
    delays = [topology.retry_tier(a).delay_ms for a in range(1, 9)]
    assert delays == sorted(delays)
    assert delays[-1] == topology.RETRY_TIERS[-1].delay_ms


def test_password_hash_matches_rabbitmq_reference_vector() -> None:
    # From RabbitMQ's documentation of rabbit_password_hashing_sha256 (salt 908DC60A, "test12").
    assert password_hash("test12", bytes.fromhex("908DC60A")) == "kI3GCqW5JLMJa4iX1lo7X4D6XbYqlLgxIs30+P6tENUV2POR"
