# SPDX-License-Identifier: ISC
"""forge.py - order and cancellation messages of the shapes the purchase side
publishes (docs/consumer.md), forged for the consumer's tests and published
straight into the broker with mqtool: an order through ticket.exchange
(routing key ticket.created, both queues), a cancellation straight into each
queue (so that a test can choose which queue sees it first)."""

import hashlib
import json
import os
import secrets
import subprocess
import time

import box
import persist

QUEUES = ("ticketSQL", "ticketNoSQL")


def stamp(ms=None):
    ms = int(time.time() * 1000) if ms is None else ms
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + ".%03dZ" % (ms % 1000)


def order(seats, event="Event1", venue="Venue1", zone=7, price="320.00"):
    """An order of the (row, column) seats: a dict of the message's fields."""
    oid = persist.new_ticket_id()
    created = stamp()
    token = secrets.token_urlsafe(16)
    tickets = [{"ticketId": persist.new_ticket_id(), "orderId": oid, "venueId": venue,
                "eventId": event, "zoneId": zone, "row": r, "column": c, "price": price,
                "status": "CREATED", "createdOn": created} for r, c in seats]
    total = "%.2f" % (float(price) * len(seats))
    return {"type": "order", "orderId": oid, "venueId": venue, "eventId": event, "zoneId": zone,
            "status": "CONFIRMED", "total": total, "createdOn": created,
            "cancelHash": hashlib.sha256(token.encode()).hexdigest(), "tickets": tickets}


def _ticket_json(t):
    return ('{"ticketId":"%s","orderId":"%s","venueId":"%s","eventId":"%s","zoneId":%d,'
            '"row":%d,"column":%d,"price":%s,"status":"CREATED","createdOn":"%s"}' % (
                t["ticketId"], t["orderId"], t["venueId"], t["eventId"], t["zoneId"], t["row"],
                t["column"], t["price"], t["createdOn"]))


def order_json(o):
    """The message text (numbers written as the purchase side writes them: 640.00)."""
    return ('{"type":"order","orderId":"%s","venueId":"%s","eventId":"%s","zoneId":%d,'
            '"status":"CONFIRMED","total":%s,"createdOn":"%s","cancelHash":"%s","tickets":[%s]}' % (
                o["orderId"], o["venueId"], o["eventId"], o["zoneId"], o["total"],
                o["createdOn"], o["cancelHash"], ",".join(_ticket_json(t) for t in o["tickets"])))


def cancel(o, ids=None, when=None):
    """A cancellation of the tickets ids (default: all) of order o."""
    ids = [t["ticketId"] for t in o["tickets"]] if ids is None else ids
    return {"type": "cancel", "orderId": o["orderId"], "eventId": o["eventId"],
            "zoneId": o["zoneId"], "ticketIds": ids, "cancelledOn": when or stamp()}


def cancel_json(c):
    return json.dumps(c, separators=(",", ":"))


def publish_order(o, times=1):
    box.mqtool("publish", "-n", times, order_json(o))


def publish_cancel(c, queues=QUEUES, times=1):
    for q in queues:
        box.mqtool("publish", "-q", q, "-n", times, cancel_json(c))


def publish_lines(bodies, queue):
    """Publishes the bodies in order straight into queue (one mqtool run)."""
    r = subprocess.run([os.path.join(box.BIN, "mqtool"), "-c", box.CONF, "publish", "-q", queue,
                        "-"], input="".join(b + "\n" for b in bodies), capture_output=True,
                       text=True)
    box.check(r.returncode == 0, "mqtool publish -q %s -: %s" % (queue, r.stderr.strip()))


def mysql_ticket(tid):
    """(status, cancelled_on text or 'NULL', order_id or 'NULL') of a ticket, or None."""
    rows = box.sql("SELECT status, IFNULL(DATE_FORMAT(cancelled_on, '%%Y-%%m-%%dT%%H:%%i:%%s.%%fZ'),"
                   " 'NULL'), IFNULL(order_id, 'NULL') FROM ticketing.ticket WHERE ticket_id = '%s'"
                   % tid)
    if not rows:
        return None
    st, on, oid = rows[0]
    if on != "NULL":
        on = on[:23] + "Z"      # microseconds to milliseconds
    return st, on, oid


def mysql_order(oid):
    """(status, total, cancelled_on or 'NULL', cancel_hash) of an order, or None."""
    rows = box.sql("SELECT status, total, IFNULL(DATE_FORMAT(cancelled_on, "
                   "'%%Y-%%m-%%dT%%H:%%i:%%s.%%fZ'), 'NULL'), cancel_hash FROM ticketing.orders "
                   "WHERE order_id = '%s'" % oid)
    if not rows:
        return None
    st, total, on, h = rows[0]
    if on != "NULL":
        on = on[:23] + "Z"
    return st, total, on, h


def ddb_item(tid):
    """The DynamoDB item of a ticket as a dict of plain values, or None."""
    code, res = box.ddb("GetItem", {"TableName": "Tickets", "Key": {"ticketId": {"S": tid}},
                                    "ConsistentRead": True})
    box.check(code == 200, "GetItem %s: %s %s" % (tid, code, res))
    it = (res or {}).get("Item")
    if it is None:
        return None
    return {k: (v.get("S") if "S" in v else v.get("N")) for k, v in it.items()}


def settled(timeout=180):
    """Waits until both queues hold no ready message and neither store has
    changed for 2 s (the consumer may still hold unacked messages when the
    queues read empty: mqtool counts ready messages only)."""
    last = [None, 0.0]

    def quiet():
        now = (box.queue_count("ticketSQL"), box.queue_count("ticketNoSQL"),
               box.sql_count("SELECT COUNT(*), SUM(status = 'CANCELLED') FROM ticketing.ticket"),
               box.sql_count("SELECT COUNT(*) FROM ticketing.ticket_cancel"),
               tuple(sorted((it.get("ticketId"), it.get("status"), "eventId" in it)
                            for it in box.ddb_items())))
        if now[:2] != (0, 0) or now != last[0]:
            last[0], last[1] = now, time.time()
            return False
        return time.time() - last[1] >= 2.0
    box.wait_until(quiet, timeout=timeout, interval=0.5, what="queues drained, stores settled")
