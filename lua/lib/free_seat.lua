-- SPDX-License-Identifier: ISC
-- free_seat.lua: the one seat release of the scripts that give seats back
-- (order_release.lua, cancel.lua, hold_expire.lua).  scripts/lua2c puts it
-- where a script says "--#include free_seat"; it is not a script itself.
--
-- free_seat(b, row, owner) clears seat bit b of a zone and gives it back to
-- the zone's and its row's counters, only while the seat's owner (bo:own)
-- is still owner (a ticket id, or "h:<holdId>"); KEYS[2] bo:left:{E:Z},
-- KEYS[3] bo:seat:{E:Z}, KEYS[4] bo:own:{E:Z} in every caller.  A fenced
-- zone (no counters at all) gets no partial ones.  Returns true if freed.
local counters_known, has_counters = false, false
local function free_seat(b, row, owner)
  if redis.call('HGET', KEYS[4], b) ~= owner then
    return false
  end
  redis.call('HDEL', KEYS[4], b)
  redis.call('SETBIT', KEYS[3], b, 0)
  if not counters_known then
    counters_known = true
    has_counters = redis.call('EXISTS', KEYS[2]) == 1
  end
  if has_counters then
    redis.call('HINCRBY', KEYS[2], 'z', 1)
    redis.call('HINCRBY', KEYS[2], 'r' .. row, 1)
  end
  return true
end
