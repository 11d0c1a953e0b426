-- SPDX-License-Identifier: ISC
-- order.lua: sell 1-10 seats of one event's zone, all or nothing, atomically
-- (POST /orders, and POST /tickets as an order of one).
--
-- KEYS[1] bo:zone:{E:Z}  KEYS[2] bo:left:{E:Z}  KEYS[3] bo:seat:{E:Z}
-- KEYS[4] bo:own:{E:Z}   KEYS[5] bo:pend:{E:Z}  KEYS[6] bo:ords:{E:Z}
-- KEYS[7] bo:idem:{E:Z}:<Idempotency-Key>        KEYS[8] bo:sweep:{E:Z}
-- KEYS[9] bo:holds:{E:Z}  KEYS[10] bo:hexp:{E:Z}
-- KEYS[11] bo:idem:{E:Z}:#<HMAC of the Idempotency-Key> (keys.h)
-- KEYS[12] bo:hend:{E:Z}
-- ARGV[1] venueId, [2] eventId, [3] zoneId, [4] orderId, [5] createdOn,
--      [6] now (ms, the pending score), [7] cancelHash (64 hex), [8] cache
--      ttl (s), [9] quantity (0: explicit seats), [10] n seats,
--      [11 .. 10+n] ticket ids, then (explicit) n pairs row, column,
--      then a confirm's SHA-256 of the hold id ("" unless a confirm), the
--      hold id ("" unless a hold or a confirm), the hold's
--      seconds, the request's hash ("" = no Idempotency-Key), its kind ("t"
--      ticket, "o" order, "h" hold, "c" confirm of a hold), the tag
--      "E:Z", last the zone's slot tag "{st}" of the keys by id (keys.h)
--
-- Holds ("h"): the seats are taken as for an order (owner "h:<holdId>"),
-- nothing else is written but bo:holds (holdId -> "A <expires ms> <r c
-- ...>") and bo:hexp (holdId scored by its expiry, Redis clock) and the
-- index bo:hix:{st}<holdId> -> "E:Z"; returns {0, expires ms, total, "r c ..."}.  A
-- confirm ("c") of an active hold before its expiry turns its seats into
-- the order's tickets (same answer as an order; the hold becomes "C
-- <orderId>", scored in bo:hend for when that goes: lua/lib/hold_end.lua);
-- after the expiry it is 25 (the sweeper releases the seats,
-- lua/hold_expire.lua); confirmed already: 22 as a replay (or 21
-- {21, orderId, ""} while its message is pending); unknown or deleted: 4.
--
-- Idempotency (checked first, a confirm's key too): KEYS[7] holds "<hash>
-- P <orderId> <kind>" (TTL 24 h) once a keyed request sold (kind "C": a
-- keyed confirm that found its hold confirmed by another request and
-- answered that order, 200), "<hash> H <holdId> <expires ms> <total>
-- <r c ...>" once a keyed hold was made, "<hash> F <code> <taken>" once
-- it was refused definitely (refuse(), below).  `ticketctl rebuild`
-- puts a sale's "P" record back after a Redis loss under KEYS[11] (MySQL
-- keeps the key's HMAC, not the key); it is read before KEYS[7], and is
-- never written here.  The same key again:
-- another hash is 20 (reused); F is 23 {23, "<code> <taken>"}; H is 22
-- {22, "<holdId> <expires ms> <total> <r c ...>", "h"} (the first 201
-- again, whatever became of the hold since, once the replicas have the
-- record: it is written again for the responder's WAIT); P while the order message
-- is still pending (its publish not yet confirmed, or claimed by the
-- sweeper) is 21 (in progress) {21, orderId, ticketId of a "t" or ""},
-- else 22 {22, order message, kind}: the
-- order was published, answer it again.  (order_release.lua deletes the
-- key.)
--
-- Writes, beside the zone (same node): the seat bits, counters and owners
-- (bit -> ticketId), the orderId as the pending entry (the sweeper
-- publishes its message if the responder never confirms), the order
-- message once, in bo:ords (orderId -> message: what is published, the
-- cancel token's hash, a keyed request's key hash, hash and kind
-- ("idempotency"), a confirm's hold id hash ("holdHash") and the tickets,
-- for cancellation), the caches
-- bo:tkt:{st}<ticketId> and bo:ord:{st}<orderId> (TTL), and the id index
-- bo:oix:{st}<id> -> "E:Z orderId" for the order and each ticket (how a
-- cancel finds the zone: docs/reliability.md).  Those keys are built here,
-- not passed: their tag {st} is the zone's slot (ids carry
-- it), so they are in the zone's Redis Cluster slot.
--
-- Returns {code, ...}: 0 sold {0, head, tickets, message} where the 201
-- body is "{" head ",\"cancelToken\":..," tickets "}" (a confirm adds the
-- hold's expiry ms: {0, head, tickets, message, expires}); 1 seats taken
-- {1, "r c r c ..."} (every requested seat that is taken); 2 zone sold
-- out; 3 row sold out; 4 not found; 5 invalid seat; 6 no counters (fenced);
-- 7 event cancelled; 8 not on sale yet {8, "<opens> <now>"}; 9 sale closed;
-- 10 catalog unusable; 11 not enough adjacent seats (best available).
-- Every check comes before the first write (a refusal's record under the
-- key aside: refuse()).
--#include pending
--#include hold_end
--#include cancelled
local ih, kind = ARGV[#ARGV - 3], ARGV[#ARGV - 2]
local hid, hsecs = ARGV[#ARGV - 5], ARGV[#ARGV - 4]
local hhash = ARGV[#ARGV - 6]
local kt = ARGV[#ARGV]
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- a definite refusal (CONTRACT section 7: a keyed request answers it
-- again for 24 h) is recorded under the key in the step that refuses, so
-- that no request with the same key sells in between; "not on sale yet",
-- "no counters", "catalog unusable" and a zone Redis does not hold are
-- not (a retry may sell).  The
-- record is best effort (pcall): a Redis out of memory (maxmemory,
-- noeviction) refuses the write, and the refusal is still the answer
local function refuse(code, detail)
  if ih ~= '' then
    redis.pcall('SET', KEYS[7], ih .. ' F ' .. code .. ' ' .. detail, 'EX', 86400)
  end
  return {code, detail}
end
local held, seats, n = kind == 'c', {}, tonumber(ARGV[10])
local hexp
if ih ~= '' then
  -- a sale's record put back from MySQL comes first: a refusal recorded
  -- under the key between the loss and the rebuild must not hide it
  local rec = redis.call('GET', KEYS[11]) or redis.call('GET', KEYS[7])
  if rec then
    local h, st, rest = string.match(rec, '^(%x+) (%u) (.*)$')
    if h ~= ih then
      return {20, ''}
    end
    if st == 'F' then
      return {23, rest}
    end
    if st == 'H' then
      -- written again, unchanged: the responder's WAIT then covers the
      -- hold, which another request made (its first answer may have
      -- been the 503 of a hold no replica had yet).  Best effort, as in
      -- refuse(): out of memory, the replay is still the answer
      redis.pcall('SET', KEYS[7], rec, 'KEEPTTL')
      return {22, rest, 'h'}
    end
    local oid, k = string.match(rest, '^(%S+) (%S+)$')
    local m = oid and redis.call('HGET', KEYS[6], oid)
    if not m or order_pending(KEYS[5], KEYS[8], oid, m) then
      -- the ids the 409 names: the order, and a POST /tickets's ticket
      local tid = k == 't' and m and
        string.match(m, '"tickets":%[{"ticketId":"([%x-]+)"') or ''
      return {21, oid or '', tid}
    end
    -- a 200 with the order another request confirmed shows it as it is
    -- now, as the confirm below does; a sale's 201 is its first answer
    if k == 'C' then
      m = order_now(KEYS[6], m)
    end
    return {22, m, k}
  end
end
if held then
  -- a confirmed hold `ticketctl rebuild` put back from MySQL is "#<SHA-256
  -- of the holdId>" -> "C <orderId>" (MySQL keeps no holdId).  MySQL's
  -- confirm comes before what Redis kept under the id: an AOF that lost
  -- the confirm brings the hold back active (then expired, or deleted),
  -- while its order is sold; it answers that order, and writes nothing
  local rec = redis.call('HGET', KEYS[9], hid)
  local put = redis.call('HGET', KEYS[9], '#' .. hhash)
  if put and not (rec and string.sub(rec, 1, 2) == 'C ') then
    rec = put
  end
  if not rec or rec == 'D' then
    return refuse(4, '')
  end
  if rec == 'X' then
    return refuse(25, '')
  end
  local st, a = string.match(rec, '^(%u) (.*)$')
  if st == 'C' then
    local m = redis.call('HGET', KEYS[6], a)
    if not m then
      return refuse(4, '')
    end
    if order_pending(KEYS[5], KEYS[8], a, m) then
      return {21, a, ''}
    end
    -- confirmed by another request: 200 the same order; a key records
    -- that answer (kind "C"), so that it is what the key answers again
    -- (best effort, as in refuse(): a key without it answers the same)
    if ih ~= '' then
      redis.pcall('SET', KEYS[7], ih .. ' P ' .. a .. ' C', 'EX', 86400)
    end
    -- as it is now: cancelled since, it says so (lua/lib/cancelled.lua)
    return {22, order_now(KEYS[6], m), 'o'}
  end
  local exp, list = string.match(a, '^(%d+) (.*)$')
  if now_ms() >= tonumber(exp) then
    return refuse(25, '')
  end
  hexp = exp
  n = 0
  for r, c in string.gmatch(list, '(%d+) (%d+)') do
    n = n + 1
    seats[n] = {tonumber(r), tonumber(c)}
  end
end
local meta = redis.call('HMGET', KEYS[1], 'venue', 'rows', 'cols', 'price',
  'status', 'opens', 'closes')
-- a zone Redis does not hold may be one it lost: its refusal is not
-- recorded, or a keyed retry in the outage would keep the key from the
-- record ticketctl rebuild puts back (SET NX) and answer 404 for good
if not meta[1] then
  return {4, ''}
end
if meta[1] ~= ARGV[1] and not held then
  return refuse(4, '')
end
local venue = meta[1]
-- a cancelled event sells nothing, a confirm of a hold made before the
-- cancellation included (CONTRACT section 6); a confirm keeps the sale
-- window its hold was made in
if meta[5] == 'CANCELLED' then
  return refuse(7, '')
end
if (meta[6] or meta[7]) and not held then
  local now = now_ms()
  local opens, closes = tonumber(meta[6]), tonumber(meta[7])
  if opens and now < opens then
    return {8, meta[6] .. ' ' .. now}
  end
  if closes and now >= closes then
    return refuse(9, '')
  end
end
local rows, cols = tonumber(meta[2]), tonumber(meta[3])
local price = meta[4]
if not rows or not cols or rows < 1 or cols < 1 or not price or
    #price > 11 or not string.match(price, '^%d+%.%d%d$') then
  return {10, ''}
end
local q = tonumber(ARGV[9])
if q == 0 and not held then
  for i = 1, n do
    local r = tonumber(ARGV[10 + n + 2 * i - 1])
    local c = tonumber(ARGV[10 + n + 2 * i])
    if r < 1 or r > rows or c < 1 or c > cols then
      return refuse(5, '')
    end
    seats[i] = {r, c}
  end
end
-- the counters and seat bits a sale needs: explicit seats read the zone's
-- counter, their rows' and their own bits; best available reads them all; a
-- confirm none (its hold took the seats and counted them), but a fenced
-- zone (no counters: its node lost writes, docs/reliability.md) sells
-- nothing, a hold that came back from the lost second included
local cnt, bits = {}, ''
if held and redis.call('EXISTS', KEYS[2]) == 0 then
  return {6, ''}
end
if not held then
  local f = {'z'}
  if q == 0 then
    for i = 1, n do
      f[#f + 1] = 'r' .. seats[i][1]
    end
    local v = redis.call('HMGET', KEYS[2], unpack(f))
    for i = 1, #f do
      cnt[f[i]] = tonumber(v[i])
    end
    if not v[1] and redis.call('EXISTS', KEYS[2]) == 0 then
      return {6, ''}
    end
  else
    local left = redis.call('HGETALL', KEYS[2])
    if #left == 0 then
      return {6, ''}
    end
    for i = 1, #left, 2 do
      cnt[left[i]] = tonumber(left[i + 1])
    end
    bits = redis.call('GET', KEYS[3]) or ''
  end
end
-- a missing counter reads as sold out: never sell on unknown state
if not held and (cnt['z'] or 0) < n then
  return refuse(2, '')
end
local function taken(r, c)
  local b = (r - 1) * cols + (c - 1)
  if q == 0 then
    return redis.call('GETBIT', KEYS[3], b) == 1
  end
  local byte = string.byte(bits, math.floor(b / 8) + 1) or 0
  return bit.band(byte, bit.rshift(128, b % 8)) ~= 0
end
if held then
  -- the seats must still be the hold's (owner "h:<holdId>"): a rebuild
  -- after a Redis loss knows no holds and may have sold them since
  for i = 1, n do
    local b = (seats[i][1] - 1) * cols + (seats[i][2] - 1)
    if redis.call('HGET', KEYS[4], b) ~= 'h:' .. hid then
      return refuse(25, '')
    end
  end
elseif q == 0 then
  local per = {}
  for i = 1, n do
    per[seats[i][1]] = (per[seats[i][1]] or 0) + 1
  end
  for i = 1, n do
    local r = seats[i][1]
    if (cnt['r' .. r] or 0) < per[r] then
      return refuse(3, '')
    end
  end
  local bad = {}
  for i = 1, n do
    if taken(seats[i][1], seats[i][2]) then
      bad[#bad + 1] = seats[i][1] .. ' ' .. seats[i][2]
    end
  end
  if #bad > 0 then
    return refuse(1, table.concat(bad, ' '))
  end
else
  -- best available: the lowest row with q adjacent free seats, in it the
  -- block whose centre is closest to the row's centre (tie: lower column)
  for r = 1, rows do
    if (cnt['r' .. r] or 0) >= q then
      local best, bestd, run = nil, nil, 0
      for c = 1, cols do
        if taken(r, c) then
          run = 0
        else
          run = run + 1
          if run >= q then
            local s = c - q + 1
            local d = math.abs(2 * s + q - 1 - (cols + 1))
            if not best or d < bestd then
              best, bestd = s, d
            end
          end
        end
      end
      if best then
        for i = 1, q do
          seats[i] = {r, best + i - 1}
        end
        break
      end
    end
  end
  if #seats == 0 then
    return refuse(11, '')
  end
end
local oid, created, tag = ARGV[4], ARGV[5], ARGV[#ARGV - 1]
local whole, cents = string.match(price, '^(%d+)%.(%d%d)$')
local t = (tonumber(whole) * 100 + tonumber(cents)) * n
-- a total the stores cannot hold (DECIMAL(10,2), the consumer's parser)
-- would be a 201 the consumer dead-letters: a zone priced above
-- 9,999,999.99 (catalog apply refuses that now; an older catalog may have
-- it) sells such an order as "catalog unusable", nothing written
if t > 9999999999 then
  return {10, ''}
end
local total = string.format('%d.%02d', math.floor(t / 100), t % 100)
if kind == 'h' then
  local exp = now_ms() + tonumber(hsecs) * 1000
  local list = {}
  for i = 1, n do
    local r, c = seats[i][1], seats[i][2]
    local b = (r - 1) * cols + (c - 1)
    redis.call('SETBIT', KEYS[3], b, 1)
    redis.call('HINCRBY', KEYS[2], 'r' .. r, -1)
    redis.call('HSET', KEYS[4], b, 'h:' .. hid)
    list[i] = r .. ' ' .. c
  end
  redis.call('HINCRBY', KEYS[2], 'z', -n)
  redis.call('HSET', KEYS[9], hid, 'A ' .. exp .. ' ' .. table.concat(list, ' '))
  redis.call('ZADD', KEYS[10], exp, hid)
  redis.call('SET', 'bo:hix:' .. kt .. hid, tag, 'EX', tonumber(hsecs) + 86400)
  if ih ~= '' then
    redis.call('SET', KEYS[7], ih .. ' H ' .. hid .. ' ' .. exp .. ' ' ..
      total .. ' ' .. table.concat(list, ' '), 'EX', 86400)
  end
  return {0, tostring(exp), total, table.concat(list, ' ')}
end
local tj = {}
for i = 1, n do
  local r, c, tid = seats[i][1], seats[i][2], ARGV[10 + i]
  local b = (r - 1) * cols + (c - 1)
  if not held then
    redis.call('SETBIT', KEYS[3], b, 1)
    redis.call('HINCRBY', KEYS[2], 'r' .. r, -1)
  end
  redis.call('HSET', KEYS[4], b, tid)
  -- the ticket of CONTRACT section 2, then its orderId
  tj[i] = '{"ticketId":"' .. tid .. '","venueId":"' .. venue ..
    '","eventId":"' .. ARGV[2] .. '","zoneId":' .. ARGV[3] ..
    ',"row":' .. r .. ',"column":' .. c .. ',"price":' .. price ..
    ',"status":"CREATED","createdOn":"' .. created .. '","orderId":"' ..
    oid .. '"}'
  redis.call('SET', 'bo:tkt:' .. kt .. tid, tj[i], 'EX', ARGV[8])
  redis.call('SET', 'bo:oix:' .. kt .. tid, tag .. ' ' .. oid)
end
if held then
  redis.call('HSET', KEYS[9], hid, 'C ' .. oid)
  redis.call('ZREM', KEYS[10], hid)
  hold_ended(KEYS[12], hid, hexp)
else
  redis.call('HINCRBY', KEYS[2], 'z', -n)
end
local head = '"orderId":"' .. oid .. '","venueId":"' .. venue ..
  '","eventId":"' .. ARGV[2] .. '","zoneId":' .. ARGV[3] ..
  ',"status":"CONFIRMED","total":' .. total .. ',"createdOn":"' ..
  created .. '"'
local tickets = '"tickets":[' .. table.concat(tj, ',') .. ']'
-- a keyed sale's key goes with the order to MySQL as its HMAC, so
-- that a rebuild after a Redis loss puts its record back under KEYS[11]
-- (ctl/rebuild_orders.c) and no store but this one keeps the key: the
-- 64 hex digits of KEYS[11] after "bo:idem:{E:Z}:#".  Before the
-- tickets: a responder older than it finds no tickets there and answers
-- its replay 503 (retry)
local extra = ''
if ih ~= '' then
  extra = '"idempotency":{"keyHash":"' .. string.sub(KEYS[11], #tag + 13) ..
    '","hash":"' .. ih .. '","kind":"' .. kind .. '"},'
end
-- a confirm's hold goes with it as the SHA-256 of its id, so that a
-- rebuild puts the hold back confirmed (a second confirm answers the same
-- order), without a holdId in MySQL: whoever has one may confirm
if held then
  extra = extra .. '"holdHash":"' .. hhash .. '",'
end
local msg = '{"type":"order",' .. head .. ',"cancelHash":"' .. ARGV[7] ..
  '",' .. extra .. tickets .. '}'
redis.call('ZADD', KEYS[5], ARGV[6], oid)
redis.call('HSET', KEYS[6], oid, msg)
redis.call('SET', 'bo:ord:' .. kt .. oid, '{' .. head .. ',' .. tickets .. '}',
  'EX', ARGV[8])
redis.call('SET', 'bo:oix:' .. kt .. oid, tag .. ' ' .. oid)
if ih ~= '' then
  redis.call('SET', KEYS[7], ih .. ' P ' .. oid .. ' ' .. kind, 'EX', 86400)
end
if held then
  -- the hold's expiry: a release (order_release.lua) restores the hold
  return {0, head, tickets, msg, hexp}
end
return {0, head, tickets, msg}
