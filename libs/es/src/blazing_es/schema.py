"""The tables of the event-sourcing core, created in each service's own database.

``es_events``     every stream's events; ``(stream_id, version)`` is the concurrency check.
                  ``tx_id`` (the writing transaction's id) makes tailing by position safe: see store.py.
``es_snapshots``  the latest snapshot of a stream (optional, per stream).
``es_outbox``     contract events waiting for the relay; deleted once Kafka acknowledged them.
``es_inbox``      event ids each consumer has applied (exactly-once effects).
"""

from __future__ import annotations

from psycopg import AsyncConnection

DDL = """
CREATE TABLE IF NOT EXISTS es_events (
    position        bigint GENERATED ALWAYS AS IDENTITY,
    tx_id           xid8 NOT NULL,
    stream_id       text NOT NULL,
    version         integer NOT NULL CHECK (version > 0),
    aggregate_type  text NOT NULL,
    event_id        uuid NOT NULL,
    event_type      text NOT NULL,
    schema_version  integer NOT NULL,
    data            jsonb NOT NULL,
    metadata        jsonb NOT NULL DEFAULT '{}',
    occurred_at     timestamptz NOT NULL,
    PRIMARY KEY (stream_id, version),
    UNIQUE (event_id)
);
CREATE UNIQUE INDEX IF NOT EXISTS es_events_tail ON es_events (tx_id, position);

CREATE TABLE IF NOT EXISTS es_snapshots (
    stream_id       text PRIMARY KEY,
    version         integer NOT NULL,
    state_type      text NOT NULL,
    state           jsonb NOT NULL,
    taken_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS es_outbox (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    topic           text NOT NULL,
    key             bytea,
    value           bytea NOT NULL,
    headers         jsonb NOT NULL DEFAULT '{}',
    event_id        uuid,
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE OR REPLACE FUNCTION es_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('es_outbox', '');
    RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS es_outbox_notify ON es_outbox;
CREATE TRIGGER es_outbox_notify AFTER INSERT ON es_outbox
    FOR EACH STATEMENT EXECUTE FUNCTION es_outbox_notify();

CREATE TABLE IF NOT EXISTS es_inbox (
    consumer        text NOT NULL,
    event_id        uuid NOT NULL,
    processed_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
"""

OUTBOX_CHANNEL = "es_outbox"


async def install(conn: AsyncConnection[object]) -> None:
    """Creates the tables if missing. Safe to run at every start and concurrently
    (serialised by an advisory lock)."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('blazing_es.schema'))")
        await conn.execute(DDL)
