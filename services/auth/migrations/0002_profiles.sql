-- The profile fields the sign-in reply carries besides the credentials (the original's user object:
-- names, balance, avatar, the users context's timestamps): a read model of user.events, written
-- by auth's consumer in the same transaction as its inbox entry (a first row at sign-up).
CREATE TABLE profiles (
    user_id     uuid PRIMARY KEY,
    first_name  text NOT NULL,
    last_name   text NOT NULL,
    balance     bigint NOT NULL DEFAULT 0,
    balance_at  timestamptz,
    avatar_url  text,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);
