-- SPDX-License-Identifier: ISC
-- pending.lua: is an order's message still unconfirmed (order.lua and
-- cancel.lua).  scripts/lua2c puts it where a script says
-- "--#include pending"; it is not a script itself.
--
-- An order waits in bo:pend:{E:Z} (then, claimed, in bo:sweep:{E:Z}) under
-- its orderId; its message is kept once, in bo:ords.  Entries written
-- before that change (boxoffice up to round 2's perf work) are the message
-- itself, and stay until the sweeper has published them (sweeper_stale_ms
-- after the upgrade; longer only while the broker is down): both are
-- looked for, the old shape only when the orderId is not found.
-- order_pending(pend, sweep, orderId, message) returns true while either
-- set holds the order.
local function order_pending(pend, sweep, oid, msg)
  if redis.call('ZSCORE', pend, oid) or redis.call('ZSCORE', sweep, oid) then
    return true
  end
  return msg ~= nil and (redis.call('ZSCORE', pend, msg) ~= false or
    redis.call('ZSCORE', sweep, msg) ~= false)
end
