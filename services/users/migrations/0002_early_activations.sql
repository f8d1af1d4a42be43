-- Activations (auth.account_activated) that arrived before the profile existed: a sign-up answered
-- 202 while create_user was still queued, and its owner activated at once. create_user applies and
-- removes the row, in the same transaction as the profile.
CREATE TABLE early_activations (
    user_id      uuid PRIMARY KEY,
    received_at  timestamptz NOT NULL DEFAULT now()
);
