# SPDX-License-Identifier: ISC
"""Query responder when its dependencies fail: MySQL stopped -> 503 JSON on
every MySQL endpoint (health says which), Redis-only answers still served;
MySQL started again -> every responder process answers again, without a
restart.  Same for Redis.  A Redis that accepts connections and never
answers costs a ticket or order lookup, or a seat map, one Redis timeout,
not one per key it would look at nor a second try (a responder of the
test's own, on its own socket)."""

import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid

import box
import fcgi
from box import WEB_PORTS, buy, check, eq, http

MYSQL_PATHS = ["/get/venues", "/get/venues/Venue2/events", "/get/events/Event2",
               "/get/events/Event2/stats", "/get/events/Event2/tickets", "/get/count/Event2",
               "/get/money/Venue2/Event2"]
# enough requests that each preforked responder (BOX_QUERY_PROCS, 4 in the
# test stack) serves several of them
ROUNDS = 12


def expect_503(path, port, what):
    r = http("GET", path, port=port)
    eq(r.status, 503, "%s %s via %d (body %s)" % (what, path, port, r.body[:200]))
    eq(r.header("Content-Type"), "application/json", path + " content type")
    eq(r.json()["error"], "UNAVAILABLE", path + " error code")
    check(r.header("Retry-After"), path + ": no Retry-After")
    return r


def all_ok(paths):
    for _ in range(ROUNDS):
        for port in WEB_PORTS:
            for p in paths:
                r = http("GET", p, port=port)
                if r.status != 200:
                    return False
    return True


def redis_start():
    """Starts Redis again; the purchase responders answer 503 once per
    process on the connection Redis closed (their business, not ours), so
    they start afresh for the purchases these tests make."""
    box.stack("start", "redis")
    box.stack("restart", "ticket")


def setup_module():
    box.stack("reset")


def teardown_module():
    # leave the stack whole for the next file, whatever happened; the
    # purchase responders answer 503 once per process on the connection
    # Redis closed, so they start afresh
    box.stack("start", "mysql", check_rc=False)
    box.stack("start", "redis", check_rc=False)
    box.stack("restart", "ticket", check_rc=False)


def test_mysql_down_then_back():
    r = buy("Venue2", "Event2", 1, 2, 2)
    eq(r.status, 201, "buy (body %s)" % r.body)
    # the ticket as the cache answers it: the 201 without the order's
    # cancelToken, which is given once and stored nowhere (CONTRACT section 7)
    sold = re.sub(r',"cancelToken":"[A-Za-z0-9_-]{22}"', "", r.body)
    check(sold != r.body, "the 201 carries a cancelToken: %s" % r.body)
    tid = r.json()["ticketId"]
    check(all_ok(MYSQL_PATHS + ["/get/health"]), "not all 200 before the fault")

    box.stack("stop", "mysql")
    try:
        for _ in range(ROUNDS // 2):
            for port in WEB_PORTS:
                for p in MYSQL_PATHS:
                    expect_503(p, port, "mysql down")
                h = expect_503("/get/health", port, "health, mysql down").json()
                eq((h["status"], h["redis"]), ("unavailable", "ok"), "health body")
                # what is down, not why (docs/api.md): the reason is in the log
                eq(h["mysql"], "down", "health names mysql: %r" % h)
                # Redis answers go on: the seat map, and a cached ticket
                m = http("GET", "/get/events/Event2/zones/1/seats", port=port)
                eq(m.status, 200, "seat map without MySQL")
                eq(m.json()["rows"][1]["seats"][1], "1", "seat map shows the sale")
                eq(http("GET", "/get/tickets/" + tid, port=port).body, sold, "cached ticket")
                # a ticket the cache does not hold cannot be declared unknown
                expect_503("/get/tickets/00000000-0000-7000-8000-000000000000", port,
                           "uncached lookup, mysql down")
    finally:
        box.stack("start", "mysql")
    # every process reconnects by itself: no 503 once MySQL is back
    box.wait_until(lambda: all_ok(["/get/health"]), timeout=30, what="health 200 again")
    check(all_ok(MYSQL_PATHS), "a responder did not recover after MySQL came back")
    eq(http("GET", "/get/tickets/00000000-0000-7000-8000-000000000000").status, 404, "unknown again")


def test_mysql_restart_costs_no_request():
    """A restart while idle: kept connections are stale, the first request
    on each must still succeed (retried on a fresh connection)."""
    check(all_ok(MYSQL_PATHS), "not all 200 before the restart")
    box.stack("stop", "mysql")
    box.stack("start", "mysql")
    for _ in range(ROUNDS):
        for port in WEB_PORTS:
            for p in MYSQL_PATHS:
                r = http("GET", p, port=port)
                eq(r.status, 200, "%s right after a MySQL restart (body %s)" % (p, r.body[:200]))


def test_redis_down_then_back():
    r = buy("Venue2", "Event2", 1, 3, 3)
    eq(r.status, 201, "buy (body %s)" % r.body)
    tid = r.json()["ticketId"]
    box.wait_until(lambda: box.sql_count("SELECT COUNT(*) FROM ticket WHERE ticket_id = '%s'" % tid),
                   timeout=60, what="the ticket to be persisted")
    box.stack("stop", "redis")
    try:
        for port in WEB_PORTS:
            expect_503("/get/events/Event2/zones/1/seats", port, "redis down")
            h = expect_503("/get/health", port, "health, redis down").json()
            eq((h["status"], h["mysql"]), ("unavailable", "ok"), "health body")
            # a persisted ticket is still found (MySQL), reports still work
            eq(http("GET", "/get/tickets/" + tid, port=port).status, 200, "lookup from MySQL")
            eq(http("GET", "/get/count/Event2", port=port).status, 200, "count")
            # an id MySQL does not know may be in the unreachable cache
            expect_503("/get/tickets/00000000-0000-7000-8000-000000000000", port,
                       "uncached lookup, redis down")
    finally:
        redis_start()
    box.wait_until(lambda: all_ok(["/get/health", "/get/events/Event2/zones/1/seats"]),
                   timeout=30, what="Redis answers again")
    m = http("GET", "/get/events/Event2/zones/1/seats").json()
    eq((m["rows"][1]["seats"][1], m["rows"][2]["seats"][2]), ("1", "1"), "sales kept (AOF)")


def test_redis_restart_costs_no_request():
    """Kept Redis connections are stale after a restart: the first read on
    each must still succeed (retried once on a fresh connection)."""
    r = buy("Venue2", "Event3", 2, 1, 1)
    eq(r.status, 201, "buy (body %s)" % r.body)
    tid = r.json()["ticketId"]
    paths = ["/get/events/Event3/zones/2/seats", "/get/tickets/" + tid, "/get/health"]
    check(all_ok(paths), "not all 200 before the restart")
    box.stack("stop", "redis")
    redis_start()
    for _ in range(ROUNDS):
        for port in WEB_PORTS:
            for p in paths:
                r = http("GET", p, port=port)
                eq(r.status, 200, "%s right after a Redis restart (body %s)" % (p, r.body[:200]))



def test_a_redis_that_never_answers_costs_a_lookup_one_timeout():
    """Single mode: every key is on the one server, so once it failed to
    answer, the other keys of a lookup (the untagged index entry, the
    untagged cache entry of ids made before the slot tag) are not asked:
    each would cost another connect and redis_timeout_ms.  Nor is a read
    that waited out the timeout sent again on a fresh connection, as one
    that found its kept connection closed is (a Redis restart): the lookup
    on the connection the responder opened at start, and a seat map, used
    to try twice (a second redis_timeout_ms)."""
    hole = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    hole.bind(("127.0.0.1", 0))
    hole.listen(64)
    accepted = []

    def accept():
        while True:
            try:
                c, _ = hole.accept()
            except OSError:
                return
            accepted.append(c)      # kept open, never answered
    threading.Thread(target=accept, daemon=True).start()
    run = tempfile.mkdtemp(prefix="query-", dir="/tmp")
    sock = os.path.join(run, "query.sock")
    env = dict(os.environ, BOXOFFICE_CONF=box.CONF, BOXOFFICE_METRICS_DIR="",
               BOXOFFICE_REDIS_NODES="127.0.0.1:%d" % hole.getsockname()[1],
               BOXOFFICE_REDIS_TIMEOUT_MS="500",
               BOXOFFICE_LOG_FILE=os.path.join(run, "query.log"))
    p = subprocess.Popen([shutil.which("spawn-fcgi"), "-n", "-s", sock, "--",
                          os.path.join(box.BIN, "query.fcgi")], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        box.wait_until(lambda: os.path.exists(sock), timeout=10, what="the socket")
        # the responder connects at start: a lookup on that kept connection
        # makes no other
        box.wait_until(lambda: accepted, timeout=10, what="the connection made at start")
        time.sleep(0.5)
        n0 = len(accepted)
        path = "/get/tickets/%s" % uuid.uuid4()
        out = fcgi.call(sock, "GET", path, timeout=30)
        time.sleep(0.5)     # any other the lookup made
        check(out.startswith("Status: 503"), "%s with Redis silent and MySQL without it: %r"
              % (path, out[:200]))
        eq(len(accepted) - n0, 0, "new connections to the silent Redis for a lookup on the "
           "connection kept since the start (a second try costs redis_timeout_ms)")
        for path in ("/get/tickets/%s" % uuid.uuid4(), "/get/orders/%s" % uuid.uuid4(),
                     "/get/events/Event1/zones/1/seats"):
            time.sleep(0.5)     # the accept thread catches up
            n0 = len(accepted)
            out = fcgi.call(sock, "GET", path, timeout=30)
            box.wait_until(lambda: len(accepted) > n0, timeout=10, what="a connection")
            time.sleep(0.5)     # any other the request made
            print("%s: %d connection(s) to Redis; %s" % (path, len(accepted) - n0,
                                                         out.split("\r\n")[0]))
            check(out.startswith("Status: 503"), "%s with Redis silent: %r"
                  % (path, out[:200]))
            eq(len(accepted) - n0, 1, "connections to the silent Redis for one request "
               "of %s (each costs redis_timeout_ms)" % path)
    finally:
        p.terminate()
        p.wait(10)
        hole.close()
        for c in accepted:
            c.close()
        shutil.rmtree(run, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(box.main(globals()))
