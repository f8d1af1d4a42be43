-- The profiles read model of the user streams (updated in the same transaction as each append),
-- with the balance the ledger's transaction events carry.
CREATE TABLE profiles (
    user_id           uuid PRIMARY KEY,
    email             text NOT NULL,
    first_name        text NOT NULL,
    last_name         text NOT NULL,
    permissions       integer NOT NULL DEFAULT 1,
    activated         boolean NOT NULL DEFAULT false,
    avatar_url        text,
    balance           bigint NOT NULL DEFAULT 0,
    balance_version   bigint NOT NULL DEFAULT 0,
    version           integer NOT NULL,
    created_by        uuid,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX profiles_email ON profiles (lower(email));
CREATE INDEX profiles_search ON profiles (lower(first_name), lower(last_name));
