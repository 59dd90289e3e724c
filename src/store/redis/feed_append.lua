-- The revocation feed (book § Verifying tokens in other services): appends ARGV[3..] in order, after dropping the entries
-- older than ARGV[1] ms by Redis's own clock (instances with skewed clocks agree on it;
-- inside a script the clock stands still, so the new entries are never the ones dropped).
-- At most the oldest ARGV[2] entries (FEED_TRIM_BATCH) go per append, so an append never stalls
-- Redis on a large trim (what is left goes with the next appends). The newest dropped id is kept, so
-- a reader can tell that events after its cursor are gone.
-- KEYS[1] the stream, KEYS[2] the newest dropped id (same slot)
local batch = tonumber(ARGV[2])
local now = redis.call('TIME')
local oldest = math.max(0, tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) - tonumber(ARGV[1]))
local old = redis.call('XRANGE', KEYS[1], '-', '(' .. oldest .. '-0', 'COUNT', batch + 1)
if #old > batch then
  redis.call('SET', KEYS[2], old[batch][1])
  redis.call('XTRIM', KEYS[1], 'MINID', old[batch + 1][1])
elseif #old > 0 then
  redis.call('SET', KEYS[2], old[#old][1])
  redis.call('XTRIM', KEYS[1], 'MINID', oldest)
end
for i = 3, #ARGV do
  redis.call('XADD', KEYS[1], '*', 'r', ARGV[i])
end
return #ARGV - 2
