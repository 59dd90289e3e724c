-- The outbox (book § Email): every message tessera sends (a password reset link today) is
-- written here in the same transaction as the change that causes it, then delivered by
-- a background worker with retries and exponential backoff, and deleted once delivered.
-- `sealed` is the message sealed under the KEK (a reset link's token is a credential);
-- `dedupe_key` makes a second write of the same message a no-op. A row whose delivery
-- gave up (`failed`) waits for an operator's retry.
CREATE TABLE outbox (
    id              TEXT PRIMARY KEY,
    kind            TEXT NOT NULL,
    dedupe_key      TEXT NOT NULL UNIQUE,
    sealed          BLOB NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    last_error      TEXT,
    failed          INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX outbox_due ON outbox (failed, next_attempt_at);
