"""Names of every Kafka topic, RabbitMQ exchange and queue: the one place they are spelled."""

from __future__ import annotations

from typing import Final

import msgspec

# --------------------------------------------------------------------------- Kafka topics
USER_EVENTS: Final = "user.events"
AUTH_EVENTS: Final = "auth.events"
TRANSACTION_EVENTS: Final = "transaction.events"
CATEGORY_EVENTS: Final = "category.events"
SYSTEM_EVENTS: Final = "system.events"
DEAD_LETTER_TOPIC: Final = "events.dead_letter"

TOPIC_PARTITIONS: Final = 3

ALL_TOPICS: Final = (
    USER_EVENTS,
    AUTH_EVENTS,
    TRANSACTION_EVENTS,
    CATEGORY_EVENTS,
    SYSTEM_EVENTS,
    DEAD_LETTER_TOPIC,
)

# Record headers every event carries (SPEC §2.1), plus the ones a replay adds.
HEADER_EVENT_TYPE: Final = "event_type"
HEADER_SCHEMA_VERSION: Final = "schema_version"
HEADER_CORRELATION_ID: Final = "correlation_id"
HEADER_TRACEPARENT: Final = "traceparent"
HEADER_REPLAY_ID: Final = "replay_id"
HEADER_REPLAY_COUNT: Final = "replay_count"

# --------------------------------------------------------------------------- RabbitMQ
COMMANDS_EXCHANGE: Final = "blazing_sun.commands"
"""Direct exchange; routing key = job type; one durable priority queue per job type."""
DEAD_LETTER_EXCHANGE: Final = "blazing_sun.commands.dlx"
"""Fanout exchange where rejected and exhausted jobs go."""
JOBS_DEAD_LETTER_QUEUE: Final = "jobs.dead_letter"
MAX_PRIORITY: Final = 5

JOB_CREATE_USER: Final = "create_user"
JOB_SEND_EMAIL: Final = "send_email"
JOB_SET_AVATAR: Final = "set_avatar"
JOB_REVOKE_SESSIONS: Final = "revoke_sessions"
ALL_JOBS: Final = (JOB_CREATE_USER, JOB_SEND_EMAIL, JOB_SET_AVATAR, JOB_REVOKE_SESSIONS)


def job_queue(job_type: str) -> str:
    """The durable queue consuming one job type."""
    return f"jobs.{job_type}"


class RetryTier(msgspec.Struct, frozen=True):
    """A delay step: a fanout exchange feeding a TTL queue that dead-letters back to the jobs."""

    delay_ms: int

    @property
    def exchange(self) -> str:
        return f"blazing_sun.commands.retry.{self.delay_ms}ms"

    @property
    def queue(self) -> str:
        return f"jobs.retry.{self.delay_ms}ms"


RETRY_TIERS: Final = (
    RetryTier(1_000),
    RetryTier(5_000),
    RetryTier(15_000),
    RetryTier(30_000),
    RetryTier(60_000),
)


def retry_tier(attempt: int) -> RetryTier:
    """The delay before attempt ``attempt + 1``: grows with each failure, capped at the last tier."""
    return RETRY_TIERS[min(max(attempt, 1), len(RETRY_TIERS)) - 1]


QUEUE_TYPES: Final = ("classic", "quorum")
"""The RabbitMQ queue types the job queues may be declared as (RABBITMQ_QUEUE_TYPE): classic (the
default: one node, priorities 0..MAX_PRIORITY) or quorum (replicated over the cluster's nodes by
Raft; RabbitMQ 3.10 gives them message TTL and dead-lettering but no priorities — a job's priority
is carried and ignored there, the queue is first in, first out)."""


def queue_type_arguments(queue_type: str) -> dict[str, object]:
    if queue_type not in QUEUE_TYPES:
        raise ValueError(f"unknown queue type {queue_type!r} (one of {', '.join(QUEUE_TYPES)})")
    return {"x-queue-type": queue_type}


def job_queue_arguments(queue_type: str = "classic") -> dict[str, object]:
    """Arguments every job queue is declared with (services and definitions must agree)."""
    if queue_type == "quorum":
        return {"x-dead-letter-exchange": DEAD_LETTER_EXCHANGE, **queue_type_arguments(queue_type)}
    return {
        "x-max-priority": MAX_PRIORITY,
        "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
        **queue_type_arguments(queue_type),
    }


def retry_queue_arguments(tier: RetryTier, queue_type: str = "classic") -> dict[str, object]:
    """A retry queue holds a job for its delay, then dead-letters it back to the commands
    exchange with its original routing key (the job type)."""
    return {
        "x-message-ttl": tier.delay_ms,
        "x-dead-letter-exchange": COMMANDS_EXCHANGE,
        **queue_type_arguments(queue_type),
    }
