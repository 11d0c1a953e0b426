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

After the system settled (queues drained, pending and sweep sets empty),
check() verifies the history against Redis, MySQL and DynamoDB:

  I1  no seat sold twice: never two 201s for one seat, at most one ticket per
      seat in MySQL, in DynamoDB, and the same one in all stores and Redis;
  I2  every ok appears exactly once in MySQL and in DynamoDB, field for
      field; every unknown whose seat was reserved (503 with ticketId from
      the broker's side) was completed (persisted) too;
  I3  every persisted ticket comes from an ok or an unknown request (by id,
      or for an unknown without id: same seat, created during the request),
      never from a fail;
  I4  per event zone and row: Redis seat bits = counters = owner tokens =
      sold seats (MySQL) <= capacity;
  I5  MySQL = DynamoDB field for field, ticketSQL/ticketNoSQL empty (ready
      and unacked), every dead-lettered message accounted for (a copy of a
      persisted ticket, or declared expected by the scenario), and
      `ticketctl check` finds 0 differences.

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
# the 4xx error codes of docs/api.md and the web servers' own refusals
NOTHING_SOLD = "nothing was sold"


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
        self.lost = []                 # (from, to): Redis lost reservations then
        self.lock = threading.Lock()

    def copy(self):
        """A deep copy (records, expected dead letters, lost windows)."""
        h = History(self.name)
        with self.lock:
            h.records = json.loads(json.dumps(self.records))
            h.expected_dead = list(self.expected_dead)
            h.lost = list(self.lost)
        return h

    def add(self, rec):
        with self.lock:
            rec["i"] = len(self.records)
            self.records.append(rec)

    def expect_dead(self, body):
        with self.lock:
            self.expected_dead.append(body)

    def save(self, path):
        with open(path, "w") as f:
            f.write(json.dumps({"kind": "history", "name": self.name}) + "\n")
            for r in self.records:
                f.write(json.dumps(dict(r, kind="request")) + "\n")
            for b in self.expected_dead:
                f.write(json.dumps({"kind": "expected_dead", "body": b}) + "\n")
            for a, b in self.lost:
                f.write(json.dumps({"kind": "lost", "from": a, "to": b}) + "\n")

    @classmethod
    def load(cls, path):
        h = cls()
        with open(path) as f:
            for line in f:
                if not line.strip():
                    continue
                d = json.loads(line)
                kind = d.pop("kind", "request")
                if kind == "history":
                    h.name = d.get("name", "")
                elif kind == "expected_dead":
                    h.expected_dead.append(d["body"])
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
        return "%d requests: %d ok, %d fail, %d unknown" % (len(self.records), c["ok"], c["fail"],
                                                          c["unknown"])


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


class Load:
    """Client threads buying seats picked at random (with repetition, so that
    buyers contend for seats) from a pool, through nginx and lighttpd on
    keep-alive connections, about `rate` purchases a second in all, each
    one recorded in the history.  One purchase in ten uses the legacy form
    (POST /ticket?...&row=<letter>)."""

    def __init__(self, history, pool, workers=8, rate=100, timeout=15, ports=None,
                 legacy=0.1, seed=None):
        self.history = history
        self.pool = list(pool)
        self.workers = workers
        self.delay = workers / float(rate) if rate else 0
        self.timeout = timeout
        self.ports = ports or box.WEB_PORTS
        self.legacy = legacy
        self.rand = random.Random(seed)
        self.stop_ev = threading.Event()
        self.threads = []
        self.lock = threading.Lock()

    def pick(self):
        with self.lock:
            return self.rand.choice(self.pool), self.rand.random() < self.legacy

    def worker(self, n):
        port = self.ports[n % len(self.ports)]
        conn = None
        while not self.stop_ev.is_set():
            seat, legacy = self.pick()
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=self.timeout)
            t0 = time.time()
            rec = attempt(self.history, conn, seat, port, legacy)
            if rec["outcome"] != "ok" and "status" not in rec:
                conn.close()
                conn = None
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
        for t in self.threads:
            t.join(timeout)
        box.check(not any(t.is_alive() for t in self.threads),
                  "load client threads still running %ss after stop" % timeout)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def run_for(self, seconds):
        self.start()
        time.sleep(seconds)
        self.stop()


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
    s = socket.create_connection(("127.0.0.1", box.REDIS_PORTS[node]), timeout=30)
    f = s.makefile("rb")
    try:
        s.sendall(b"".join(box._resp_encode(c) for c in cmds))
        out = []
        for _ in cmds:
            try:
                out.append(box._resp_read(f))
            except box.RedisError as e:
                out.append(e)
        return out
    finally:
        f.close()
        s.close()


def catalog():
    """{(event, zone): (venue, rows, cols, price text)} from MySQL."""
    rows = box.sql("SELECT e.event_id, z.zone_id, e.venue_id, z.row_count, z.col_count, z.price "
                   "FROM ticketing.event e JOIN ticketing.zone z ON z.venue_id = e.venue_id")
    return {(r[0], int(r[1])): (r[2], int(r[3]), int(r[4]), r[5]) for r in rows}


def mysql_tickets():
    rows = box.sql("SELECT ticket_id, venue_id, event_id, zone_id, row_no, col_no, price, status, "
                   "DATE_FORMAT(created_on, '%Y-%m-%dT%H:%i:%s.%fZ') FROM ticketing.ticket")
    out = []
    for r in rows:
        created = r[8]
        # DATE_FORMAT %f gives microseconds: keep milliseconds as the API does
        created = created[:23] + "Z" if len(created) >= 24 else created
        out.append({"ticketId": r[0], "venueId": r[1], "eventId": r[2], "zoneId": int(r[3]),
                    "row": int(r[4]), "column": int(r[5]), "price": r[6], "status": r[7],
                    "createdOn": created})
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
    left (counters hash, None if absent), bitmap, owners, pend, sweep."""
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
                     ("ZRANGE", "bo:pend:" + tag, 0, -1), ("ZRANGE", "bo:sweep:" + tag, 0, -1)]
        rep = redis_pipeline(cmds, node)
        for i, key in enumerate(keys):
            meta, left, bitmap, own, pend, sweep = rep[6 * i:6 * i + 6]

            def h(x):
                if not isinstance(x, list):
                    return {}
                return {x[j].decode(): x[j + 1].decode() for j in range(0, len(x), 2)}
            out[key] = {"meta": h(meta), "left": h(left) if left else None,
                        "bitmap": bitmap if isinstance(bitmap, bytes) else b"",
                        "owners": {int(k): v for k, v in h(own).items()},
                        "pend": pend if isinstance(pend, list) else [],
                        "sweep": sweep if isinstance(sweep, list) else []}
    return out


def bits_of(bitmap):
    out = set()
    for i, byte in enumerate(bitmap):
        if byte:
            for b in range(8):
                if byte & (0x80 >> b):
                    out.add(i * 8 + b)
    return out


RABBIT_NODE = box.ENV.get("BOX_RABBIT_NODE", "boxoffice") + "@localhost"


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
    claimed reservations in Redis (cheap checks, no rabbitmqctl)."""
    n = sum(box.queue_count(q) for q in QUEUES)
    for node in range(len(box.REDIS_PORTS)):
        tags = box.redis("SMEMBERS", "bo:zones", node=node) or []
        cmds = []
        for t in tags:
            t = t.decode()
            cmds += [("ZCARD", "bo:pend:{%s}" % t), ("ZCARD", "bo:sweep:{%s}" % t)]
        if cmds:
            n += sum(x for x in redis_pipeline(cmds, node) if isinstance(x, int))
    return n


def settle(timeout=240, quiet=2.0):
    """Waits until nothing is in flight: the main queues hold no message
    (ready or unacked), no reservation is pending or claimed, and MySQL and
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
                                                                      "I5"))

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
        names = {"I1": "no seat sold twice", "I2": "every ok persisted once, field for field",
                 "I3": "nothing persisted that was not sold", "I4": "Redis bits = counters = "
                 "owners = sold seats <= capacity", "I5": "MySQL = DynamoDB, queues drained, "
                 "dead letters accounted for"}
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
    extra = set(got) - set(FIELDS) - {"orderId", "cancelHash"}
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


class Stores:
    """What the stores hold once settled: the catalog, MySQL's tickets,
    DynamoDB's items, Redis' zones."""

    def __init__(self):
        self.cat = catalog()
        self.my = mysql_tickets()
        self.dd = ddb_tickets()
        self.rz = redis_zones(self.cat)
        self.my_by_id = {t["ticketId"]: t for t in self.my}
        self.dd_by_id = {t.get("ticketId"): t for t in self.dd}


def check_i1(rep, ok, st):
    """I1: no seat got two 201s; at most one ticket per seat in each store,
    the same one in both."""
    ok_by_seat = collections.defaultdict(list)
    for r in ok:
        t = r["ticket"]
        want = req_seat(r)
        if seat_key(t) != want or t.get("venueId") != r["seat"][0]:
            rep.bad("I2", "request %d for %r got a 201 for another seat: %s" % (
                r["i"], r["seat"], r["body"][:200]))
        ok_by_seat[want].append(r)
    for seat, rs in ok_by_seat.items():
        if len(rs) > 1:
            rep.bad("I1", "seat %r answered 201 %d times: %s" % (
                seat, len(rs), ", ".join("%s (request %d)" % (x["ticketId"], x["i"]) for x in rs)))
    for store, tickets in (("MySQL", st.my), ("DynamoDB", st.dd)):
        by_seat = collections.defaultdict(list)
        for t in tickets:
            try:
                by_seat[seat_key(t)].append(t["ticketId"])
            except (KeyError, ValueError):
                rep.bad("I5", "%s holds a malformed ticket %r" % (store, t))
        for seat, ids in by_seat.items():
            if len(ids) > 1:
                rep.bad("I1", "%s sells seat %r to %d tickets: %s" % (store, seat, len(ids),
                                                                     ", ".join(ids)))
    holder = {}   # seat -> ticketId, all stores together
    for store, tickets in (("MySQL", st.my), ("DynamoDB", st.dd)):
        for t in tickets:
            try:
                s = seat_key(t)
            except (KeyError, ValueError):
                continue
            if s in holder and holder[s][0] != t["ticketId"]:
                rep.bad("I1", "seat %r: %s in %s but %s in %s" % (s, holder[s][0], holder[s][1],
                                                                t["ticketId"], store))
            holder.setdefault(s, (t["ticketId"], store))



def check_i2(rep, ok, unknown, st, lost, unknown_must_resolve):
    """I2: every 201 is persisted in both stores as answered; every unknown
    outcome with a ticketId ends persisted (unless Redis lost it)."""
    for r in ok:
        tid, t = r["ticketId"], r["ticket"]
        for store, by_id, exact in (("MySQL", st.my_by_id, True), ("DynamoDB", st.dd_by_id, False)):
            got = by_id.get(tid)
            if got is None:
                rep.bad("I2", "201 ticket %s (seat %r, request %d) is not in %s" % (
                    tid, r["seat"], r["i"], store))
                continue
            bad = field_diff(t, got, exact)
            if bad:
                rep.bad("I2", "201 ticket %s differs in %s: %s" % (tid, store, "; ".join(bad)))
    unk_ids = {r["ticketId"]: r for r in unknown if r.get("ticketId")}
    resolved = sum(1 for tid in unk_ids if tid in st.my_by_id)
    rep.info("unknown outcomes: %d with a ticketId (%d persisted), %d without" % (
        len(unk_ids), resolved, len(unknown) - len(unk_ids)))
    if unknown_must_resolve:
        for tid, r in unk_ids.items():
            if "reservation in doubt" in r["why"]:
                continue    # Redis may never have run it (or found the seat taken)
            if any(r["t0"] <= b and r["t1"] >= a for (a, b) in lost) and \
                    tid not in st.my_by_id and tid not in st.dd_by_id:
                rep.info("unknown-outcome ticket %s (request %d) vanished with Redis' lost "
                         "writes" % (tid, r["i"]))
                continue
            if tid not in st.my_by_id or tid not in st.dd_by_id:
                rep.bad("I2", "unknown-outcome ticket %s (seat %r, request %d) was never "
                        "completed: MySQL %s, DynamoDB %s" % (
                            tid, r["seat"], r["i"], tid in st.my_by_id, tid in st.dd_by_id))



def check_i3(rep, ok, fail, unknown, st, slack):
    """I3: every persisted ticket is explained by an ok or unknown request
    for its seat."""
    unk_ids = {r["ticketId"]: r for r in unknown if r.get("ticketId")}
    ok_ids = {r["ticketId"]: r for r in ok}
    idless = collections.defaultdict(list)     # seat -> unknown requests without id
    for r in unknown:
        if not r.get("ticketId"):
            idless[req_seat(r)].append(r)
    fails = collections.defaultdict(list)
    for r in fail:
        fails[req_seat(r)].append(r)
    used = set()
    persisted = dict(st.my_by_id)
    for tid, t in st.dd_by_id.items():
        persisted.setdefault(tid, t)
    for tid, t in persisted.items():
        try:
            s = seat_key(t)
        except (KeyError, ValueError):
            continue
        src = ok_ids.get(tid) or unk_ids.get(tid)
        if src is not None:
            if req_seat(src) != s:
                rep.bad("I3", "ticket %s is persisted for seat %r, its request %d was for %r" % (
                    tid, s, src["i"], src["seat"]))
            continue
        created = stamp_s(t.get("createdOn", ""))
        match = None
        for r in idless.get(s, []):
            if r["i"] in used:
                continue
            if created is None or r["t0"] - slack <= created <= r["t1"] + slack:
                match = r
                break
        if match is not None:
            used.add(match["i"])
            continue
        near = sorted((r for r in fails.get(s, []) if created is not None and
                       r["t0"] - slack <= created <= r["t1"] + slack),
                      key=lambda r: (r["why"] != "503 nothing sold", abs(r["t0"] - created)))
        rep.bad("I3", "ticket %s (seat %r, created %s) persisted, but no ok or unknown request "
                "explains it%s" % (tid, s, t.get("createdOn"),
                                   "; a request answered '%s' for this seat then (request %d)" % (
                                       near[0]["why"], near[0]["i"]) if near else ""))
    rep.info("unknown outcomes without ticketId that became tickets: %d" % len(used))



def check_i4(rep, st):
    """I4: Redis' bits, counters and owners agree with the catalog and with
    MySQL, zone by zone (I5 for what is left pending)."""
    sold_by_zone = collections.defaultdict(dict)   # (event, zone) -> {bit: ticketId}
    for t in st.my:
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


def check(history, unknown_must_resolve=True, run_ticketctl=True, slack=1.5):
    """Checks the history against the stores (call settle() first).  Returns
    a Report; report.ok is False on any violation.  history.lost holds the
    (from, to) times when Redis lost reservations (a Redis loss,
    docs/reliability.md): an unknown outcome in flight then need not end
    persisted (its pending entry is gone)."""
    lost = history.lost
    rep = Report(history.name or "history")
    recs = history.records
    ok = [r for r in recs if r["outcome"] == "ok"]
    fail = [r for r in recs if r["outcome"] == "fail"]
    unknown = [r for r in recs if r["outcome"] == "unknown"]
    rep.info(history.summary())
    why = collections.Counter(r["why"] for r in fail + unknown)
    if why:
        rep.info("answers other than 201: " + ", ".join("%s x%d" % (k, v)
                                                        for k, v in why.most_common(8)))

    st = Stores()
    rep.info("stores: %d tickets in MySQL, %d items in DynamoDB" % (len(st.my), len(st.dd)))
    check_i1(rep, ok, st)
    check_i2(rep, ok, unknown, st, lost, unknown_must_resolve)
    check_i3(rep, ok, fail, unknown, st, slack)
    check_i4(rep, st)
    check_i5(rep, history, st, run_ticketctl)
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
