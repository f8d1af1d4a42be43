-- Read models of the ledger streams (one stream per user), updated in the same transaction as
-- each append; rebuilt from the event store by `make rebuild SERVICE=ledger`.
CREATE TABLE categories (
    category_id  uuid PRIMARY KEY,
    user_id      uuid NOT NULL,
    name         text NOT NULL,
    description  text,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);
CREATE UNIQUE INDEX categories_name ON categories (user_id, lower(name));

CREATE TABLE transactions (
    transaction_id  uuid PRIMARY KEY,
    user_id         uuid NOT NULL,
    category_id     uuid NOT NULL,
    type            text NOT NULL CHECK (type IN ('income', 'expense')),
    amount          bigint NOT NULL CHECK (amount > 0),
    memo            text NOT NULL,
    description     text,
    occurred_on     date NOT NULL,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);
CREATE INDEX transactions_user_date ON transactions (user_id, occurred_on DESC, created_at DESC);
CREATE INDEX transactions_user_category ON transactions (user_id, category_id);

CREATE TABLE balances (
    user_id        uuid PRIMARY KEY,
    balance        bigint NOT NULL CHECK (balance >= 0),
    income_total   bigint NOT NULL,
    expense_total  bigint NOT NULL
);

-- Idempotency-Key: the first result of a write, returned again for the same key.
CREATE TABLE idempotency_keys (
    user_id      uuid NOT NULL,
    key          text NOT NULL,
    request      text NOT NULL,
    status_code  integer NOT NULL,
    body         bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key)
);
