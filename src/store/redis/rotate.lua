-- Refresh-token rotation with retry grace and reuse detection (RFC 9068, book § Endpoints), atomic, one call.
-- Memory per family is constant however often it rotates (book § Configuration): the family hash holds
-- the current token's hash and the one it replaced, nothing that grows.
-- KEYS[1]: the family hash
-- ARGV: [1] presented hash (hex), [2] next hash (hex), [3] now (unix s), [4] idle ttl (s),
--       [5] client id that must own the family (required), [6] grace (s, 0: off)
-- The next token is derived from the presented one (an HMAC under a KEK subkey), so a
-- retry of a rotation brings the same next hash: within the grace window it is answered
-- with that token again, and nothing is stored for it.
-- Returns {status, user_id, client_id, scope, auth_time, amr, created_at, abs_exp}
--   status "rotated": presented was current, next is current now
--   status "grace":   presented was retired less than grace seconds ago by the rotation
--                     that made next current: answer with next again
--   status "reused":  presented carries this family's secret handle but is neither
--                     current nor a retry within grace: an older token, so the family is
--                     deleted (only a holder of one of its tokens knows the handle)
--   or {"rejected"} for unknown families, foreign clients, expiry, a family without
--   refresh tokens, or a retry whose next token differs (the KEK changed meanwhile)
if ARGV[5] == '' then return redis.error_reply('rotate.lua: a client id is required') end
local f = redis.call('HMGET', KEYS[1], 'user_id', 'client_id', 'scope', 'auth_time', 'amr',
  'created_at', 'abs_exp', 'current', 'previous', 'rotated_at')
-- f[1..7]: the family's fields as returned; f[8] current, f[9] previous, f[10] rotated_at
if not f[2] then return {'rejected'} end
local now = tonumber(ARGV[3])
local abs_exp = tonumber(f[7])
if abs_exp <= now then
  redis.call('UNLINK', KEYS[1])
  return {'rejected'}
end
if f[2] ~= ARGV[5] then return {'rejected'} end
local current = f[8]
if not current or current == '' then return {'rejected'} end
if current == ARGV[1] then
  redis.call('HSET', KEYS[1], 'current', ARGV[2], 'previous', ARGV[1], 'rotated_at', now)
  local ttl = tonumber(ARGV[4])
  if abs_exp - now < ttl then ttl = abs_exp - now end
  redis.call('EXPIRE', KEYS[1], ttl)
  return {'rotated', f[1], f[2], f[3], f[4], f[5], f[6], f[7]}
end
if f[9] == ARGV[1] and tonumber(ARGV[6]) > 0 and now - tonumber(f[10]) < tonumber(ARGV[6]) then
  if current == ARGV[2] then return {'grace', f[1], f[2], f[3], f[4], f[5], f[6], f[7]} end
  return {'rejected'}
end
redis.call('UNLINK', KEYS[1])
return {'reused', f[1], f[2], f[3], f[4], f[5], f[6], f[7]}
