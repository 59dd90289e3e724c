-- Passkeys (WebAuthn Level 3; book § Passkeys): a user's discoverable credentials. `credential`
-- holds what verification needs (the public key, the sign counter, the backup flags) as
-- the WebAuthn library serialises it; `counter` and `backed_up` repeat what the API shows
-- and what a use compares and sets. A credential id belongs to one user only.
CREATE TABLE passkeys (
    id              TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_id   BLOB NOT NULL UNIQUE,
    name            TEXT NOT NULL,
    credential      TEXT NOT NULL,
    counter         INTEGER NOT NULL,
    backed_up       INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    last_used_at    INTEGER
) STRICT;
CREATE INDEX passkeys_user ON passkeys (user_id, created_at);
