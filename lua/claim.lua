-- SPDX-License-Identifier: ISC
-- claim.lua: the sweeper takes over pending entries older than a cutoff:
-- orders (order.lua: the orderId, its message in bo:ords), cancellations
-- (cancel.lua: the message itself), and entries written before the orderId
-- became the member (an order's message itself, a round-1 ticket), all
-- published by consumer/sweeper.c.
--
-- KEYS[1] bo:pend:{E:Z}, KEYS[2] bo:sweep:{E:Z}, KEYS[3] bo:ords:{E:Z}
-- ARGV: cutoff (ms), now (ms), max count
--
-- Moves up to max entries scored <= cutoff from pend to sweep, so that a
-- slow responder can no longer release those seats (order_release.lua needs its
-- entry in pend).  Returns every entry of sweep (claimed earlier and now) as
-- pairs: the member (what the sweeper removes once published), then the
-- message to publish: "" when the member is the message (it starts with
-- "{"), also "" for an orderId whose message is missing (never written so:
-- the sweeper keeps such an entry and says so).  It writes whenever it
-- returns an entry (claimed now, or the first one scored again: nothing
-- reads a claim's score but this order), so that the sweeper's WAIT for
-- the replicas covers what it is about to publish (consumer/sweeper.c).
local old = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0,
  tonumber(ARGV[3]))
for _, m in ipairs(old) do
  redis.call('ZREM', KEYS[1], m)
  redis.call('ZADD', KEYS[2], ARGV[2], m)
end
local out = {}
for _, m in ipairs(redis.call('ZRANGE', KEYS[2], 0, tonumber(ARGV[3]) - 1)) do
  out[#out + 1] = m
  if string.sub(m, 1, 1) == '{' then
    out[#out + 1] = ''
  else
    out[#out + 1] = redis.call('HGET', KEYS[3], m) or ''
  end
end
if #old == 0 and #out > 0 then
  redis.call('ZADD', KEYS[2], ARGV[2], out[1])
end
return out
