-- Account lockout, atomic (SPEC S9): every password attempt on an account is counted
-- before the password is checked, so parallel attempts cannot slip past the threshold.
-- KEYS[1]: the account's lockout hash {fails, level, until}
-- ARGV[1]: now (s); ARGV[2]: threshold; ARGV[3]: first lock (s); ARGV[4]: longest lock (s);
-- ARGV[5]: how long the state is remembered without attempts (s)
-- Returns {allowed (0/1), retry_after_s}
local now = tonumber(ARGV[1])
local threshold = tonumber(ARGV[2])
local base = tonumber(ARGV[3])
local cap = tonumber(ARGV[4])
local until_ = tonumber(redis.call('HGET', KEYS[1], 'until') or 0)
if until_ > now then
  return {0, until_ - now}
end
local fails = redis.call('HINCRBY', KEYS[1], 'fails', 1)
if fails > threshold then
  local level = redis.call('HINCRBY', KEYS[1], 'level', 1)
  local duration = base * 2 ^ (level - 1)
  if duration > cap then duration = cap end
  redis.call('HSET', KEYS[1], 'until', now + duration, 'fails', 0)
  redis.call('EXPIRE', KEYS[1], duration + tonumber(ARGV[5]))
  return {0, duration}
end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[5]))
return {1, 0}
