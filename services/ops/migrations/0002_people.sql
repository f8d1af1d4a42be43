-- Whose e-mail address is whose (from user.created): user.deleted names the user, and the jobs'
-- dead letters (send_email, create_user) carry the address (SPEC: personal data erasure).
CREATE TABLE people (
    user_id uuid PRIMARY KEY,
    email   text NOT NULL
);
