# SPDX-License-Identifier: ISC
"""test_rebuild_orders_cluster.py - `ticketctl rebuild` on a Redis Cluster
puts back, inside each zone's transaction, what a cancellation needs of the
orders in MySQL (ctl/rebuild_orders.c, docs/reliability.md "After a Redis
loss"):

- an order made through the API (its ids carry the zone's slot) gets its
  message and index back and can be cancelled after the rebuild;
- an order whose ids were made before they carried their slot (a round-1
  era database moved to the cluster) is left out, and the zone is still
  rebuilt: writing its index keys, which lie in other slots, inside the
  zone's transaction made the cluster refuse the whole transaction, so the
  zone stayed without counters and sold nothing.
"""

import uuid

import box
from box import check, eq, http

EVENT, ZONE = "Event2", 1      # Venue2 zone 1: 10 x 20 at 150.00
TAG = "{%s:%d}" % (EVENT, ZONE)


def legacy_id():
    """A UUID whose last 14 bits name another slot than the zone's."""
    while True:
        ident = str(uuid.uuid4())
        if box.id_slot(ident) != box.zone_slot(EVENT, ZONE):
            return ident


def setup_module():
    box.stack("reset")


def teardown_module():
    box.stack("reset")


def test_rebuild_with_an_old_and_a_new_order():
    r = http("POST", "/orders", {"venueId": "Venue2", "eventId": EVENT, "zoneId": ZONE,
                                 "seats": [{"row": 3, "column": 1}]})
    eq(r.status, 201, "an order through the API: " + r.body)
    token = r.json()["cancelToken"]
    tid = r.json()["tickets"][0]["ticketId"]
    old_oid, old_tid = legacy_id(), legacy_id()
    box.sql("INSERT INTO ticketing.orders (order_id, venue_id, event_id, zone_id, total, status, "
            "cancel_hash, created_on) VALUES ('%s', 'Venue2', '%s', %d, 150.00, 'CONFIRMED', "
            "'%s', '2026-11-20 10:00:00.000')" % (old_oid, EVENT, ZONE, "ab" * 32))
    box.sql("INSERT INTO ticketing.ticket (ticket_id, venue_id, event_id, zone_id, row_no, "
            "col_no, price, status, created_on, order_id) VALUES ('%s', 'Venue2', '%s', %d, 3, 2, "
            "150.00, 'CREATED', '2026-11-20 10:00:00.000', '%s')" % (old_tid, EVENT, ZONE, old_oid))
    box.wait_until(lambda: box.sql_count("SELECT COUNT(*) FROM ticketing.ticket WHERE ticket_id "
                                         "= '%s'" % tid) == 1, what="the API order in MySQL")
    box.stack("stop", "consumer")
    try:
        # the zone's master lost the zone and its orders
        box.redis("DEL", *["bo:%s:%s" % (k, TAG) for k in
                           ("zone", "left", "seat", "own", "pend", "sweep", "ords")])
        eq(http("POST", "/tickets/%s/cancel" % tid, {"cancelToken": token}).status, 404,
           "a cancel while the order is lost")
        r = box.ticketctl("rebuild", EVENT, check_rc=False)
        eq(r.returncode, 0, "rebuild on the cluster (stdout %r, stderr %r)" % (r.stdout, r.stderr))
        check("%s zone %d: rebuilt: 200 seats, 2 sold (2 in MySQL" % (EVENT, ZONE) in r.stdout,
              r.stdout)
        check("%s zone %d: 1 order(s) of MySQL: messages and index for cancellation put back"
              % (EVENT, ZONE) in r.stdout, r.stdout)
    finally:
        box.stack("start", "consumer")
    for col in (1, 2):
        r = http("POST", "/tickets", {"venueId": "Venue2", "eventId": EVENT, "zoneId": ZONE,
                                      "row": 3, "column": col})
        eq((r.status, r.json().get("error")), (409, "SEAT_TAKEN"), "seat (3,%d) after it" % col)
    c = http("POST", "/tickets/%s/cancel" % tid, {"cancelToken": token})
    eq((c.status, c.json().get("status")), (200, "CANCELLED"), "cancel after the rebuild: " + c.body)
    r = http("POST", "/tickets", {"venueId": "Venue2", "eventId": EVENT, "zoneId": ZONE,
                                  "row": 3, "column": 1})
    eq(r.status, 201, "the cancelled seat sold again: " + r.body)


if __name__ == "__main__":
    box.main(globals())
