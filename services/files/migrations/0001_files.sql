-- Uploaded files: metadata here, bytes on disk under UPLOAD_STORAGE_PATH (public/ is served by nginx).
CREATE TABLE uploads (
    upload_id      uuid PRIMARY KEY,
    user_id        uuid NOT NULL,
    original_name  text NOT NULL,
    extension      text NOT NULL,
    mime_type      text NOT NULL,
    size_bytes     bigint NOT NULL,
    sha256         text NOT NULL,
    storage_type   text NOT NULL CHECK (storage_type IN ('public', 'private')),
    storage_path   text NOT NULL UNIQUE,
    kind           text NOT NULL DEFAULT 'file' CHECK (kind IN ('file', 'avatar')),
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX uploads_user ON uploads (user_id, created_at DESC);

-- Chunked upload sessions, owned by the user who started them; chunks on disk.
CREATE TABLE chunk_sessions (
    session_id     uuid PRIMARY KEY,
    user_id        uuid NOT NULL,
    filename       text NOT NULL,
    extension      text NOT NULL,
    total_chunks   integer NOT NULL CHECK (total_chunks > 0),
    total_size     bigint NOT NULL CHECK (total_size > 0),
    storage_type   text NOT NULL CHECK (storage_type IN ('public', 'private')),
    sha256         text,                       -- what the client says the whole file hashes to
    created_at     timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL
);
CREATE INDEX chunk_sessions_user ON chunk_sessions (user_id);

CREATE TABLE chunk_parts (
    session_id     uuid NOT NULL REFERENCES chunk_sessions ON DELETE CASCADE,
    index          integer NOT NULL,
    size_bytes     integer NOT NULL,
    received_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (session_id, index)
);

-- The current avatar of each user.
CREATE TABLE avatars (
    user_id        uuid PRIMARY KEY,
    upload_id      uuid NOT NULL REFERENCES uploads ON DELETE CASCADE
);
