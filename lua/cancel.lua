-- SPDX-License-Identifier: ISC
-- cancel.lua: cancel an order, or one ticket of it, with its cancel token.
--
-- KEYS[1] bo:zone:{E:Z}, KEYS[2] bo:left:{E:Z}, KEYS[3] bo:seat:{E:Z},
-- KEYS[4] bo:own:{E:Z}, KEYS[5] bo:pend:{E:Z}, KEYS[6] bo:sweep:{E:Z},
-- KEYS[7] bo:ords:{E:Z}, KEYS[8] bo:idem:{E:Z}:<Idempotency-Key> (or
-- "bo:idem:{E:Z}:" for none), KEYS[9] bo:idem:{E:Z}:#<its HMAC> (the
-- name `ticketctl rebuild` puts a sale's record back under: a sale's key
-- reused on a cancel is 20 after a Redis loss too)
-- ARGV: orderId, ticketId ("" = the whole order), SHA-256 of the token
--       (64 hex), cancelledOn (stamp), cache ttl (s), now (ms), the zone's
--       slot tag "{st}" of the caches (keys.h), the request's hash ("" =
--       no Idempotency-Key)
--
-- A keyed cancel records "<hash> K" (24 h) once it cancelled, "<hash> F
-- <code>" once refused for good (4, 12).  The same key again: another
-- request (hash) is {20}; F is {23, "<code>"}; K runs the cancellation
-- again (it answers the same, see below) and says so: {0, answer,
-- message, 1}.
--
-- bo:ords keeps, beside orderId -> order message, "c:<ticketId>" -> the
-- ticket's cancelledOn and "x:<orderId>" -> the order's.  A ticket is
-- cancelled once: its seat is cleared only while its owner (bo:own) is
-- still that ticket, the caches bo:tkt:{st}<id> and bo:ord:{st}<orderId> get the
-- CANCELLED status.  The message of a whole order names all its tickets
-- with the order's cancelledOn; those cancelled before on their own are
-- also in "ticketsCancelledOn" (ticketId -> their own stamp), so that the
-- stores keep that stamp whichever message they get first.
-- Every call (a repeat too) puts the cancel message in
-- the pending set, so that it is published (responder, or sweeper) even if
-- an earlier answer was lost; consumers are idempotent.
-- Returns {0, answer JSON, cancel message, replayed 0|1}, {4} unknown
-- order or ticket, {12} wrong token, {13} the order's creation is still
-- unconfirmed.
--#include cancelled
--#include free_seat
--#include pending
local ih, again = ARGV[8] or '', 0
if ih ~= '' then
  local rec = (KEYS[9] and redis.call('GET', KEYS[9])) or
    redis.call('GET', KEYS[8])
  if rec then
    local h, st, rest = string.match(rec, '^(%x+) (%u) ?(.*)$')
    if h ~= ih then
      return {20, '', ''}
    end
    if st == 'F' then
      return {23, rest, ''}
    end
    again = 1
  end
end
local function refuse(code)
  if ih ~= '' then
    redis.call('SET', KEYS[8], ih .. ' F ' .. code, 'EX', 86400, 'NX')
  end
  return {code, '', ''}
end
local msg = redis.call('HGET', KEYS[7], ARGV[1])
if not msg then
  return refuse(4)
end
if ARGV[2] ~= '' and not string.find(msg, '{"ticketId":"' .. ARGV[2] ..
    '"', 1, true) then
  return refuse(4)
end
if string.match(msg, '"cancelHash":"(%x+)"') ~= ARGV[3] then
  return refuse(12)
end
if order_pending(KEYS[5], KEYS[6], ARGV[1], msg) then
  return {13, '', ''}
end
-- the stamp of this cancellation: the first one's, on a repeat (a ticket's
-- own stamp is written in the loop below, when it is cancelled)
local stamp = ARGV[4]
local mine = ARGV[2] == '' and 'x:' .. ARGV[1] or 'c:' .. ARGV[2]
local first = redis.call('HGET', KEYS[7], mine)
if first then
  stamp = first
elseif ARGV[2] == '' then
  redis.call('HSET', KEYS[7], mine, stamp)
end
local cols = tonumber(redis.call('HGET', KEYS[1], 'cols'))
local all, ids, out, answer, own, last = true, {}, {}, nil, {}, ''
for tj in string.gmatch(msg, '{"ticketId":[^}]*}') do
  local tid = string.match(tj, '"ticketId":"([^"]+)"')
  local when = redis.call('HGET', KEYS[7], 'c:' .. tid)
  if when and ARGV[2] == '' and when ~= stamp then
    -- cancelled before, on its own: the message keeps its stamp
    own[#own + 1] = '"' .. tid .. '":"' .. when .. '"'
  end
  if not when and (ARGV[2] == '' or ARGV[2] == tid) then
    when = stamp
    redis.call('HSET', KEYS[7], 'c:' .. tid, when)
    local r = tonumber(string.match(tj, '"row":(%d+)'))
    local c = tonumber(string.match(tj, '"column":(%d+)'))
    if cols then
      free_seat((r - 1) * cols + (c - 1), r, tid)
    end
  end
  local cur = tj
  if when then
    if when > last then
      last = when
    end
    cur = ticket_cancelled(tj, when)
    redis.call('SET', 'bo:tkt:' .. ARGV[7] .. tid, cur, 'EX', ARGV[5])
  else
    all = false
  end
  if ARGV[2] == '' or ARGV[2] == tid then
    ids[#ids + 1] = '"' .. tid .. '"'
    if ARGV[2] == tid then
      answer = cur
    end
  end
  out[#out + 1] = cur
end
local head = string.match(msg, '^{"type":"order",(.-),"cancelHash"')
if all then
  -- as MySQL answers it: the last of its tickets' stamps after createdOn
  head = order_cancelled(head, last)
end
local order = '{' .. head .. ',"tickets":[' .. table.concat(out, ',') .. ']}'
redis.call('SET', 'bo:ord:' .. ARGV[7] .. ARGV[1], order, 'EX', ARGV[5])
local ev = string.match(msg, '"eventId":"([^"]+)"')
local zone = string.match(msg, '"zoneId":(%d+)')
local cmsg = '{"type":"cancel","orderId":"' .. ARGV[1] .. '","eventId":"' ..
  ev .. '","zoneId":' .. zone .. ',"ticketIds":[' .. table.concat(ids, ',') ..
  '],"cancelledOn":"' .. stamp .. '"'
if #own > 0 then
  cmsg = cmsg .. ',"ticketsCancelledOn":{' .. table.concat(own, ',') .. '}'
end
cmsg = cmsg .. '}'
redis.call('ZADD', KEYS[5], ARGV[6], cmsg)
if ih ~= '' and again == 0 then
  redis.call('SET', KEYS[8], ih .. ' K', 'EX', 86400)
end
return {0, answer or order, cmsg, again}
