"""The command consumer policy, the same for every job type.

Acknowledgement policy (explicit): a delivery is acknowledged only after its outcome is safe —
the handler finished (its effects committed, its reply sent), or the next attempt was confirmed on
a retry queue, or the job was confirmed on the dead-letter exchange. A crash before that leaves the
delivery unacknowledged and RabbitMQ delivers it again; handlers are idempotent by ``job_id``.

* Undecodable or invalid messages (poison): dead-lettered at once.
* Permanent errors (``is_permanent``): ``PermanentFailure`` (bad data, a 5xx from a peer, a template
  that cannot render) and the errors of bad data a handler did not expect (ValueError — with
  UnicodeError and msgspec's ValidationError —, TypeError, LookupError, a database driver's
  DataError): dead-lettered after their
  one attempt, with the reason. No retry can make bad data good; retrying them only delays the dead
  letter (a CR/LF in a name was retried 8 times over 4 minutes).
* Transient errors: ``TransientFailure``, connection trouble (OSError, TimeoutError) and anything
  else unforeseen: the next attempt is published to the retry tier of this attempt (1 s, 5 s, 15 s,
  30 s, 60 s …), which hands it back to the job queue when its delay is over; after
  ``max_attempts`` it is dead-lettered.

Dead letters go to the ``blazing_sun.commands.dlx`` exchange → ``jobs.dead_letter`` with headers
saying why (``x-error-*``), so the ops console can show and replay them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import traceback as tb
from collections.abc import Awaitable, Callable
from dataclasses import KW_ONLY, dataclass
from datetime import UTC, datetime
from typing import Any

from faststream import AckPolicy
from faststream.rabbit import Channel, ExchangeType, RabbitBroker, RabbitExchange, RabbitMessage, RabbitQueue
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind
from prometheus_client import Counter

from blazing_commands.bus import trace_headers
from blazing_contracts import AnyCommand, ContractError, decode_command, encode_command
from blazing_contracts.commands import next_attempt
from blazing_contracts.context import correlation_id_var
from blazing_contracts.topology import DEAD_LETTER_EXCHANGE, job_queue, job_queue_arguments, retry_tier

log = logging.getLogger(__name__)
_tracer = trace.get_tracer("blazing_commands")

COMMANDS_HANDLED = Counter(
    "commands_handled_total", "Command deliveries by outcome", ["service", "job_type", "outcome"]
)

DLX = RabbitExchange(DEAD_LETTER_EXCHANGE, type=ExchangeType.FANOUT, durable=True, declare=False)


class TransientFailure(Exception):
    """Worth another attempt later (a peer is down, a timeout, a 4xx from SMTP)."""


class PermanentFailure(Exception):
    """No attempt can succeed (invalid data, a refusal): dead-letter now."""


PERMANENT_ERRORS: tuple[type[Exception], ...] = (PermanentFailure, ValueError, TypeError, LookupError)
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (TransientFailure, OSError, TimeoutError)


def is_permanent(exc: BaseException) -> bool:
    """Whether no later attempt can succeed. An explicit ``TransientFailure`` / ``PermanentFailure``
    decides; then connection trouble is transient (checked before the data errors: a library may
    raise an error that is both); an error of neither kind is transient (retries are bounded)."""
    if isinstance(exc, TransientFailure):
        return False
    if isinstance(exc, PermanentFailure):
        return True
    if isinstance(exc, TRANSIENT_ERRORS):
        return False
    # DB-API 2.0's DataError (psycopg's: SQLSTATE class 22, e.g. a NUL in a text) is bad data too;
    # recognised by its standard name, as this library does not depend on a database driver
    return isinstance(exc, PERMANENT_ERRORS) or any(c.__name__ == "DataError" for c in type(exc).__mro__)


CommandHandler = Callable[[AnyCommand, RabbitMessage], Awaitable[bytes | None]]
"""Handles one command; the bytes returned are sent as the reply when the caller waits for one."""


@dataclass(eq=False)
class CommandRunner:
    broker: RabbitBroker
    _: KW_ONLY
    service: str
    job_type: str
    handler: CommandHandler
    now: Callable[[], datetime] = lambda: datetime.now(UTC)

    async def handle(self, msg: RabbitMessage) -> None:
        """Handles one delivery in a span continuing the sender's trace (``traceparent`` header)."""
        headers = msg.raw_message.headers or {}
        parent = propagate.extract({k: str(v) for k, v in headers.items() if k in ("traceparent", "tracestate")})
        with _tracer.start_as_current_span(
            f"{job_queue(self.job_type)} process",
            context=parent,
            kind=SpanKind.CONSUMER,
            attributes={"messaging.system": "rabbitmq", "messaging.destination.name": job_queue(self.job_type)},
        ):
            correlation = correlation_id_var.set(msg.correlation_id)
            try:
                await self._handle(msg)
            finally:
                correlation_id_var.reset(correlation)

    async def _handle(self, msg: RabbitMessage) -> None:
        try:
            command = decode_command(msg.body, expected_job_type=self.job_type)
        except ContractError as exc:
            await self._dead_letter(msg, exc, attempts=0, reason="poison")
            await msg.ack()
            return
        try:
            reply = await self.handler(command, msg)
        except Exception as exc:
            if is_permanent(exc):
                await self._dead_letter(msg, exc, attempts=command.attempt, reason="permanent")
            elif command.attempt >= command.max_attempts:
                await self._dead_letter(msg, exc, attempts=command.attempt, reason="exhausted")
            else:
                await self._retry(msg, command, exc)
        else:
            await self._reply(msg, reply)
            COMMANDS_HANDLED.labels(self.service, self.job_type, "done").inc()
        await msg.ack()

    async def _reply(self, msg: RabbitMessage, reply: bytes | None) -> None:
        reply_to = msg.raw_message.reply_to
        if reply is None or not reply_to:
            return
        try:
            await self.broker.publish(
                reply,
                routing_key=reply_to,
                correlation_id=msg.correlation_id,
                content_type="application/json",
                mandatory=False,
            )
        except Exception:  # the caller stopped waiting; the work itself is done
            log.info("%s reply to %s not delivered (caller gone)", self.job_type, reply_to)

    async def _retry(self, msg: RabbitMessage, command: AnyCommand, exc: Exception) -> None:
        tier = retry_tier(command.attempt)
        raw = msg.raw_message
        await self.broker.publish(
            encode_command(next_attempt(command)),
            exchange=RabbitExchange(tier.exchange, type=ExchangeType.FANOUT, durable=True, declare=False),
            routing_key=self.job_type,
            persist=True,
            priority=raw.priority,
            message_id=raw.message_id,
            correlation_id=msg.correlation_id,
            reply_to=raw.reply_to,
            content_type="application/json",
            headers={"x-last-error": f"{type(exc).__name__}: {exc}"[:1000], **trace_headers()},
        )
        COMMANDS_HANDLED.labels(self.service, self.job_type, "retried").inc()
        log.warning(
            "%s %s attempt %d/%d failed (%r); retrying in %.0fs",
            self.job_type,
            command.job_id,
            command.attempt,
            command.max_attempts,
            exc,
            tier.delay_ms / 1000,
        )

    async def _dead_letter(self, msg: RabbitMessage, exc: BaseException, *, attempts: int, reason: str) -> None:
        raw = msg.raw_message
        headers: dict[str, Any] = dict(raw.headers or {})
        headers.update(
            {
                "x-error-reason": reason,
                "x-error-type": type(exc).__name__,
                "x-error-message": str(exc)[:4000],
                "x-error-traceback": "".join(tb.format_exception(exc))[-8000:],
                "x-failed-service": self.service,
                "x-original-queue": job_queue(self.job_type),
                "x-job-type": self.job_type,
                "x-attempts": attempts,
                "x-failed-at": self.now().isoformat(),
            }
        )
        await self.broker.publish(
            msg.body,
            exchange=DLX,
            routing_key=self.job_type,
            persist=True,
            priority=raw.priority,
            message_id=raw.message_id,
            correlation_id=msg.correlation_id,
            content_type="application/json",
            headers=headers,
        )
        COMMANDS_HANDLED.labels(self.service, self.job_type, f"dead_lettered_{reason}").inc()
        log.error("%s dead-lettered (%s): %s: %s", self.job_type, reason, type(exc).__name__, exc)


class Subscription:
    """Consumes one job queue, handling up to ``concurrency`` deliveries at once (``prefetch``
    bounds what the broker hands out ahead; priorities decide what comes first)."""

    def __init__(self, runner: CommandRunner, concurrency: int) -> None:
        self._runner = runner
        self._slots = asyncio.Semaphore(concurrency)
        self._tasks: set[asyncio.Task[None]] = set()

    async def consume(self, msg: RabbitMessage) -> None:
        await self._slots.acquire()  # backpressure: the next delivery waits for a free slot
        task = asyncio.create_task(self._handle(msg))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle(self, msg: RabbitMessage) -> None:
        try:
            await self._runner.handle(msg)
        except Exception:
            # The outcome could not be made safe (the broker refused a publish): hand the delivery
            # back instead of leaving it unacknowledged, after a pause so it cannot spin.
            log.exception("%s delivery returned to the queue", self._runner.job_type)
            await asyncio.sleep(1.0)
            with contextlib.suppress(Exception):
                await msg.nack(requeue=True)
        finally:
            self._slots.release()

    async def drain(self) -> None:
        """Waits for the deliveries in hand (call before closing the broker)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


async def raw_body(msg: Any) -> Any:
    """The body as bytes, whatever its content type says: decoding is the runner's (a poison body
    labelled application/json must reach it as a poison, not fail in the framework unacknowledged)."""
    return msg.body


def subscribe(
    broker: RabbitBroker,
    runner: CommandRunner,
    *,
    prefetch: int = 16,
    concurrency: int = 1,
    queue_type: str = "classic",
) -> Subscription:
    """Consumes the job queue of ``runner.job_type`` (declared by the definitions; re-declared here
    with the very same arguments, so a service can also start against an empty broker);
    ``queue_type``: classic or quorum, as the definitions made it (RABBITMQ_QUEUE_TYPE)."""
    arguments = job_queue_arguments(queue_type)
    queue = RabbitQueue(job_queue(runner.job_type), durable=True, arguments=arguments)  # type: ignore[call-overload]
    subscription = Subscription(runner, concurrency)

    async def consume(msg: RabbitMessage) -> None:
        await subscription.consume(msg)

    consume.__name__ = f"consume_{runner.job_type}"
    broker.subscriber(
        queue,
        channel=Channel(prefetch_count=max(prefetch, concurrency)),
        ack_policy=AckPolicy.MANUAL,
        no_reply=True,
        decoder=raw_body,
    )(consume)
    return subscription
