-- The mailer's sent log: one row per send_email job, the idempotency record.
-- status: pending  (claimed; a send may be in flight until lease_until)
--         sent     (the SMTP server accepted it)
--         retrying (the last attempt failed transiently: not delivered)
--         failed   (permanently refused or exhausted: dead-lettered)
--         uncertain(the mailer stopped while sending: never resent automatically, dead-lettered)
CREATE TABLE mail_log (
    job_id          uuid PRIMARY KEY,
    to_email        text NOT NULL,
    to_name         text NOT NULL,
    template        text NOT NULL,
    subject         text,
    status          text NOT NULL CHECK (status IN ('pending', 'sent', 'retrying', 'failed', 'uncertain')),
    attempts        integer NOT NULL DEFAULT 0,
    priority        integer NOT NULL,
    last_error      text,
    correlation_id  text,
    message_id      text,
    lease_until     timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz
);
CREATE INDEX mail_log_created ON mail_log (created_at DESC);
CREATE INDEX mail_log_to_email ON mail_log (to_email);
