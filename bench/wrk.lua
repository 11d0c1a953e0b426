-- SPDX-License-Identifier: ISC
-- wrk.lua - sends every request of a request file exactly once (scripts/bench).
--
--   wrk -t T -c C -d LIMIT --timeout 30s -s bench/wrk.lua URL -- FILE T [HOST] [PATH] [IDS]
--
-- FILE holds one JSON body per line; each is POSTed to PATH (default
-- /tickets) as application/json, with Host HOST if given.  A line may also
-- be "METHOD PATH [BODY]" (the mixed row of orders, holds and cancels,
-- bench/orderlib.py).  Thread i of T sends lines i, i+T, i+2T, ... over
-- its C/T keep-alive connections.  With IDS, thread i writes to IDS.i one
-- line per 201: "t ticketId cancelToken", "o orderId cancelToken" or
-- "h holdId expiresAt", for the requests of a second round.
--
-- Exactly once: delay() runs before every request of a connection; while
-- the thread has lines left it reserves one and returns 0 (request() then
-- takes it), afterwards it parks the connection for an hour.  When the last
-- response of its share has arrived the thread stops itself; scripts/bench
-- sees every worker thread gone and ends wrk with SIGINT (wrk would
-- otherwise sleep for all of LIMIT).
--
-- Per thread it counts statuses, the error codes of 4xx/5xx bodies and, for
-- every 201, the seat in its body (no seat may be sold twice); done()
-- merges the threads and prints one
-- line per fact, "bench <key> <value>", for scripts/bench to read.  Times
-- are CLOCK_REALTIME in ms (first request sent, last response received),
-- so the rate is measured over exactly the requests of the file.

local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
  int clock_gettime(int clk, bench_timespec *ts);
]]
local ts = ffi.new("bench_timespec")

local function now_ms()
  ffi.C.clock_gettime(0, ts)
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

-- main state: the threads, to collect their results in done()
local threads = {}
local nthreads = 0

function setup(thread)
  thread:set("tid", nthreads)
  nthreads = nthreads + 1
  table.insert(threads, thread)
end

-- thread state
tid = 0
share = 0        -- requests of this thread
reserved = 0     -- handed out by delay()
taken = 0        -- built by request()
answered = 0     -- responses received
statuses = {}    -- status -> count
seats = {}       -- "zone:row:col" of each 201 -> count
codes = {}       -- error code of each 4xx/5xx body -> count
ids = nil        -- lines for IDS, if given
idfile = nil
first_ms = 0
last_ms = 0
local reqs = {}

function init(args)
  local file = args[1]
  local nth = tonumber(args[2])
  local host = args[3]
  local path = args[4] or "/tickets"
  if path == "" then
    path = "/tickets"
  end
  if args[5] and args[5] ~= "" then
    idfile = args[5] .. "." .. tid
    ids = {}
  end
  if not file or not nth then
    error("usage: -- FILE THREADS [HOST] [PATH] [IDS]")
  end
  local headers = { ["Content-Type"] = "application/json" }
  if host and host ~= "" then
    headers["Host"] = host
  end
  local i = 0
  for line in io.lines(file) do
    if i % nth == tid and line ~= "" then
      share = share + 1
      local m, p, b = string.match(line, "^(%u+) (/%S*) ?(.*)$")
      if m then
        reqs[share] = wrk.format(m, p, headers, b ~= "" and b or nil)
      else
        reqs[share] = wrk.format("POST", path, headers, line)
      end
    end
    i = i + 1
  end
end

function delay()
  if reserved < share then
    reserved = reserved + 1
    return 0
  end
  return 3600000
end

function request()
  -- wrk calls request() once before the run to check the script (no
  -- reservation then), and again after a reconnect (the reserved request
  -- is sent again, counted as a socket error): advance only on a new
  -- reservation
  if taken < reserved then
    taken = taken + 1
    if taken == 1 then
      first_ms = now_ms()
    end
  end
  return reqs[math.max(taken, 1)]
end

function response(status, headers, body)
  answered = answered + 1
  statuses[status] = (statuses[status] or 0) + 1
  if status == 201 then
    -- every ticket of the body: one for a ticket, all of an order, none
    -- of a hold (its seats are not sold)
    local n = 0
    for z, r, c in string.gmatch(body, '"zoneId":(%d+),"row":(%d+),"column":(%d+)') do
      local key = z .. ":" .. r .. ":" .. c
      seats[key] = (seats[key] or 0) + 1
      n = n + 1
    end
    if n == 0 and not string.find(body, '"holdId"', 1, true) then
      seats["?:?:?"] = (seats["?:?:?"] or 0) + 1
    end
    if ids then
      local kind, id = string.match(body, '^{"(%l)%l+Id":"([%w_-]+)"')
      local tok = string.match(body, '"cancelToken":"([%w_-]+)"') or
        string.match(body, '"expiresAt":"([^"]+)"') or ""
      if kind then
        table.insert(ids, kind .. " " .. id .. " " .. tok)
      end
    end
  elseif status >= 400 then
    local code = string.match(body, '"error":"([A-Z_]+)"') or "?"
    codes[code] = (codes[code] or 0) + 1
  end
  if answered == share then
    last_ms = now_ms()
    if ids then
      local f = io.open(idfile, "w")
      f:write(table.concat(ids, "\n"), "\n")
      f:close()
    end
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local total, answered_all, first, last = 0, 0, nil, 0
  local st, sold, twice, cd = {}, {}, 0, {}
  for _, t in ipairs(threads) do
    total = total + t:get("share")
    answered_all = answered_all + t:get("answered")
    local f, l = t:get("first_ms"), t:get("last_ms")
    if f > 0 and (first == nil or f < first) then first = f end
    if l > last then last = l end
    for s, n in pairs(t:get("statuses")) do
      st[s] = (st[s] or 0) + n
    end
    for k, n in pairs(t:get("codes")) do
      cd[k] = (cd[k] or 0) + n
    end
    for k, n in pairs(t:get("seats")) do
      sold[k] = (sold[k] or 0) + n
    end
  end
  local distinct = 0
  for _, n in pairs(sold) do
    distinct = distinct + 1
    if n > 1 then twice = twice + 1 end
  end
  local e = summary.errors
  io.write(string.format("bench requests %d\n", total))
  io.write(string.format("bench answered %d\n", answered_all))
  io.write(string.format("bench seconds %.3f\n", ((last - (first or last)) / 1000)))
  io.write(string.format("bench p50_ms %.2f\n", latency:percentile(50) / 1000))
  io.write(string.format("bench p90_ms %.2f\n", latency:percentile(90) / 1000))
  io.write(string.format("bench p99_ms %.2f\n", latency:percentile(99) / 1000))
  io.write(string.format("bench max_ms %.2f\n", latency.max / 1000))
  io.write(string.format("bench errors_connect %d\n", e.connect))
  io.write(string.format("bench errors_read %d\n", e.read))
  io.write(string.format("bench errors_write %d\n", e.write))
  io.write(string.format("bench errors_timeout %d\n", e.timeout))
  for s, n in pairs(st) do
    io.write(string.format("bench status_%d %d\n", s, n))
  end
  for k, n in pairs(cd) do
    io.write(string.format("bench code_%s %d\n", k, n))
  end
  io.write(string.format("bench seats_distinct %d\n", distinct))
  io.write(string.format("bench seats_twice %d\n", twice))
end
