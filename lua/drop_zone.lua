-- SPDX-License-Identifier: ISC
-- drop_zone.lua: take one event zone out of Redis (catalog removal), so
-- that its purchases answer 404 at once, unless it shows a sale.
--
-- KEYS[1] bo:zone:{E:Z}, KEYS[2] bo:left:{E:Z}, KEYS[3] bo:seat:{E:Z},
-- KEYS[3] bo:own:{E:Z}, KEYS[4] bo:pend:{E:Z}, KEYS[5] bo:sweep:{E:Z}
-- (the set bo:zones of loaded zones is kept by ticketctl, outside: it is
-- in another Redis Cluster slot)
-- ARGV: tag "E:Z"
--
-- Returns 1 removed, 0 nothing to remove, -2 refused: seat bits, owners,
-- pending or claimed tickets, or counters below capacity (nothing written).
local meta = redis.call('HMGET', KEYS[1], 'rows', 'cols')
if redis.call('BITCOUNT', KEYS[3]) > 0 or redis.call('HLEN', KEYS[4]) > 0 or
    redis.call('ZCARD', KEYS[5]) > 0 or redis.call('ZCARD', KEYS[6]) > 0 then
  return -2
end
if redis.call('EXISTS', KEYS[2]) == 1 then
  local z = tonumber(redis.call('HGET', KEYS[2], 'z'))
  if not z or not meta[1] or not meta[2] or
      z ~= tonumber(meta[1]) * tonumber(meta[2]) then
    return -2
  end
end
local n = redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
if n > 0 then
  return 1
end
return 0
