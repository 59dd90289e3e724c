-- Ends an SSO session: returns the families started under it, deletes both keys.
-- KEYS[1]: the session hash, KEYS[2]: its family set (same slot).
local families = redis.call('SMEMBERS', KEYS[2])
redis.call('DEL', KEYS[1], KEYS[2])
return families
