-- SPDX-License-Identifier: ISC
-- claim.lua: the sweeper takes over pending entries older than a cutoff:
-- round-1 tickets (left by an upgrade), orders (order.lua) and cancellations
-- (cancel.lua), all published as they are (consumer/sweeper.c).
--
-- KEYS[1] bo:pend:{E:Z}, KEYS[2] bo:sweep:{E:Z}
-- ARGV: cutoff (ms), now (ms), max count
--
-- Moves up to max entries scored <= cutoff from pend to sweep, so that a
-- slow responder can no longer release those seats (order_release.lua needs its
-- entry in pend).  Returns every entry of sweep (claimed earlier and now),
-- which the sweeper publishes and then removes.
local old = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0,
  tonumber(ARGV[3]))
for _, json in ipairs(old) do
  redis.call('ZREM', KEYS[1], json)
  redis.call('ZADD', KEYS[2], ARGV[2], json)
end
return redis.call('ZRANGE', KEYS[2], 0, tonumber(ARGV[3]) - 1)
