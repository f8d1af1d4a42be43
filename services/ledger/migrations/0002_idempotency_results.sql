-- An Idempotency-Key keeps the first write's result (the application's, encoded), no longer the HTTP
-- answer: the columns of the earlier shape stay, nullable, so that an instance of the previous
-- version still running during a rolling deploy keeps working; its rows have no result and are
-- refused (409) rather than replayed in a shape this version does not know.
ALTER TABLE idempotency_keys
    ADD COLUMN result bytea,
    ALTER COLUMN status_code DROP NOT NULL,
    ALTER COLUMN body DROP NOT NULL;
