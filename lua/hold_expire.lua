-- SPDX-License-Identifier: ISC
-- hold_expire.lua: end holds (lua/order.lua, kind "h"): every hold past its
-- expiry (the consumer's sweeper, each round), or one hold (DELETE
-- /holds/{id}).
--
-- KEYS[1] bo:zone:{E:Z}, KEYS[2] bo:left:{E:Z}, KEYS[3] bo:seat:{E:Z},
-- KEYS[4] bo:own:{E:Z}, KEYS[5] bo:holds:{E:Z}, KEYS[6] bo:hexp:{E:Z},
-- KEYS[7] bo:hend:{E:Z}; for one hold also KEYS[8] bo:pend:{E:Z},
-- KEYS[9] bo:sweep:{E:Z}, KEYS[10] bo:ords:{E:Z}
-- ARGV: holdId ("" = every due hold), max count, for one hold the SHA-256
--       of its id (a hold `ticketctl rebuild` put back confirmed from
--       MySQL is "#<that hash>" -> "C <orderId>": lua/order.lua)
--
-- Expiry is decided on the Redis clock (TIME), as the confirm decides it:
-- a confirm before the expiry and this script after it are atomic, exactly
-- one wins.  A seat is cleared only while its owner is still the hold.
-- Returns the number expired ("" mode); for one hold 1 deleted, 2 expired
-- (released now if the sweeper had not yet), 4 deleted before, 0 unknown
-- (or confirmed), {3, orderId} being confirmed into that order: its
-- message is not confirmed by the broker yet, and a publish that fails
-- gives the hold back (lua/order_release.lua), 5 active in a fenced zone (no counters:
-- its node lost writes, docs/reliability.md): the hold may have been
-- confirmed or deleted in the lost second, so it is not ended before
-- `ticketctl rebuild` says (the "" mode leaves the zone's holds alike).
-- A hold put back confirmed is confirmed whatever Redis kept under its id
-- (an AOF that lost the confirm brings it back active): 0, nothing
-- deleted.
--
-- An ended hold's field is scored in bo:hend for when its index is gone
-- (lua/lib/hold_end.lua); each "" round then removes the fields due, at
-- most max count, but never an active hold's ("A ...": a confirm that was
-- given back, lua/order_release.lua, ends again at its expiry).
--#include free_seat
--#include hold_end
--#include pending
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cols = tonumber(redis.call('HGET', KEYS[1], 'cols'))
local function release(hid, exp, list, state)
  for r, c in string.gmatch(list, '(%d+) (%d+)') do
    if cols then
      free_seat((tonumber(r) - 1) * cols + (tonumber(c) - 1), r, 'h:' .. hid)
    end
  end
  redis.call('HSET', KEYS[5], hid, state)
  redis.call('ZREM', KEYS[6], hid)
  hold_ended(KEYS[7], hid, exp)
end
local fenced = redis.call('EXISTS', KEYS[2]) == 0
if ARGV[1] == '' then
  local due = fenced and {} or redis.call('ZRANGEBYSCORE', KEYS[6], '-inf',
    now, 'LIMIT', 0, tonumber(ARGV[2]))
  for _, hid in ipairs(due) do
    local rec = redis.call('HGET', KEYS[5], hid)
    local exp, list = string.match(rec or '', '^A (%d+) (.*)$')
    if exp then
      release(hid, exp, list, 'X')
    else
      redis.call('ZREM', KEYS[6], hid)
    end
  end
  local gone = redis.call('ZRANGEBYSCORE', KEYS[7], '-inf', now, 'LIMIT', 0,
    tonumber(ARGV[2]))
  for _, f in ipairs(gone) do
    local rec = redis.call('HGET', KEYS[5], f)
    if not (rec and string.sub(rec, 1, 2) == 'A ') then
      redis.call('HDEL', KEYS[5], f)
    end
    redis.call('ZREM', KEYS[7], f)
  end
  return #due
end
if (ARGV[3] or '') ~= '' and
    redis.call('HGET', KEYS[5], '#' .. ARGV[3]) then
  return 0
end
local rec = redis.call('HGET', KEYS[5], ARGV[1])
if rec == 'X' then
  return 2
end
if rec == 'D' then
  -- written again: the caller's WAIT then covers the end a first answer
  -- could not see replicated (503), before a retry answers it ended
  redis.call('HSET', KEYS[5], ARGV[1], 'D')
  return 4
end
local exp, list = string.match(rec or '', '^A (%d+) (.*)$')
if not exp then
  local oid = string.match(rec or '', '^C (%S+)$')
  if oid and KEYS[10] and order_pending(KEYS[8], KEYS[9], oid,
      redis.call('HGET', KEYS[10], oid) or nil) then
    return {3, oid}
  end
  return 0
end
if fenced then
  return 5
end
if now >= tonumber(exp) then
  release(ARGV[1], exp, list, 'X')
  return 2
end
release(ARGV[1], exp, list, 'D')
return 1
