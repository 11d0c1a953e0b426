# SPDX-License-Identifier: ISC
"""The reservation script checks everything before its first write (issue 10
item 5): a zone whose catalog hash in Redis is unusable (price missing, or a
price too long for a ticket) answers 503 "nothing was sold" and indeed sells
nothing: no seat bit, no counter change, no pending ticket, and the seat
sells normally once the catalog is repaired.  On the old code the script
took the seat first and then failed (Lua error, or "price too long" in
shared/rds.c): the seat was lost, or the sweeper issued the ticket anyway.  An order whose
total the stores cannot hold is refused the same way."""

import time

import box
from box import buy, check, eq

EVENT, ZONE = "Event1", 93          # a zone no other test of this file uses
SEAT = (3, 7)
KEY = "bo:zone:{%s:%d}" % (EVENT, ZONE)


def rz(*args):
    return box.redis(*args, node=box.zone_node(EVENT, ZONE))


def assert_untouched(what):
    st = box.zone_state(EVENT, ZONE)
    eq(st["taken"], set(), what + ": seats taken")
    eq(st["left"], 26 * 30, what + ": zone counter")
    eq(rz("ZCARD", "bo:pend:{%s:%d}" % (EVENT, ZONE)), 0, what + ": pending tickets")
    eq(rz("ZCARD", "bo:sweep:{%s:%d}" % (EVENT, ZONE)), 0, what + ": claimed tickets")


def broken_price_sells_nothing(mutate, what):
    box.stack("reset")
    mutate()
    try:
        for port in box.WEB_PORTS:
            r = buy("Venue1", EVENT, ZONE, SEAT[0], SEAT[1], port=port)
            eq(r.status, 503, "%s: purchase on %d (%s)" % (what, port, r.body))
            check("ticketId" not in r.json() or "nothing" not in r.json()["message"],
                  "%s: 'nothing was sold' with a ticket id: %s" % (what, r.body))
    finally:
        rz("HSET", KEY, "price", box.venue1_price(ZONE))
    # the sweeper would issue a ticket left pending: give it time to
    time.sleep(8)
    assert_untouched(what)
    eq(box.sql_count("SELECT COUNT(*) FROM ticketing.ticket WHERE event_id='%s' AND zone_id=%d"
                     % (EVENT, ZONE)), 0, what + ": tickets persisted")
    r = buy("Venue1", EVENT, ZONE, SEAT[0], SEAT[1])
    eq(r.status, 201, "%s: the seat after the repair (%s)" % (what, r.body))
    eq(r.json()["price"], float(box.venue1_price(ZONE)), what + ": price")


def test_missing_price_sells_nothing():
    broken_price_sells_nothing(lambda: rz("HDEL", KEY, "price"), "price missing")


def test_price_too_long_sells_nothing():
    broken_price_sells_nothing(lambda: rz("HSET", KEY, "price", "123456789012345.00"),
                               "price too long")


def test_price_not_a_price_sells_nothing():
    broken_price_sells_nothing(lambda: rz("HSET", KEY, "price", "12,5"), "price malformed")



def test_order_whose_total_does_not_fit_sells_nothing():
    """A zone priced above 9,999,999.99 (catalog apply refuses such a price
    now; a catalog applied before may have one): an order whose total the
    stores cannot hold (DECIMAL(10,2), the consumer's parser: 8 digits) is
    refused before any write.  On the old code it was a 201 that the
    consumer dead-lettered: a sale lost."""
    box.stack("reset")
    rz("HSET", KEY, "price", "50000000.00")
    try:
        for port in box.WEB_PORTS:
            r = box.http("POST", "/orders", {"venueId": "Venue1", "eventId": EVENT, "zoneId": ZONE,
                                             "seats": [{"row": 3, "column": 7},
                                                       {"row": 3, "column": 8}]}, port=port)
            eq(r.status, 503, "an order of 100,000,000.00 via %d (%s)" % (port, r.body))
            check(box.nothing_sold(r), "not a definite no: %s" % r.body)
        assert_untouched("total too large")
        r = buy("Venue1", EVENT, ZONE, SEAT[0], SEAT[1])
        eq((r.status, r.json().get("price")), (201, 50000000.0), "one seat's total fits")
        box.ticket_persisted(r.json()["ticketId"])
    finally:
        rz("HSET", KEY, "price", box.venue1_price(ZONE))

if __name__ == "__main__":
    raise SystemExit(box.main(globals()))
