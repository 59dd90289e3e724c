-- The outbox (book § Email): every message tessera sends (a password reset link today) is
-- written here in the same transaction as the change that causes it, then delivered by
-- a background worker with retries and exponential backoff, and deleted once delivered.
-- `sealed` is the message sealed under the KEK (a reset link's token is a credential);
-- `dedupe_key` makes a second write of the same message a no-op. A row whose delivery
-- gave up (`failed`) waits for an operator's retry. Workers of several instances claim
-- due rows with FOR UPDATE SKIP LOCKED and a lease (`next_attempt_at` moved on).
CREATE TABLE outbox (
    id              UUID PRIMARY KEY,
    kind            TEXT NOT NULL,
    dedupe_key      TEXT NOT NULL UNIQUE,
    sealed          BYTEA NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    last_error      TEXT,
    failed          BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX outbox_due ON outbox (failed, next_attempt_at);
