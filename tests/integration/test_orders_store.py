# SPDX-License-Identifier: ISC
"""test_orders_store.py - the store side of orders (issue 13, docs/consumer.md,
docs/api.md): order messages persist whole in MySQL and DynamoDB, round-1
ticket messages still persist, cancellations are right in any order of
arrival and under redelivery, a cancelled seat can be sold again but never
twice at once, GET /get/orders/{id} (cache, then MySQL), reports count live
tickets only, and the migration keeps a round-1 database's data.

The purchase side of this branch does not publish these messages yet: they
are forged (tests/lib/forge.py) and published straight into the broker.
"""

import hashlib
import json
import os
import subprocess

import box
import forge
import persist
from box import check, eq

EVENT = "Event1"
ZONE = 7        # seats of this file: Event1 zone 7 (Venue1, 320.00)
PRICE = "320.00"


def setup_module():
    box.stack("reset")


def wait_mysql(oid, n, timeout=120):
    box.wait_until(lambda: box.sql_count("SELECT COUNT(*) FROM ticketing.ticket WHERE "
                                         "order_id = '%s'" % oid) == n,
                   timeout=timeout, what="order %s: %d tickets in MySQL" % (oid, n))


def wait_ddb(tid, pred, timeout=120, what="item"):
    return box.wait_until(lambda: (lambda it: it if it is not None and pred(it) else None)(
        forge.ddb_item(tid)), timeout=timeout, what="DynamoDB %s %s" % (tid, what))


def dead_counts():
    return (box.queue_count("ticketSQL.dead"), box.queue_count("ticketNoSQL.dead"))


def test_order_of_4_persisted_whole():
    o = forge.order([(1, 1), (1, 2), (1, 3), (1, 4)], zone=ZONE)
    forge.publish_order(o)
    wait_mysql(o["orderId"], 4)
    eq(forge.mysql_order(o["orderId"]), ("CONFIRMED", "1280.00", "NULL", o["cancelHash"]),
       "orders row")
    rows = box.sql("SELECT ticket_id, venue_id, event_id, zone_id, row_no, col_no, price, status,"
                   " order_id FROM ticketing.ticket WHERE order_id = '%s' ORDER BY col_no"
                   % o["orderId"])
    eq(rows, [[t["ticketId"], "Venue1", EVENT, str(ZONE), "1", str(t["column"]), PRICE,
               "CREATED", o["orderId"]] for t in o["tickets"]], "MySQL tickets")
    for t in o["tickets"]:
        it = wait_ddb(t["ticketId"], lambda i: "eventId" in i)
        eq((it["orderId"], it["status"], it["eventId"], it["zoneId"], it["row"], it["column"],
            it["createdOn"], it["cancelHash"]),
           (o["orderId"], "CREATED", EVENT, str(ZONE), "1", str(t["column"]), o["createdOn"],
            o["cancelHash"]), "DynamoDB item of %s" % t["ticketId"])
        check(it["price"] in ("320", "320.00"), "price %r" % it["price"])
        check("cancelledOn" not in it, "no cancelledOn")
    forge.settled()
    eq(dead_counts(), (0, 0), "nothing dead-lettered")


def test_round1_ticket_still_persisted():
    tid = persist.new_ticket_id()
    t = {"ticketId": tid, "venueId": "Venue1", "eventId": EVENT, "zoneId": ZONE, "row": 2,
         "column": 1, "price": PRICE, "status": "CREATED", "createdOn": forge.stamp()}
    box.mqtool("publish", persist.forged_copy(t))
    box.wait_until(lambda: forge.mysql_ticket(tid), timeout=120, what="round-1 ticket in MySQL")
    eq(forge.mysql_ticket(tid), ("CREATED", "NULL", "NULL"), "round-1 ticket: no order")
    it = wait_ddb(tid, lambda i: True)
    eq((it["status"], it["row"], it["column"]), ("CREATED", "2", "1"), "DynamoDB item")
    check("orderId" not in it, "no orderId on a round-1 item")


def test_cancel_after_create_and_redelivery():
    o = forge.order([(3, 1), (3, 2)], zone=ZONE)
    forge.publish_order(o)
    wait_mysql(o["orderId"], 2)
    t1, t2 = [t["ticketId"] for t in o["tickets"]]
    c1 = forge.cancel(o, [t1])
    forge.publish_cancel(c1)
    box.wait_until(lambda: forge.mysql_ticket(t1)[0] == "CANCELLED", timeout=120,
                   what="ticket cancelled in MySQL")
    eq(forge.mysql_ticket(t1), ("CANCELLED", c1["cancelledOn"], o["orderId"]), "cancelled ticket")
    eq(forge.mysql_ticket(t2)[0], "CREATED", "the other ticket is live")
    eq(forge.mysql_order(o["orderId"])[0], "CONFIRMED", "order still confirmed")
    it = wait_ddb(t1, lambda i: i.get("status") == "CANCELLED", what="cancelled")
    eq(it["cancelledOn"], c1["cancelledOn"], "DynamoDB cancelledOn")
    eq(forge.ddb_item(t2)["status"], "CREATED", "DynamoDB other ticket live")
    c2 = forge.cancel(o, [t2])
    forge.publish_cancel(c2)
    box.wait_until(lambda: forge.mysql_order(o["orderId"])[0] == "CANCELLED", timeout=120,
                   what="order cancelled once all its tickets are")
    eq(forge.mysql_order(o["orderId"])[2], c2["cancelledOn"], "order cancelled_on")
    wait_ddb(t2, lambda i: i.get("status") == "CANCELLED", what="cancelled")
    # redelivery of everything: the order and both cancellations again
    forge.publish_order(o, times=2)
    forge.publish_cancel(c1, times=2)
    forge.publish_cancel(forge.cancel(o, [t2], when=forge.stamp()))
    forge.settled()
    eq(forge.mysql_ticket(t1), ("CANCELLED", c1["cancelledOn"], o["orderId"]), "t1 after redelivery")
    eq(forge.mysql_ticket(t2), ("CANCELLED", c2["cancelledOn"], o["orderId"]), "t2 after redelivery")
    eq(box.sql_count("SELECT COUNT(*) FROM ticketing.ticket WHERE order_id = '%s'" % o["orderId"]),
       2, "no row twice")
    for tid, c in ((t1, c1), (t2, c2)):
        it = forge.ddb_item(tid)
        eq((it["status"], it["cancelledOn"], it["eventId"]), ("CANCELLED", c["cancelledOn"], EVENT),
           "DynamoDB %s after redelivery" % tid)
    eq(dead_counts(), (0, 0), "nothing dead-lettered")


def test_cancel_before_create_both_queues():
    o = forge.order([(4, 1), (4, 2), (4, 3)], zone=ZONE)
    t1, t2, t3 = [t["ticketId"] for t in o["tickets"]]
    c = forge.cancel(o, [t1, t3])
    forge.publish_cancel(c)
    forge.settled()
    # kept: in MySQL's ticket_cancel, in DynamoDB as items of the cancellation only
    box.wait_until(lambda: box.sql_count("SELECT COUNT(*) FROM ticketing.ticket_cancel WHERE "
                                         "order_id = '%s'" % o["orderId"]) == 2,
                   timeout=120, what="cancellations kept in MySQL")
    eq(forge.mysql_ticket(t1), None, "no ticket row before its order")
    wait_ddb(t1, lambda i: i.get("status") == "CANCELLED", what="kept cancellation")
    forge.publish_order(o)
    wait_mysql(o["orderId"], 3)
    eq(forge.mysql_ticket(t1), ("CANCELLED", c["cancelledOn"], o["orderId"]), "t1 cancelled")
    eq(forge.mysql_ticket(t2)[0], "CREATED", "t2 live")
    eq(forge.mysql_ticket(t3)[0], "CANCELLED", "t3 cancelled")
    eq(forge.mysql_order(o["orderId"])[0], "CONFIRMED", "order: one ticket still live")
    it = wait_ddb(t1, lambda i: "eventId" in i, what="completed by the order")
    eq((it["status"], it["cancelledOn"], it["orderId"], it["row"]),
       ("CANCELLED", c["cancelledOn"], o["orderId"], "4"), "DynamoDB t1")
    eq(wait_ddb(t2, lambda i: True)["status"], "CREATED", "DynamoDB t2")
    # the whole order cancelled before it arrives: the order row is CANCELLED
    o2 = forge.order([(5, 1), (5, 2)], zone=ZONE)
    c2 = forge.cancel(o2)
    forge.publish_cancel(c2, queues=("ticketSQL",))
    forge.settled()
    forge.publish_order(o2)
    forge.publish_cancel(c2, queues=("ticketNoSQL",))
    wait_mysql(o2["orderId"], 2)
    eq(forge.mysql_order(o2["orderId"])[0::2], ("CANCELLED", c2["cancelledOn"]), "order cancelled")
    for t in o2["tickets"]:
        eq(forge.mysql_ticket(t["ticketId"])[0], "CANCELLED", "ticket cancelled")
        wait_ddb(t["ticketId"], lambda i: i.get("status") == "CANCELLED" and "eventId" in i,
                 what="cancelled and complete")
    forge.settled()
    eq(dead_counts(), (0, 0), "nothing dead-lettered")


def test_cancelled_seat_sold_again_never_twice():
    o = forge.order([(6, 1)], zone=ZONE)
    forge.publish_order(o)
    wait_mysql(o["orderId"], 1)
    forge.publish_cancel(forge.cancel(o))
    box.wait_until(lambda: forge.mysql_ticket(o["tickets"][0]["ticketId"])[0] == "CANCELLED",
                   timeout=120, what="cancelled")
    again = forge.order([(6, 1), (6, 2)], zone=ZONE)
    forge.publish_order(again)
    wait_mysql(again["orderId"], 2)
    eq(box.sql_count("SELECT COUNT(*) FROM ticketing.ticket WHERE event_id = '%s' AND zone_id = %d"
                     " AND row_no = 6 AND col_no = 1" % (EVENT, ZONE)), 2,
       "two tickets on the seat, one cancelled")
    # a third order on a live seat: the double-sale alarm, none of it written
    dead0 = box.queue_count("ticketSQL.dead")
    off = persist.log_size()
    double = forge.order([(6, 3), (6, 2)], zone=ZONE)
    forge.publish_order(double)
    box.wait_until(lambda: box.queue_count("ticketSQL.dead") == dead0 + 1, timeout=120,
                   what="the double sale dead-lettered")
    eq(box.sql_count("SELECT COUNT(*) FROM ticketing.ticket WHERE order_id = '%s'"
                     % double["orderId"]), 0, "no ticket of the refused order")
    eq(forge.mysql_order(double["orderId"]), None, "no row of the refused order")
    check("DOUBLE SALE ALARM" in persist.log_since(off), "alarm logged")
    # DynamoDB is told, as of a round-1 double sale: the refused ticket of
    # the taken seat is marked DOUBLE_SALE, naming the seat's owner, and the
    # order's own write (before or after the mark) leaves the mark alone;
    # its ticket on a free seat is no double sale and stays as written
    owner = [t["ticketId"] for t in again["tickets"] if t["column"] == 2][0]
    free, taken = [t["ticketId"] for t in double["tickets"]]
    it = wait_ddb(taken, lambda i: i.get("status") == "DOUBLE_SALE" and "orderId" in i,
                  what="marked DOUBLE_SALE and written by the order")
    eq((it["doubleSaleOf"], it["orderId"], it["eventId"], it["row"], it["column"]),
       (owner, double["orderId"], EVENT, "6", "2"), "DynamoDB item of the taken seat")
    check("doubleSaleOn" in it, "doubleSaleOn: %r" % it)
    eq(wait_ddb(free, lambda i: "orderId" in i)["status"], "CREATED", "the free seat's item")
    box.mqtool("purge", "ticketSQL.dead")
    forge.settled()
    eq(forge.ddb_item(taken)["status"], "DOUBLE_SALE", "the mark after the stores settled")
    eq(persist.double_sales().keys() & {free, taken, owner}, {taken}, "double sales recorded")


def test_a_double_sale_requeued_after_its_seat_was_freed_is_a_sale():
    """The customer service settles a double sale: the seat's first ticket
    is cancelled and the refused order requeued (`ticketctl dlq requeue`).
    MySQL now takes it; its DynamoDB item, marked DOUBLE_SALE when it was
    refused, becomes a live ticket again (CREATED, no doubleSaleOf), so
    both stores say the same.  Would catch: the mark kept (an order live
    in MySQL, a double sale in DynamoDB; check and status disagree)."""
    first = forge.order([(15, 1)], zone=ZONE)
    forge.publish_order(first)
    wait_mysql(first["orderId"], 1)
    dead0 = box.queue_count("ticketSQL.dead")
    double = forge.order([(15, 1), (15, 2)], zone=ZONE)
    forge.publish_order(double)
    box.wait_until(lambda: box.queue_count("ticketSQL.dead") == dead0 + 1, timeout=120,
                   what="the double sale dead-lettered")
    taken, free = [t["ticketId"] for t in double["tickets"]]
    wait_ddb(taken, lambda i: i.get("status") == "DOUBLE_SALE" and "orderId" in i,
             what="marked DOUBLE_SALE and written by the order")
    forge.publish_cancel(forge.cancel(first))
    box.wait_until(lambda: forge.mysql_ticket(first["tickets"][0]["ticketId"])[0] ==
                   "CANCELLED", timeout=120, what="the first ticket cancelled")
    r = box.ticketctl("dlq", "requeue", double["orderId"], check_rc=False)
    eq(r.returncode, 0, "dlq requeue: %s %s" % (r.stdout, r.stderr))
    wait_mysql(double["orderId"], 2)
    eq([forge.mysql_ticket(t)[0] for t in (taken, free)], ["CREATED", "CREATED"],
       "the requeued order's tickets in MySQL")
    it = wait_ddb(taken, lambda i: i.get("status") != "DOUBLE_SALE", timeout=60,
                  what="no longer marked DOUBLE_SALE")
    eq((it["status"], "doubleSaleOf" in it, "doubleSaleOn" in it, it["orderId"], it["row"],
        it["column"]), ("CREATED", False, False, double["orderId"], "15", "1"),
       "the DynamoDB item of the seat's ticket now")
    eq(forge.ddb_item(free)["status"], "CREATED", "the other ticket's item")
    forge.settled()
    eq(box.queue_count("ticketSQL.dead"), dead0, "nothing dead-lettered again")
    check(taken not in persist.double_sales(), "no double sale recorded for %s" % taken)


def test_cancelled_order_stored_after_its_seat_was_sold_again():
    """The real path, then the messages put back in another order: O1 sells
    a seat, its ticket is cancelled (the seat is free at once), O2 sells the
    seat again; O2 reaches MySQL first (another consumer, or O1 redelivered
    after a consumer died holding it), then O1, then O1's cancellation.
    Would catch: O1 refused on the seat O2 holds and dead-lettered as a
    DOUBLE SALE (a 201 never in MySQL, a cancel's 200 never CANCELLED
    there), although Redis recorded its ticket's cancellation."""
    seat = ("Venue1", EVENT, 8, 1, 1)
    box.stack("stop", "consumer")
    try:
        r1 = box.buy(*seat)
        eq(r1.status, 201, "first sale: " + r1.body)
        t1, o1 = r1.json()["ticketId"], r1.json()["orderId"]
        c = box.http("POST", "/tickets/%s/cancel" % t1, {"cancelToken": r1.json()["cancelToken"]})
        eq(c.status, 200, "cancel: " + c.body)
        r2 = box.buy(*seat)
        eq(r2.status, 201, "the seat sold again: " + r2.body)
        t2, o2 = r2.json()["ticketId"], r2.json()["orderId"]
        body = {}
        for raw in box.queue_get("ticketSQL"):
            m = json.loads(raw)
            body[(m["type"], m["orderId"])] = raw
        eq(sorted(body), sorted([("order", o1), ("cancel", o1), ("order", o2)]), "ticketSQL")
        box.mqtool("publish", "-q", "ticketSQL", body[("order", o2)])
    finally:
        box.stack("start", "consumer")
    wait_mysql(o2, 1)
    off = persist.log_size()
    box.mqtool("publish", "-q", "ticketSQL", body[("order", o1)])
    box.wait_until(lambda: forge.mysql_ticket(t1) is not None or
                   box.queue_count("ticketSQL.dead") > 0, timeout=60,
                   what="the first order stored or dead-lettered")
    eq(dead_counts(), (0, 0), "dead-lettered (log: %s)" % persist.log_since(off)[-600:])
    eq(forge.mysql_ticket(t1)[0], "CANCELLED", "the first sale's ticket in MySQL")
    check("DOUBLE SALE" not in persist.log_since(off), "a double-sale alarm")
    box.mqtool("publish", "-q", "ticketSQL", body[("cancel", o1)])
    box.wait_until(lambda: box.queue_count("ticketSQL") == 0, what="the cancellation taken")
    forge.settled()
    eq(box.sql("SELECT ticket_id, status FROM ticketing.ticket WHERE event_id = '%s' AND "
               "zone_id = 8 AND row_no = 1 AND col_no = 1 ORDER BY status" % EVENT),
       [[t1, "CANCELLED"], [t2, "CREATED"]], "MySQL tickets of the seat")
    eq(forge.mysql_order(o1)[0], "CANCELLED", "the first order in MySQL")
    eq(wait_ddb(t1, lambda i: i.get("status") == "CANCELLED", what="CANCELLED")["orderId"], o1,
       "DynamoDB item of the cancelled ticket")
    eq(wait_ddb(t2, lambda i: "orderId" in i)["status"], "CREATED", "DynamoDB item of the new one")
    eq(dead_counts(), (0, 0), "dead-lettered at the end")


def test_round1_ticket_stored_after_it_overtook_a_cancellation():
    """An upgrade from round 1 in progress: a new responder cancels an
    order's ticket (the seat is free at once), an old one sells the seat
    again as a round-1 ticket, and that ticket reaches MySQL before the
    cancellation's message.  Would catch: the round-1 ticket dead-lettered
    as a DOUBLE SALE (a 201 never in MySQL) although Redis recorded the
    cancellation, where an order in its place is stored (the test
    above)."""
    seat = ("Venue1", EVENT, 8, 2, 1)
    r1 = box.buy(*seat)
    eq(r1.status, 201, "the sale: " + r1.body)
    t1, o1 = r1.json()["ticketId"], r1.json()["orderId"]
    wait_mysql(o1, 1)
    box.stack("stop", "consumer")
    try:
        c = box.http("POST", "/tickets/%s/cancel" % t1, {"cancelToken": r1.json()["cancelToken"]})
        eq(c.status, 200, "cancel: " + c.body)
        held = box.queue_get("ticketSQL")
        eq([json.loads(m)["type"] for m in held], ["cancel"], "ticketSQL (held back)")
    finally:
        box.stack("start", "consumer")
    tid = persist.new_ticket_id()
    t = {"ticketId": tid, "venueId": "Venue1", "eventId": EVENT, "zoneId": 8, "row": 2,
         "column": 1, "price": PRICE, "status": "CREATED", "createdOn": forge.stamp()}
    off = persist.log_size()
    box.mqtool("publish", persist.forged_copy(t))
    box.wait_until(lambda: forge.mysql_ticket(tid) is not None or
                   box.queue_count("ticketSQL.dead") > 0, timeout=60,
                   what="the round-1 ticket stored or dead-lettered")
    eq(dead_counts(), (0, 0), "dead-lettered (log: %s)" % persist.log_since(off)[-600:])
    eq(forge.mysql_ticket(tid)[0], "CREATED", "the round-1 ticket in MySQL")
    eq(forge.mysql_ticket(t1)[0], "CANCELLED", "the cancelled ticket in MySQL")
    check("DOUBLE SALE" not in persist.log_since(off), "a double-sale alarm")
    forge.publish_lines(held, "ticketSQL")
    box.wait_until(lambda: box.queue_count("ticketSQL") == 0, what="the cancellation taken")
    forge.settled()
    eq(box.sql("SELECT ticket_id, status FROM ticketing.ticket WHERE event_id = '%s' AND "
               "zone_id = 8 AND row_no = 2 AND col_no = 1 ORDER BY status" % EVENT),
       [[t1, "CANCELLED"], [tid, "CREATED"]], "MySQL tickets of the seat")
    eq(forge.mysql_order(o1)[0], "CANCELLED", "the order in MySQL")
    eq(wait_ddb(tid, lambda i: True)["status"], "CREATED", "DynamoDB item of the round-1 ticket")
    eq(wait_ddb(t1, lambda i: i.get("status") == "CANCELLED", what="CANCELLED")["orderId"], o1,
       "DynamoDB item of the cancelled ticket")
    eq(dead_counts(), (0, 0), "dead-lettered at the end")


def test_poison_order_dead_lettered():
    o = forge.order([(7, 1), (7, 2)], zone=ZONE)
    o["tickets"][1]["column"] = 1       # one seat twice: malformed
    before = dead_counts()
    forge.publish_order(o)
    box.wait_until(lambda: dead_counts() == (before[0] + 1, before[1] + 1), timeout=120,
                   what="poison order dead-lettered from both queues")
    eq(box.sql_count("SELECT COUNT(*) FROM ticketing.ticket WHERE order_id = '%s'"
                     % o["orderId"]), 0, "nothing written")
    for q in ("ticketSQL.dead", "ticketNoSQL.dead"):
        box.mqtool("purge", q)


def test_order_with_a_ticket_of_another_order_dead_lettered():
    """An order message one of whose tickets MySQL already holds, on the
    same seat, for another order (a forged or corrupted message: ids are
    drawn at random): dead-lettered with the double-sale alarm, the stored
    ticket kept.  Would catch: the consumer dying on it (a NULL row in the
    alarm: it did, then again at each redelivery, holding its batch-mates
    back) or the order written."""
    o = forge.order([(13, 1)], zone=ZONE)
    forge.publish_order(o)
    wait_mysql(o["orderId"], 1)
    pid = persist.consumer_pid()
    forged = forge.order([(13, 1), (13, 2)], zone=ZONE)
    forged["tickets"][0] = dict(o["tickets"][0], orderId=forged["orderId"])
    dead0 = box.queue_count("ticketSQL.dead")
    off = persist.log_size()
    forge.publish_order(forged)
    box.wait_until(lambda: box.queue_count("ticketSQL.dead") == dead0 + 1, timeout=120,
                   what="the order dead-lettered from ticketSQL")
    check("DOUBLE SALE ALARM: ticket %s of an order arrived for %s zone %d row 13 column 1, "
          "where it is stored already, without that order" % (
              o["tickets"][0]["ticketId"], EVENT, ZONE) in persist.log_since(off),
          "the alarm names the ticket: %s" % persist.log_since(off)[-2000:])
    eq(persist.consumer_pid(), pid, "the consumer still runs (the same process)")
    eq(forge.mysql_order(forged["orderId"]), None, "no row of the forged order")
    eq(box.sql_count("SELECT COUNT(*) FROM ticketing.ticket WHERE order_id = '%s'"
                     % forged["orderId"]), 0, "none of its tickets")
    eq(forge.mysql_ticket(o["tickets"][0]["ticketId"])[0], "CREATED", "the stored ticket kept")
    good = forge.order([(13, 3)], zone=ZONE)
    forge.publish_order(good)
    wait_mysql(good["orderId"], 1)
    box.mqtool("purge", "ticketSQL.dead")
    box.mqtool("purge", "ticketNoSQL.dead")


def test_order_cancelled_ticket_by_ticket_gets_its_last_stamp_in_any_order():
    """An order whose tickets were cancelled one by one is CANCELLED with
    the last ticket's stamp, whichever message came last.  Would catch:
    the stamp of the message that happened to complete it (the earlier
    one when the later cancellation's message arrives first)."""
    o = forge.order([(14, 1), (14, 2)], zone=ZONE)
    forge.publish_order(o)
    wait_mysql(o["orderId"], 2)
    t1, t2 = (t["ticketId"] for t in o["tickets"])
    early, late = "2026-12-01T10:00:00.000Z", "2026-12-01T11:00:00.000Z"
    forge.publish_cancel(forge.cancel(o, [t2], when=late))
    box.wait_until(lambda: forge.mysql_ticket(t2)[0] == "CANCELLED", timeout=120,
                   what="the later cancellation stored")
    forge.publish_cancel(forge.cancel(o, [t1], when=early))
    box.wait_until(lambda: (forge.mysql_order(o["orderId"]) or ["?"])[0] == "CANCELLED",
                   timeout=120, what="the order cancelled")
    eq(forge.mysql_order(o["orderId"])[2], late, "the order's cancelledOn: its last ticket's")
    r = box.http("GET", "/get/orders/" + o["orderId"])
    eq((r.status, r.json().get("cancelledOn")), (200, late), "GET /get/orders (MySQL)")
    forge.settled()


def test_impossible_stamps_dead_lettered():
    """A stamp that is no real instant (a day its month has not, a leap
    second) is poison in every message: MySQL's DATETIME refuses it, and
    the consumer once retried such an INSERT forever, stalling its MySQL
    pipeline. Each is dead-lettered from both queues; the next good
    message persists."""
    before = dead_counts()
    o = forge.order([(9, 1)], zone=ZONE)
    o["createdOn"] = "2026-02-31T10:00:00.000Z"
    for t in o["tickets"]:
        t["createdOn"] = o["createdOn"]
    forge.publish_order(o)
    tid = persist.new_ticket_id()
    box.mqtool("publish", persist.forged_copy(
        {"ticketId": tid, "venueId": "Venue1", "eventId": EVENT, "zoneId": ZONE, "row": 9,
         "column": 2, "price": PRICE, "status": "CREATED",
         "createdOn": "2027-02-29T10:00:00.000Z"}))
    forge.publish_cancel(forge.cancel(forge.order([(9, 3)], zone=ZONE),
                                      when="2026-12-31T23:59:60.000Z"))
    box.wait_until(lambda: dead_counts() == (before[0] + 3, before[1] + 3), timeout=120,
                   what="3 messages with impossible stamps dead-lettered from both queues")
    good = forge.order([(9, 4)], zone=ZONE)
    forge.publish_order(good)
    wait_mysql(good["orderId"], 1)
    wait_ddb(good["tickets"][0]["ticketId"], lambda i: True)
    forge.settled()
    eq(forge.mysql_order(o["orderId"]), None, "no row of the order dated February 31")
    eq(forge.mysql_ticket(tid), None, "no row of the ticket dated 2027-02-29")
    eq((forge.ddb_item(o["tickets"][0]["ticketId"]), forge.ddb_item(tid)), (None, None),
       "no DynamoDB item of either")
    eq(dead_counts(), (before[0] + 3, before[1] + 3), "nothing else dead-lettered")
    for q in ("ticketSQL.dead", "ticketNoSQL.dead"):
        box.mqtool("purge", q)


def test_get_orders_from_cache_and_mysql():
    # from MySQL: an order persisted by the consumer, one ticket cancelled
    o = forge.order([(8, 2), (8, 1)], zone=ZONE)
    forge.publish_order(o)
    wait_mysql(o["orderId"], 2)
    c = forge.cancel(o, [o["tickets"][0]["ticketId"]])
    forge.publish_cancel(c)
    box.wait_until(lambda: forge.mysql_ticket(o["tickets"][0]["ticketId"])[0] == "CANCELLED",
                   timeout=120, what="cancelled")
    for port in box.WEB_PORTS:
        r = box.http("GET", "/get/orders/" + o["orderId"].upper(), port=port)
        eq(r.status, 200, "GET /get/orders from MySQL (%d): %s" % (port, r.body))
        got = json.loads(r.body)
        t0, t1 = o["tickets"]
        want = {"orderId": o["orderId"], "venueId": "Venue1", "eventId": EVENT, "zoneId": ZONE,
                "status": "CONFIRMED", "total": 640.00, "createdOn": o["createdOn"],
                "tickets": [
                    {"ticketId": t1["ticketId"], "orderId": o["orderId"], "venueId": "Venue1",
                     "eventId": EVENT, "zoneId": ZONE, "row": 8, "column": 1, "price": 320.00,
                     "status": "CREATED", "createdOn": o["createdOn"]},
                    {"ticketId": t0["ticketId"], "orderId": o["orderId"], "venueId": "Venue1",
                     "eventId": EVENT, "zoneId": ZONE, "row": 8, "column": 2, "price": 320.00,
                     "status": "CANCELLED", "createdOn": o["createdOn"],
                     "cancelledOn": c["cancelledOn"]}]}
        eq(got, want, "order from MySQL")
        check('"total":640.00' in r.body, "total with 2 decimals: %s" % r.body)
        r = box.http("GET", "/get/tickets/" + t0["ticketId"], port=port)
        eq((r.status, json.loads(r.body)), (200, want["tickets"][1]), "cancelled ticket")
    # from the cache: bo:ord:<id> as the purchase side writes it
    cached = {"orderId": persist.new_ticket_id(), "venueId": "Venue1", "eventId": EVENT,
              "zoneId": ZONE, "status": "CONFIRMED", "total": 320.00,
              "createdOn": forge.stamp(), "tickets": []}
    text = json.dumps(cached, separators=(",", ":"))
    box.redis("SET", "bo:ord:" + cached["orderId"], text, "EX", 600,
              node=box.zone_node(EVENT, ZONE))
    r = box.http("GET", "/get/orders/" + cached["orderId"])
    eq((r.status, r.body), (200, text), "order from the cache, as written")
    box.redis("SET", "bo:ord:" + cached["orderId"], text.replace(cached["orderId"], "x"), "EX",
              600, node=box.zone_node(EVENT, ZONE))
    eq(box.http("GET", "/get/orders/" + cached["orderId"]).status, 404,
       "a cached value for another id is not passed on")
    # unknown and malformed
    r = box.http("GET", "/get/orders/" + persist.new_ticket_id())
    eq(r.status, 404, "unknown order")
    check("unknown order" in r.body, r.body)
    eq(box.http("GET", "/get/orders/nope").status, 400, "malformed orderId")
    eq(box.http("POST", "/get/orders/" + o["orderId"]).status, 405, "method")


def live_sql(what, where=""):
    return box.sql("SELECT %s FROM ticketing.ticket WHERE event_id = '%s' AND status <> "
                   "'CANCELLED'%s" % (what, EVENT, where))[0][0]


def test_reports_count_live_tickets_only():
    forge.settled()
    check(box.sql_count("SELECT COUNT(*) FROM ticketing.ticket WHERE event_id = '%s' AND status "
                        "= 'CANCELLED'" % EVENT) > 0, "this file has cancelled tickets")
    sold = int(live_sql("COUNT(*)"))
    money = live_sql("COALESCE(SUM(price), 0)")
    r = box.http("GET", "/get/count/" + EVENT)
    eq(json.loads(r.body)["sold"], sold, "count = live tickets")
    r = box.http("GET", "/get/money/Venue1/" + EVENT)
    eq("%.2f" % json.loads(r.body)["revenue"], money, "money = live revenue")
    st = json.loads(box.http("GET", "/get/events/%s/stats" % EVENT).body)
    z = [x for x in st["zones"] if x["zoneId"] == ZONE][0]
    eq(z["sold"], int(live_sql("COUNT(*)", " AND zone_id = %d" % ZONE)), "stats sold in zone")
    ids = []
    after = ""
    while True:
        page = json.loads(box.http("GET", "/get/events/%s/tickets?zoneId=%d&limit=1000%s"
                                   % (EVENT, ZONE, after)).body)
        ids += [t["ticketId"] for t in page["tickets"]]
        if not page["next"]:
            break
        after = "&after=" + page["next"]
    eq(sorted(ids), sorted(r[0] for r in box.sql(
        "SELECT ticket_id FROM ticketing.ticket WHERE event_id = '%s' AND zone_id = %d AND "
        "status <> 'CANCELLED'" % (EVENT, ZONE))), "ticket list: live tickets")
    out = box.ticketctl("status").stdout
    line = [ln for ln in out.splitlines() if ln.split() and ln.split()[0] == EVENT]
    # DynamoDB also holds the order refused as a double sale in MySQL (it
    # cannot see seats): its ticket on the free seat stays as written, the
    # one on the taken seat is marked DOUBLE_SALE, a record and not a sale
    items = [it for it in box.ddb_items() if it.get("eventId") == EVENT]
    doubles = len([it for it in items if it.get("status") == "DOUBLE_SALE"])
    check(doubles > 0, "this file has a double sale marked in DynamoDB")
    ddb_live = len([it for it in items if it.get("status") not in ("CANCELLED", "DOUBLE_SALE")])
    # columns: event capacity redis pending mysql dynamodb
    check(line and line[0].split()[4:6] == [str(sold), str(ddb_live)],
          "ticketctl status counts %d / %d live in MySQL / DynamoDB: %r"
          % (sold, ddb_live, line))
    all_doubles = len(persist.double_sales())
    check("dynamodb: %d double sale(s) recorded" % all_doubles in out,
          "status names the double sales apart:\n" + out)


def test_order_cancel_keeps_a_ticket_cancelled_before():
    """A ticket cancelled on its own keeps its cancelledOn in both stores
    when the order's cancellation reaches the queues before the ticket's
    (the ticket's answer lost to a broker outage, its message published
    by the sweeper afterwards): the order's message carries the earlier
    stamp (ticketsCancelledOn).  The consumer (with its sweeper) is
    stopped while the order is cancelled, so the order's message is first
    in the queues."""
    r = box.http("POST", "/orders", {"venueId": "Venue1", "eventId": EVENT, "zoneId": ZONE,
                                     "seats": [{"row": 10, "column": 1},
                                               {"row": 10, "column": 2}]})
    eq(r.status, 201, "order (%s)" % r.body)
    o = r.json()
    t1, t2 = (t["ticketId"] for t in o["tickets"])
    wait_mysql(o["orderId"], 2)
    wait_ddb(t2, lambda i: "eventId" in i)
    body = {"cancelToken": o["cancelToken"]}
    box.stack("stop", "rabbitmq")
    try:
        r = box.http("POST", "/tickets/%s/cancel" % t1, body)
    finally:
        box.stack("stop", "consumer")
        box.stack("start", "rabbitmq")
    eq(r.status, 503, "ticket cancel while the broker is down (%s)" % r.body)
    try:
        r = box.wait_until(lambda: (lambda x: x if x.status != 503 else None)(
            box.http("POST", "/orders/%s/cancel" % o["orderId"], body)),
            timeout=120, interval=1, what="the order's cancel once the broker is back")
        eq(r.status, 200, "order cancel (%s)" % r.body)
        oc = r.json()
        on1, on2 = (t["cancelledOn"] for t in oc["tickets"])
        check(on1 < on2, "the ticket cancelled first has the earlier stamp: %s %s" % (on1, on2))
    finally:
        box.stack("start", "consumer")
    box.wait_until(lambda: (forge.mysql_order(o["orderId"]) or ["?"])[0] == "CANCELLED",
                   timeout=120, what="the order cancelled in MySQL")
    forge.settled()
    eq(forge.mysql_ticket(t1)[:2], ("CANCELLED", on1), "MySQL: the first ticket's own stamp")
    eq(forge.mysql_ticket(t2)[:2], ("CANCELLED", on2), "MySQL: the second the order's")
    eq(forge.mysql_order(o["orderId"])[2], on2, "MySQL: the order the order's")
    for tid, on in ((t1, on1), (t2, on2)):
        it = wait_ddb(tid, lambda i: i.get("status") == "CANCELLED", what="cancelled")
        eq(it["cancelledOn"], on, "DynamoDB: %s cancelledOn" % tid)
    eq(dead_counts(), (0, 0), "nothing dead-lettered")
    for t in oc["tickets"]:
        r = box.http("GET", "/get/tickets/" + t["ticketId"])
        eq((r.status, r.json()["cancelledOn"]), (200, t["cancelledOn"]), "lookup")


def test_check_does_not_report_a_cancelled_ticket():
    # an order Redis never sold (forged) is a difference; once cancelled in
    # both stores it holds no seat and is none
    o = forge.order([(2, 2)], event="Event3", venue="Venue2", zone=1, price="150.00")
    tid = o["tickets"][0]["ticketId"]
    forge.publish_order(o)
    wait_mysql(o["orderId"], 1)
    wait_ddb(tid, lambda i: True)
    forge.settled()
    r = box.ticketctl("check", "Event3", check_rc=False)
    check(r.returncode != 0 and tid in r.stdout and "check: 0 difference" not in r.stdout,
          "a live ticket Redis does not know is a difference: %s" % r.stdout[-400:])
    forge.publish_cancel(forge.cancel(o))
    box.wait_until(lambda: forge.mysql_ticket(tid)[0] == "CANCELLED", timeout=120,
                   what="cancelled in MySQL")
    wait_ddb(tid, lambda i: i.get("status") == "CANCELLED", what="cancelled")
    forge.settled()
    r = box.ticketctl("check", "Event3", check_rc=False)
    eq(r.returncode, 0, "check after the cancellation: %s" % r.stdout[-400:])
    check("check: 0 difference(s)" in r.stdout, r.stdout[-400:])


def test_keyed_orders_keep_only_their_key_hash():
    """A keyed sale's message carries its Idempotency-Key as its HMAC under
    token_secret ("keyHash", since migration 006), a confirm's the SHA-256
    of its hold's id ("holdHash"); a message of 2026-12-06 carries the key
    itself ("key") and may still be queued at the upgrade.  All persist;
    MySQL keeps the hashes, and of a key it cannot hash without the secret,
    nothing.  Would catch: a store
    keeping the key (with the request's body, as good as the order's
    cancel token for 24 h), or an old-shape message dead-lettered."""
    sha = lambda s: hashlib.sha256(s.encode()).hexdigest()
    old, new = forge.order([(12, 1), (12, 2)], zone=ZONE), forge.order([(12, 3)], zone=ZONE)
    text = {}
    for o, member, kind, hold in ((old, '"key":"Old-Key_1"', "o", ""),
                                  (new, '"keyHash":"%s"' % sha("New-Key_2"), "c",
                                   '"holdHash":"%s",' % sha("a hold"))):
        text[o["orderId"]] = forge.order_json(o).replace(
            '"tickets":[', '"idempotency":{%s,"hash":"%s","kind":"%s"},%s"tickets":['
            % (member, sha("request of " + o["orderId"]), kind, hold), 1)
    before = dead_counts()
    for t in text.values():
        box.mqtool("publish", t)
    wait_mysql(old["orderId"], 2)
    wait_mysql(new["orderId"], 1)
    eq(box.sql("SELECT order_id, IFNULL(idem_key, 'NULL'), IFNULL(idem_key_hash, 'NULL'), "
               "IFNULL(idem_hash, 'NULL'), IFNULL(idem_kind, 'NULL'), "
               "IFNULL(hold_hash, 'NULL') FROM ticketing.orders WHERE order_id IN ('%s', '%s') "
               "ORDER BY order_id" % (old["orderId"], new["orderId"])),
       sorted([[old["orderId"], "NULL", "NULL", "NULL", "NULL", "NULL"],
               [new["orderId"], "NULL", sha("New-Key_2"), sha("request of " + new["orderId"]),
                "c", sha("a hold")]]), "the keys' and the hold's hashes in MySQL, never a key")
    wait_ddb(old["tickets"][0]["ticketId"], lambda i: "orderId" in i)
    wait_ddb(new["tickets"][0]["ticketId"], lambda i: "orderId" in i)
    eq(dead_counts(), before, "dead-lettered")


def test_migration_on_round1_database():
    with open(os.path.join(box.ROOT, "tests", "fixtures", "schema-round1.sql")) as f:
        old = f.read().replace("ticketing", "ticketing_r1")
    mig = os.path.join(box.ROOT, "sql", "migrations")
    box.sql("DROP DATABASE IF EXISTS ticketing_r1")
    subprocess.run([os.path.join(box.ROOT, "scripts", "stack"), "sql"], input=old, text=True,
                   check=True, capture_output=True)
    box.sql("INSERT INTO ticketing_r1.ticket VALUES ('01a00000-0000-7000-8000-000000000001',"
            "'Venue2','Event2',1,1,1,150.00,'CREATED','2026-11-01 10:00:00.000')")
    ins_order = ("INSERT INTO ticketing_r1.orders (order_id, venue_id, event_id, zone_id, "
                 "total, status, cancel_hash, created_on, idem_key, idem_hash, idem_kind) "
                 "VALUES ('%s','Venue2','Event2',1,150.00,'CONFIRMED',REPEAT('a',64),"
                 "'2026-12-06 10:00:00.000','%s',REPEAT('b',64),'o')")
    for f in sorted(os.listdir(mig)):
        for _ in range(2):      # idempotent
            with open(os.path.join(mig, f)) as m:
                subprocess.run([os.path.join(box.ROOT, "scripts", "stack"), "sql"],
                               input="USE ticketing_r1;\n" + m.read(), text=True, check=True,
                               capture_output=True)
        if f.startswith("005_"):
            # an order a consumer of 2026-12-06 wrote, with its key
            box.sql(ins_order % ("01a00000-0000-7000-8000-00000000000a", "Key-1"))
    # 006: a key written before is gone (MySQL cannot compute its HMAC: the
    # secret is the responders'); a consumer older than 006, still running
    # until its restart, writes a key: the trigger keeps none of it
    box.sql(ins_order % ("01a00000-0000-7000-8000-00000000000b", "Key-2"))
    eq(box.sql("SELECT order_id, IFNULL(idem_key, 'NULL'), IFNULL(idem_key_hash, 'NULL'), "
               "IFNULL(idem_hash, 'NULL'), IFNULL(idem_kind, 'NULL') FROM ticketing_r1.orders "
               "ORDER BY order_id"),
       [["01a00000-0000-7000-8000-00000000000a", "NULL", "NULL", "NULL", "NULL"],
        ["01a00000-0000-7000-8000-00000000000b", "NULL", "NULL", "NULL", "NULL"]],
       "no key of an order kept")
    box.sql("DELETE FROM ticketing_r1.orders")
    eq(box.sql("SELECT ticket_id, status, IFNULL(order_id, 'NULL'), IFNULL(cancelled_on, 'NULL'),"
               " live_seat FROM ticketing_r1.ticket"),
       [["01a00000-0000-7000-8000-000000000001", "CREATED", "NULL", "NULL", "1"]],
       "round-1 ticket kept, no order, live")
    keys = box.sql("SELECT index_name FROM information_schema.statistics WHERE table_schema = "
                   "'ticketing_r1' AND table_name = 'ticket' AND non_unique = 0 GROUP BY "
                   "index_name ORDER BY index_name")
    eq(keys, [["PRIMARY"], ["ticket_live_seat"]], "unique keys: id, live seat")
    # every index, upgraded and fresh alike: round 1's ticket_revenue is gone
    # (004: ticket_live_revenue covers what it covered, sql/schema.sql)
    want = [["PRIMARY"], ["ticket_by_event"], ["ticket_by_order"], ["ticket_live_revenue"],
            ["ticket_live_seat"]]
    for db in ("ticketing_r1", "ticketing"):
        eq(box.sql("SELECT index_name FROM information_schema.statistics WHERE table_schema = "
                   "'%s' AND table_name = 'ticket' GROUP BY index_name ORDER BY index_name"
                   % db), want, "indexes of %s.ticket" % db)
    # 005, 006: an order keeps the HMAC of the Idempotency-Key it was
    # bought with (NULL: none), upgraded and fresh alike (idem_key stays,
    # always NULL, for consumers older than 006)
    for db in ("ticketing_r1", "ticketing"):
        eq(box.sql("SELECT column_name, column_type, is_nullable FROM information_schema.columns "
                   "WHERE table_schema = '%s' AND table_name = 'orders' AND (column_name LIKE "
                   "'idem%%' OR column_name = 'hold_hash') ORDER BY ordinal_position" % db),
           [["idem_key", "varchar(64)", "YES"], ["idem_key_hash", "char(64)", "YES"],
            ["idem_hash", "char(64)", "YES"], ["idem_kind", "char(1)", "YES"],
            ["hold_hash", "char(64)", "YES"]],
           "the key's columns of %s.orders" % db)
    eq(box.sql("SELECT event_id, zone_id, sold, revenue FROM ticketing_r1.zone_sales"),
       [["Event2", "1", "1", "150.00"]], "sales summary back-filled from the round-1 ticket")
    eq(box.sql_count("SELECT COUNT(*) FROM ticketing_r1.orders"), 0, "orders table")
    eq(box.sql_count("SELECT COUNT(*) FROM ticketing_r1.ticket_cancel"), 0, "ticket_cancel")
    # the seat can be sold again once cancelled, never twice live
    ins = ("INSERT INTO ticketing_r1.ticket (ticket_id, venue_id, event_id, zone_id, row_no, "
           "col_no, price, status, created_on) VALUES ('%s','Venue2','Event2',1,1,1,150.00,"
           "'CREATED','2026-11-02 10:00:00.000')")
    r = subprocess.run([os.path.join(box.ROOT, "scripts", "stack"), "sql", "-e",
                        ins % "01a00000-0000-7000-8000-000000000002"], capture_output=True,
                       text=True)
    check(r.returncode != 0 and "Duplicate" in r.stderr, "two live tickets refused: %r" % r.stderr)
    box.sql("UPDATE ticketing_r1.ticket SET status = 'CANCELLED', cancelled_on = NOW(3)")
    box.sql(ins % "01a00000-0000-7000-8000-000000000002")
    eq(box.sql_count("SELECT COUNT(*) FROM ticketing_r1.ticket WHERE live_seat = 1"), 1,
       "sold again")
    eq(box.sql("SELECT sold, revenue FROM ticketing_r1.zone_sales"), [["1", "150.00"]],
       "summary: one cancelled, one sold again")
    box.sql("DROP DATABASE ticketing_r1")


if __name__ == "__main__":
    raise SystemExit(box.main(globals()))
