# SPDX-License-Identifier: ISC
"""Metrics: /tickets/metrics and /get/metrics are served on the web servers'
metrics listeners only, to the allowed addresses only (not on the public
port, not to 127.0.0.2); their Prometheus text is well
formed, and counters add up across the preforked processes: N answers given
by many responders in parallel show up as exactly N, by status and error
code; reserve and publish latencies are recorded once per attempt; the
consumer's written counters follow the sales; a Redis restart shows up as
reconnects.  A metrics file of another layout (an older responder still
running during a rolling restart) is never truncated under its mapping."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import box
import fcgi
from box import (APACHE, APACHE_METRICS, LIGHTTPD, LIGHTTPD_METRICS, NGINX, NGINX_METRICS, buy,
                 check, eq, http)

METRICS_PORT = {NGINX: NGINX_METRICS, LIGHTTPD: LIGHTTPD_METRICS}
if APACHE:
    METRICS_PORT[APACHE] = APACHE_METRICS
METRICS_DIR = os.path.join(box.ENV.get("BOX_VAR", os.path.join(box.ROOT, "var")), "run",
                           "metrics")

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (-?[0-9.e+-]+|\+Inf|NaN)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def scrape(path, port=NGINX):
    """The metrics as {(name, frozenset(labels)): value}, from the metrics
    listener of the web server on port; checks the format."""
    r = http("GET", path, port=METRICS_PORT[port])
    eq(r.status, 200, "GET %s" % path)
    eq(r.header("Content-Type"), "text/plain; version=0.0.4; charset=utf-8", "content type")
    out, typed = {}, {}
    for line in r.body.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            check(name not in typed, "two TYPE lines for " + name)
            typed[name] = kind
            continue
        if line.startswith("#") or not line:
            continue
        m = SAMPLE.match(line)
        check(m, "not a sample line: %r" % line)
        name, labels = m.group(1), frozenset(LABEL.findall(m.group(2) or ""))
        family = re.sub(r"_(bucket|sum|count)$", "", name) if name not in typed else name
        check(family in typed, "sample before its TYPE: %r" % line)
        check((name, labels) not in out, "duplicate sample %r" % line)
        out[(name, labels)] = float(m.group(3))
    return out


def value(metrics, name, **labels):
    return metrics.get((name, frozenset(labels.items())), 0.0)


def delta(before, after, name, **labels):
    return value(after, name, **labels) - value(before, name, **labels)


def setup_module():
    box.stack("reset")


def test_format_and_histograms():
    for path, port in (("/tickets/metrics", NGINX), ("/tickets/metrics", LIGHTTPD),
                       ("/get/metrics", NGINX), ("/get/metrics", LIGHTTPD)):
        m = scrape(path, port)
        check(m, "no samples at %s" % path)
    m = scrape("/tickets/metrics")
    for name in ("boxoffice_reserve_duration_seconds", "boxoffice_publish_duration_seconds"):
        buckets = sorted(((float("inf") if dict(k[1])["le"] == "+Inf" else float(dict(k[1])["le"]),
                           v) for k, v in m.items()
                          if k[0] == name + "_bucket" and dict(k[1])["program"] == "ticket"))
        check(len(buckets) >= 10, "%s buckets: %r" % (name, buckets))
        counts = [v for _, v in buckets]
        eq(counts, sorted(counts), name + " buckets are cumulative")
        eq(counts[-1], value(m, name + "_count", program="ticket"), name + " +Inf = count")
    for key in (("boxoffice_consumer_written_total", "sql"),
                ("boxoffice_consumer_lag_seconds", "nosql")):
        check((key[0], frozenset({("pipeline", key[1])})) in m, "%s{%s} missing" % key)
    r = http("POST", "/tickets/metrics", body="", headers={"Content-Type": "text/plain"},
             port=NGINX_METRICS)
    eq(r.status, 405, "POST metrics")


def get_from(source, port, path):
    """GET path from 127.0.0.1:port with the client bound to source; returns
    (status, body)."""
    conn = box.httplib.HTTPConnection("127.0.0.1", port, timeout=30,
                                      source_address=(source, 0))
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read().decode("utf-8", "replace")
    finally:
        conn.close()


def test_metrics_only_on_the_metrics_listener_to_allowed_addresses():
    """The public port answers no metrics (nginx and Apache 404, lighttpd 403); the metrics
    listener answers the allowed address (127.0.0.1) and refuses 127.0.0.2 (403), on nginx,
    lighttpd and Apache; the metrics listener serves nothing but the metrics."""
    for web, mport in METRICS_PORT.items():
        for path in ("/tickets/metrics", "/get/metrics"):
            st, body = get_from("127.0.0.1", web, path)
            check(st in (403, 404), "%s on the public port %d: %d" % (path, web, st))
            check("boxoffice_" not in body, "metrics on the public port %d: %s" % (web, body[:200]))
            st, body = get_from("127.0.0.1", mport, path)
            eq(st, 200, "%s on the metrics port %d from 127.0.0.1" % (path, mport))
            st, body = get_from("127.0.0.2", mport, path)
            eq(st, 403, "%s on the metrics port %d from 127.0.0.2" % (path, mport))
            check("boxoffice_" not in body, "metrics to 127.0.0.2: %s" % body[:200])
        st, body = get_from("127.0.0.1", mport, "/get/count/Event1")
        check(st in (403, 404), "the API on the metrics port %d: %d" % (mport, st))


def test_purchases_add_up_across_processes():
    """200 purchase attempts on 16 parallel connections through both web
    servers, spread over every responder: 150 distinct seats (201) and 50
    repeats (409 SEAT_TAKEN)."""
    before = scrape("/tickets/metrics")
    seats = [(z, r, c) for z in (81, 82, 83) for r in range(1, 6) for c in range(1, 11)]
    reqs = seats + seats[:50]
    statuses = []
    lock = threading.Lock()
    work = list(reqs)

    def client(i):
        port = (NGINX, LIGHTTPD)[i % 2]
        conn = box.httplib.HTTPConnection("127.0.0.1", port, timeout=30)
        while True:
            with lock:
                if not work:
                    break
                z, r, c = work.pop(0)
            resp = buy("Venue1", "Event1", z, r, c, conn=conn)
            with lock:
                statuses.append((resp.status, resp.json().get("error", "")))
        conn.close()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    eq(len(statuses), 200, "answers")
    n201 = statuses.count((201, ""))
    n409 = statuses.count((409, "SEAT_TAKEN"))
    eq((n201, n409), (150, 50), "answers by status")
    after = scrape("/tickets/metrics")
    name = "boxoffice_http_requests_total"
    eq(delta(before, after, name, program="ticket", status="201", error=""), 150, "201 counted")
    eq(delta(before, after, name, program="ticket", status="409", error="SEAT_TAKEN"), 50,
       "409 SEAT_TAKEN counted")
    eq(delta(before, after, "boxoffice_reserve_duration_seconds_count", program="ticket"), 200,
       "reserve latencies recorded")
    eq(delta(before, after, "boxoffice_publish_total", program="ticket", outcome="confirmed"), 150,
       "confirmed publishes")
    eq(delta(before, after, "boxoffice_publish_duration_seconds_count", program="ticket"), 150,
       "publish latencies recorded")
    check(delta(before, after, "boxoffice_reserve_duration_seconds_sum", program="ticket") > 0,
          "reserve time summed")

    def written():
        m = scrape("/tickets/metrics")
        return [delta(before, m, "boxoffice_consumer_written_total", pipeline=p)
                for p in ("sql", "nosql")]
    box.wait_until(lambda: written() == [150, 150], timeout=60,
                   what="the consumer's written counters to grow by 150 (now %r)" % written())


def test_every_responder_counts_into_the_same_counters():
    """Each of the N responders holds one request at the same moment (sent
    in two halves straight to the socket: a responder that has the first
    half waits for the rest and accepts nothing else), so the N purchases
    are served by N different processes (completed last-first, each within
    seconds); all N are counted."""
    sock = box.fcgi_socket("ticket")
    n = len([p for p in box.fcgi_pids("ticket") if box.alive(p)])
    check(n >= 2, "responders: %d" % n)
    before = scrape("/tickets/metrics")
    conns, rests = [], []
    try:
        for i in range(n):
            body = json.dumps({"venueId": "Venue1", "eventId": "Event1", "zoneId": 85,
                               "row": 1, "column": i + 1}).encode()
            head, rest = fcgi.request("POST", "/tickets", body, "application/json")
            s = fcgi.connect(sock)
            s.sendall(head)
            conns.append(s)
            rests.append(rest)
        # every responder now waits for the rest of its request: one more
        # request is not served
        time.sleep(0.5)
        probe = fcgi.connect(sock, timeout=1)
        probe.sendall(b"".join(fcgi.request("GET", "/tickets/health")))
        try:
            probe.recv(1)
            busy = False
        except socket.timeout:
            busy = True
        check(busy, "a request was served while all %d responders should be busy" % n)
        # the last connection first: if one process had taken several
        # connections, it would be stuck on the first one's request
        replies = []
        for s, rest in reversed(list(zip(conns, rests))):
            s.sendall(rest)
            try:
                replies.append(fcgi.read_reply(s))
            except socket.timeout:
                raise box.Fail("request %d of %d not served: not every responder took one"
                               % (len(replies) + 1, n))
        probe.settimeout(10)
        check(fcgi.read_reply(probe).startswith("Status: 200"), "the probe after the others")
    finally:
        for s in conns:
            s.close()
    eq([r.split("\r\n", 1)[0] for r in replies], ["Status: 201 Created"] * n, "answers")
    after = scrape("/tickets/metrics")
    eq(delta(before, after, "boxoffice_http_requests_total", program="ticket", status="201",
             error=""), n, "201s from %d processes" % n)
    eq(delta(before, after, "boxoffice_publish_total", program="ticket", outcome="confirmed"), n,
       "confirmed publishes from %d processes" % n)


def test_errors_counted_by_code():
    before = scrape("/tickets/metrics")
    eq(http("POST", "/tickets", body="{", headers={"Content-Type": "application/json"}).status,
       400, "bad JSON")
    eq(buy("Venue1", "Event1", 1, 99, 1).status, 400, "invalid seat")
    eq(buy("Venue1", "NoSuchEvent", 1, 1, 1).status, 404, "unknown event")
    eq(http("GET", "/tickets").status, 405, "GET /tickets")
    eq(http("POST", "/tickets", body="{}", headers={"Content-Type": "text/plain"}).status, 415,
       "media type")
    after = scrape("/tickets/metrics")
    name = "boxoffice_http_requests_total"
    for status, code in (("400", "BAD_REQUEST"), ("400", "INVALID_SEAT"), ("404", "NOT_FOUND"),
                         ("405", "METHOD_NOT_ALLOWED"), ("415", "UNSUPPORTED_MEDIA_TYPE")):
        eq(delta(before, after, name, program="ticket", status=status, error=code), 1,
           "%s %s counted" % (status, code))


def test_round2_answers_counted_by_status_and_code():
    """The answers of orders, holds, cancels and keys are counted under
    their own status and error code, not as "other" (they were, until the
    tables of shared/metrics.c named them)."""
    zone = {"venueId": "Venue1", "eventId": "Event1", "zoneId": 83}
    before = scrape("/tickets/metrics")
    h = http("POST", "/holds", dict(zone, quantity=1))
    eq(h.status, 201, "hold (%s)" % h.body)
    eq(http("DELETE", "/holds/" + h.json()["holdId"]).status, 204, "hold deleted")
    short = http("POST", "/holds", dict(zone, quantity=1, holdSeconds=1))
    eq(short.status, 201, "short hold (%s)" % short.body)
    o = http("POST", "/orders", dict(zone, quantity=1), headers={"Idempotency-Key": "m-%d" %
                                                                   os.getpid()})
    eq(o.status, 201, "keyed order (%s)" % o.body)
    eq(http("POST", "/orders", dict(zone, quantity=2),
            headers={"Idempotency-Key": "m-%d" % os.getpid()}).status, 422, "key reused")
    eq(http("POST", "/orders/%s/cancel" % o.json()["orderId"],
            {"cancelToken": "A" * 22}).status, 403, "wrong cancel token")
    time.sleep(2.0)     # past the hold's second (a confirm before would sell it)
    eq(http("POST", "/holds/%s/confirm" % short.json()["holdId"]).status, 410,
       "confirm of the expired hold")
    after = scrape("/tickets/metrics")
    name = "boxoffice_http_requests_total"
    for status, code, n in (("204", "", 1), ("422", "IDEMPOTENCY_KEY_REUSED", 1),
                            ("403", "FORBIDDEN", 1)):
        eq(delta(before, after, name, program="ticket", status=status, error=code), n,
           "%s %s counted" % (status, code))
    eq(delta(before, after, name, program="ticket", status="410", error="HOLD_EXPIRED"), 1,
       "410 HOLD_EXPIRED counted")
    eq(sum(delta(before, after, name, program="ticket", status="other", error=e)
           for e in ("", "other")), 0, "nothing counted under status other")


def test_queries_add_up():
    before = scrape("/get/metrics")
    for i in range(30):
        eq(http("GET", "/get/count/Event1", port=(NGINX, LIGHTTPD)[i % 2]).status, 200, "count")
    for i in range(7):
        eq(http("GET", "/get/events/NoSuchEvent").status, 404, "unknown event")
    after = scrape("/get/metrics")
    name = "boxoffice_http_requests_total"
    # the scrape itself is one more 200, counted after it was rendered
    eq(delta(before, after, name, program="query", status="200", error=""), 31, "200 counted")
    eq(delta(before, after, name, program="query", status="404", error="NOT_FOUND"), 7,
       "404 counted")


def test_redis_restart_counts_reconnects():
    before = scrape("/tickets/metrics")
    box.stack("restart", "redis")
    # every responder has a dead connection now: the first request of each
    # reconnects; buy until one purchase went through a fresh connection
    box.wait_until(lambda: buy("Venue1", "Event1", 84, 1, 1).status in (201, 409), timeout=30,
                   what="a purchase after the restart")
    after = scrape("/tickets/metrics")
    check(delta(before, after, "boxoffice_redis_reconnects_total", program="ticket") >= 1,
          "no Redis reconnect counted")


READER = r"""
import mmap, sys, time
f = open(sys.argv[1], "rb")
m = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
print("mapped", len(m), flush=True)
while True:
    s = sum(m[i] for i in range(0, len(m), 4096)) + m[len(m) - 1]
    time.sleep(0.005)
"""


def test_other_layout_file_is_never_truncated():
    """A rolling restart across a change of the metrics layout: a process of
    the old layout (here a reader that keeps touching every page of its
    mapping) goes on running while responders of the current layout start;
    they leave its file alone (no truncation: that would kill it with
    SIGBUS) and count into a file of their own."""
    legacy = os.path.join(METRICS_DIR, "ticket.metrics")
    mine = [f for f in os.listdir(METRICS_DIR) if f.startswith("ticket.")]
    size = 3 * 4096 + 24            # no layout of ours has this size
    content = b"BOMETM0\0" + bytes((i * 7) & 0xff for i in range(size - 8))
    tmp = legacy + ".test"
    with open(tmp, "wb") as f:
        f.write(content)
    os.chmod(tmp, 0o666)
    os.rename(tmp, legacy)
    reader = subprocess.Popen([sys.executable, "-c", READER, legacy], stdout=subprocess.PIPE,
                              text=True)
    try:
        eq(reader.stdout.readline().split(), ["mapped", str(size)], "the old process's mapping")
        box.stack("restart", "ticket")      # responders of the current layout
        eq(buy("Venue1", "Event1", 86, 1, 1).status, 201, "a purchase after the restart")
        time.sleep(1)
        check(reader.poll() is None, "the process of the old layout died (%s)" % (
            "SIGBUS" if reader.returncode == -signal.SIGBUS else reader.returncode))
        with open(legacy, "rb") as f:
            eq(f.read() == content, True, "the old layout's file is unchanged")
        m = scrape("/tickets/metrics")
        check(value(m, "boxoffice_http_requests_total", program="ticket", status="201",
                    error="") >= 1, "the new responders count nothing")
        now = [f for f in os.listdir(METRICS_DIR) if f.startswith("ticket.")]
        print("metrics files before %r, after %r" % (sorted(mine), sorted(now)))
    finally:
        if reader.poll() is None:
            reader.kill()
        reader.wait()
        if os.path.exists(legacy):
            os.unlink(legacy)


if __name__ == "__main__":
    raise SystemExit(box.main(globals()))
