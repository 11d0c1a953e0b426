-- SPDX-License-Identifier: ISC
-- release.lua: give a reserved seat back after a definite publish failure.
--
-- KEYS[1] bo:zone:{E:Z}, KEYS[2] bo:left:{E:Z}, KEYS[3] bo:seat:{E:Z},
-- KEYS[4] bo:own:{E:Z}, KEYS[5] bo:pend:{E:Z}, KEYS[6] bo:tkt:<id>
-- ARGV: row, column, ticketId, ticket JSON (the pending member)
--
-- Compare-and-release: only the owner token's holder may release, and only
-- while its ticket is still pending (not claimed by the sweeper, which may
-- already have published it, nor confirmed).
-- Returns 1 released, 0 not the owner (nothing done), -1 no longer pending
-- (nothing done: the ticket will be persisted).
local cols = tonumber(redis.call('HGET', KEYS[1], 'cols'))
if not cols then
  return 0
end
local bit = (tonumber(ARGV[1]) - 1) * cols + (tonumber(ARGV[2]) - 1)
if redis.call('HGET', KEYS[4], bit) ~= ARGV[3] then
  return 0
end
if redis.call('ZREM', KEYS[5], ARGV[4]) == 0 then
  return -1
end
redis.call('HDEL', KEYS[4], bit)
redis.call('SETBIT', KEYS[3], bit, 0)
-- a fenced zone (no counters) gets no partial ones: the rebuild computes
-- them from the seat bits
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('HINCRBY', KEYS[2], 'z', 1)
  redis.call('HINCRBY', KEYS[2], 'r' .. ARGV[1], 1)
end
redis.call('DEL', KEYS[6])
return 1
