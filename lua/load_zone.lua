-- SPDX-License-Identifier: ISC
-- load_zone.lua: put one event zone of the catalog into Redis without ever
-- touching what was sold.
--
-- KEYS[1] bo:zone:{E:Z}, KEYS[2] bo:left:{E:Z}, KEYS[3] bo:zones,
-- KEYS[4] bo:seat:{E:Z}, KEYS[5] bo:own:{E:Z}, KEYS[6] bo:pend:{E:Z},
-- KEYS[7] bo:sweep:{E:Z}
-- ARGV: venueId, rows, cols, price, tag "E:Z", may_create ("1" or "0")
--
-- The catalog hash is (re)written; counters are created only when absent,
-- and only if the caller found no sale of the zone elsewhere (may_create)
-- and Redis itself holds no trace of one (seat bits, owners, pending or
-- claimed tickets): full counters beside sold seats would sell them again.
-- Returns 1 if the counters were created, 0 if existing ones were kept,
-- -1 if they are absent and creating them was refused (nothing written).
local exists = redis.call('EXISTS', KEYS[2]) == 1
if not exists and (ARGV[6] == '0' or redis.call('EXISTS', KEYS[4]) == 1 or
    redis.call('EXISTS', KEYS[5]) == 1 or redis.call('ZCARD', KEYS[6]) > 0 or
    redis.call('ZCARD', KEYS[7]) > 0) then
  return -1
end
redis.call('HSET', KEYS[1], 'venue', ARGV[1], 'rows', ARGV[2],
  'cols', ARGV[3], 'price', ARGV[4])
redis.call('SADD', KEYS[3], ARGV[5])
if exists then
  return 0
end
local rows, cols = tonumber(ARGV[2]), tonumber(ARGV[3])
local args = {'z', rows * cols}
for r = 1, rows do
  args[#args + 1] = 'r' .. r
  args[#args + 1] = cols
end
redis.call('HSET', KEYS[2], unpack(args))
return 1
