-- Refresh-token rotation with retry grace and reuse detection (SPEC S4), atomic, one call.
-- KEYS[1]: the family hash; KEYS[2]: the set of retired token hashes (same hash tag)
-- ARGV: [1] presented hash (hex), [2] next hash (hex), [3] now (unix s), [4] idle ttl (s),
--       [5] client id that must own the family (empty: any), [6] grace (s, 0: off),
--       [7] the next token sealed under the KEK (kept only for the grace window)
-- Returns {status, user_id, client_id, scope, auth_time, amr, created_at, abs_exp, sealed}
--   status "rotated": presented was current, next is current now
--   status "grace":   presented was retired less than grace seconds ago; sealed = that
--                     rotation's next token, to answer the retry identically
--   status "reused":  presented is an older token of this family: the family is deleted
--   or {"rejected"} for unknown families, foreign clients, expiry, or unknown tokens
local f = redis.call('HGETALL', KEYS[1])
if #f == 0 then return {'rejected'} end
local h = {}
for i = 1, #f, 2 do h[f[i]] = f[i + 1] end
local now = tonumber(ARGV[3])
local fields = function(status, sealed)
  return {status, h.user_id, h.client_id, h.scope, h.auth_time, h.amr, h.created_at, h.abs_exp, sealed or ''}
end
if tonumber(h.abs_exp) <= now then
  redis.call('DEL', KEYS[1], KEYS[2])
  return {'rejected'}
end
if ARGV[5] ~= '' and h.client_id ~= ARGV[5] then return {'rejected'} end
if h.current ~= nil and h.current ~= '' and h.current == ARGV[1] then
  redis.call('HSET', KEYS[1], 'current', ARGV[2], 'previous', ARGV[1], 'rotated_at', now,
    'last_used', now, 'grace_token', ARGV[7])
  redis.call('SADD', KEYS[2], ARGV[1])
  local ttl = math.min(tonumber(ARGV[4]), tonumber(h.abs_exp) - now)
  redis.call('EXPIRE', KEYS[1], ttl)
  redis.call('EXPIRE', KEYS[2], ttl)
  return fields('rotated')
end
if h.previous == ARGV[1] and tonumber(ARGV[6]) > 0 and now - tonumber(h.rotated_at) < tonumber(ARGV[6]) then
  return fields('grace', h.grace_token)
end
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then
  redis.call('DEL', KEYS[1], KEYS[2])
  return fields('reused')
end
return {'rejected'}
