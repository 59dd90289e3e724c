-- The revocation feed (SPEC S15), which a Redis stream holds in the PostgreSQL + Redis
-- mode: id is the feed's order (AUTOINCREMENT: never reused, so a cursor never names a
-- later event), at_ms when the event was written; rows older than the feed keeps are
-- deleted as new ones are written.
CREATE TABLE revocation_feed (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms   INTEGER NOT NULL,
    record  TEXT NOT NULL
) STRICT;
CREATE INDEX revocation_feed_at ON revocation_feed (at_ms);
