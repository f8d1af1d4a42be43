"""Real round trips through every piece of infrastructure `make up` starts."""

from __future__ import annotations

import asyncio
import ssl
import uuid
from email.message import EmailMessage

import aio_pika
import aiosmtplib
import httpx
import psycopg
import pytest
import redis.asyncio as aioredis
from faststream.kafka import KafkaBroker, KafkaMessage
from redis.exceptions import AuthenticationError, ResponseError

from blazing_contracts import decode_command, decode_event, encode_command, encode_event
from blazing_contracts import topology as t
from blazing_testing import stack_env
from blazing_testing.commands import welcome_job
from blazing_testing.events import health_check
from blazing_testing.maildir import wait_for_message
from blazing_testing.ops import stored_dead_letters

pytestmark = pytest.mark.integration
ENV = stack_env()


async def test_event_produced_and_consumed_on_kafka_through_faststream() -> None:
    instance = f"smoke-{uuid.uuid4()}"
    event = health_check(instance, service="smoke", producer="smoke-test", correlation_id=instance)
    received: asyncio.Future[tuple[bytes, dict[str, str], bytes | None]] = asyncio.get_running_loop().create_future()
    broker = KafkaBroker(ENV.kafka_bootstrap)

    @broker.subscriber(t.SYSTEM_EVENTS, group_id=instance, auto_offset_reset="earliest")
    async def on_event(msg: KafkaMessage) -> None:
        # The raw record, not FastStream's JSON decoding: contracts are decoded by msgspec.
        if decode_event(msg.body).event_id == event.event_id and not received.done():
            received.set_result((msg.body, dict(msg.headers), msg.raw_message.key))

    async with broker:
        await broker.start()
        await broker.publish(
            encode_event(event),
            topic=t.SYSTEM_EVENTS,
            key=event.aggregate_id.encode(),
            headers={"event_type": event.event_type, "correlation_id": instance},
        )
        body, headers, key = await asyncio.wait_for(received, timeout=30)
    assert decode_event(body) == event
    assert headers["event_type"] == "system.health_check"
    assert key == instance.encode()


async def test_rabbitmq_priority_overtakes_and_rejects_go_to_the_dead_letter_queue() -> None:
    connection = await aio_pika.connect_robust(ENV.rabbitmq_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        # A private queue declared exactly like a job queue, so the broker's priority and
        # dead-lettering are what is exercised, without touching a live service's queue.
        queue = await channel.declare_queue(
            f"smoke.{uuid.uuid4()}", durable=False, auto_delete=True, arguments=t.job_queue_arguments()
        )
        commands = []
        for priority in (1, 1, 2, 5, 3, 5):
            command = welcome_job(uuid.uuid4(), "smoke@example.com", "smoke", name="Smoke", priority=priority)
            commands.append(command)
            await channel.default_exchange.publish(
                aio_pika.Message(
                    body=encode_command(command),
                    priority=priority,
                    message_id=str(command.job_id),
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
                routing_key=queue.name,
            )
        order = []
        for _ in commands:
            message = await queue.get(timeout=5)
            assert message is not None
            order.append(decode_command(message.body).priority)
            if len(order) < len(commands):
                await message.ack()
            else:
                rejected_id = message.message_id
                await message.reject(requeue=False)
        assert order == [5, 5, 3, 2, 1, 1]

    # RabbitMQ dead-lettered it by itself (x-death); the ops service stored it with its origin
    [found] = await stored_dead_letters(ENV, "original_topic = %s", (queue.name,))
    assert found["error_type"] == "rejected"
    assert found["headers"]["x-original-message-id"] == rejected_id


async def test_redis_accepts_the_acl_user_and_refuses_anonymous() -> None:
    client = aioredis.Redis(
        host=ENV["REDIS_HOST"],
        port=int(ENV["REDIS_PORT"]),
        username=ENV["REDIS_USER"],
        password=ENV["REDIS_PASSWORD"],
    )
    key = f"smoke:{uuid.uuid4()}"
    async with client:
        await client.set(key, "1", ex=30)
        assert await client.get(key) == b"1"
    for kwargs in (
        {},
        {"username": ENV["REDIS_USER"], "password": "wrong"},
        {"username": "default", "password": ENV["REDIS_PASSWORD"]},
    ):
        anonymous = aioredis.Redis(host=ENV["REDIS_HOST"], port=int(ENV["REDIS_PORT"]), **kwargs)
        async with anonymous:
            with pytest.raises((AuthenticationError, ResponseError)):
                await anonymous.get(key)


@pytest.mark.parametrize("service", ["users", "auth", "ledger", "mailer", "files", "ops"])
async def test_each_service_database_admits_its_own_role_only(service: str) -> None:
    url = ENV.database_url(service)
    async with await psycopg.AsyncConnection.connect(url) as conn:
        row = await (await conn.execute("SELECT current_user, current_database()")).fetchone()
    assert row is not None
    assert row[1] == service
    other = "auth" if service != "auth" else "users"
    foreign = url.rsplit("/", 1)[0] + "/" + other
    with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
        await psycopg.AsyncConnection.connect(foreign)


async def test_email_reaches_the_maildir_through_the_smtp_sink() -> None:
    subject = f"smoke {uuid.uuid4()}"
    message = EmailMessage()
    message["From"] = ENV["MAIL_FROM_ADDRESS"]
    message["To"] = "someone@example.com"
    message["Subject"] = subject
    message.set_content("plain part")
    message.add_alternative("<p>html part</p>", subtype="html")
    await aiosmtplib.send(message, hostname=ENV["MAIL_HOST"], port=int(ENV["MAIL_PORT"]))
    stored = await asyncio.to_thread(wait_for_message, ENV.maildir, lambda m: m["Subject"] == subject)
    assert stored["X-Sink-Rcpt-To"] == "someone@example.com"
    html = stored.get_body(("html",))
    assert html is not None
    assert "html part" in html.get_content()


async def test_https_through_nginx_with_the_generated_certificate() -> None:
    context = ssl.create_default_context(cafile=str(ENV.var / "nginx/ssl/server.crt"))
    async with httpx.AsyncClient(verify=context, timeout=10) as client:
        response = await client.get("https://localhost/health")
        assert response.status_code == 200
        assert response.json()["status"] == "success"
        assert response.headers["strict-transport-security"].startswith("max-age=")
        plain = await client.get("http://localhost/api/v1/user?x=1")
        assert plain.status_code == 301
        assert plain.headers["location"] == "https://localhost/api/v1/user?x=1"
