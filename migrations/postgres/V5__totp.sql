-- TOTP MFA (SPEC S8): the secret sealed under the KEK (bound to the user id), pending
-- until confirmed; the last accepted time step (each step is accepted once); recovery
-- codes stored as SHA-256, single use.
CREATE TABLE user_totp (
    user_id         uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret_sealed   bytea NOT NULL,
    confirmed_at    timestamptz,
    last_step       bigint NOT NULL DEFAULT -1,
    created_at      timestamptz NOT NULL
);

CREATE TABLE recovery_codes (
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_sha256     bytea NOT NULL,
    used_at         timestamptz,
    PRIMARY KEY (user_id, code_sha256)
);
