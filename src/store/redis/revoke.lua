-- Ends a refresh-token family (SPEC S4, S6 logout).
-- KEYS[1]: the family hash
-- ARGV[1]: hash (hex) of the presented token, which must be the current or the just-retired
--          one; empty to revoke unconditionally (admin, owner-checked callers)
-- Returns 1 when a family was revoked, 0 otherwise.
if ARGV[1] ~= '' then
  local current = redis.call('HGET', KEYS[1], 'current')
  local previous = redis.call('HGET', KEYS[1], 'previous')
  if current ~= ARGV[1] and previous ~= ARGV[1] then return 0 end
end
return redis.call('DEL', KEYS[1])
