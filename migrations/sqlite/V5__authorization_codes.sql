-- Authorization codes (RFC 6749 §4.1.2, §10.5) in the embedded store, which Redis holds in the
-- PostgreSQL + Redis mode: a code by the SHA-256 of its value, fresh (with what it binds)
-- until it is spent, then remembered as spent (with the family its tokens started) so
-- that a replay revokes what it issued, across restarts and however many codes there
-- are. Rows past expires_at (Unix µs) are swept.
CREATE TABLE authorization_codes (
    digest      BLOB PRIMARY KEY,
    code        TEXT,
    spent       INTEGER NOT NULL DEFAULT 0, -- 0 fresh, 1 used once, 2 presented again
    family_id   TEXT,
    expires_at  INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX authorization_codes_expiry ON authorization_codes (expires_at);
