-- SPDX-License-Identifier: ISC
-- reserve.lua: sell one seat of one event's zone, atomically.
--
-- KEYS[1] bo:zone:{E:Z}   catalog hash: venue, rows, cols, price, and the
--                         sale window: status (CANCELLED), opens, closes
--                         (ms since the epoch; absent: no limit)
-- KEYS[2] bo:left:{E:Z}   counters hash: z (zone), r<N> (row N)
-- KEYS[3] bo:seat:{E:Z}   seat bitmap
-- KEYS[4] bo:own:{E:Z}    owner tokens: bit index -> ticketId
-- KEYS[5] bo:pend:{E:Z}   tickets awaiting the broker's confirm (score: ms)
-- KEYS[6] bo:tkt:<id>     ticket cache for lookups
-- ARGV: venueId, row, column, ticketId, json head, json tail, cache ttl (s),
--       now (ms), longest price (chars), longest ticket JSON (chars)
--
-- Returns {code, text}: 0 reserved (text: price), 1 seat taken, 2 zone sold
-- out, 3 row sold out, 4 not found (zone/event/venue), 5 invalid seat,
-- 6 no counters (the zone is fenced until `ticketctl rebuild`), 7 event
-- cancelled, 8 not on sale yet (text: "<opens ms> <Redis now ms>"), 9 sale
-- closed, 10 the catalog hash is unusable (nothing written).
-- Checks run in the contract's order: existence, cancellation, sale window
-- (Redis TIME), bounds, zone counter, row counter, seat bit.  Every check,
-- the ticket JSON included, comes before the first write: a refusal or an
-- error never leaves a write behind.
local meta = redis.call('HMGET', KEYS[1], 'venue', 'rows', 'cols', 'price',
  'status', 'opens', 'closes')
if not meta[1] or meta[1] ~= ARGV[1] then
  return {4, ''}
end
if meta[5] == 'CANCELLED' then
  return {7, ''}
end
if meta[6] or meta[7] then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local opens, closes = tonumber(meta[6]), tonumber(meta[7])
  if opens and now < opens then
    return {8, meta[6] .. ' ' .. now}
  end
  if closes and now >= closes then
    return {9, ''}
  end
end
local rows, cols = tonumber(meta[2]), tonumber(meta[3])
local price = meta[4]
if not rows or not cols or rows < 1 or cols < 1 or not price or
    #price > tonumber(ARGV[9]) or not string.match(price, '^%d+%.%d%d$') then
  return {10, ''}
end
local json = ARGV[5] .. price .. ARGV[6]
if #json > tonumber(ARGV[10]) then
  return {10, ''}
end
local row, col = tonumber(ARGV[2]), tonumber(ARGV[3])
if row < 1 or row > rows or col < 1 or col > cols then
  return {5, ''}
end
local rowf = 'r' .. ARGV[2]
local left = redis.call('HMGET', KEYS[2], 'z', rowf)
-- no counters at all: the zone is fenced after a Redis failure that may
-- have lost sales (docs/reliability.md); sell nothing until rebuilt
if not left[1] and redis.call('EXISTS', KEYS[2]) == 0 then
  return {6, ''}
end
-- a missing counter reads as sold out: never sell on unknown state
if (tonumber(left[1]) or 0) <= 0 then
  return {2, ''}
end
if (tonumber(left[2]) or 0) <= 0 then
  return {3, ''}
end
local bit = (row - 1) * cols + (col - 1)
if redis.call('GETBIT', KEYS[3], bit) == 1 then
  return {1, ''}
end
redis.call('SETBIT', KEYS[3], bit, 1)
redis.call('HINCRBY', KEYS[2], 'z', -1)
redis.call('HINCRBY', KEYS[2], rowf, -1)
redis.call('HSET', KEYS[4], bit, ARGV[4])
redis.call('ZADD', KEYS[5], ARGV[8], json)
redis.call('SET', KEYS[6], json, 'EX', ARGV[7])
return {0, price}
