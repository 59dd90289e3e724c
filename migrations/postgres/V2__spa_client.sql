-- The bootstrap first-party public client used by the SPA JSON API (SPEC S6, S14).
INSERT INTO clients (id, name, public, first_party, grant_types, scopes, audiences, created_at, updated_at)
VALUES ('spa', 'First-party single-page app', true, true, '{password,refresh_token}', '{openid,email,profile}', '{}', now(), now())
ON CONFLICT (id) DO NOTHING;
