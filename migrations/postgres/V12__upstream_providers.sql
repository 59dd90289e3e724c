-- Upstream identity providers (book § Upstream providers): the operator's settings as a
-- JSON document (read whole, never queried by field) and the client secret sealed under
-- the KEK (`keys rewrap` re-seals it).
CREATE TABLE upstream_providers (
    id                    TEXT PRIMARY KEY,
    settings              TEXT NOT NULL,
    client_secret_sealed  BYTEA,
    created_at            TIMESTAMPTZ NOT NULL,
    updated_at            TIMESTAMPTZ NOT NULL
);
