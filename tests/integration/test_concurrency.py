# SPDX-License-Identifier: ISC
"""Contention: many parallel clients on the same seats, through both web
servers.  Exactly one 201 per seat, every other answer a 409, and Redis bits,
counters and owners agree with the 201s."""

import http.client
import random
import threading

import box
from box import NGINX, LIGHTTPD, check, eq

CLIENTS = 200


def hammer(requests):
    """Sends (venue, event, zone, row, col) requests from CLIENTS threads with
    keep-alive connections, alternating nginx and lighttpd (a 503 that sold
    nothing is tried again: box.buy_definite).  Returns a list of
    (request, status, body-dict)."""
    out = []
    lock = threading.Lock()
    queue = list(requests)
    qlock = threading.Lock()

    def worker(n):
        port = NGINX if n % 2 == 0 else LIGHTTPD
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            with qlock:
                if not queue:
                    break
                req = queue.pop()
            r, _ = box.buy_definite(*req, port=port, conn=conn)
            with lock:
                out.append((req, r.status, r.json()))
        conn.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def setup_module():
    box.stack("reset")


def test_thousand_requests_for_hundred_seats():
    seats = [(r, c) for r in range(1, 5) for c in range(1, 26)]          # 100 seats
    reqs = [("Venue1", "Event1", 7, r, c) for (r, c) in seats for _ in range(12)]
    random.Random(7).shuffle(reqs)
    eq(len(reqs), 1200, "request count")
    before = box.zone_state("Event1", 7)
    res = hammer(reqs)
    eq(len(res), 1200, "answers")
    ok = [(req, body) for req, st, body in res if st == 201]
    conflict = [(req, body) for req, st, body in res if st == 409]
    other = [(req, st, body) for req, st, body in res if st not in (201, 409)]
    eq(other, [], "statuses other than 201/409")
    eq(len(ok), 100, "201 count")
    eq(sorted((b["row"], b["column"]) for _, b in ok), sorted(seats), "one 201 per seat")
    eq(len(conflict), 1100, "409 count")
    eq({b["error"] for _, b in conflict}, {"SEAT_TAKEN"}, "409 codes")
    after = box.zone_state("Event1", 7)
    eq(after["taken"] - before["taken"], set(seats), "bits set are exactly the sold seats")
    eq(before["left"] - after["left"], 100, "zone counter")
    for r in range(1, 5):
        eq(before["row_left"][r] - after["row_left"][r], 25, "row %d counter" % r)
        eq(after["row_left"][r], 5, "row %d left" % r)
    cols = after["cols"]
    owners = {((b["row"] - 1) * cols + b["column"] - 1): b["ticketId"] for _, b in ok}
    eq({k: v for k, v in after["owners"].items() if k in owners}, owners, "owner tokens = 201 ticketIds")
    eq(box.redis("ZCARD", "bo:pend:{Event1:7}"), 0, "no pending entry left")


def test_sell_out_small_zone():
    # Event3 / Venue2 zone 4: 3 rows x 4 columns
    seats = [(r, c) for r in range(1, 4) for c in range(1, 5)]
    reqs = [("Venue2", "Event3", 4, r, c) for (r, c) in seats for _ in range(8)]
    random.Random(11).shuffle(reqs)
    res = hammer(reqs)
    ok = [b for _, st, b in res if st == 201]
    eq(len(ok), 12, "201 count")
    eq(sorted((b["row"], b["column"]) for b in ok), seats, "every seat sold once")
    codes = {b["error"] for _, st, b in res if st == 409}
    check(codes <= {"SEAT_TAKEN", "ROW_SOLD_OUT", "ZONE_SOLD_OUT"}, "409 codes %r" % codes)
    eq(len([1 for _, st, _ in res if st == 409]), 84, "409 count")
    state = box.zone_state("Event3", 4)
    eq(state["left"], 0, "zone counter")
    eq(state["row_left"], {1: 0, 2: 0, 3: 0}, "row counters")
    eq(state["taken"], set(seats), "bits")
    # once sold out, the zone counter is checked first
    for port in (NGINX, LIGHTTPD):
        r = box.buy("Venue2", "Event3", 4, 2, 2, port=port)
        eq((r.status, r.json()["error"]), (409, "ZONE_SOLD_OUT"), "sold out zone")


def test_row_sold_out_before_seat_taken():
    # Event2 / Venue2 zone 2: 5 rows x 12 columns; fill row 1 in parallel
    reqs = [("Venue2", "Event2", 2, 1, c) for c in range(1, 13) for _ in range(4)]
    random.Random(3).shuffle(reqs)
    res = hammer(reqs)
    eq(len([1 for _, st, _ in res if st == 201]), 12, "row 1 sold once per seat")
    for col, port in ((5, NGINX), (6, LIGHTTPD)):
        r = box.buy("Venue2", "Event2", 2, 1, col, port=port)
        eq((r.status, r.json()["error"]), (409, "ROW_SOLD_OUT"), "full row")
        r = box.buy("Venue2", "Event2", 2, 2, col, port=port)
        eq(r.status, 201, "row 2 still sells")
        r = box.buy("Venue2", "Event2", 2, 2, col, port=port)
        eq((r.status, r.json()["error"]), (409, "SEAT_TAKEN"), "taken seat in a row with room")
    state = box.zone_state("Event2", 2)
    eq(state["row_left"][1], 0, "row 1 counter")
    eq(state["left"], 60 - 14, "zone counter")


if __name__ == "__main__":
    raise SystemExit(box.main(globals()))
