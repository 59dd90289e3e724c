-- tessera embedded store (SPEC S16): everything PostgreSQL holds, plus what Redis holds
-- that must survive a restart (refresh families, the JTI blocklist, per-user cut-offs).
-- Times are INTEGER Unix microseconds; lists and JSON are TEXT (JSON); booleans INTEGER.

CREATE TABLE users (
    id              TEXT PRIMARY KEY,
    email           TEXT NOT NULL UNIQUE CHECK (length(CAST(email AS BLOB)) <= 254),
    email_verified  INTEGER NOT NULL DEFAULT 0,
    name            TEXT,
    password_hash   TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
) STRICT;

CREATE TABLE clients (
    id                              TEXT PRIMARY KEY,
    name                            TEXT NOT NULL,
    secret_sha256                   BLOB,
    public                          INTEGER NOT NULL,
    first_party                     INTEGER NOT NULL DEFAULT 0,
    grant_types                     TEXT NOT NULL DEFAULT '[]',
    scopes                          TEXT NOT NULL DEFAULT '[]',
    audiences                       TEXT NOT NULL DEFAULT '[]',
    redirect_uris                   TEXT NOT NULL DEFAULT '[]',
    id_token_signed_response_alg    TEXT NOT NULL DEFAULT 'RS256',
    access_token_ttl_seconds        INTEGER,
    created_at                      INTEGER NOT NULL,
    updated_at                      INTEGER NOT NULL,
    CHECK ((public AND secret_sha256 IS NULL) OR (NOT public AND secret_sha256 IS NOT NULL))
) STRICT;

INSERT INTO clients (id, name, public, first_party, grant_types, scopes, audiences, created_at, updated_at)
VALUES ('spa', 'First-party single-page app', 1, 1, '["password","refresh_token"]',
        '["openid","email","profile"]', '[]',
        CAST(unixepoch('subsec') * 1000000 AS INTEGER), CAST(unixepoch('subsec') * 1000000 AS INTEGER));

CREATE TABLE signing_keys (
    kid             TEXT PRIMARY KEY,
    alg             TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('next', 'active', 'retiring', 'retired')),
    private_sealed  BLOB NOT NULL,
    public_jwk      TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    activated_at    INTEGER,
    retiring_at     INTEGER,
    retired_at      INTEGER,
    revoked_at      INTEGER
) STRICT;
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (alg) WHERE state = 'active';
CREATE UNIQUE INDEX signing_keys_one_next ON signing_keys (alg) WHERE state = 'next';

CREATE TABLE keyring_version (
    singleton   INTEGER PRIMARY KEY CHECK (singleton = 1),
    version     INTEGER NOT NULL
) STRICT;
INSERT INTO keyring_version (singleton, version) VALUES (1, 1);

CREATE TABLE audit_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          INTEGER NOT NULL,
    event_type  TEXT NOT NULL,
    actor       TEXT,
    user_id     TEXT,
    client_id   TEXT,
    ip          TEXT,
    outcome     TEXT NOT NULL,
    detail      TEXT NOT NULL DEFAULT '{}'
) STRICT;
CREATE INDEX audit_events_type ON audit_events (event_type, id);
CREATE INDEX audit_events_user ON audit_events (user_id, id) WHERE user_id IS NOT NULL;
CREATE INDEX audit_events_at ON audit_events (at, id);

CREATE TABLE password_resets (
    token_sha256    BLOB PRIMARY KEY,
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    used_at         INTEGER
) STRICT;
CREATE INDEX password_resets_user ON password_resets (user_id);

CREATE TABLE user_totp (
    user_id         TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret_sealed   BLOB NOT NULL,
    confirmed_at    INTEGER,
    last_step       INTEGER NOT NULL DEFAULT -1,
    created_at      INTEGER NOT NULL
) STRICT;

CREATE TABLE recovery_codes (
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_sha256     BLOB NOT NULL,
    used_at         INTEGER,
    PRIMARY KEY (user_id, code_sha256)
) STRICT;

-- One login session each (SPEC S4): the current refresh token's hash and the one it
-- replaced, as rotate.lua keeps them; a row past expires_at (idle) or abs_exp is gone.
CREATE TABLE refresh_families (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL,
    client_id   TEXT NOT NULL,
    scope       TEXT NOT NULL,
    auth_time   INTEGER NOT NULL,
    amr         TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    abs_exp     INTEGER NOT NULL,
    current     BLOB,
    previous    BLOB,
    rotated_at  INTEGER,
    last_used   INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    ip          TEXT,
    user_agent  TEXT
) STRICT;
CREATE INDEX refresh_families_user ON refresh_families (user_id);
CREATE INDEX refresh_families_client ON refresh_families (client_id);
CREATE INDEX refresh_families_expiry ON refresh_families (expires_at);

CREATE TABLE jti_blocklist (
    jti         TEXT PRIMARY KEY,
    expires_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE user_cutoffs (
    user_id     TEXT PRIMARY KEY,
    cutoff      INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
) STRICT;
