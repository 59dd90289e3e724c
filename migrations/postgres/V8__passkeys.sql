-- Passkeys (WebAuthn Level 3; book § Passkeys): a user's discoverable credentials. `credential`
-- holds what verification needs (the public key, the sign counter, the backup flags) as
-- the WebAuthn library serialises it; `counter` and `backed_up` repeat what the API shows
-- and what a use compares and sets. A credential id belongs to one user only.
CREATE TABLE passkeys (
    id              uuid PRIMARY KEY,
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_id   bytea NOT NULL UNIQUE,
    name            text NOT NULL,
    credential      jsonb NOT NULL,
    counter         bigint NOT NULL,
    backed_up       boolean NOT NULL,
    created_at      timestamptz NOT NULL,
    last_used_at    timestamptz
);
CREATE INDEX passkeys_user ON passkeys (user_id, created_at);
