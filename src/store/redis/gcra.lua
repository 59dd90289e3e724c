-- Rate limit check-and-count, GCRA (generic cell rate algorithm), atomic (book § Configuration).
-- KEYS[1]: the limiter key (holds the theoretical arrival time, ms)
-- ARGV[1]: now (ms); ARGV[2]: limit (requests per period); ARGV[3]: period (ms)
-- Returns {allowed (0/1), remaining, reset_ms (until fully replenished), retry_after_ms}
local now = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local period = tonumber(ARGV[3])
local interval = period / limit
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - period
if now < allow_at then
  return {0, 0, math.ceil(tat - now), math.ceil(allow_at - now)}
end
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil(new_tat - now))
local remaining = math.floor((now - allow_at) / interval)
return {1, remaining, math.ceil(new_tat - now), 0}
