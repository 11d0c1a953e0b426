-- load_zone.lua: put one event zone of the catalog into Redis without ever
-- touching what was sold.
--
-- KEYS[1] bo:zone:{E:Z}, KEYS[2] bo:left:{E:Z}, KEYS[3] bo:zones
-- ARGV: venueId, rows, cols, price, tag "E:Z"
--
-- The catalog hash is (re)written; counters are created only when absent.
-- Returns 1 if the counters were created, 0 if existing ones were kept.
redis.call('HSET', KEYS[1], 'venue', ARGV[1], 'rows', ARGV[2],
  'cols', ARGV[3], 'price', ARGV[4])
redis.call('SADD', KEYS[3], ARGV[5])
if redis.call('EXISTS', KEYS[2]) == 1 then
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
