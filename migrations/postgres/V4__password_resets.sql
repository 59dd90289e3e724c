-- Password reset tokens (SPEC S7): only the SHA-256 of each token is stored; single use,
-- short-lived. A user's deletion deletes their pending resets.
CREATE TABLE password_resets (
    token_sha256    bytea PRIMARY KEY,
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at      timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL,
    used_at         timestamptz
);
CREATE INDEX password_resets_user ON password_resets (user_id);
