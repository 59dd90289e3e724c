-- Where RP-initiated logout may send a client's users afterwards (SPEC S11, S14).
ALTER TABLE clients ADD COLUMN post_logout_redirect_uris text[] NOT NULL DEFAULT '{}';

-- Remembered consents (SPEC S11): the scopes a user allowed a client that is not
-- first-party. SSO sessions and authorization codes live in Redis.
CREATE TABLE consents (
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id   text NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    scopes      text[] NOT NULL,
    granted_at  timestamptz NOT NULL,
    PRIMARY KEY (user_id, client_id)
);
