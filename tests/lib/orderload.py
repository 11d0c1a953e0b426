# SPDX-License-Identifier: ISC
"""orderload.py - the mixed load of the fault scenarios of round 2
(tests/faults/test_orders_mixed_faults.py): client threads buying the way
people buy (CONTRACT section 7) through nginx and lighttpd, every request
recorded in a history (tests/lib/history.py, call()) for the checker.

Each client, over and over, picks one of:

  ticket   POST /tickets, one seat;
  order    POST /orders, 1-4 explicit seats (adjacent in a row, or a few
           scattered over one row);
  best     POST /orders with "quantity" 1-4 (best available);
  hold     POST /holds (explicit or quantity) with a short holdSeconds, then
           confirms it (now, later, or just at its deadline to race the
           expiry), deletes it, or leaves it to expire;
  cancel   POST /orders/{id}/cancel or /tickets/{id}/cancel with the
           order's cancelToken, for an order sold earlier (whole order, or
           one of its tickets).

Half of the tickets, orders, confirms and cancels carry an
Idempotency-Key.  After an answer
of unknown outcome (a 503 of the broker or Redis, the web server's 5xx, a
timeout) or a 409 REQUEST_IN_PROGRESS, the client retries with the same key
and body until it hears a definite answer (a few times at most); a few
keyed requests are sent twice on purpose, one after the other or at once
from two connections.  Confirms, deletions and cancellations are retried
the same way, keyed or not (they are idempotent by themselves).
"""

import http.client
import random
import threading
import time
import uuid

import box
import history

KINDS = (("ticket", 20), ("order", 28), ("best", 12), ("hold", 22), ("cancel", 18))
RETRIES = 6


class MixedLoad(history.Clients):
    """Client threads (workers) doing about `rate` actions a second in all on
    the zones [(event, zone)] (Venue1 geometry), each request recorded in
    history.  hold_seconds: the (min, max) holdSeconds of the holds (1 is
    the smallest the API takes, fcgi/ticket/purchase.c)."""

    def __init__(self, hist, zones, workers=8, rate=40, timeout=15, ports=None, seed=None,
                 hold_seconds=(1, 3), venue="Venue1"):
        super().__init__(workers, rate, timeout, ports)
        self.h = hist
        self.zones = list(zones)
        self.hold_seconds = hold_seconds
        self.venue = venue
        self.rand = random.Random(seed)
        self.lock = threading.Lock()
        self.sold = []              # (orderId, [ticketId], cancelToken) to cancel later

    # ---------------------------------------------------------- choices

    def rnd(self):
        with self.lock:
            return random.Random(self.rand.random())

    def target(self, rnd):
        event, zone = rnd.choice(self.zones)
        body = {"venueId": self.venue, "eventId": event, "zoneId": zone}
        return body, [self.venue, event, zone]

    def seats(self, rnd, n):
        cols = box.VENUE1_COLS
        rows = box.VENUE1_ROWS
        row = rnd.randint(1, min(rows, 10))     # the front rows: contended
        if rnd.random() < 0.7:
            c = rnd.randint(1, cols - n + 1)
            return [[row, c + i] for i in range(n)]
        return [[row, c] for c in sorted(rnd.sample(range(1, cols + 1), n))]

    # --------------------------------------------------------- requests

    def send(self, conn, port, rec, body=None, key=None):
        """call() on the worker's connection (a new one if it was dropped);
        returns (record, conn)."""
        if conn is None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=self.timeout)
        r = history.call(self.h, conn, port, dict(rec), body, key)
        if "status" not in r:
            conn.close()
            conn = None
        return r, conn

    def definite(self, r):
        return r["outcome"] != "unknown" and not (
            r.get("status") == 409 and "REQUEST_IN_PROGRESS" in r.get("body", ""))

    def retried(self, conn, port, rec, body, key, rnd, first=None):
        """Sends rec, then again (same key, same body) while the answer is
        not definite; returns (last record, conn)."""
        r = first
        for n in range(RETRIES):
            if r is not None:
                if self.definite(r) or (key is None and rec["kind"] in ("ticket", "order")):
                    break       # without a key a retry would be another purchase
                time.sleep(rnd.uniform(0.3, 1.2))
            r, conn = self.send(conn, port, dict(rec, attempt=n), body, key)
        return r, conn

    def duplicate(self, port, rec, body, key):
        """The same keyed request from another connection, at once."""
        def run():
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=self.timeout)
            try:
                history.call(self.h, c, port, dict(rec, duplicate=True), body, key)
            finally:
                c.close()
        t = threading.Thread(target=run, daemon=True)
        t.start()
        with self.lock:
            self.extra.append(t)

    def remember(self, r):
        if r["outcome"] != "ok" or r.get("replayed"):
            return
        if r["kind"] == "ticket":
            t = r["ticket"]
            ids, oid, tok = [t["ticketId"]], t.get("orderId"), t.get("cancelToken")
        else:
            o = r["order"]
            ids, oid, tok = [t["ticketId"] for t in o["tickets"]], o["orderId"], \
                o.get("cancelToken")
        if oid and tok:
            with self.lock:
                self.sold.append((oid, ids, tok))

    def buy(self, conn, port, rnd, kind):
        body, zone = self.target(rnd)
        if kind == "ticket":
            (row, col), = self.seats(rnd, 1)
            body.update(row=row, column=col)
            rec = {"kind": "ticket", "seat": zone + [row, col]}
        elif kind == "order":
            rec = {"kind": "order", "zone": zone, "seats": self.seats(rnd, rnd.randint(1, 4))}
            body["seats"] = [{"row": r, "column": c} for r, c in rec["seats"]]
        else:
            rec = {"kind": "order", "zone": zone, "quantity": rnd.randint(1, 4)}
            body["quantity"] = rec["quantity"]
        key = uuid.uuid4().hex if rnd.random() < 0.5 else None
        if key and rnd.random() < 0.04:
            self.duplicate(port, rec, body, key)
        r, conn = self.retried(conn, port, rec, body, key, rnd)
        self.remember(r)
        if key and rnd.random() < 0.05:
            r2, conn = self.send(conn, port, dict(rec, duplicate=True), body, key)
        return conn

    def hold(self, conn, port, rnd):
        body, zone = self.target(rnd)
        secs = rnd.randint(*self.hold_seconds)
        body["holdSeconds"] = secs
        rec = {"kind": "hold", "zone": zone, "holdSeconds": secs}
        if rnd.random() < 0.5:
            rec["seats"] = self.seats(rnd, rnd.randint(1, 4))
            body["seats"] = [{"row": r, "column": c} for r, c in rec["seats"]]
        else:
            rec["quantity"] = body["quantity"] = rnd.randint(1, 4)
        r, conn = self.send(conn, port, rec, body)
        if r["outcome"] != "ok":
            return conn
        hid = r["holdId"]
        fate = rnd.random()
        if fate < 0.45:         # confirm: soon, or at the deadline (races the expiry)
            wait = secs + rnd.uniform(-0.15, 0.15) if rnd.random() < 0.25 else \
                rnd.uniform(0, secs * 0.6)
            self.stop_ev.wait(max(0, wait - (time.time() - r["t1"])))
            key = uuid.uuid4().hex if rnd.random() < 0.5 else None
            c, conn = self.retried(conn, port, {"kind": "confirm", "holdId": hid}, None, key,
                                   rnd)
            self.remember(c)
            if rnd.random() < 0.1:      # again: 200 with the same order (keyed: its 201)
                self.send(conn, port, {"kind": "confirm", "holdId": hid}, None, key)
        elif fate < 0.7:        # delete
            self.stop_ev.wait(rnd.uniform(0, secs * 0.8))
            _, conn = self.retried(conn, port, {"kind": "delete", "holdId": hid}, None, None,
                                   rnd)
        return conn             # else: left to expire

    def cancel(self, conn, port, rnd):
        with self.lock:
            if not self.sold:
                return None
            oid, ids, tok = self.sold.pop(rnd.randrange(len(self.sold)))
        rec = {"kind": "cancel", "orderId": oid}
        if len(ids) > 1 and rnd.random() < 0.3:
            rec["ticketId"] = rnd.choice(ids)
        elif len(ids) == 1 and rnd.random() < 0.5:
            rec["ticketId"] = ids[0]
        key = uuid.uuid4().hex if rnd.random() < 0.5 else None
        r, conn = self.retried(conn, port, rec, {"cancelToken": tok}, key, rnd)
        if r.get("status") == 409:      # NOT_YET_CONFIRMED: later
            with self.lock:
                self.sold.append((oid, ids, tok))
        elif r["outcome"] == "ok" and rnd.random() < 0.05:
            self.send(conn, port, dict(rec, duplicate=True), {"cancelToken": tok})
        return conn

    # ------------------------------------------------------------- step

    def state(self, n):
        return self.rnd()

    def step(self, conn, port, rnd):
        x = rnd.uniform(0, sum(w for _, w in KINDS))
        for kind, w in KINDS:
            x -= w
            if x <= 0:
                break
        if kind == "cancel":
            c = self.cancel(conn, port, rnd)
            return c if c is not None else self.buy(conn, port, rnd, "order")
        if kind == "hold":
            return self.hold(conn, port, rnd)
        return self.buy(conn, port, rnd, kind)
