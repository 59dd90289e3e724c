-- How a client proves itself and holds its tokens (book § DPoP and PAR): its
-- token_endpoint_auth_method, the keys of a private_key_jwt client (jwks or jwks_uri),
-- dpop_bound_access_tokens, require_pushed_authorization_requests and its profile, as one
-- JSON document; `{}` is a client as before.
ALTER TABLE clients ADD COLUMN security TEXT NOT NULL DEFAULT '{}';
