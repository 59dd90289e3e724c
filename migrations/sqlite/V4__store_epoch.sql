-- The store epoch (README: "Verifying tokens in other services", "Run the service"): revocation-feed cursors carry it, and it is new for
-- every new store, every import and every backup copy (so a restored backup), so a
-- verifier holding a cursor from before one of them is told to start over instead of
-- silently skipping the events that now sit under its position.
CREATE TABLE store_meta (
    name   TEXT PRIMARY KEY,
    value  INTEGER NOT NULL
) STRICT;
INSERT INTO store_meta (name, value) VALUES ('epoch', (random() & 9223372036854775807) | 1);
