# SPDX-License-Identifier: ISC
"""history.py - the history checker of the fault scenarios (tests/faults/).

A load client (Load) buys seats through nginx and lighttpd while a fault
happens and records every purchase request with its outcome:

  ok       201 with a ticket: the seat is sold, the ticket must be persisted;
  fail     a definite no: a 4xx, or the responder's own 503 that says
           "nothing was sold" (no ticketId): nothing may be persisted;
  unknown  anything else: a 503 WITH ticketId (the broker's outcome is
           unknown, docs/reliability.md), a timeout, a connection reset, the
           web server's own 5xx (the responder died or is missing): the
           ticket may or may not exist.

The mixed load of round 2 (tests/lib/orderload.py) records orders, holds,
confirms, hold deletions and cancellations the same way through call()
(see "Round 2" below for what each record keeps).

After the system settled (queues drained, pending and sweep sets empty, no
hold active), check() verifies the history against Redis, MySQL and
DynamoDB, one function per invariant (check_i1 .. check_i7):

  I1  no two live tickets on a seat at any instant: a ticket (of a 201 or a
      store) is live from its createdOn until its cancelledOn; two of one
      seat overlap by at most `slack` seconds;
  I2  every ok appears exactly once in MySQL and in DynamoDB, field for
      field, on the seats asked for (an order whole); every unknown whose
      reservation stands (503 with an id, publish in doubt) was completed
      (persisted) too; every 200 cancel (and every "recorded" 503) is
      CANCELLED in both stores with its cancelledOn;
  I3  every persisted order (a round-1 ticket alone) comes from an ok or an
      unknown request (by id, or for an unknown without id: same zone and
      seats, created during the request), never from a fail; every order
      is whole in both stores; every CANCELLED ticket was asked to be;
  I4  per event zone and row: Redis seat bits = counters = owner tokens =
      live seats (MySQL) <= capacity;
  I5  MySQL = DynamoDB field for field, ticketSQL/ticketNoSQL empty (ready
      and unacked), every dead-lettered message accounted for (a copy of
      something persisted, or declared expected by the scenario), and
      `ticketctl check` finds 0 differences;
  I6  a hold ends exactly one way (confirmed into one order, deleted,
      expired), by its answers and by Redis; its seats are then its
      order's or free, never owned by the hold;
  I7  one Idempotency-Key (per zone) never buys twice: one order id in all
      its 201s, at most one of its orders persisted, Redis keeps that one.

The report is meant for a person; check() returns it, Report.ok tells.
History.save()/load() keep a history as JSON lines, so that the check also
runs as a command: tests/faults/check-history FILE.
"""

import collections
import decimal
import hashlib
import http.client
import json
import os
import random
import re
import socket
import subprocess
import threading
import time

import box

QUEUES = ("ticketSQL", "ticketNoSQL")
DEAD = ("ticketSQL.dead", "ticketNoSQL.dead")
FIELDS = ("ticketId", "venueId", "eventId", "zoneId", "row", "column", "price", "status",
          "createdOn")
# the words of the responder's 503 that released what it reserved
NOTHING_SOLD = box.NOTHING_SOLD


# ---------------------------------------------------------------- outcomes

def classify(status, body):
    """(outcome, ticketId or None, ticket dict or None, why) of one answer."""
    try:
        j = json.loads(body, parse_float=str) if body else None
    except ValueError:
        j = None
    if not isinstance(j, dict):
        j = None
    if status == 201 and j and isinstance(j.get("ticketId"), str):
        return "ok", j["ticketId"], j, "201"
    if 400 <= status < 500:
        return "fail", None, None, "%d %s" % (status, (j or {}).get("error", "?"))
    if status == 503 and j and j.get("error") == "UNAVAILABLE":
        if isinstance(j.get("ticketId"), str):
            # "message broker ...": the seat was reserved, the publish is in
            # doubt; "seat store ...": even the reservation is in doubt
            return "unknown", j["ticketId"], None, "503 with ticketId (%s)" % (
                "reservation in doubt" if "seat store" in j.get("message", "")
                else "publish in doubt")
        if NOTHING_SOLD in j.get("message", ""):
            return "fail", None, None, "503 nothing sold"
        return "unknown", None, None, "503 from the web server: %s" % j.get("message", "")[:60]
    return "unknown", None, None, "%d %s" % (status, (body or "")[:60].replace("\n", " "))


def seat_key(t):
    return (t["eventId"], int(t["zoneId"]), int(t["row"]), int(t["column"]))


def row_label(n):
    """The legacy endpoint's letter label of a row: 1 A .. 26 Z, 27 AA."""
    s = ""
    while n > 0:
        n, r = divmod(n - 1, 26)
        s = chr(65 + r) + s
    return s


class History:
    """Every purchase request of a scenario (or of a whole test file)."""

    def __init__(self, name=""):
        self.name = name
        self.records = []
        self.expected_dead = []        # message bodies a scenario dead-letters on purpose
        self.expected_double = []      # ticket ids a scenario forges as double sales
        self.lost = []                 # (from, to): Redis lost reservations then
        self.lock = threading.Lock()

    def copy(self):
        """A deep copy (records, expected dead letters, lost windows)."""
        h = History(self.name)
        with self.lock:
            h.records = json.loads(json.dumps(self.records))
            h.expected_dead = list(self.expected_dead)
            h.expected_double = list(self.expected_double)
            h.lost = list(self.lost)
        return h

    def add(self, rec):
        with self.lock:
            rec["i"] = len(self.records)
            self.records.append(rec)

    def expect_dead(self, body):
        with self.lock:
            self.expected_dead.append(body)

    def expect_double_sale(self, ticket_id):
        """A ticket the scenario forged (published without a sale) on a
        seat sold to another: the consumer refuses it and marks its
        DynamoDB item DOUBLE_SALE (docs/consumer.md).  Such an item is a
        record of the conflict, not a sale, when the check finds it marked
        so with the seat's live MySQL ticket as doubleSaleOf; any other
        item (an undeclared double sale above all) counts as a sale."""
        with self.lock:
            self.expected_double.append(ticket_id)

    def save(self, path):
        with open(path, "w") as f:
            f.write(json.dumps({"line": "history", "name": self.name}) + "\n")
            for r in self.records:
                f.write(json.dumps(dict(r, line="request")) + "\n")
            for b in self.expected_dead:
                f.write(json.dumps({"line": "expected_dead", "body": b}) + "\n")
            for a, b in self.lost:
                f.write(json.dumps({"line": "lost", "from": a, "to": b}) + "\n")
            for t in self.expected_double:
                f.write(json.dumps({"line": "expected_double", "ticketId": t}) + "\n")

    @classmethod
    def load(cls, path):
        h = cls()
        with open(path) as f:
            for line in f:
                if not line.strip():
                    continue
                d = json.loads(line)
                # "line" says what a line is ("kind" in older files; a
                # request's "kind" is the kind of request, call())
                kind = d.pop("line", None) or (d.pop("kind") if d.get("kind") in (
                    "history", "expected_dead", "expected_double", "lost", "request") else
                    "request")
                if kind == "history":
                    h.name = d.get("name", "")
                elif kind == "expected_dead":
                    h.expected_dead.append(d["body"])
                elif kind == "expected_double":
                    h.expected_double.append(d["ticketId"])
                elif kind == "lost":
                    h.lost.append((d["from"], d["to"]))
                else:
                    h.records.append(d)
        return h

    def count(self, outcome=None, since=None):
        with self.lock:
            return sum(1 for r in self.records if (outcome is None or r["outcome"] == outcome)
                       and (since is None or r["t0"] >= since))

    def summary(self):
        c = collections.Counter(r["outcome"] for r in self.records)
        out = "%d requests: %d ok, %d fail, %d unknown" % (len(self.records), c["ok"], c["fail"],
                                                         c["unknown"])
        kinds = collections.defaultdict(collections.Counter)
        for r in self.records:
            kinds[r.get("kind", "ticket")][r["outcome"]] += 1
        if set(kinds) != {"ticket"}:
            out += " (" + "; ".join("%s %d/%d/%d" % (k, n["ok"], n["fail"], n["unknown"])
                                    for k, n in sorted(kinds.items())) + " ok/fail/unknown)"
        return out


# ------------------------------------------------------------- load client

def zone_seats(event, zone, venue="Venue1", rows=None, cols=None):
    """Every seat (venue, event, zone, row, col) of an Event1-like zone."""
    rows = rows or box.VENUE1_ROWS
    cols = cols or box.VENUE1_COLS
    return [(venue, event, zone, r, c) for r in range(1, rows + 1) for c in range(1, cols + 1)]


def _request(conn, seat, legacy):
    venue, event, zone, row, col = seat
    if legacy:
        path = "/ticket?venueId=%s&eventId=%s&zoneId=%d&row=%s&column=%d" % (
            venue, event, zone, row_label(row), col)
        conn.request("POST", path, body=b"", headers={"Content-Length": "0"})
    else:
        body = json.dumps({"venueId": venue, "eventId": event, "zoneId": zone, "row": row,
                           "column": col})
        conn.request("POST", "/tickets", body=body, headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    return r.status, r.read().decode("utf-8", "replace")


def attempt(hist, conn, seat, port, legacy=False):
    """One purchase on conn (an http.client connection to port), recorded in
    hist; returns the record.  A record without "status" got no HTTP answer:
    the connection must not be used again."""
    rec = {"seat": list(seat), "port": port, "legacy": legacy, "t0": time.time()}
    try:
        status, body = _request(conn, seat, legacy)
        outcome, tid, ticket, why = classify(status, body)
        rec.update(status=status, body=body[:600])
    except ConnectionRefusedError as e:
        # never reached the web server: nothing was sold
        outcome, tid, ticket, why = "fail", None, None, "refused: %r" % e
    except (socket.timeout, TimeoutError) as e:
        outcome, tid, ticket, why = "unknown", None, None, "timeout: %r" % e
    except (OSError, http.client.HTTPException) as e:
        outcome, tid, ticket, why = "unknown", None, None, "connection: %r" % e
    rec.update(t1=time.time(), outcome=outcome, ticketId=tid, ticket=ticket, why=why)
    hist.add(rec)
    return rec


def buy_recorded(hist, seat, port=None, legacy=False, timeout=60):
    """One purchase on a fresh connection, recorded in hist; returns the record."""
    port = port or box.NGINX
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        return attempt(hist, conn, seat, port, legacy)
    finally:
        conn.close()


# Round 2 (CONTRACT section 7): orders, holds, confirms, hold deletions and
# cancellations, recorded by call() with "kind" (a record without one is a
# POST /tickets or /ticket of kind "ticket", as attempt() writes it).
#
#   order    POST /orders: "zone" [venue, event, zone], "seats" [[row, col]..]
#            or "quantity"; ok (201 or a keyed replay) with "orderId" and
#            "order" (the body); unknown with "orderId" (503 with it) or
#            without; fail (4xx, 503 "nothing was sold")
#   ticket   POST /tickets through call(): "seat" as attempt() writes it
#   hold     POST /holds: as order, "holdSeconds"; ok with "holdId", "hold"
#   confirm  POST /holds/{id}/confirm: "holdId"; as order (200 = again)
#   delete   DELETE /holds/{id}: "holdId"; ok 204, fail 404/410 ("why" says)
#   cancel   POST /orders/{id}/cancel or /tickets/{id}/cancel: "orderId" or
#            "ticketId"; ok 200 with "answer"; unknown: a 503 ("recorded":
#            the cancellation stands, its message is pending) or no answer
# Every record keeps "key", the Idempotency-Key sent (or None).

def classify_call(kind, status, body):
    """(outcome, fields, why) of one answer of call(): fields are the ids
    and bodies the record keeps."""
    try:
        j = json.loads(body, parse_float=str) if body else None
    except ValueError:
        j = None
    if not isinstance(j, dict):
        j = {}
    if kind == "ticket":
        outcome, tid, ticket, why = classify(status, body)
        f = {"ticketId": tid, "ticket": ticket}
        oid = (ticket or j).get("orderId")
        if isinstance(oid, str):
            f["orderId"] = oid
        return outcome, f, why
    err = "%d %s" % (status, j.get("error", "?"))
    if kind in ("order", "confirm") and status in (200, 201) and isinstance(j.get("orderId"), str):
        return "ok", {"orderId": j["orderId"], "order": j}, str(status)
    if kind == "hold" and status == 201 and isinstance(j.get("holdId"), str):
        return "ok", {"holdId": j["holdId"], "hold": j}, "201"
    if kind == "delete" and status == 204:
        return "ok", {}, "204"
    if kind == "cancel" and status == 200 and isinstance(j.get("ticketId", j.get("orderId")), str):
        return "ok", {"answer": j}, "200"
    if 400 <= status < 500:
        return "fail", {}, err
    if status == 503 and j.get("error") == "UNAVAILABLE":
        msg = j.get("message", "")
        if NOTHING_SOLD in msg:
            return "fail", {}, "503 nothing sold"
        if kind == "cancel" and "cancellation is recorded" in msg:
            return "unknown", {}, "503 cancellation recorded"
        if isinstance(j.get("orderId"), str):
            return "unknown", {"orderId": j["orderId"]}, "503 with orderId (%s)" % (
                "reservation in doubt" if "seat store" in msg else "publish in doubt")
        if kind in ("delete", "cancel", "confirm") and "seat store unavailable" in msg:
            return "unknown", {}, "503 seat store"
        return "unknown", {}, "503: %s" % msg[:60]
    return "unknown", {}, "%d %s" % (status, (body or "")[:60].replace("\n", " "))


PATHS = {"order": ("POST", "/orders"), "ticket": ("POST", "/tickets"),
         "hold": ("POST", "/holds"), "confirm": ("POST", "/holds/%s/confirm"),
         "delete": ("DELETE", "/holds/%s"), "cancel": ("POST", "/%s/%s/cancel")}


def call(hist, conn, port, rec, body=None, key=None):
    """One request of rec["kind"] on conn, recorded in hist with its outcome
    (rec holds what the request was for: zone, seats, holdId, ...); returns
    the record.  A record without "status" got no HTTP answer: the
    connection must not be used again."""
    kind = rec["kind"]
    method, path = PATHS[kind]
    if kind in ("confirm", "delete"):
        path = path % rec["holdId"]
    elif kind == "cancel":
        path = path % (("tickets", rec["ticketId"]) if rec.get("ticketId") else
                       ("orders", rec["orderId"]))
    hdrs = {}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        hdrs["Content-Type"] = "application/json"
    if key:
        hdrs["Idempotency-Key"] = key
    rec.update(port=port, key=key, t0=time.time())
    try:
        conn.request(method, path, body=data, headers=hdrs)
        r = conn.getresponse()
        text = r.read().decode("utf-8", "replace")
        outcome, f, why = classify_call(kind, r.status, text)
        rec.update(f, status=r.status, body=text[:1500])
        if r.getheader("Idempotent-Replayed"):
            rec["replayed"] = True
    except ConnectionRefusedError as e:
        outcome, why = "fail", "refused: %r" % e
    except (socket.timeout, TimeoutError) as e:
        outcome, why = "unknown", "timeout: %r" % e
    except (OSError, http.client.HTTPException) as e:
        outcome, why = "unknown", "connection: %r" % e
    rec.update(t1=time.time(), outcome=outcome, why=why)
    hist.add(rec)
    return rec


def recorded(hist, rec, send):
    """One sale request of a test that asserts its answer itself: send()
    makes it and returns a box.Resp; rec says what it was for, as attempt()
    writes it ("seat" [venue, event, zone, row, col]) or, with "kind", as
    call() does (an order: "zone" [venue, event, zone], "seats" [[row,
    col]..], "key").  Its outcome is recorded in hist (an exception as
    attempt() records it, then raised again); returns the Resp."""
    rec.setdefault("port", box.NGINX)
    rec.setdefault("key", None)
    rec["t0"] = time.time()
    kind = rec.get("kind")
    try:
        resp = send()
    except Exception as e:
        outcome = "fail" if isinstance(e, ConnectionRefusedError) else "unknown"
        rec.update(t1=time.time(), outcome=outcome, why="%s: %r" % (
            "refused" if outcome == "fail" else "no answer", e))
        hist.add(rec)
        raise
    # a POST /tickets as classify_call() sees it: with the orderId of its
    # 201 or 503 besides the ticketId
    outcome, f, why = classify_call(kind or "ticket", resp.status, resp.body)
    rec.update(f)
    if kind is not None and resp.header("Idempotent-Replayed"):
        rec["replayed"] = True
    rec.update(status=resp.status, body=resp.body[:1500], t1=time.time(), outcome=outcome,
               why=why)
    hist.add(rec)
    return resp


class Clients:
    """The loop of a load's client threads: `workers` threads, thread n on
    a keep-alive connection to web server ports[n % len(ports)], each
    calling step() over and over, about `rate` steps a second in all, until
    stop().  A subclass writes step(conn, port, state) -> the connection to
    go on with (None: open a new one next time) and, if its threads keep
    something of their own, state(n).  Threads started by a step (e.g. a
    request sent twice at once) go into self.extra: stop() joins them too."""

    def __init__(self, workers, rate, timeout=15, ports=None):
        self.workers = workers
        self.delay = workers / float(rate) if rate else 0
        self.timeout = timeout
        self.ports = ports or box.WEB_PORTS
        self.stop_ev = threading.Event()
        self.threads = []
        self.extra = []

    def state(self, n):
        return None

    def step(self, conn, port, state):
        raise NotImplementedError

    def worker(self, n):
        port = self.ports[n % len(self.ports)]
        conn = None
        state = self.state(n)
        while not self.stop_ev.is_set():
            t0 = time.time()
            conn = self.step(conn, port, state)
            if self.delay:
                left = self.delay - (time.time() - t0)
                if left > 0:
                    self.stop_ev.wait(left)
        if conn is not None:
            conn.close()

    def start(self):
        self.threads = [threading.Thread(target=self.worker, args=(i,), daemon=True)
                        for i in range(self.workers)]
        for t in self.threads:
            t.start()
        return self

    def stop(self, timeout=120):
        self.stop_ev.set()
        for t in self.threads + self.extra:
            t.join(timeout)
        box.check(not any(t.is_alive() for t in self.threads + self.extra),
                  "%s client threads still running %ss after stop" % (
                      type(self).__name__, timeout))

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def run_for(self, seconds):
        self.start()
        time.sleep(seconds)
        self.stop()


class Load(Clients):
    """Client threads buying seats picked at random (with repetition, so that
    buyers contend for seats) from a pool, through nginx and lighttpd on
    keep-alive connections, about `rate` purchases a second in all, each
    one recorded in the history.  One purchase in ten uses the legacy form
    (POST /ticket?...&row=<letter>)."""

    def __init__(self, history, pool, workers=8, rate=100, timeout=15, ports=None,
                 legacy=0.1, seed=None):
        super().__init__(workers, rate, timeout, ports)
        self.history = history
        self.pool = list(pool)
        self.legacy = legacy
        self.rand = random.Random(seed)
        self.lock = threading.Lock()

    def pick(self):
        with self.lock:
            return self.rand.choice(self.pool), self.rand.random() < self.legacy

    def step(self, conn, port, state):
        seat, legacy = self.pick()
        if conn is None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=self.timeout)
        rec = attempt(self.history, conn, seat, port, legacy)
        if rec["outcome"] != "ok" and "status" not in rec:
            conn.close()
            conn = None
        return conn


# ------------------------------------------------------------------ stores

def redis_pipeline(cmds, node=0):
    """Sends every command on one connection; returns the replies (an error
    reply becomes a box.RedisError object in the list).  A Redis Cluster
    (box.REDIS_MODE): one command at a time, each on its slot's master."""
    if box.REDIS_MODE == "cluster":
        out = []
        for c in cmds:
            try:
                out.append(box.redis(*c))
            except box.RedisError as e:
                out.append(e)
        return out
    return box.redis_pipeline_at(box.REDIS_PORTS[node], cmds)


def catalog():
    """{(event, zone): (venue, rows, cols, price text)} from MySQL."""
    rows = box.sql("SELECT e.event_id, z.zone_id, e.venue_id, z.row_count, z.col_count, z.price "
                   "FROM ticketing.event e JOIN ticketing.zone z ON z.venue_id = e.venue_id")
    return {(r[0], int(r[1])): (r[2], int(r[3]), int(r[4]), r[5]) for r in rows}


def mysql_tickets():
    rows = box.sql("SELECT ticket_id, venue_id, event_id, zone_id, row_no, col_no, price, status, "
                   "DATE_FORMAT(created_on, '%Y-%m-%dT%H:%i:%s.%fZ'), IFNULL(order_id, ''), "
                   "IFNULL(DATE_FORMAT(cancelled_on, '%Y-%m-%dT%H:%i:%s.%fZ'), '') "
                   "FROM ticketing.ticket")
    out = []
    for r in rows:
        # DATE_FORMAT %f gives microseconds: keep milliseconds as the API does
        created, cancelled = (x[:23] + "Z" if len(x) >= 24 else x for x in (r[8], r[10]))
        t = {"ticketId": r[0], "venueId": r[1], "eventId": r[2], "zoneId": int(r[3]),
             "row": int(r[4]), "column": int(r[5]), "price": r[6], "status": r[7],
             "createdOn": created}
        if r[9]:
            t["orderId"] = r[9]
        if cancelled:
            t["cancelledOn"] = cancelled
        out.append(t)
    return out


def mysql_orders():
    """{orderId: (status, total, number of tickets)} of ticketing.orders."""
    rows = box.sql("SELECT o.order_id, o.status, o.total, (SELECT COUNT(*) FROM ticketing.ticket t "
                   "WHERE t.order_id = o.order_id) FROM ticketing.orders o")
    return {r[0]: (r[1], r[2], int(r[3])) for r in rows}


def mysql_order_keys():
    """{(eventId, zoneId, key hash): [orderIds]} of the orders bought with an
    Idempotency-Key (orders.idem_key_hash: its HMAC, box.idem_key_hash())."""
    out = collections.defaultdict(list)
    for e, z, h, oid in box.sql("SELECT event_id, zone_id, idem_key_hash, order_id FROM "
                                "ticketing.orders WHERE idem_key_hash IS NOT NULL"):
        out[(e, int(z), h)].append(oid)
    return out


def ddb_tickets():
    out = []
    for it in box.ddb_items():
        t = dict(it)
        for k in ("zoneId", "row", "column"):
            if k in t:
                try:
                    t[k] = int(t[k])
                except ValueError:
                    pass
        out.append(t)
    return out


def redis_zones(cat):
    """Redis state of every catalog zone: {(event, zone): dict} with meta,
    left (counters hash, None if absent), bitmap, owners, pend, sweep,
    holds (holdId -> "A <expires> <seats>", "C <orderId>", "D", "X")."""
    by_node = collections.defaultdict(list)
    for key in cat:
        by_node[box.zone_node(*key)].append(key)
    out = {}
    for node, keys in by_node.items():
        cmds = []
        for (event, zone) in keys:
            tag = "{%s:%d}" % (event, zone)
            cmds += [("HGETALL", "bo:zone:" + tag), ("HGETALL", "bo:left:" + tag),
                     ("GET", "bo:seat:" + tag), ("HGETALL", "bo:own:" + tag),
                     ("ZRANGE", "bo:pend:" + tag, 0, -1), ("ZRANGE", "bo:sweep:" + tag, 0, -1),
                     ("HGETALL", "bo:holds:" + tag)]
        rep = redis_pipeline(cmds, node)
        for i, key in enumerate(keys):
            meta, left, bitmap, own, pend, sweep, holds = rep[7 * i:7 * i + 7]

            def h(x):
                if not isinstance(x, list):
                    return {}
                return {x[j].decode(): x[j + 1].decode() for j in range(0, len(x), 2)}
            out[key] = {"meta": h(meta), "left": h(left) if left else None,
                        "bitmap": bitmap if isinstance(bitmap, bytes) else b"",
                        "owners": {int(k): v for k, v in h(own).items()},
                        "pend": pend if isinstance(pend, list) else [],
                        "sweep": sweep if isinstance(sweep, list) else [],
                        "holds": h(holds)}
    return out


def bits_of(bitmap):
    out = set()
    for i, byte in enumerate(bitmap):
        if byte:
            for b in range(8):
                if byte & (0x80 >> b):
                    out.add(i * 8 + b)
    return out


# the cluster topology's nodes are <name>-1..3 (scripts/stack-cluster): the
# first; tests/cluster/mq/test_rabbit_cluster.py moves it off a killed node
RABBIT_NODE = box.ENV.get("BOX_RABBIT_NODE", "boxoffice") + \
    ("-1" if box.ENV.get("BOX_TOPOLOGY") == "cluster" else "") + "@localhost"


def rabbitmqctl(*args, timeout=120):
    """rabbitmqctl on the stack's node (scripts/stack rabbit_env); returns stdout."""
    env = dict(os.environ, RABBITMQ_NODENAME=RABBIT_NODE, ERL_EPMD_ADDRESS="127.0.0.1")
    r = subprocess.run(["rabbitmqctl", "-q", "-n", RABBIT_NODE] + [str(a) for a in args],
                       capture_output=True, text=True, env=env, timeout=timeout)
    if r.returncode != 0:
        raise box.Fail("rabbitmqctl %s: %s%s" % (" ".join(map(str, args)), r.stdout, r.stderr))
    return r.stdout


def queue_depths():
    """{queue: (ready, unacked, consumers)} of the stack's queues, from the broker."""
    out = {}
    for line in rabbitmqctl("list_queues", "--no-table-headers", "name", "messages_ready",
                            "messages_unacknowledged", "consumers").splitlines():
        f = line.split()
        if len(f) == 4 and f[1].isdigit():
            out[f[0]] = (int(f[1]), int(f[2]), int(f[3]))
    return out


def in_flight():
    """What still moves: ready messages in the main queues, pending and
    claimed reservations and holds not yet ended in Redis (cheap checks,
    no rabbitmqctl)."""
    n = sum(box.queue_count(q) for q in QUEUES)
    for node in range(len(box.REDIS_PORTS)):
        tags = box.redis("SMEMBERS", "bo:zones", node=node) or []
        cmds = []
        for t in tags:
            t = t.decode()
            cmds += [("ZCARD", "bo:pend:{%s}" % t), ("ZCARD", "bo:sweep:{%s}" % t),
                     ("ZCARD", "bo:hexp:{%s}" % t)]
        if cmds:
            n += sum(x for x in redis_pipeline(cmds, node) if isinstance(x, int))
    return n


def settle(timeout=240, quiet=2.0):
    """Waits until nothing is in flight: the main queues hold no message
    (ready or unacked), no reservation is pending or claimed, no hold is
    still active (holds of a fault run are short), and MySQL and
    DynamoDB stopped changing for `quiet` seconds.  Returns the seconds it
    took; raises box.Fail on timeout (the check then reports the rest)."""
    t0 = time.time()
    end = t0 + timeout
    last = None
    stable_since = None
    while time.time() < end:
        try:
            counts = (box.sql_count("SELECT COUNT(*) FROM ticketing.ticket"), box.ddb_count())
            busy = in_flight()
        except Exception as e:  # noqa: BLE001 - a server may be coming back
            last, stable_since = e, None
            time.sleep(1)
            continue
        if busy == 0 and counts == last:
            if stable_since is None:
                stable_since = time.time()
            if time.time() - stable_since >= quiet:
                d = queue_depths()
                if all(d.get(q, (0, 0, 0))[:2] == (0, 0) for q in QUEUES):
                    return time.time() - t0
                stable_since = None
        else:
            stable_since = None
        last = counts
        time.sleep(0.5)
    raise box.Fail("not settled after %ss (last counts %r)" % (timeout, last))


# ------------------------------------------------------------------- check

class Report:
    def __init__(self, title):
        self.title = title
        self.lines = []
        self.violations = collections.OrderedDict((k, []) for k in ("I1", "I2", "I3", "I4",
                                                                      "I5", "I6", "I7"))

    def info(self, msg):
        self.lines.append(msg)

    def bad(self, inv, msg):
        self.violations[inv].append(msg)

    @property
    def ok(self):
        return not any(self.violations.values())

    def text(self, limit=12):
        out = ["history check: %s" % self.title]
        out += ["  " + line for line in self.lines]
        names = {"I1": "no two live tickets on a seat at any instant",
                 "I2": "every ok persisted once, field for field; every cancel applied",
                 "I3": "nothing persisted that was not sold, orders whole", "I4": "Redis bits = "
                 "counters = owners = live seats <= capacity", "I5": "MySQL = DynamoDB, queues "
                 "drained, dead letters accounted for", "I6": "a hold ends exactly one way",
                 "I7": "one idempotency key never buys twice"}
        for inv, v in self.violations.items():
            if not v:
                out.append("  %s ok    %s" % (inv, names[inv]))
                continue
            out.append("  %s FAIL  %s: %d violation(s)" % (inv, names[inv], len(v)))
            out += ["      - " + m for m in v[:limit]]
            if len(v) > limit:
                out.append("      ... and %d more" % (len(v) - limit))
        out.append("  => %s" % ("all invariants hold" if self.ok else "VIOLATIONS FOUND"))
        return "\n".join(out)

    def summary(self):
        if self.ok:
            return "all invariants hold"
        return "; ".join("%s: %s" % (k, v[0]) for k, v in self.violations.items() if v)


def same_price(a, b):
    try:
        return decimal.Decimal(str(a)) == decimal.Decimal(str(b))
    except decimal.InvalidOperation:
        return False


def field_diff(want, got, exact_price):
    """Names the fields of got that differ from want (the 201 body)."""
    bad = []
    for k in FIELDS:
        w, g = want.get(k), got.get(k)
        if k == "status" and g == "CANCELLED" and w in ("CREATED", "CANCELLED") and \
                got.get("cancelledOn"):
            continue    # cancelled since (I2 checks the cancellation itself)
        if k == "price":
            if (exact_price and w != g) or (not exact_price and not same_price(w, g)):
                bad.append("price %r != %r" % (g, w))
        elif k in ("zoneId", "row", "column"):
            try:
                if int(w) != int(g):
                    bad.append("%s %r != %r" % (k, g, w))
            except (TypeError, ValueError):
                bad.append("%s %r != %r" % (k, g, w))
        elif w != g:
            bad.append("%s %r != %r" % (k, g, w))
    # round 2: a ticket is an order of one; its 201 names the order, and a
    # store that keeps the order id must keep that one
    if "orderId" in got and "orderId" in want and got["orderId"] != want["orderId"]:
        bad.append("orderId %r != %r" % (got["orderId"], want["orderId"]))
    # the stores keep the SHA-256 of the order's cancel token, never the
    # token (CONTRACT section 7); when the 201 is known, of its token
    if "cancelHash" in got:
        tok = want.get("cancelToken")
        if not re.match(r"^[0-9a-f]{64}$", str(got["cancelHash"])) or (
                tok and got["cancelHash"] != hashlib.sha256(tok.encode()).hexdigest()):
            bad.append("cancelHash %r is not the hash of the 201's cancelToken"
                       % (got["cancelHash"],))
    extra = set(got) - set(FIELDS) - {"orderId", "cancelHash", "cancelledOn"}
    if extra:
        bad.append("extra attributes %s" % sorted(extra))
    return bad


def stamp_s(created):
    """Seconds since the epoch of an RFC 3339 UTC stamp with milliseconds."""
    try:
        t = time.strptime(created[:19], "%Y-%m-%dT%H:%M:%S")
        import calendar
        return calendar.timegm(t) + int(created[20:23]) / 1000.0
    except (ValueError, TypeError, IndexError):
        return None


def req_seat(r):
    """The seat (event, zone, row, column) a recorded request asked for."""
    return tuple([r["seat"][1]] + r["seat"][2:])


def kind_of(r):
    return r.get("kind", "ticket")


SELLS = ("ticket", "order", "confirm")     # the kinds of request that sell


def answer_tickets(r):
    """The tickets an ok sale record was answered with."""
    if kind_of(r) == "ticket":
        return [r["ticket"]] if r.get("ticket") else []
    return list((r.get("order") or {}).get("tickets") or [])


def order_id_of(r):
    """The order id a sale record was answered with (ok or unknown), or None."""
    return r.get("orderId") or (r.get("ticket") or {}).get("orderId")


def zone_of(r, holds=None):
    """(event, zone) a sale record is for (a confirm: its hold's), or None."""
    if r.get("seat"):
        return (r["seat"][1], int(r["seat"][2]))
    if r.get("zone"):
        return (r["zone"][1], int(r["zone"][2]))
    h = (holds or {}).get(r.get("holdId"))
    return zone_of(h) if h else None


def seat_set(tickets):
    return sorted((int(t["row"]), int(t["column"])) for t in tickets)


class View:
    """The history as the invariants look at it: records by kind and
    outcome, what the answers sold, cancelled and held."""

    def __init__(self, history):
        self.recs = history.records
        self.lost = history.lost
        self.by = collections.defaultdict(list)        # (kind, outcome) -> records
        for r in self.recs:
            self.by[(kind_of(r), r["outcome"])].append(r)
        self.sales_ok = [r for r in self.recs if kind_of(r) in SELLS and r["outcome"] == "ok"]
        self.ans_tickets = {}       # ticketId -> (ticket of a 201/200, record)
        self.ans_orders = collections.defaultdict(list)  # orderId -> ok records
        for r in self.sales_ok:
            for t in answer_tickets(r):
                self.ans_tickets.setdefault(t["ticketId"], (t, r))
            if order_id_of(r):
                self.ans_orders[order_id_of(r)].append(r)
        self.unk_orders = {}        # orderId -> an unknown sale record naming it
        self.unk_tickets = {}       # ticketId -> an unknown /tickets record naming it
        for r in self.recs:
            if kind_of(r) in SELLS and r["outcome"] == "unknown":
                if order_id_of(r) or r.get("ticketId"):
                    # a round-1 style record knows only the ticket's id
                    self.unk_orders.setdefault(order_id_of(r) or r["ticketId"], r)
                if kind_of(r) == "ticket" and r.get("ticketId"):
                    self.unk_tickets[r["ticketId"]] = r
        self.cancelled = {}         # ticketId -> (cancelledOn, record) of 200 cancels
        for r in self.by[("cancel", "ok")]:
            a = r["answer"]
            for t in a.get("tickets", [a]):
                if t.get("status") == "CANCELLED":
                    self.cancelled.setdefault(t["ticketId"], (t.get("cancelledOn"), r))
        self.holds = {r["holdId"]: r for r in self.by[("hold", "ok")]}
        self.idless_orders = {}     # request index -> persisted order (I3's matching)
        self.of_hold = collections.defaultdict(list)     # holdId -> confirms, deletes
        for r in self.recs:
            if kind_of(r) in ("confirm", "delete"):
                self.of_hold[r["holdId"]].append(r)

    def in_lost(self, r):
        return any(r["t0"] <= b and r["t1"] >= a for (a, b) in self.lost)


class Stores:
    """What the stores hold once settled: the catalog, MySQL's tickets and
    orders, DynamoDB's items, Redis' zones."""

    def __init__(self):
        self.cat = catalog()
        self.my = mysql_tickets()
        self.orders = mysql_orders()
        self.order_keys = mysql_order_keys()
        self.dd = ddb_tickets()
        self.rz = redis_zones(self.cat)
        self.my_by_id = {t["ticketId"]: t for t in self.my}
        self.dd_by_id = {t.get("ticketId"): t for t in self.dd}
        self.my_by_order = collections.defaultdict(list)
        for t in self.my:
            self.my_by_order[t.get("orderId") or t["ticketId"]].append(t)
        self.dd_by_order = collections.defaultdict(list)
        for t in self.dd:
            self.dd_by_order[t.get("orderId") or t.get("ticketId")].append(t)

    def set_aside_double_sales(self, rep, declared):
        """Takes out of the DynamoDB items those of the declared forged
        double sales (History.expect_double_sale) that are marked as the
        consumer marks a refused one: status DOUBLE_SALE, doubleSaleOf the
        live MySQL ticket of the same seat, the ticket itself not in MySQL.
        Anything else stays a sale for the invariants; a declared item
        marked wrong is an I5 violation."""
        declared = set(declared)
        kept, aside = [], 0
        for t in self.dd:
            tid = t.get("ticketId")
            if tid not in declared or t.get("status") != "DOUBLE_SALE":
                kept.append(t)
                continue
            owner = self.my_by_id.get(t.get("doubleSaleOf"))
            try:
                same_seat = owner is not None and seat_key(owner) == seat_key(t)
            except (KeyError, ValueError, TypeError):
                same_seat = False
            if tid in self.my_by_id or not same_seat or owner.get("status") == "CANCELLED":
                rep.bad("I5", "forged double sale %s is marked DOUBLE_SALE of %s, which is not "
                        "the live MySQL ticket of its seat (or it is in MySQL itself): %r" % (
                            tid, t.get("doubleSaleOf"), t))
            aside += 1
        self.dd = kept
        self.dd_by_id = {t.get("ticketId"): t for t in self.dd}
        self.dd_by_order = collections.defaultdict(list)
        for t in self.dd:
            self.dd_by_order[t.get("orderId") or t.get("ticketId")].append(t)
        rep.info("forged double sales: %d declared, %d recorded in DynamoDB as such" % (
            len(declared), aside))

    def persisted(self):
        """Every ticket of MySQL or DynamoDB by id (MySQL's when in both)."""
        out = dict(self.dd_by_id)
        out.update(self.my_by_id)
        out.pop(None, None)
        return out


def check_i1(rep, v, st, slack):
    """I1: no two live tickets on a seat at any instant.  A ticket is live
    from its createdOn until its cancelledOn (from a store or a 200 cancel);
    the tickets are those of the 201s and of both stores.  Two of one seat
    may overlap by at most `slack` seconds: each stamp is taken before its
    Redis script runs, so a sale that found the seat freed by a cancel may
    carry a stamp a little older than the cancel's.  The client's own clock
    needs no slack: two tickets of a seat both answered (201/200) before
    any cancel of either was sent were live at once, whatever the stamps
    say (live_by_answers())."""
    seen = {}

    def note(t, where):
        try:
            s = seat_key(t)
        except (KeyError, ValueError, TypeError):
            rep.bad("I5", "%s holds a malformed ticket %r" % (where, t))
            return
        e = seen.setdefault(t.get("ticketId"), {"seat": s, "created": stamp_s(
            t.get("createdOn", "")), "cancelled": None, "where": []})
        e["where"].append(where)
        if t.get("status") == "CANCELLED" and t.get("cancelledOn") and e["cancelled"] is None:
            e["cancelled"] = stamp_s(t["cancelledOn"])
    for tid, (t, r) in v.ans_tickets.items():
        note(t, "a %d (request %d)" % (r.get("status", 201), r["i"]))
    for t in st.my:
        note(t, "MySQL")
    for t in st.dd:
        note(t, "DynamoDB")
    for tid, (on, r) in v.cancelled.items():
        if tid in seen and on and seen[tid]["cancelled"] is None:
            seen[tid]["cancelled"] = stamp_s(on)
    by_seat = collections.defaultdict(list)
    for tid, e in seen.items():
        if e["created"] is not None:
            by_seat[e["seat"]].append((tid, e))
    inf = float("inf")
    sold_at, asked = live_by_answers(v)
    for seat, es in by_seat.items():
        es.sort(key=lambda x: x[1]["created"])
        for i, (ta, a) in enumerate(es):
            for tb, b in es[i + 1:]:
                end = min(a["cancelled"] or inf, b["cancelled"] or inf)
                if end - b["created"] > slack:
                    rep.bad("I1", "seat %r: tickets %s (%s) and %s (%s) live at once %s" % (
                        seat, ta, "/".join(a["where"]), tb, "/".join(b["where"]),
                        "to this day" if end == inf else "for %.1f s" % (end - b["created"])))
                    continue
                both = max(sold_at.get(ta, inf), sold_at.get(tb, inf))
                if both < min(asked.get(ta, inf), asked.get(tb, inf)):
                    rep.bad("I1", "seat %r: tickets %s and %s both answered sold (the later "
                            "answer at %.3f) before a cancel of either was sent%s" % (
                                seat, ta, tb, both, "" if min(asked.get(ta, inf), asked.get(
                                    tb, inf)) == inf else " (the first at %.3f)" % min(
                                    asked.get(ta, inf), asked.get(tb, inf))))


def live_by_answers(v):
    """({ticketId: when its first 201/200 was answered}, {ticketId: when the
    first cancel naming it, or its order, was sent (any outcome)}) on the
    client's clock.  A cancel without a send time counts as sent at once
    (-inf: it may have freed the seat at any moment); an answer without
    one (a forged record) is not counted."""
    sold_at, order_of = {}, {}
    for r in v.sales_ok:
        for t in answer_tickets(r):
            tid = t.get("ticketId")
            if tid and r.get("t1"):
                sold_at[tid] = min(sold_at.get(tid, float("inf")), r["t1"])
            if tid and (t.get("orderId") or order_id_of(r)):
                order_of[tid] = t.get("orderId") or order_id_of(r)
    tickets_of = collections.defaultdict(list)
    for tid, oid in order_of.items():
        tickets_of[oid].append(tid)
    asked = {}
    for r in v.recs:
        if kind_of(r) != "cancel":
            continue
        t0 = r.get("t0") or float("-inf")
        for tid in ([r["ticketId"]] if r.get("ticketId") else tickets_of.get(r.get("orderId"),
                                                                              [])):
            asked[tid] = min(asked.get(tid, float("inf")), t0)
    return sold_at, asked


def check_i2(rep, v, st, unknown_must_resolve):
    """I2: every 201 is persisted in both stores as answered (its seats the
    ones asked for, its order whole); every unknown outcome whose
    reservation stands (503 with an id, publish in doubt) ends persisted
    (unless Redis lost it); every 200 cancel (and every 503 "recorded") ends
    CANCELLED in both stores with the answer's cancelledOn."""
    for r in v.sales_ok:
        k, tickets = kind_of(r), answer_tickets(r)
        got = seat_set(tickets)
        if k == "ticket":
            t = tickets[0]
            if seat_key(t) != req_seat(r) or t.get("venueId") != r["seat"][0]:
                rep.bad("I2", "request %d for %r got a 201 for another seat: %s" % (
                    r["i"], r["seat"], r["body"][:200]))
        elif k == "order":
            want = sorted(tuple(s) for s in r["seats"]) if r.get("seats") else None
            q = r.get("quantity")
            if (want and got != want) or (q and (len(got) != q or len({x[0] for x in got}) != 1
                                                or got[-1][1] - got[0][1] != q - 1)) or any(
                    (t["eventId"], int(t["zoneId"])) != zone_of(r) for t in tickets):
                rep.bad("I2", "order request %d (%r) got seats %r of %s" % (
                    r["i"], want or "quantity %s" % q, got,
                    {(t["eventId"], t["zoneId"]) for t in tickets}))
        elif k == "confirm" and r["holdId"] in v.holds:
            held = seat_set(v.holds[r["holdId"]]["hold"]["seats"])
            if got != held:
                rep.bad("I2", "confirm %d of hold %s sold %r, the hold had %r" % (
                    r["i"], r["holdId"], got, held))
        for t in tickets:
            tid = t["ticketId"]
            for store, by_id, exact in (("MySQL", st.my_by_id, True),
                                        ("DynamoDB", st.dd_by_id, False)):
                p = by_id.get(tid)
                if p is None:
                    rep.bad("I2", "%d ticket %s (seat %r, request %d) is not in %s" % (
                        r.get("status", 201), tid, seat_key(t), r["i"], store))
                    continue
                bad = field_diff(t, p, exact)
                if bad:
                    rep.bad("I2", "%d ticket %s differs in %s: %s" % (
                        r.get("status", 201), tid, store, "; ".join(bad)))
        oid = order_id_of(r)
        if k != "ticket" or (oid and oid in st.orders):
            o = st.orders.get(oid)
            if o is None or o[2] != len(tickets):
                rep.bad("I2", "order %s (request %d, %d tickets) in MySQL's orders: %r" % (
                    oid, r["i"], len(tickets), o))
    unk_ids = sum(1 for r in v.recs if kind_of(r) in SELLS and r["outcome"] == "unknown"
                  and order_id_of(r))
    done = sum(1 for oid in v.unk_orders if oid in st.my_by_order)
    rep.info("unknown sale outcomes: %d with an id (%d persisted), %d without" % (
        unk_ids, done, sum(1 for r in v.recs if kind_of(r) in SELLS and
                           r["outcome"] == "unknown") - unk_ids))
    if unknown_must_resolve:
        for oid, r in v.unk_orders.items():
            if "reservation in doubt" in r["why"]:
                continue    # Redis may never have run it (or found the seat taken)
            ids = [r["ticketId"]] if r.get("ticketId") else [
                t["ticketId"] for t in st.my_by_order.get(oid, [])]
            there = [(tid in st.my_by_id, tid in st.dd_by_id) for tid in ids]
            if ids and all(a and b for a, b in there) and (
                    kind_of(r) == "ticket" or (oid in st.orders and
                                              len(st.dd_by_order.get(oid, [])) == len(ids))):
                continue
            if v.in_lost(r) and not any(a or b for a, b in there):
                rep.info("unknown outcome %s (request %d) vanished with Redis' lost writes"
                         % (oid, r["i"]))
                continue
            rep.bad("I2", "unknown-outcome order %s (request %d, %s) was never completed: "
                    "MySQL %s, DynamoDB %s" % (oid, r["i"], r["why"], [a for a, _ in there] or
                                               False, [b for _, b in there] or False))
    # cancellations: 200 ones with their stamp, recorded 503 ones too
    for tid, (on, r) in v.cancelled.items():
        for store, by_id in (("MySQL", st.my_by_id), ("DynamoDB", st.dd_by_id)):
            p = by_id.get(tid)
            if p is None or p.get("status") != "CANCELLED" or \
                    (p.get("cancelledOn") or "")[:23] != (on or "")[:23]:
                rep.bad("I2", "cancel %d answered 200 for ticket %s (cancelledOn %s), %s has "
                        "%s" % (r["i"], tid, on, store, p and (p.get("status"),
                                                              p.get("cancelledOn"))))
    for r in v.by[("cancel", "unknown")]:
        if r["why"] != "503 cancellation recorded":
            continue
        ids = [r["ticketId"]] if r.get("ticketId") else [
            t["ticketId"] for t in st.my_by_order.get(r["orderId"], [])]
        for tid in ids:
            for store, by_id in (("MySQL", st.my_by_id), ("DynamoDB", st.dd_by_id)):
                if (by_id.get(tid) or {}).get("status") != "CANCELLED":
                    rep.bad("I2", "cancel %d was recorded (503), ticket %s is not CANCELLED in "
                            "%s" % (r["i"], tid, store))


def explains(r, group, v, slack):
    """True if the idless unknown sale record r may have made the persisted
    tickets group (one order): same zone and seats, created during r."""
    t0 = group[0]
    created = stamp_s(t0.get("createdOn", ""))
    if created is not None and not (r["t0"] - slack <= created <= r["t1"] + slack):
        return False
    if zone_of(r, v.holds) != (t0["eventId"], int(t0["zoneId"])):
        return False
    seats = seat_set(group)
    k = kind_of(r)
    if k == "ticket":
        return seats == [tuple(r["seat"][3:5])] and t0["venueId"] == r["seat"][0]
    if k == "order":
        return seats == sorted(tuple(s) for s in r["seats"]) if r.get("seats") else \
            len(seats) == r.get("quantity")
    h = v.holds.get(r.get("holdId"))
    return h is None or seats == seat_set(h["hold"]["seats"])


def match_idless(groups, idless, may_explain):
    """Pairs persisted orders no id explains with idless unknown requests,
    each request at most once: a maximum bipartite matching (augmenting
    paths), so that an order no other request could explain is not left
    out because a request that fits several was given to another first
    (two idless unknowns at once: a best-available order of one seat also
    fits the ticket another request bought).  groups: [(gid, group)];
    returns {request index: gid}."""
    cands = {gid: [r["i"] for r in idless if may_explain(r, group)] for gid, group in groups}
    owner = {}

    def augment(gid, seen):
        for i in cands[gid]:
            if i in seen:
                continue
            seen.add(i)
            if i not in owner or augment(owner[i], seen):
                owner[i] = gid
                return True
        return False

    for gid, _ in groups:
        augment(gid, set())
    return owner


def check_i3(rep, v, st, slack):
    """I3: everything persisted was sold: every persisted order (its tickets
    grouped by orderId; a round-1 ticket alone) comes from an ok or unknown
    request, by id, or for an unknown without id: same zone and seats,
    created during the request; never from a fail.  A persisted order is
    whole (as many tickets in each store as its row in orders says), and a
    CANCELLED ticket was cancelled by a request (ok or unknown)."""
    idless = [r for r in v.recs if kind_of(r) in SELLS and r["outcome"] == "unknown"
              and not order_id_of(r) and not r.get("ticketId")]
    fails = [r for r in v.recs if kind_of(r) in SELLS and r["outcome"] == "fail"]
    groups = collections.defaultdict(list)
    for tid, t in st.persisted().items():
        groups[t.get("orderId") or tid].append(t)
    unexplained = []
    for gid, group in groups.items():
        known = [v.ans_tickets.get(t["ticketId"], (None, None))[1] or
                 v.unk_tickets.get(t["ticketId"]) for t in group]
        src = v.ans_orders.get(gid, [None])[0] or v.unk_orders.get(gid) or next(
            (x for x in known if x), None)
        if src is not None:
            if kind_of(src) == "ticket" and src.get("seat") and any(
                    seat_key(t) != req_seat(src) for t in group):
                rep.bad("I3", "ticket %s is persisted for seat %r, its request %d was for %r" % (
                    group[0]["ticketId"], seat_key(group[0]), src["i"], src["seat"]))
            continue
        unexplained.append((gid, group))
    used = match_idless(unexplained, idless, lambda r, group: explains(r, group, v, slack))
    # I7 counts an order for its request's key where that request is the
    # only one that may have made it (the matching may pick among several)
    by_gid = dict(unexplained)
    v.idless_orders = {i: gid for i, gid in used.items() if sum(
        1 for r in idless if explains(r, by_gid[gid], v, slack)) == 1}
    matched = set(used.values())
    for gid, group in unexplained:
        if gid in matched:
            continue
        near = [r for r in fails if explains(r, group, v, slack)]
        near.sort(key=lambda r: r["why"] != "503 nothing sold")
        rep.bad("I3", "order %s (tickets %s, seats %r of %s zone %s, created %s) persisted, but "
                "no ok or unknown request explains it%s" % (
                    gid, ", ".join(t["ticketId"] for t in group), seat_set(group),
                    group[0]["eventId"], group[0]["zoneId"], group[0].get("createdOn"),
                    "; a request answered '%s' for these seats then (request %d)" % (
                        near[0]["why"], near[0]["i"]) if near else ""))
    rep.info("unknown outcomes without an id that became orders: %d" % len(used))
    for oid, (status, total, n) in st.orders.items():
        my_n, dd_n = len(st.my_by_order.get(oid, [])), len(st.dd_by_order.get(oid, []))
        if not (n == my_n == dd_n) or n == 0:
            rep.bad("I3", "order %s is not whole: orders row counts %d tickets, MySQL %d, "
                    "DynamoDB %d" % (oid, n, my_n, dd_n))
    asked = set()
    for r in v.recs:
        if kind_of(r) == "cancel" and r["outcome"] in ("ok", "unknown"):
            asked.add(r.get("ticketId") or r.get("orderId"))
    for tid, t in st.persisted().items():
        if t.get("status") == "CANCELLED" and tid not in asked and t.get("orderId") not in asked:
            rep.bad("I3", "ticket %s is CANCELLED, but no cancel request (ok or unknown) asked "
                    "for it or its order %s" % (tid, t.get("orderId")))


def check_i4(rep, st):
    """I4: Redis' bits, counters and owners agree with the catalog and with
    MySQL's live tickets, zone by zone (I5 for what is left pending)."""
    sold_by_zone = collections.defaultdict(dict)   # (event, zone) -> {bit: ticketId}
    for t in st.my:
        if t["status"] == "CANCELLED":
            continue
        key = (t["eventId"], t["zoneId"])
        if key not in st.cat:
            rep.bad("I4", "MySQL ticket %s for a zone not in the catalog: %r" % (t["ticketId"],
                                                                              key))
            continue
        cols = st.cat[key][2]
        sold_by_zone[key][(t["row"] - 1) * cols + t["column"] - 1] = t["ticketId"]
    zones_sold = 0
    for key, (venue, rows, cols, price) in sorted(st.cat.items()):
        z = st.rz[key]
        cap = rows * cols
        bits = bits_of(z["bitmap"])
        sold = sold_by_zone.get(key, {})
        if not z["meta"]:
            if sold or bits:
                rep.bad("I4", "%s zone %d: not loaded in Redis, but %d seat(s) sold" % (
                    key[0], key[1], len(sold)))
            continue
        if z["left"] is None:
            rep.bad("I4", "%s zone %d: no counters in Redis (not rebuilt), %d seat(s) sold" % (
                key[0], key[1], len(sold)))
            continue
        if bits or sold:
            zones_sold += 1
        if any(b >= cap for b in bits):
            rep.bad("I4", "%s zone %d: seat bits beyond the zone's %d seats" % (key[0], key[1],
                                                                               cap))
        try:
            zleft = int(z["left"].get("z", "x"))
        except ValueError:
            zleft = None
        if zleft is None or cap - zleft != len(bits):
            rep.bad("I4", "%s zone %d: zone counter %s left, but %d of %d seat bits set" % (
                key[0], key[1], z["left"].get("z"), len(bits), cap))
        for row in range(1, rows + 1):
            in_row = sum(1 for b in bits if b // cols == row - 1)
            got = z["left"].get("r%d" % row)
            if got is None or int(got) != cols - in_row:
                rep.bad("I4", "%s zone %d row %d: row counter %s, but %d of %d seat bits set" % (
                    key[0], key[1], row, got, in_row, cols))
        owners = set(z["owners"])
        if owners != bits:
            rep.bad("I4", "%s zone %d: %d seat bits without owner, %d owners without bit" % (
                key[0], key[1], len(bits - owners), len(owners - bits)))
        if set(sold) != bits:
            only_r = sorted(bits - set(sold))
            only_m = sorted(set(sold) - bits)
            rep.bad("I4", "%s zone %d: %d seat(s) sold in Redis only %s, %d in MySQL only %s" % (
                key[0], key[1], len(only_r), [divmod(b, cols) for b in only_r[:3]],
                len(only_m), [(divmod(b, cols), sold[b]) for b in only_m[:3]]))
        for b in bits & set(sold):
            if z["owners"].get(b) != sold[b]:
                rep.bad("I4", "%s zone %d seat %r: owner %s in Redis, ticket %s in MySQL" % (
                    key[0], key[1], divmod(b, cols), z["owners"].get(b), sold[b]))
        if len(bits) > cap:
            rep.bad("I4", "%s zone %d: %d seats sold of %d" % (key[0], key[1], len(bits), cap))
        if z["pend"] or z["sweep"]:
            rep.bad("I5", "%s zone %d: %d pending and %d claimed reservations left (not "
                    "settled)" % (key[0], key[1], len(z["pend"]), len(z["sweep"])))
    rep.info("zones with sales: %d of %d" % (zones_sold, len(st.cat)))



def check_i5(rep, history, st, run_ticketctl):
    """I5: the stores agree, the queues are drained, the dead letters are
    accounted for, ticketctl check passes."""
    only_my = sorted(set(st.my_by_id) - set(st.dd_by_id))
    only_dd = sorted(set(st.dd_by_id) - set(st.my_by_id))
    if only_my:
        rep.bad("I5", "%d ticket(s) in MySQL, not in DynamoDB: %s" % (len(only_my), only_my[:4]))
    if only_dd:
        rep.bad("I5", "%d ticket(s) in DynamoDB, not in MySQL: %s" % (len(only_dd), only_dd[:4]))
    for tid in set(st.my_by_id) & set(st.dd_by_id):
        bad = field_diff(st.my_by_id[tid], st.dd_by_id[tid], False)
        for k in ("status", "cancelledOn"):
            a, b = st.my_by_id[tid].get(k), st.dd_by_id[tid].get(k)
            if (a or "")[:23] != (b or "")[:23]:
                bad.append("%s %r != %r" % (k, b, a))
        if bad:
            rep.bad("I5", "ticket %s: DynamoDB differs from MySQL: %s" % (tid, "; ".join(bad)))
    try:
        depths = queue_depths()
    except Exception as e:  # noqa: BLE001
        depths = {}
        rep.bad("I5", "cannot read the queues: %s" % e)
    for q in QUEUES:
        # ready from a passive declare (exact), unacked from rabbitmqctl
        # (its statistics may lag a few seconds)
        if depths and q not in depths:
            rep.bad("I5", "%s: rabbitmqctl list_queues does not list it (its unacked "
                    "messages unknown)" % q)
        _, unacked, _ = depths.get(q, (0, 0, 0))
        ready = box.queue_count(q)
        if ready or unacked:
            rep.bad("I5", "%s not drained: %d ready, %d unacked" % (q, ready, unacked))
    expected = collections.Counter(history.expected_dead)
    for q in DEAD:
        if box.queue_count(q) == 0:
            continue
        for body in box.mqtool("peek", q).splitlines():
            if not body:
                continue
            if expected[body] > 0:
                expected[body] -= 1
                continue
            try:
                t = json.loads(body, parse_float=str)
                tid = t.get("ticketId")
            except (ValueError, AttributeError):
                t, tid = None, None
            if t and tid in st.my_by_id and tid in st.dd_by_id and \
                    not field_diff(t, st.my_by_id[tid], True):
                rep.info("%s: a copy of persisted ticket %s (harmless)" % (q, tid))
                continue
            if isinstance(t, dict) and t.get("type") == "order" and t.get("orderId") in \
                    st.orders and all(x.get("ticketId") in st.my_by_id and x.get("ticketId")
                                      in st.dd_by_id for x in t.get("tickets", [])):
                rep.info("%s: a copy of persisted order %s (harmless)" % (q, t["orderId"]))
                continue
            if isinstance(t, dict) and t.get("type") == "cancel" and all(
                    st.my_by_id.get(x, {}).get("status") == "CANCELLED" and
                    st.dd_by_id.get(x, {}).get("status") == "CANCELLED"
                    for x in t.get("ticketIds", [])):
                rep.info("%s: a copy of an applied cancellation of %s (harmless)" % (
                    q, t.get("orderId")))
                continue
            rep.bad("I5", "%s holds a message nobody accounts for: %s" % (q, body[:200]))
    rep.info("queues: " + ", ".join("%s %d/%d" % (q, box.queue_count(q),
                                                  depths.get(q, (0, 0, 0))[1])
                                    for q in QUEUES + DEAD) + " (ready/unacked)")
    if run_ticketctl:
        r = box.ticketctl("check", check_rc=False)
        last = (r.stdout.strip().splitlines() or ["?"])[-1]
        if r.returncode != 0:
            diffs = [line for line in r.stdout.splitlines() if line.startswith("  ")][:5]
            rep.bad("I5", "ticketctl check exit %d: %s %s" % (r.returncode, last, diffs))
        else:
            rep.info("ticketctl check: %s" % last)


HOLD_STATES = {"A": "active", "C": "confirmed", "D": "deleted", "X": "expired"}


def check_i6(rep, v, st):
    """I6: a hold ends exactly one way: confirmed into one order, deleted,
    or expired, by what its answers said (confirm 201/200, DELETE 204, a 410)
    and by what Redis keeps (bo:holds: C <orderId>, D, X); once settled no
    hold is active and none owns a seat.  A confirmed hold's seats are its
    order's tickets; an unconfirmed one was persisted as no order."""
    redis_holds = {}
    held_by = collections.defaultdict(list)     # holdId -> seats still owned "h:<id>"
    for key, z in st.rz.items():
        for hid, val in z["holds"].items():
            redis_holds[hid] = val
        for b, owner in z["owners"].items():
            if owner.startswith("h:"):
                held_by[owner[2:]].append((key, b))
    ends = collections.Counter()
    for hid, h in v.holds.items():
        ways = set()
        rs = v.of_hold.get(hid, [])
        oids = {r["orderId"] for r in rs if kind_of(r) == "confirm" and r["outcome"] == "ok"}
        if len(oids) > 1:
            rep.bad("I6", "hold %s was confirmed into %d orders: %s" % (hid, len(oids),
                                                                        sorted(oids)))
        maybe = oids | {r["orderId"] for r in rs if kind_of(r) == "confirm" and r.get("orderId")}
        persisted = {o for o in maybe if o in st.my_by_order or o in st.dd_by_order}
        if len(persisted) > 1:
            rep.bad("I6", "hold %s: %d orders persisted from it: %s" % (hid, len(persisted),
                                                                        sorted(persisted)))
        if oids or persisted:
            ways.add("confirmed")
        if any(kind_of(r) == "delete" and r["outcome"] == "ok" for r in rs):
            ways.add("deleted")
        if any(r.get("status") == 410 for r in rs):
            ways.add("expired")
        state = redis_holds.get(hid)
        if state is None:
            if not v.in_lost(h):
                rep.bad("I6", "hold %s (request %d) is unknown to Redis" % (hid, h["i"]))
        else:
            word = HOLD_STATES.get(state.split()[0], state)
            if word == "active":
                rep.bad("I6", "hold %s (request %d, expires %s) is still active after the "
                        "system settled: it never ended" % (hid, h["i"],
                                                             h["hold"].get("expiresAt")))
            else:
                ways.add(word)
            if word == "confirmed" and oids and state.split()[-1] not in oids:
                rep.bad("I6", "hold %s confirmed into %s by its answers, into %s in Redis" % (
                    hid, sorted(oids), state.split()[-1]))
        if len(ways) > 1:
            rep.bad("I6", "hold %s ended %d ways: %s (%s)" % (
                hid, len(ways), " and ".join(sorted(ways)), "; ".join(
                    "request %d %s %s" % (r["i"], kind_of(r), r["why"]) for r in rs)))
        ends[" and ".join(sorted(ways)) or "?"] += 1
        held = seat_set(h["hold"]["seats"])
        for oid in persisted:
            got = seat_set(st.my_by_order.get(oid) or st.dd_by_order.get(oid))
            if got != held:
                rep.bad("I6", "hold %s held %r, its order %s has %r" % (hid, held, oid, got))
        if "confirmed" not in ways and hid in held_by:
            pass    # reported below for every hold
    for hid, seats in held_by.items():
        rep.bad("I6", "hold %s (Redis: %s) still owns %d seat(s) after the system settled, "
                "e.g. %r" % (hid, redis_holds.get(hid), len(seats), seats[0]))
    for hid, state in redis_holds.items():
        if hid not in v.holds and state.startswith("A "):
            rep.bad("I6", "a hold nobody was told of (%s) is still active: %s" % (hid, state))
    rep.info("holds: %d answered 201, ended: %s; %d in Redis" % (
        len(v.holds), ", ".join("%s %d" % kv for kv in sorted(ends.items())) or "-",
        len(redis_holds)))


def idem_records(keys):
    """{(event, zone, key): Redis' bo:idem record (str) or None}."""
    by_node = collections.defaultdict(list)
    for k in keys:
        by_node[box.zone_node(k[0], k[1])].append(k)
    out = {}
    for node, ks in by_node.items():
        # under the key, else (put back by `ticketctl rebuild`) under its
        # HMAC (keys.h)
        rep = redis_pipeline([c for k in ks for c in (
            ("GET", "bo:idem:{%s:%d}:%s" % k),
            ("GET", "bo:idem:{%s:%d}:#%s" % (k[0], k[1], box.idem_key_hash(k[2]))))], node)
        for i, k in enumerate(ks):
            x = rep[2 * i] if isinstance(rep[2 * i], bytes) else rep[2 * i + 1]
            out[k] = x.decode() if isinstance(x, bytes) else None
    return out


def check_i7(rep, v, st):
    """I7: one Idempotency-Key never buys twice: per zone and key (of a
    ticket, an order, a hold's confirm), at most one order id across all
    its 201s (an unknown outcome without an id counts the order I3 matched
    to it when no other request may have made that order), at most one of its orders (of any
    answer) persisted, and the order Redis keeps for the key is that one;
    and whatever the requests' answers say, MySQL holds at most one order
    bought with the key in its zone (orders.idem_key_hash: a second best
    available purchase under a key, which matching by seats cannot tell
    from another request's, shows there)."""
    by_key = collections.defaultdict(list)
    for r in v.recs:
        z = zone_of(r, v.holds)
        if kind_of(r) in SELLS and r.get("key") and z:
            by_key[z + (r["key"],)].append(r)
    if not by_key:
        return
    kept = idem_records(list(by_key))
    replays = 0
    for k, rs in by_key.items():
        oks = {order_id_of(r) for r in rs if r["outcome"] == "ok"}
        replays += sum(1 for r in rs if r.get("replayed"))
        ids = oks | {order_id_of(r) for r in rs if order_id_of(r)} | {
            v.idless_orders[r["i"]] for r in rs if r["i"] in v.idless_orders}
        persisted = {o for o in ids if o in st.my_by_order or o in st.dd_by_order}
        reqs = "; ".join("request %d %s%s" % (r["i"], r["why"], " (%s)" % order_id_of(r)
                                              if order_id_of(r) else "") for r in rs[:6])
        if len(oks) > 1:
            rep.bad("I7", "key %s of %s zone %d answered %d orders: %s" % (
                k[2], k[0], k[1], len(oks), reqs))
        if len(persisted) > 1:
            rep.bad("I7", "key %s of %s zone %d bought %d persisted orders %s: %s" % (
                k[2], k[0], k[1], len(persisted), sorted(persisted), reqs))
        elif persisted and oks and persisted != oks:
            rep.bad("I7", "key %s answered order %s, order %s is persisted" % (
                k[2], sorted(oks), sorted(persisted)))
        stored = getattr(st, "order_keys", {}).get((k[0], int(k[1]), box.idem_key_hash(k[2])), [])
        if len(stored) > 1:
            rep.bad("I7", "key %s of %s zone %d: MySQL holds %d orders bought with it: %s" % (
                k[2], k[0], k[1], len(stored), sorted(stored)))
        m = re.match(r"^\S+ P (\S+) ", kept.get(k) or "")
        if m and (oks or persisted) and m.group(1) not in (oks | persisted):
            rep.bad("I7", "key %s: Redis keeps order %s, the answers and stores say %s" % (
                k[2], m.group(1), sorted(oks | persisted)))
    rep.info("idempotency keys: %d, %d requests with one, %d replays" % (
        len(by_key), sum(len(x) for x in by_key.values()), replays))


def check(history, unknown_must_resolve=True, run_ticketctl=True, slack=1.5, stores=None):
    """Checks the history against the stores (call settle() first), one
    function per invariant.  Returns a Report; report.ok is False on any
    violation.  history.lost holds the (from, to) times when Redis lost
    reservations (a Redis loss, docs/reliability.md): an unknown outcome in
    flight then need not end persisted (its pending entry is gone).
    stores: a Stores() read before (the stores unchanged since), else read
    now."""
    rep = Report(history.name or "history")
    rep.info(history.summary())
    why = collections.Counter(r["why"] for r in history.records if r["outcome"] != "ok")
    if why:
        rep.info("answers other than ok: " + ", ".join("%s x%d" % (k, n)
                                                       for k, n in why.most_common(8)))
    v = View(history)
    st = stores or Stores()
    if history.expected_double:
        st.set_aside_double_sales(rep, history.expected_double)
    rep.info("stores: %d tickets in MySQL (%d cancelled), %d orders, %d items in DynamoDB" % (
        len(st.my), sum(1 for t in st.my if t["status"] == "CANCELLED"), len(st.orders),
        len(st.dd)))
    check_i1(rep, v, st, slack)
    check_i2(rep, v, st, unknown_must_resolve)
    check_i3(rep, v, st, slack)
    check_i4(rep, st)
    check_i5(rep, history, st, run_ticketctl)
    check_i6(rep, v, st)
    check_i7(rep, v, st)
    return rep


def settle_and_check(history, save_dir=None, **kw):
    """settle(), check(), print the report, save the history (for
    tests/faults/check-history); raises box.Fail on any violation."""
    took = None
    err = None
    try:
        took = settle()
    except box.Fail as e:
        err = e
    rep = check(history, **kw)
    if took is not None:
        rep.lines.insert(1, "settled in %.1f s" % took)
    print(rep.text(), flush=True)
    if save_dir:
        os.makedirs(save_dir, exist_ok=True)
        path = os.path.join(save_dir, (history.name or "history").replace("/", "_") + ".jsonl")
        history.save(path)
        print("history saved: %s (tests/faults/check-history %s)" % (path, path), flush=True)
    if err is not None:
        raise box.Fail("%s; %s" % (err, rep.summary()))
    box.check(rep.ok, "history check: " + rep.summary())
    return rep
