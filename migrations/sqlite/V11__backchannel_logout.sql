-- OpenID Connect Back-Channel Logout 1.0 (book § Integrating): where a client hears that
-- a session it holds ended, and whether it needs the `sid` to act on it (tessera always
-- sends `sid`). Only confidential clients may have one.
ALTER TABLE clients ADD COLUMN backchannel_logout_uri TEXT;
ALTER TABLE clients ADD COLUMN backchannel_logout_session_required INTEGER NOT NULL DEFAULT 0;
