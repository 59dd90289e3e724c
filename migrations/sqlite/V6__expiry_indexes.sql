-- Bounded expiry sweeps (book § Architecture): every expiry time the sweep deletes by has an index, so
-- one sweep reads only the rows it deletes, however many live sessions, blocklist entries
-- and cut-offs the store holds (before this, each sweep read all of them).
CREATE INDEX refresh_families_abs_exp ON refresh_families (abs_exp);
CREATE INDEX jti_blocklist_expiry ON jti_blocklist (expires_at);
CREATE INDEX user_cutoffs_expiry ON user_cutoffs (expires_at);
