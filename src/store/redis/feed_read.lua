-- The revocation feed (SPEC S15): up to ARGV[2] entries after ARGV[1] ('' = from the
-- oldest kept), the stream's last id and the newest id trimming dropped, in one atomic
-- read, so a reader can tell "caught up" from "events after my cursor were dropped".
-- KEYS[1] the stream, KEYS[2] the newest dropped id (same slot)
local dropped = redis.call('GET', KEYS[2]) or '0-0'
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {{}, '0-0', dropped}
end
local info = redis.call('XINFO', 'STREAM', KEYS[1])
local last = '0-0'
for i = 1, #info, 2 do
  if info[i] == 'last-generated-id' then
    last = info[i + 1]
  end
end
local start = '-'
if ARGV[1] ~= '' then
  start = '(' .. ARGV[1]
end
return {redis.call('XRANGE', KEYS[1], start, '+', 'COUNT', ARGV[2]), last, dropped}
