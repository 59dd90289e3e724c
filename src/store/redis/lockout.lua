-- Account lockout, atomic (book § Configuration): every password attempt on an account is counted
-- before the password is checked, so parallel attempts cannot slip past the threshold.
-- Failures count per (account, network), so a stranger's guesses lock the account only for
-- the stranger's network; a ceiling across all networks (GCRA) refuses networks the account
-- has not signed in from recently (gcra_step.lua stands in front of this script). Every key
-- shares the account's hash tag (one slot).
-- KEYS[1]: the (account, network) hash {fails, level, until, epoch}
-- KEYS[2]: the account's ceiling (GCRA theoretical arrival time, s)
-- KEYS[3]: the "account signed in from this network" marker
-- KEYS[4]: the account's epoch (a reset or unlock increments it: older state is void)
-- ARGV[1]: now (s); ARGV[2]: threshold; ARGV[3]: first lock (s); ARGV[4]: longest lock (s);
-- ARGV[5]: how long the state is remembered without attempts (s); ARGV[6]: ceiling count
-- (0: none); ARGV[7]: ceiling period (s)
-- Returns {allowed (0/1), retry_after_s}
local now = tonumber(ARGV[1])
local threshold = tonumber(ARGV[2])
local base = tonumber(ARGV[3])
local cap = tonumber(ARGV[4])
local memory = tonumber(ARGV[5])
local ceiling = tonumber(ARGV[6])
local period = tonumber(ARGV[7])
local epoch = redis.call('GET', KEYS[4]) or '0'
if redis.call('HGET', KEYS[1], 'epoch') ~= epoch then redis.call('DEL', KEYS[1]) end
local until_ = tonumber(redis.call('HGET', KEYS[1], 'until') or 0)
if until_ > now then
  return {0, until_ - now}
end
if ceiling > 0 and redis.call('EXISTS', KEYS[3]) == 0 then
  local _, new_tat, allow_at = gcra_step(redis.call('GET', KEYS[2]), now, ceiling, period)
  if now < allow_at then
    return {0, math.max(1, math.ceil(allow_at - now))}
  end
  redis.call('SET', KEYS[2], tostring(new_tat), 'EX', math.ceil(new_tat - now) + 1)
end
local fails = redis.call('HINCRBY', KEYS[1], 'fails', 1)
redis.call('HSET', KEYS[1], 'epoch', epoch)
if fails > threshold then
  local level = redis.call('HINCRBY', KEYS[1], 'level', 1)
  local duration = base * 2 ^ (level - 1)
  if duration > cap then duration = cap end
  redis.call('HSET', KEYS[1], 'until', now + duration, 'fails', 0)
  redis.call('EXPIRE', KEYS[1], duration + memory)
  return {0, duration}
end
redis.call('EXPIRE', KEYS[1], memory)
return {1, 0}
