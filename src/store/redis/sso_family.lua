-- Adds a family to a live SSO session's set, expiring with the session.
-- KEYS[1]: the session hash, KEYS[2]: its family set (same slot). ARGV[1]: family id.
local ttl = redis.call('PTTL', KEYS[1])
if ttl <= 0 then return 0 end
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('PEXPIRE', KEYS[2], ttl)
return 1
