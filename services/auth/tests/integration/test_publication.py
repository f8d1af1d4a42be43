"""Every auth.events event on Kafka is the publication of a stored event of its credential stream:
its aggregate_version is that event's stream version, and a user's events come in stream order
(issue #18) — read from the running service's topic and its event store."""

from __future__ import annotations

import uuid

import httpx
import psycopg
import pytest

from blazing_contracts import AnyEvent, decode_event
from blazing_contracts.topology import AUTH_EVENTS
from blazing_service.identity import Identity, sign
from blazing_testing import stack_env
from blazing_testing.accounts import PASSWORD, activated_account
from blazing_testing.kafka import KafkaTail

pytestmark = pytest.mark.integration
ENV = stack_env()
AUTH = f"http://127.0.0.1:{ENV['AUTH_PORT']}"


async def test_every_published_auth_event_has_its_stored_event_behind_it() -> None:
    client_ip = {"x-forwarded-for": f"10.77.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250 + 1}"}
    async with httpx.AsyncClient(timeout=30) as client, KafkaTail(ENV.kafka_bootstrap, AUTH_EVENTS) as tail:
        email, session = await activated_account(client, base=AUTH, prefix="publication")
        user_id = session["user"]["id"]
        wrong = {"email": email, "password": "Wr0ng!Passw0rd"}
        assert (await client.post(f"{AUTH}/api/v1/auth/sign-in", json=wrong, headers=client_ip)).status_code == 401
        nobody = {"email": f"nobody-{uuid.uuid4().hex[:8]}@example.org", "password": PASSWORD}
        assert (await client.post(f"{AUTH}/api/v1/auth/sign-in", json=nobody, headers=client_ip)).status_code == 401
        who = sign(
            Identity(user_id=uuid.UUID(user_id), permissions=1, session_id=uuid.UUID(session["session_id"])),
            ENV["GATEWAY_IDENTITY_SECRET"],
        )
        assert (await client.post(f"{AUTH}/api/v1/auth/sign-out", headers=who)).status_code == 200

        def mine(records: list[object]) -> list[AnyEvent]:
            events = [decode_event(r.value) for r in records]  # type: ignore[attr-defined]
            return [
                e
                for e in events
                if e.aggregate_id == user_id or getattr(e.payload, "ip", "") == client_ip["x-forwarded-for"]
            ]

        records = await tail.collect(lambda rs: "auth.sign_out" in [e.event_type for e in mine(rs)], within=30)
    events = mine(records)
    assert {"auth.account_activated", "auth.sign_in", "auth.sign_in_failed", "auth.sign_out"} <= {
        e.event_type for e in events
    }
    anonymous = [e for e in events if e.aggregate_id != user_id]
    assert len(anonymous) == 1, "the unknown address's attempt, on a stream of its own"
    assert anonymous[0].payload.user_id is None  # type: ignore[attr-defined]
    async with await psycopg.AsyncConnection.connect(ENV.database_url("auth")) as conn:
        for event in events:
            row = await (
                await conn.execute(
                    "SELECT event_type, occurred_at FROM es_events WHERE stream_id = %s AND version = %s",
                    (f"credential-{event.aggregate_id}", event.aggregate_version),
                )
            ).fetchone()
            assert row is not None, f"{event.event_type} v{event.aggregate_version}: no stored event behind it"
            assert row[1] == event.occurred_at
    versions = [e.aggregate_version for e in events if e.aggregate_id == user_id]
    assert versions == sorted(versions)
    assert len(set(versions)) == len(versions), "one stored event, one version each"
