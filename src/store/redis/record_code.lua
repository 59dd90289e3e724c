-- Records the family a spent code's tokens started, unless the code was replayed
-- meanwhile (then the caller ends that family). KEYS[1]: the code hash. ARGV[1]: family id.
if redis.call('HGET', KEYS[1], 'state') == 'spent' then
  redis.call('HSET', KEYS[1], 'family', ARGV[1])
  return 1
end
return 0
