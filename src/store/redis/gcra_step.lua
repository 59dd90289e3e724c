-- One step of GCRA (generic cell rate algorithm), loaded in front of gcra.lua and
-- lockout.lua. `stored`: the key's theoretical arrival time (false when it has none);
-- `count` cells a `period`, every time in one unit. Returns the arrival time this cell
-- starts from, the one to store if it is let through, the time from which it is let
-- through, and the interval between cells.
local function gcra_step(stored, now, count, period)
  local interval = period / count
  local tat = math.max(tonumber(stored or now), now)
  local new_tat = tat + interval
  return tat, new_tat, new_tat - period, interval
end
