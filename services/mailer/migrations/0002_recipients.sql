-- Who the users are by e-mail address (from user.created), so that user.deleted — which names the
-- user, not the address — erases the user's rows of the mail log (SPEC: personal data erasure).
CREATE TABLE recipients (
    user_id uuid PRIMARY KEY,
    email   text NOT NULL
);
-- the erasure and the ops API's filter look addresses up whatever their case
CREATE INDEX mail_log_to_email_lower ON mail_log (lower(to_email));
