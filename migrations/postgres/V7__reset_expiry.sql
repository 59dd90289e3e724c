-- Expired password reset links are deleted in bounded batches by each instance's
-- background loop (book § Architecture, "Background work is bounded per step"); before
-- this nothing deleted them. The index lets one batch read only the rows it deletes.
CREATE INDEX password_resets_expiry ON password_resets (expires_at);
