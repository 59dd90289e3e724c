-- Expired password reset links are swept like the other expiring rows (book § Architecture,
-- "Background work is bounded per step"): this index lets one sweep read only the rows it
-- deletes.
CREATE INDEX password_resets_expiry ON password_resets (expires_at);
