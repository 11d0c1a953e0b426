-- SPDX-License-Identifier: ISC
-- drop_zone.lua: take one event zone out of Redis (catalog removal), so
-- that its purchases answer 404 at once, unless it shows a sale.
--
-- KEYS[1] bo:zone:{E:Z}, KEYS[2] bo:left:{E:Z}, KEYS[3] bo:zones,
-- KEYS[4] bo:seat:{E:Z}, KEYS[5] bo:own:{E:Z}, KEYS[6] bo:pend:{E:Z},
-- KEYS[7] bo:sweep:{E:Z}
-- ARGV: tag "E:Z"
--
-- Returns 1 removed, 0 nothing to remove, -2 refused: seat bits, owners,
-- pending or claimed tickets, or counters below capacity (nothing written).
local meta = redis.call('HMGET', KEYS[1], 'rows', 'cols')
if redis.call('BITCOUNT', KEYS[4]) > 0 or redis.call('HLEN', KEYS[5]) > 0 or
    redis.call('ZCARD', KEYS[6]) > 0 or redis.call('ZCARD', KEYS[7]) > 0 then
  return -2
end
if redis.call('EXISTS', KEYS[2]) == 1 then
  local z = tonumber(redis.call('HGET', KEYS[2], 'z'))
  if not z or not meta[1] or not meta[2] or
      z ~= tonumber(meta[1]) * tonumber(meta[2]) then
    return -2
  end
end
local n = redis.call('DEL', KEYS[1], KEYS[2], KEYS[4], KEYS[5])
redis.call('SREM', KEYS[3], ARGV[1])
if n > 0 then
  return 1
end
return 0
