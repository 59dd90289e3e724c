-- Admin plane (SPEC S3, S10, S12): a key-ring version every instance polls as the fallback
-- to the Redis change notification, and a time index for audit queries.

CREATE TABLE keyring_version (
    singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    version     bigint NOT NULL
);
INSERT INTO keyring_version (singleton, version) VALUES (true, 1);

CREATE INDEX audit_events_at ON audit_events (at, id);
