-- The revocation feed (book § Verifying tokens in other services): up to ARGV[2] entries after ARGV[1] ('' = from the
-- oldest kept), the stream's last id, the newest id trimming dropped and the store epoch,
-- in one atomic read, so a reader can tell "caught up" from "events after my cursor were
-- dropped" and a cursor from another epoch (a Redis that lost its data, an import) from
-- one of this feed. The epoch is created from ARGV[3] when there is none yet.
-- KEYS[1] the stream, KEYS[2] the newest dropped id, KEYS[3] the epoch (same slot)
local epoch = redis.call('GET', KEYS[3])
if not epoch then
  epoch = ARGV[3]
  redis.call('SET', KEYS[3], epoch)
end
local dropped = redis.call('GET', KEYS[2]) or '0-0'
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {{}, '0-0', dropped, epoch}
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
return {redis.call('XRANGE', KEYS[1], start, '+', 'COUNT', ARGV[2]), last, dropped, epoch}
