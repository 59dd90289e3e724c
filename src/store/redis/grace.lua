-- Keeps the sealed token a rotation issued, for a retry within the grace window (SPEC S4).
-- KEYS[1]: the family hash; ARGV[1]: the hash (hex) the rotation made current; ARGV[2]: the
-- sealed token. Nothing is written if the family ended or rotated again meanwhile.
if redis.call('HGET', KEYS[1], 'current') == ARGV[1] then
  redis.call('HSET', KEYS[1], 'grace_token', ARGV[2])
  return 1
end
return 0
