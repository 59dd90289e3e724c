-- Rate limit check-and-count, GCRA (generic cell rate algorithm), atomic (book § Configuration);
-- gcra_step.lua stands in front of it.
-- KEYS[1]: the limiter key (holds the theoretical arrival time, ms)
-- ARGV[1]: now (ms); ARGV[2]: limit (requests per period); ARGV[3]: period (ms)
-- Returns {allowed (0/1), remaining, reset_ms (until fully replenished), retry_after_ms}
local now = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local period = tonumber(ARGV[3])
local tat, new_tat, allow_at, interval = gcra_step(redis.call('GET', KEYS[1]), now, limit, period)
if now < allow_at then
  return {0, 0, math.ceil(tat - now), math.ceil(allow_at - now)}
end
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil(new_tat - now))
local remaining = math.floor((now - allow_at) / interval)
return {1, remaining, math.ceil(new_tat - now), 0}
