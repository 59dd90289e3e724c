-- Email links (book § Email): a link that verifies a user's address (`verify`) or moves
-- the account to a new one (`change`). Only the SHA-256 of each token is stored; a link
-- works once, for 24 hours, and only while `email` is still what it was issued for (a
-- verify link) or still free (a change link). Expired links are swept in batches.
CREATE TABLE email_links (
    token_sha256    BLOB PRIMARY KEY,
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose         TEXT NOT NULL CHECK (purpose IN ('verify', 'change')),
    email           TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    used_at         INTEGER
) STRICT;
CREATE INDEX email_links_user ON email_links (user_id);
CREATE INDEX email_links_expiry ON email_links (expires_at);
