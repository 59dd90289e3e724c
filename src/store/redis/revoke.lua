-- Ends a refresh-token family (SPEC S4/S5 revoke, S6 logout).
-- KEYS[1]: the family hash; KEYS[2]: its retired-hash set
-- ARGV[1]: hash (hex) of a token of this family (current, or any retired one); empty to
--          revoke unconditionally (callers that checked ownership themselves)
-- ARGV[2]: client id that must own the family (empty: any)
-- Returns 1 when a family was revoked, 0 otherwise.
local client = redis.call('HGET', KEYS[1], 'client_id')
if not client then return 0 end
if ARGV[2] ~= '' and client ~= ARGV[2] then return 0 end
if ARGV[1] ~= '' then
  local current = redis.call('HGET', KEYS[1], 'current')
  if current ~= ARGV[1] and redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 0 then return 0 end
end
redis.call('DEL', KEYS[1], KEYS[2])
return 1
