-- SPDX-License-Identifier: ISC
-- cancelled.lua: a sold order as its cancellations left it (cancel.lua's
-- answers and caches, order.lua's answer to a confirm of a hold whose
-- order was cancelled since).  scripts/lua2c puts it where a script says
-- "--#include cancelled"; it is not a script itself.
--
-- ticket_cancelled(ticket JSON, cancelledOn) is the ticket CANCELLED with
-- its stamp last; order_cancelled(head, last stamp) the order's head
-- (orderId .. createdOn) CANCELLED, as MySQL answers it: the last of its
-- tickets' stamps after createdOn.  order_now(bo:ords key, order
-- message) is the message with the cancellations bo:ords records
-- ("c:<ticketId>" -> its cancelledOn, lua/cancel.lua) applied: each
-- cancelled ticket, and the head once every ticket is.
local function ticket_cancelled(tj, when)
  local t = string.gsub(tj, '"status":"CREATED"', '"status":"CANCELLED"')
  return string.sub(t, 1, -2) .. ',"cancelledOn":"' .. when .. '"}'
end
local function order_cancelled(head, last)
  return string.gsub(head, '"status":"CONFIRMED"', '"status":"CANCELLED"', 1) ..
    ',"cancelledOn":"' .. last .. '"'
end
local function order_now(ords, msg)
  local all, last, any = true, '', false
  local out = string.gsub(msg, '{"ticketId":[^}]*}', function(tj)
    local tid = string.match(tj, '"ticketId":"([^"]+)"')
    local when = redis.call('HGET', ords, 'c:' .. tid)
    if not when then
      all = false
      return tj
    end
    any = true
    if when > last then
      last = when
    end
    return ticket_cancelled(tj, when)
  end)
  if not any then
    return msg
  end
  if all then
    local pre, head, rest = string.match(out,
      '^({"type":"order",)(.-)(,"cancelHash".*)$')
    out = pre .. order_cancelled(head, last) .. rest
  end
  return out
end
