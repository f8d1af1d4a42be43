-- Credentials (a read model of the credential streams, updated in the same transaction as each
-- append), one-time codes, sessions with rotating refresh tokens, and the token signing keys.
CREATE TABLE credentials (
    user_id               uuid PRIMARY KEY,
    email                 text NOT NULL,
    first_name            text NOT NULL,
    password_hash         text,
    status                text NOT NULL CHECK (status IN ('pending', 'active')),
    permissions           integer NOT NULL DEFAULT 1,
    must_set_password     boolean NOT NULL DEFAULT false,
    failed_attempts       integer NOT NULL DEFAULT 0,
    failure_window_start  timestamptz,
    locked_until          timestamptz,
    profile_confirmed     boolean NOT NULL DEFAULT false,
    version               integer NOT NULL,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX credentials_email ON credentials (lower(email));

CREATE TABLE one_time_codes (
    code_hash   bytea PRIMARY KEY,
    user_id     uuid NOT NULL,
    purpose     text NOT NULL CHECK (purpose IN ('activation', 'forgot_password', 'must_set_password', 'password_change')),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    revoked_at  timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX one_time_codes_user ON one_time_codes (user_id, purpose);

CREATE TABLE sessions (
    session_id      uuid PRIMARY KEY,
    user_id         uuid NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    last_seen_at    timestamptz NOT NULL DEFAULT now(),
    ip              text,
    user_agent      text,
    revoked_at      timestamptz,
    revoked_reason  text
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_revoked ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;

CREATE TABLE refresh_tokens (
    token_hash  bytea PRIMARY KEY,
    session_id  uuid NOT NULL REFERENCES sessions ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    rotated_at  timestamptz
);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

CREATE TABLE signing_keys (
    kid           text PRIMARY KEY,
    private_pem   text NOT NULL,
    public_jwk    jsonb NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    retire_after  timestamptz NOT NULL
);
