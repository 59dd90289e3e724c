-- tessera initial schema: users, clients, signing keys, audit events (SPEC S1, S3, S10).

CREATE TABLE users (
    id              uuid PRIMARY KEY,
    email           text NOT NULL,
    email_verified  boolean NOT NULL DEFAULT false,
    name            text,
    password_hash   text NOT NULL,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    CONSTRAINT users_email_len CHECK (octet_length(email) <= 254)
);
CREATE UNIQUE INDEX users_email_key ON users (email);

CREATE TABLE clients (
    id                              text PRIMARY KEY,
    name                            text NOT NULL,
    secret_sha256                   bytea,
    public                          boolean NOT NULL,
    first_party                     boolean NOT NULL DEFAULT false,
    grant_types                     text[] NOT NULL DEFAULT '{}',
    scopes                          text[] NOT NULL DEFAULT '{}',
    audiences                       text[] NOT NULL DEFAULT '{}',
    redirect_uris                   text[] NOT NULL DEFAULT '{}',
    id_token_signed_response_alg    text NOT NULL DEFAULT 'RS256',
    access_token_ttl_seconds        integer,
    created_at                      timestamptz NOT NULL,
    updated_at                      timestamptz NOT NULL,
    -- a confidential client always has a secret, a public one never does
    CONSTRAINT clients_secret_matches_type CHECK ((public AND secret_sha256 IS NULL) OR (NOT public AND secret_sha256 IS NOT NULL))
);

CREATE TABLE signing_keys (
    kid             text PRIMARY KEY,
    alg             text NOT NULL,
    state           text NOT NULL CHECK (state IN ('next', 'active', 'retiring', 'retired')),
    -- AES-256-GCM sealed PKCS#8 DER private key, bound to the kid (never plaintext)
    private_sealed  bytea NOT NULL,
    public_jwk      jsonb NOT NULL,
    created_at      timestamptz NOT NULL,
    activated_at    timestamptz,
    retiring_at     timestamptz,
    retired_at      timestamptz,
    revoked_at      timestamptz
);
-- exactly one signing key and at most one announced successor per algorithm
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (alg) WHERE state = 'active';
CREATE UNIQUE INDEX signing_keys_one_next ON signing_keys (alg) WHERE state = 'next';

CREATE TABLE audit_events (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL,
    event_type  text NOT NULL,
    actor       text,
    user_id     uuid,
    client_id   text,
    ip          text,
    outcome     text NOT NULL,
    detail      jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_events_type_at ON audit_events (event_type, id);
CREATE INDEX audit_events_user_at ON audit_events (user_id, id) WHERE user_id IS NOT NULL;
