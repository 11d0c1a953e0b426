-- SPDX-License-Identifier: ISC
-- load_zone.lua: put one event zone of the catalog into Redis without ever
-- touching what was sold.
--
-- KEYS[1] bo:zone:{E:Z}, KEYS[2] bo:left:{E:Z}, KEYS[3] bo:seat:{E:Z},
-- KEYS[3] bo:own:{E:Z}, KEYS[4] bo:pend:{E:Z}, KEYS[5] bo:sweep:{E:Z}
-- (the set bo:zones of loaded zones is kept by ticketctl, outside: it is
-- in another Redis Cluster slot)
-- ARGV: venueId, rows, cols, price, tag "E:Z", may_create ("0", "1" or
--       "2"), status, opens (ms or ""), closes (ms or "")
--
-- may_create "2" (ticketctl catalog apply, which checked the zone unsold a
-- moment ago) is "1" except for a zone whose catalog hash is there without
-- counters: fenced since the check (a Redis node that lost data), its sales
-- unknown; it is refused as sold (-2, nothing written).  init passes "1"
-- once it has accounted for every sale.
--
-- The catalog hash is (re)written; counters are created only when absent,
-- and only if the caller found no sale of the zone elsewhere (may_create)
-- and Redis itself holds no trace of one (seat bits, owners, pending or
-- claimed tickets, counters below capacity): full counters beside sold
-- seats would sell them again.  A new venue, shape or price is taken only
-- while the zone shows no sale at all; a new shape gets new counters and an
-- empty seat map (old bits would map to other seats).
-- Returns 1 if the counters were created, 0 if existing ones were kept,
-- -1 if they are absent and creating them was refused, -2 if the venue,
-- shape or price changed while the zone has sales (both: nothing written).
local old = redis.call('HMGET', KEYS[1], 'venue', 'rows', 'cols', 'price')
local exists = redis.call('EXISTS', KEYS[2]) == 1
if ARGV[6] == '2' and old[1] and not exists then
  return -2
end
local function traces()
  if ARGV[6] == '0' or redis.call('BITCOUNT', KEYS[3]) > 0 or
      redis.call('HLEN', KEYS[4]) > 0 or redis.call('ZCARD', KEYS[5]) > 0 or
      redis.call('ZCARD', KEYS[6]) > 0 then
    return true
  end
  if exists then
    local z = tonumber(redis.call('HGET', KEYS[2], 'z'))
    return z == nil or old[2] == false or old[3] == false or
      z ~= tonumber(old[2]) * tonumber(old[3])
  end
  return false
end
local reshape = old[1] and (old[1] ~= ARGV[1] or old[2] ~= ARGV[2] or
  old[3] ~= ARGV[3])
local reprice = old[4] and old[4] ~= ARGV[4]
if (reshape or reprice) and traces() then
  return -2
end
if reshape then
  redis.call('DEL', KEYS[2], KEYS[3], KEYS[4])
  exists = false
end
if not exists and (ARGV[6] == '0' or redis.call('EXISTS', KEYS[3]) == 1 or
    redis.call('EXISTS', KEYS[4]) == 1 or redis.call('ZCARD', KEYS[5]) > 0 or
    redis.call('ZCARD', KEYS[6]) > 0) then
  return -1
end
redis.call('HSET', KEYS[1], 'venue', ARGV[1], 'rows', ARGV[2],
  'cols', ARGV[3], 'price', ARGV[4])
if ARGV[7] == 'CANCELLED' then
  redis.call('HSET', KEYS[1], 'status', ARGV[7])
else
  redis.call('HDEL', KEYS[1], 'status')
end
if ARGV[8] ~= '' then
  redis.call('HSET', KEYS[1], 'opens', ARGV[8])
else
  redis.call('HDEL', KEYS[1], 'opens')
end
if ARGV[9] ~= '' then
  redis.call('HSET', KEYS[1], 'closes', ARGV[9])
else
  redis.call('HDEL', KEYS[1], 'closes')
end
if exists then
  return 0
end
local rows, cols = tonumber(ARGV[2]), tonumber(ARGV[3])
-- in HSETs of at most 1000 rows: unpack() of a 10000-row zone's 20002
-- arguments overflows Lua's stack ("too many results to unpack")
local args = {'z', rows * cols}
for r = 1, rows do
  args[#args + 1] = 'r' .. r
  args[#args + 1] = cols
  if #args >= 2000 then
    redis.call('HSET', KEYS[2], unpack(args))
    args = {}
  end
end
if #args > 0 then
  redis.call('HSET', KEYS[2], unpack(args))
end
return 1
