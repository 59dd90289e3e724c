-- Upstream identities (book § Upstream providers): each (provider, upstream subject) is
-- linked to one user. Deleting the user or the provider removes its links.
CREATE TABLE upstream_identities (
    id          TEXT PRIMARY KEY,
    user_id     UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider    TEXT NOT NULL REFERENCES upstream_providers (id) ON DELETE CASCADE,
    subject     TEXT NOT NULL,
    email       TEXT,
    linked_at   TIMESTAMPTZ NOT NULL,
    UNIQUE (provider, subject)
);
CREATE INDEX upstream_identities_user ON upstream_identities (user_id);
