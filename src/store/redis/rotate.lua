-- Refresh-token rotation (SPEC S4), atomic in one round trip.
-- KEYS[1]: the family hash (hash-tagged by family id)
-- ARGV: presented token hash (hex), next token hash (hex), now (unix s), idle ttl (s),
--       client id that must own the family (empty: any)
-- Returns {"rotated", user_id, client_id, scope, auth_time, amr, created_at, abs_exp}
--      or {"rejected"}.
local f = redis.call('HGETALL', KEYS[1])
if #f == 0 then return {'rejected'} end
local h = {}
for i = 1, #f, 2 do h[f[i]] = f[i + 1] end
local now = tonumber(ARGV[3])
if h.revoked == '1' then return {'rejected'} end
if tonumber(h.abs_exp) <= now then
  redis.call('DEL', KEYS[1])
  return {'rejected'}
end
if ARGV[5] ~= '' and h.client_id ~= ARGV[5] then return {'rejected'} end
if h.current ~= ARGV[1] then return {'rejected'} end
redis.call('HSET', KEYS[1], 'current', ARGV[2], 'previous', ARGV[1], 'rotated_at', now, 'last_used', now)
local ttl = math.min(tonumber(ARGV[4]), tonumber(h.abs_exp) - now)
redis.call('EXPIRE', KEYS[1], ttl)
return {'rotated', h.user_id, h.client_id, h.scope, h.auth_time, h.amr, h.created_at, h.abs_exp}
