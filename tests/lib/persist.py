# SPDX-License-Identifier: ISC
"""persist.py - helpers of the consumer tests: buy many distinct seats through
nginx on keep-alive connections, keep the 201 bodies, and the exact check
that MySQL and DynamoDB hold exactly those tickets, field for field, with
the queues drained.

A Ledger remembers every ticket sold in a test file (ticketId -> the 201
body as a dict whose price is the exact JSON text, e.g. "320.00").
"""

import base64
import concurrent.futures
import decimal
import hashlib
import http.client
import json
import os
import re
import threading
import time
import uuid

import box

QUEUES = ("ticketSQL", "ticketNoSQL")
DEAD = ("ticketSQL.dead", "ticketNoSQL.dead")
ZONE_SEATS = box.VENUE1_ROWS * box.VENUE1_COLS  # 780 seats in each Event1 zone
CONSUMER_LOG = os.path.join(box.ENV.get("BOX_VAR", os.path.join(box.ROOT, "var")), "log",
                            "consumer.log")


def parse_body(text):
    """A 201 body as a dict; the price stays the JSON text ("320.00")."""
    return json.loads(text, parse_float=str)


def event1_seats(first, n):
    """n distinct Event1 seats (venue, event, zone, row, col) from seat number first
    (seat k: zone k // 780 + 1, row and column inside the zone)."""
    out = []
    for k in range(first, first + n):
        zone, rest = divmod(k, ZONE_SEATS)
        row, col = divmod(rest, box.VENUE1_COLS)
        out.append(("Venue1", "Event1", zone + 1, row + 1, col + 1))
    return out


class Ledger:
    """The tickets sold so far (201 bodies by ticketId) and a seat allocator.
    history: a history.History that records every purchase attempt (for
    the history check of tests/lib/history.py), or None."""

    def __init__(self, first_seat=0, history=None):
        self.history = history
        self.sold = {}
        self.next_seat = first_seat
        self.lock = threading.Lock()
        self.retried = 0  # purchases retried in the current buy()

    def seats(self, n):
        with self.lock:
            s = event1_seats(self.next_seat, n)
            self.next_seat += n
        return s

    def add(self, text):
        t = parse_body(text)
        with self.lock:
            box.check(t["ticketId"] not in self.sold, "ticket id sold twice: %s" % t["ticketId"])
            self.sold[t["ticketId"]] = t
        return t

    def buy(self, seats, workers=32, rate=None):
        """Buys every seat through nginx on `workers` keep-alive connections;
        rate (purchases per second, all workers together) spreads them out.
        Every answer must be a 201 (after box.buy_definite()'s retries);
        returns the tickets."""
        per_worker = [seats[i::workers] for i in range(workers)]
        delay = workers / float(rate) if rate else 0
        got = []

        def worker(mine):
            conn = http.client.HTTPConnection("127.0.0.1", box.NGINX, timeout=60)
            out = []
            try:
                for seat in mine:
                    t0 = time.time()
                    r, tries = self.buy_one(seat, conn)
                    with self.lock:
                        self.retried += tries - 1
                    box.check(r.status == 201, "buy %r: %r" % (seat, r))
                    out.append(self.add(r.body))
                    if delay:
                        time.sleep(max(0.0, delay - (time.time() - t0)))
            finally:
                conn.close()
            return out

        with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as ex:
            for part in ex.map(worker, [m for m in per_worker if m]):
                got.extend(part)
        box.eq(len(got), len(seats), "201 answers")
        if self.retried:
            print("    (%d purchases retried after a 503 that sold nothing)" % self.retried)
            self.retried = 0
        return got

    def buy_one(self, seat, conn):
        """box.buy_definite() of seat on conn, each attempt recorded in
        self.history if there is one; returns (the last Resp, attempts)."""
        if self.history is None:
            return box.buy_definite(*seat, conn=conn)
        import history
        for n in range(1, 6):
            r = history.recorded(self.history, {"seat": list(seat)},
                                 lambda: box.buy(*seat, conn=conn))
            if n == 5 or not box.nothing_sold(r):
                return r, n
            time.sleep(0.2 * n)

    def buy_in_background(self, seats, workers=8, rate=None):
        """Starts buy() on a thread; returns a function that joins it and
        re-raises its failure."""
        result = {}

        def run():
            try:
                result["tickets"] = self.buy(seats, workers=workers, rate=rate)
            except BaseException as e:  # noqa: BLE001 - re-raised in join
                result["error"] = e

        th = threading.Thread(target=run, daemon=True)
        th.start()

        def join(timeout=600):
            th.join(timeout)
            box.check(not th.is_alive(), "purchases still running after %ss" % timeout)
            if "error" in result:
                raise result["error"]
            return result["tickets"]
        return join


# ------------------------------------------------------------ the stores

def mysql_tickets():
    """Every MySQL ticket row: ticketId -> dict in the 201 body's form."""
    rows = box.sql("SELECT ticket_id, venue_id, event_id, zone_id, row_no, col_no, price, "
                   "status, created_on FROM ticketing.ticket")
    out = {}
    for r in rows:
        box.check(r[0] not in out, "MySQL ticket %s twice" % r[0])
        out[r[0]] = {"ticketId": r[0], "venueId": r[1], "eventId": r[2], "zoneId": int(r[3]),
                     "row": int(r[4]), "column": int(r[5]), "price": r[6], "status": r[7],
                     "createdOn": r[8].replace(" ", "T") + "Z"}
    return out


def ddb_tickets():
    """Every DynamoDB item that is a sale: ticketId -> dict in the 201 body's
    form (numbers as the text DynamoDB returns, which drops trailing zeros:
    320 for 320.00).  Items marked as a caught double sale are left out
    (see double_sales())."""
    out = {}
    for it in box.ddb_items():
        if it.get("status") == "DOUBLE_SALE":
            continue
        tid = it.get("ticketId")
        box.check(tid not in out, "DynamoDB item %s twice" % tid)
        t = dict(it)
        for k in ("zoneId", "row", "column"):
            if k in t:
                t[k] = int(t[k])
        out[tid] = t
    return out


def double_sales():
    """The DynamoDB items the consumer marked as a caught double sale:
    ticketId -> item."""
    return {it["ticketId"]: it for it in box.ddb_items() if it.get("status") == "DOUBLE_SALE"}


def same_price(a, b):
    return decimal.Decimal(str(a)) == decimal.Decimal(str(b))


def diff(want, got, store, exact_price):
    """Describes the differences between the expected and stored tickets."""
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    wrong = []
    for tid in sorted(set(want) & set(got)):
        w, g = want[tid], got[tid]
        for k in ("ticketId", "venueId", "eventId", "zoneId", "row", "column", "status",
                  "createdOn"):
            if w[k] != g.get(k):
                wrong.append("%s.%s: %r != %r" % (tid, k, g.get(k), w[k]))
        if exact_price and w["price"] != g.get("price"):
            wrong.append("%s.price: %r != %r" % (tid, g.get("price"), w["price"]))
        if not exact_price and not same_price(w["price"], g.get("price", "nan")):
            wrong.append("%s.price: %r != %r" % (tid, g.get("price"), w["price"]))
        if "orderId" in w and "orderId" in g and w["orderId"] != g["orderId"]:
            wrong.append("%s.orderId: %r != %r" % (tid, g["orderId"], w["orderId"]))
        # the stores keep only the SHA-256 of an order's cancel token
        # (CONTRACT section 7): cancelHash, never the token itself
        if "cancelHash" in g and g["cancelHash"] != token_hash(w.get("cancelToken")):
            wrong.append("%s.cancelHash: %r is not the hash of the 201's cancelToken"
                         % (tid, g["cancelHash"]))
        more = set(g) - set(w) - {"cancelHash"}
        if more:
            wrong.append("%s: extra attributes %s" % (tid, sorted(more)))
    if not (missing or extra or wrong):
        return None
    return "%s: %d missing %s, %d extra %s, %d wrong %s" % (
        store, len(missing), missing[:3], len(extra), extra[:3], len(wrong), wrong[:3])


def token_hash(token):
    """cancelHash of a cancelToken: SHA-256 in lowercase hex (None: no token)."""
    return hashlib.sha256(token.encode()).hexdigest() if token else None


def drained():
    return all(box.queue_count(q) == 0 for q in QUEUES)


def exact_check(ledger, timeout=240, dead=(0, 0)):
    """Waits until both queues are drained and both stores hold as many
    tickets as were sold, then checks that MySQL and DynamoDB each hold
    exactly the sold tickets, field for field, and that the dead-letter
    queues hold `dead` messages."""
    n = len(ledger.sold)
    end = time.time() + timeout
    state = None
    while time.time() < end:
        try:
            state = (box.queue_count("ticketSQL"), box.queue_count("ticketNoSQL"),
                     box.sql_count("SELECT COUNT(*) FROM ticketing.ticket"), box.ddb_count())
            if state == (0, 0, n, n):
                break
        except Exception as e:  # noqa: BLE001 - a server may be restarting
            state = e
        time.sleep(0.5)
    # whatever the wait gave, the stores must now match exactly
    problems = [diff(ledger.sold, mysql_tickets(), "MySQL", True),
                diff(ledger.sold, ddb_tickets(), "DynamoDB", False)]
    problems = [p for p in problems if p]
    box.check(not problems, "; ".join(problems) + " (queues/counts %r)" % (state,))
    box.eq((box.queue_count("ticketSQL"), box.queue_count("ticketNoSQL")), (0, 0),
           "ready messages in ticketSQL, ticketNoSQL")
    box.eq(tuple(box.queue_count(q) for q in DEAD), tuple(dead), "dead-lettered messages")


def wait_drained(timeout=120):
    box.wait_until(drained, timeout=timeout, what="ticketSQL and ticketNoSQL drained")


def forged_copy(ticket, **changes):
    """The JSON of a ticket with some fields changed (e.g. another ticketId)."""
    t = dict(ticket)
    t.update(changes)
    return ('{"ticketId":"%s","venueId":"%s","eventId":"%s","zoneId":%d,"row":%d,"column":%d,'
            '"price":%s,"status":"%s","createdOn":"%s"}' % (
                t["ticketId"], t["venueId"], t["eventId"], t["zoneId"], t["row"], t["column"],
                t["price"], t["status"], t["createdOn"]))


def new_ticket_id(slot=None):
    """A fresh canonical lowercase UUIDv7-shaped id; with slot, carrying
    that Redis slot in its last 4 hex digits as the responders' ids do
    (box.id_slot(): a Redis Cluster keeps its caches beside the zone)."""
    ms = int(time.time() * 1000)
    r = uuid.uuid4().hex
    h = "%012x" % ms + "7" + r[:3] + "%x" % (8 | (int(r[3], 16) & 3)) + r[4:19]
    if slot is not None:
        h = h[:28] + "%04x" % slot
    return "%s-%s-%s-%s-%s" % (h[:8], h[8:12], h[12:16], h[16:20], h[20:32])


def consumer_pid():
    """The consumer's pid from the stack's pid file, or None."""
    path = os.path.join(box.ENV.get("BOX_VAR", os.path.join(box.ROOT, "var")), "run",
                        "consumer.pid")
    try:
        with open(path) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def kill_consumer():
    """kill -9 of the consumer (and its supervisor), then waits until the
    process is gone for good: a killed orphan stays a zombie until init reaps
    it, and a zombie still answers kill -0 (so `stack start` would think it
    runs)."""
    pid = consumer_pid()
    box.stack("kill", "consumer")
    if pid:
        box.wait_until(lambda: not os.path.exists("/proc/%d" % pid), timeout=30,
                       interval=0.05, what="killed consumer %d reaped" % pid)
    return pid


def start_consumer(old_pid=None):
    """Starts the consumer and checks that a new process runs."""
    box.stack("start", "consumer")
    pid = consumer_pid()
    box.check(pid and pid != old_pid and box.alive(pid), "a new consumer runs (%r)" % pid)
    return pid


def log_text():
    try:
        with open(CONSUMER_LOG, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def log_size():
    try:
        return os.path.getsize(CONSUMER_LOG)
    except OSError:
        return 0


def log_since(offset):
    try:
        with open(CONSUMER_LOG, errors="replace") as f:
            f.seek(offset)
            return f.read()
    except OSError:
        return ""


def lua_source(path):
    """A script of lua/ (or a version of one) as scripts/lua2c builds it:
    each "--#include X" line replaced by lua/lib/X.lua."""
    def inc(m):
        with open(os.path.join(box.ROOT, "lua", "lib", m.group(1) + ".lua")) as f:
            return f.read()
    with open(path) as f:
        return re.sub(r"(?m)^--#include ([a-z_]+)$", inc, f.read())


def reserve_directly(tid, venue, event, zone, row, col, created_ms):
    """Runs lua/order.lua for an order of one seat (POST /tickets) as a
    responder would, then 'dies': no publish (a responder killed between
    the reservation and the publish).  created_ms is the pending score
    too.  Returns the 201 body the responder would have answered (the
    ticket, orderId, cancelToken); the sweeper publishes the order."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created_ms // 1000)) + \
        ".%03dZ" % (created_ms % 1000)
    oid = new_ticket_id(box.zone_slot(event, zone))
    token = base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")
    script = lua_source(os.path.join(box.ROOT, "lua", "order.lua"))
    tag = "%s:%d" % (event, zone)
    keys = ["bo:%s:{%s}" % (k, tag) for k in ("zone", "left", "seat", "own", "pend", "ords")]
    keys += ["bo:idem:{%s}:" % tag, "bo:sweep:{%s}" % tag, "bo:holds:{%s}" % tag,
             "bo:hexp:{%s}" % tag, "bo:idem:{%s}:#" % tag, "bo:hend:{%s}" % tag]
    res = box.redis("EVAL", script, len(keys), *keys, venue, event, zone, oid, stamp,
                    created_ms, token_hash(token), 600, 0, 1, tid,
                    row, col, "", "", 0, "", "t", tag,
                    "{%s}" % box.slot_tag(box.zone_slot(event, zone)),
                    node=box.zone_node(event, zone))
    box.eq(res[0], 0, "order.lua result")
    tickets = res[2].decode()
    ticket = tickets[len('"tickets":['):-len("]")]
    return ticket[:-1] + ',"cancelToken":"%s"}' % token
