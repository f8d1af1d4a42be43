-- Every dead letter of every Kafka consumer and of the RabbitMQ jobs, as received.
CREATE TABLE dead_letters (
    dead_letter_id   uuid PRIMARY KEY,
    source           text NOT NULL CHECK (source IN ('kafka', 'rabbitmq')),
    original_topic   text NOT NULL,            -- Kafka topic, or RabbitMQ queue
    partition        integer,
    "offset"         bigint,
    key              bytea,
    value            bytea NOT NULL,
    headers          jsonb NOT NULL DEFAULT '[]',  -- [[name, base64 value], ...] in their order
    consumer_group   text NOT NULL,            -- Kafka group, or the job type
    service          text NOT NULL,
    error_type       text NOT NULL,
    error_message    text NOT NULL,
    traceback        text,
    attempts         integer NOT NULL DEFAULT 0,
    poison           boolean NOT NULL DEFAULT false,
    event_id         uuid,
    event_type       text,
    aggregate_id     text,
    fingerprint      text NOT NULL,            -- event type + consumer + error type
    first_failure_at timestamptz NOT NULL,
    last_failure_at  timestamptz NOT NULL,
    received_at      timestamptz NOT NULL DEFAULT now(),
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'replayed', 'discarded', 'quarantined')),
    replay_count     integer NOT NULL DEFAULT 0,
    last_replayed_at timestamptz
);
CREATE INDEX dead_letters_fingerprint ON dead_letters (fingerprint, status);
CREATE INDEX dead_letters_received ON dead_letters (received_at DESC, dead_letter_id);
CREATE INDEX dead_letters_status ON dead_letters (status);
CREATE INDEX dead_letters_aggregate ON dead_letters (aggregate_id);

-- What happened to each dead letter (received, replayed by which job, discarded, quarantined).
CREATE TABLE dead_letter_history (
    id             bigserial PRIMARY KEY,
    dead_letter_id uuid NOT NULL REFERENCES dead_letters ON DELETE CASCADE,
    at             timestamptz NOT NULL DEFAULT now(),
    action         text NOT NULL,
    actor          text,
    detail         text
);
CREATE INDEX dead_letter_history_item ON dead_letter_history (dead_letter_id, id);

-- Replay jobs: what to replay (a selection, a group or a filter), how fast, how far they got.
CREATE TABLE replay_jobs (
    job_id         uuid PRIMARY KEY,
    selector       jsonb NOT NULL,
    rate_per_s     integer NOT NULL CHECK (rate_per_s > 0),
    status         text NOT NULL CHECK (status IN ('queued', 'running', 'cancelled', 'completed', 'failed')),
    total          integer NOT NULL,
    replayed       integer NOT NULL DEFAULT 0,
    quarantined    integer NOT NULL DEFAULT 0,
    failed         integer NOT NULL DEFAULT 0,
    cursor_at      timestamptz,             -- resumes after (received_at, id) of the last one done
    cursor_id      uuid,
    error          text,
    created_by     text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    started_at     timestamptz,
    finished_at    timestamptz,
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX replay_jobs_status ON replay_jobs (status, created_at);

-- Append-only audit log: who did what, when, to how many.
CREATE TABLE audit_log (
    id        bigserial PRIMARY KEY,
    at        timestamptz NOT NULL DEFAULT now(),
    actor_id  uuid,
    actor     text NOT NULL,
    action    text NOT NULL,
    target    jsonb NOT NULL DEFAULT '{}',
    count     integer NOT NULL DEFAULT 0
);
CREATE FUNCTION audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END $$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_is_append_only();

-- The admins who signed in to the console (to show an e-mail beside an id in the audit log).
CREATE TABLE operators (
    user_id       uuid PRIMARY KEY,
    email         text NOT NULL,
    last_sign_in  timestamptz NOT NULL DEFAULT now()
);
