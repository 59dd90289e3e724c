-- Ends a refresh-token family (RFC 7009 revocation, logout, admin and reuse paths; book § Endpoints).
-- KEYS[1]: the family hash
-- ARGV[1]: client id that must own the family (empty: any; callers that checked ownership)
-- Returns {user_id, client_id} of the family it ended (so the caller drops the index
-- entries), or {} when there was nothing to end.
local owner = redis.call('HMGET', KEYS[1], 'user_id', 'client_id')
if not owner[2] then return {} end
if ARGV[1] ~= '' and owner[2] ~= ARGV[1] then return {} end
redis.call('UNLINK', KEYS[1])
return {owner[1] or '', owner[2]}
