#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""statsbench.py - the reports at a million tickets (issue 14 item 5,
docs/performance.md "Queries that do not grow").

Loads N tickets (default 1,000,000) of one event of a bench venue (100
zones of 100 x 100 seats) straight into MySQL: INSERT ... SELECT from
MariaDB's sequence engine in chunks, the triggers of
sql/migrations/003_zone_sales.sql keeping zone_sales as they go (the load
is timed, so is a rebuild of the summary by sql/zone_sales_repair.sql).
Then, on the idle stack:

  - the statements of stats, count and money before the summary (a count
    over the event's ticket index) and now (zone_sales), each run R times
    in one mariadb session: milliseconds per run;
  - GET /get/events/{e}/stats, /get/count/{e}, /get/money/{v}/{e} through
    nginx on one keep-alive connection, R times each: median and p99;
  - the answers against a full count (correctness).

Runs against the stack of the environment (conf/stack.env, or a helper's
env with BOX_VAR); removes its tickets and catalog rows at the end unless
--keep.  Usage: bench/statsbench.py [-n TICKETS] [-r RUNS] [--keep]
"""

import argparse
import http.client
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402  (the stack's environment, as scripts/bench)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STACK = os.path.join(ROOT, "scripts", "stack")
VENUE, EVENT = "BenchVenue", "BenchBig"
ZONES, SIDE = 100, 100          # 100 zones of 100 x 100 seats: 1,000,000
CHUNK = 100000

# the statements of fcgi/query/dbq.c before the summary (b6d57d7)
OLD = {
    "stats": "SELECT e.venue_id, z.zone_id, z.row_count * z.col_count, COUNT(t.ticket_id), "
             "COALESCE(SUM(t.price), 0) FROM event e LEFT JOIN zone z ON z.venue_id = "
             "e.venue_id LEFT JOIN ticket t ON t.event_id = e.event_id AND t.zone_id = "
             "z.zone_id AND t.live_seat = 1 WHERE e.event_id = '%(e)s' GROUP BY e.venue_id, "
             "z.zone_id, z.row_count, z.col_count ORDER BY z.zone_id",
    "count": "SELECT (SELECT COUNT(*) FROM ticket t WHERE t.event_id = e.event_id AND "
             "t.live_seat = 1) FROM event e WHERE e.event_id = '%(e)s'",
    "money": "SELECT (SELECT COALESCE(SUM(t.price), 0) FROM ticket t WHERE t.event_id = "
             "e.event_id AND t.live_seat = 1) FROM event e WHERE e.event_id = '%(e)s' AND "
             "e.venue_id = '%(v)s'",
}
# and now
NEW = {
    "stats": "SELECT e.venue_id, z.zone_id, z.row_count * z.col_count, COALESCE(s.sold, 0), "
             "COALESCE(s.revenue, 0) FROM event e LEFT JOIN zone z ON z.venue_id = e.venue_id "
             "LEFT JOIN zone_sales s ON s.event_id = e.event_id AND s.zone_id = z.zone_id "
             "WHERE e.event_id = '%(e)s' ORDER BY z.zone_id",
    "count": "SELECT (SELECT COALESCE(SUM(s.sold), 0) FROM zone_sales s WHERE s.event_id = "
             "e.event_id) FROM event e WHERE e.event_id = '%(e)s'",
    "money": "SELECT (SELECT COALESCE(SUM(s.revenue), 0) FROM zone_sales s WHERE s.event_id = "
             "e.event_id) FROM event e WHERE e.event_id = '%(e)s' AND e.venue_id = '%(v)s'",
}


def sql(text):
    r = subprocess.run([STACK, "sql", "-N", "-B"], input=text, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("statsbench: mysql: %s" % r.stderr.strip())
    return r.stdout.strip().splitlines()


def timed(text):
    """Seconds one statement (or script) takes, client included."""
    t = time.monotonic()
    sql(text)
    return time.monotonic() - t


def per_run_ms(stmt, runs):
    """Milliseconds per run of stmt, R runs in one session (server clock)."""
    out = sql("SET @t = SYSDATE(6);\n" + (stmt + ";\n") * runs +
              "SELECT TIMESTAMPDIFF(MICROSECOND, @t, SYSDATE(6)) / %d / 1000;\n" % runs)
    return float(out[-1])


def http_ms(port, path, runs):
    """Median and p99 (ms) of GET path, runs times on one connection; the last body."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    ms, body = [], None
    for _ in range(runs):
        t = time.monotonic()
        c.request("GET", path)
        r = c.getresponse()
        body = r.read()
        ms.append((time.monotonic() - t) * 1000)
        if r.status != 200:
            sys.exit("statsbench: GET %s: %d %s" % (path, r.status, body[:200]))
    c.close()
    ms.sort()
    return ms[len(ms) // 2], ms[min(len(ms) - 1, int(len(ms) * 0.99))], json.loads(body)


def load(n):
    sql("INSERT INTO venue (venue_id, name) VALUES ('%s', 'statsbench') "
        "ON DUPLICATE KEY UPDATE name = name;\n"
        "INSERT IGNORE INTO zone (venue_id, zone_id, price, row_count, col_count) "
        "SELECT '%s', seq, 100 + seq, %d, %d FROM seq_1_to_%d;\n"
        "INSERT IGNORE INTO event (event_id, venue_id, name, type, event_date) VALUES "
        "('%s', '%s', 'statsbench', 'CONCERT', '2027-06-01 20:00:00');\n"
        % (VENUE, VENUE, SIDE, SIDE, ZONES, EVENT, VENUE))
    t = time.monotonic()
    for a in range(0, n, CHUNK):
        b = min(n, a + CHUNK) - 1
        sql("INSERT INTO ticket (ticket_id, venue_id, event_id, zone_id, row_no, col_no, "
            "price, status, created_on) SELECT CONCAT('b0000000-0000-7000-8000-', "
            "LPAD(HEX(seq), 12, '0')), '%s', '%s', seq DIV %d + 1, (seq MOD %d) DIV %d + 1, "
            "seq MOD %d + 1, 100 + seq DIV %d + 1, 'CREATED', UTC_TIMESTAMP(3) "
            "FROM seq_%d_to_%d" % (VENUE, EVENT, SIDE * SIDE, SIDE * SIDE, SIDE, SIDE,
                                   SIDE * SIDE, a, b))
    return time.monotonic() - t


def unload():
    # the summary rows go with the tickets (triggers); the zeros after them
    sql("DELETE FROM ticket WHERE event_id = '%s';\n"
        "DELETE FROM zone_sales WHERE event_id = '%s';\n"
        "DELETE FROM event WHERE event_id = '%s';\n"
        "DELETE FROM zone WHERE venue_id = '%s';\n"
        "DELETE FROM venue WHERE venue_id = '%s';\n" % (EVENT, EVENT, EVENT, VENUE, VENUE))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=ZONES * SIDE * SIDE, help="tickets (max 1000000)")
    ap.add_argument("-r", type=int, default=50, help="runs of each query")
    ap.add_argument("--keep", action="store_true", help="keep the bench tickets")
    a = ap.parse_args()
    n = max(1, min(a.n, ZONES * SIDE * SIDE))
    v = {"e": EVENT, "v": VENUE}
    have = int(sql("SELECT COUNT(*) FROM ticket WHERE event_id = '%s'" % EVENT)[0])
    if have != n:
        if have:
            unload()
        secs = load(n)
        print("loaded %d tickets in %.1f s (%.0f µs a ticket, summary kept by the triggers)"
              % (n, secs, secs * 1e6 / n))
    secs = timed(open(os.path.join(ROOT, "sql", "zone_sales_repair.sql")).read())
    print("summary rebuilt from a full count (sql/zone_sales_repair.sql, every event) "
          "in %.2f s" % secs)
    sql("ANALYZE TABLE ticket, zone_sales")
    print("\n%-6s %14s %14s   (ms per run in MySQL, %d runs, idle)" % ("query", "before",
                                                                       "summary", a.r))
    for q in ("stats", "count", "money"):
        per_run_ms(OLD[q] % v, 2)               # warm
        old = per_run_ms(OLD[q] % v, max(3, a.r // 10))
        new = per_run_ms(NEW[q] % v, a.r)
        print("%-6s %14.2f %14.3f" % (q, old, new))
    port = benchlib.PORT
    print("\n%-44s %8s %8s   (ms through nginx, %d requests, idle)" % ("request", "median",
                                                                       "p99", a.r))
    want = [int(x) for x in sql("SELECT COUNT(*), CAST(SUM(price) * 100 AS INT) FROM ticket WHERE "
                                "event_id = '%s' AND live_seat = 1" % EVENT)[0].split()]
    ok = True
    for path in ("/get/events/%s/stats" % EVENT, "/get/count/%s" % EVENT,
                 "/get/money/%s/%s" % (VENUE, EVENT)):
        med, p99, body = http_ms(port, path, a.r)
        print("%-44s %8.2f %8.2f" % (path, med, p99))
        if "sold" in body:
            ok = ok and body["sold"] == want[0]
        if "revenue" in body:
            ok = ok and round(float(body["revenue"]) * 100) == want[1]
    print("\ncorrect (answers equal a full count of %d tickets): %s" % (want[0], ok))
    if not a.keep:
        unload()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
