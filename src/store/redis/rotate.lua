-- Refresh-token rotation with retry grace and reuse detection (SPEC S4), atomic, one call.
-- Memory per family is constant however often it rotates (SPEC S9): the family hash holds
-- the current token's hash and the one it replaced, nothing that grows.
-- KEYS[1]: the family hash
-- ARGV: [1] presented hash (hex), [2] next hash (hex), [3] now (unix s), [4] idle ttl (s),
--       [5] client id that must own the family (required), [6] grace (s, 0: off)
-- The sealed next token for a retry is stored afterwards by grace.lua, only once this
-- rotation succeeded (no sealing for refused attempts).
-- Returns {status, user_id, client_id, scope, auth_time, amr, created_at, abs_exp, sealed}
--   status "rotated": presented was current, next is current now
--   status "grace":   presented was retired less than grace seconds ago; sealed = that
--                     rotation's next token, to answer the retry identically
--   status "reused":  presented carries this family's secret handle but is neither
--                     current nor a retry within grace: an older token, so the family is
--                     deleted (only a holder of one of its tokens knows the handle)
--   or {"rejected"} for unknown families, foreign clients, expiry, or a family without
--   refresh tokens
if ARGV[5] == '' then return redis.error_reply('rotate.lua: a client id is required') end
local f = redis.call('HGETALL', KEYS[1])
if #f == 0 then return {'rejected'} end
local h = {}
for i = 1, #f, 2 do h[f[i]] = f[i + 1] end
local now = tonumber(ARGV[3])
local fields = function(status, sealed)
  return {status, h.user_id, h.client_id, h.scope, h.auth_time, h.amr, h.created_at, h.abs_exp, sealed or ''}
end
if tonumber(h.abs_exp) <= now then
  redis.call('UNLINK', KEYS[1])
  return {'rejected'}
end
if h.client_id ~= ARGV[5] then return {'rejected'} end
if h.current == nil or h.current == '' then return {'rejected'} end
if h.current == ARGV[1] then
  redis.call('HSET', KEYS[1], 'current', ARGV[2], 'previous', ARGV[1], 'rotated_at', now,
    'last_used', now, 'grace_token', '')
  local ttl = math.min(tonumber(ARGV[4]), tonumber(h.abs_exp) - now)
  redis.call('EXPIRE', KEYS[1], ttl)
  return fields('rotated')
end
if h.previous == ARGV[1] and tonumber(ARGV[6]) > 0 and now - tonumber(h.rotated_at) < tonumber(ARGV[6]) then
  return fields('grace', h.grace_token)
end
redis.call('UNLINK', KEYS[1])
return fields('reused')
