-- SPDX-License-Identifier: ISC
-- hold_end.lua: when an ended hold's record goes (order.lua's confirm,
-- hold_expire.lua's expiry and delete).  scripts/lua2c puts it where a
-- script says "--#include hold_end"; it is not a script itself.
--
-- An ended hold's field in bo:holds:{E:Z} ("C <orderId>", "X", "D") answers
-- a confirm or DELETE again for as long as the hold's index bo:hix:{st}<id>
-- lives: 24 h past the hold's expiry (lua/order.lua sets it EX hold
-- seconds + 86400 when it makes the hold, on the same clock).  After that
-- the hold is unknown (404) whatever the field says, so the sweeper removes
-- it (hold_expire.lua): hold_ended(key, field, expires ms) scores the field
-- in bo:hend:{E:Z} (key) a minute after its index is gone (ms, Redis clock).
local HOLD_KEEP_MS = 86400000 + 60000
local function hold_ended(key, field, expires)
  redis.call('ZADD', key, tonumber(expires) + HOLD_KEEP_MS, field)
end
