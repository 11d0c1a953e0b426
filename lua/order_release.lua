-- SPDX-License-Identifier: ISC
-- order_release.lua: give an order's seats back after a definite publish
-- failure.
--
-- KEYS[1] bo:zone:{E:Z}, KEYS[2] bo:left:{E:Z}, KEYS[3] bo:seat:{E:Z},
-- KEYS[4] bo:own:{E:Z}, KEYS[5] bo:pend:{E:Z}, KEYS[6] bo:ords:{E:Z},
-- KEYS[7] bo:idem:{E:Z}:<key> of the request (deleted: nothing was sold, a
-- retry sells anew), or bo:idem:{E:Z}: for none, KEYS[8] bo:holds:{E:Z},
-- KEYS[9] bo:hexp:{E:Z}
-- ARGV: orderId (the pending member, lua/order.lua), the zone's slot tag
--       "{st}" of the keys by id (keys.h), the hold id ("" unless the
--       order is a confirm of a hold), the hold's expiry (ms)
--
-- Releases only while the order is still pending (not claimed by the
-- sweeper, which may already have published it, nor confirmed), and each
-- seat only while its owner is still that order's ticket.  Removes the
-- order's caches and index keys (order.lua).  The order of a confirm gives
-- its seats back to the hold, not to the sale: the hold is active again
-- ("A <expires> <r c ...>", in bo:hexp) as before the confirm, which can
-- be tried again until the hold expires (CONTRACT section 9, promise 6).
-- Returns 1 released, -1 no longer pending (nothing done: the order will
-- be persisted).
--#include free_seat
if redis.call('ZREM', KEYS[5], ARGV[1]) == 0 then
  return -1
end
local msg = redis.call('HGET', KEYS[6], ARGV[1]) or ''
local cols = tonumber(redis.call('HGET', KEYS[1], 'cols'))
local hid, hexp = ARGV[3] or '', ARGV[4] or ''
local back = hid ~= '' and string.match(hexp, '^%d+$') and
  redis.call('HGET', KEYS[8], hid) == 'C ' .. ARGV[1]
local list = {}
for tj in string.gmatch(msg, '{"ticketId":[^}]*}') do
  local tid = string.match(tj, '"ticketId":"([^"]+)"')
  local r = tonumber(string.match(tj, '"row":(%d+)'))
  local c = tonumber(string.match(tj, '"column":(%d+)'))
  if cols and tid and r and c then
    local b = (r - 1) * cols + (c - 1)
    if not back then
      free_seat(b, r, tid)
    elseif redis.call('HGET', KEYS[4], b) == tid then
      redis.call('HSET', KEYS[4], b, 'h:' .. hid)
    end
    list[#list + 1] = r .. ' ' .. c
  end
  if tid then
    redis.call('DEL', 'bo:tkt:' .. ARGV[2] .. tid, 'bo:oix:' .. ARGV[2] .. tid)
  end
end
if back then
  redis.call('HSET', KEYS[8], hid, 'A ' .. hexp .. ' ' .. table.concat(list, ' '))
  redis.call('ZADD', KEYS[9], hexp, hid)
end
redis.call('HDEL', KEYS[6], ARGV[1])
redis.call('DEL', 'bo:ord:' .. ARGV[2] .. ARGV[1], 'bo:oix:' .. ARGV[2] ..
  ARGV[1], KEYS[7])
return 1
