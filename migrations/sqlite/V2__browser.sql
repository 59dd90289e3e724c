-- The authorization-code flow (SPEC S11): remembered consents, and the browser sign-in
-- (SSO) sessions with the refresh families started under each, which Redis holds in the
-- PostgreSQL + Redis mode. Authorization codes (60 s) live in process memory.
ALTER TABLE clients ADD COLUMN post_logout_redirect_uris TEXT NOT NULL DEFAULT '[]';

CREATE TABLE consents (
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id   TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    scopes      TEXT NOT NULL,
    granted_at  INTEGER NOT NULL,
    PRIMARY KEY (user_id, client_id)
) STRICT;

CREATE TABLE sso_sessions (
    id              TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL,
    secret_sha256   BLOB NOT NULL,
    auth_time       INTEGER NOT NULL,
    amr             TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL
) STRICT;
CREATE INDEX sso_sessions_user ON sso_sessions (user_id);
CREATE INDEX sso_sessions_expiry ON sso_sessions (expires_at);

CREATE TABLE sso_families (
    sso_id      TEXT NOT NULL REFERENCES sso_sessions (id) ON DELETE CASCADE,
    family_id   TEXT NOT NULL,
    PRIMARY KEY (sso_id, family_id)
) STRICT;
