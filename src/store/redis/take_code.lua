-- Spends an authorization code (book § Sign-in with the authorization-code flow): "fresh" for exactly one caller, which gets the
-- code; every later call marks it "replayed" and gets the family its tokens started.
-- KEYS[1]: the code hash. ARGV[1]: how long a spent code is remembered (ms).
local s = redis.call('HMGET', KEYS[1], 'state', 'code', 'family')
if not s[1] then return {'unknown'} end
if s[1] == 'fresh' then
  redis.call('HSET', KEYS[1], 'state', 'spent')
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  return {'fresh', s[2]}
end
redis.call('HSET', KEYS[1], 'state', 'replayed')
return {'replayed', s[3] or ''}
