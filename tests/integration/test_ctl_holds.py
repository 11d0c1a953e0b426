# SPDX-License-Identifier: ISC
"""ticketctl check with the orders of CONTRACT §7: seats held by a hold
(Redis owner "h:<holdId>") are counted "held", not reported as sold in
Redis and missing from MySQL; a hold still active well past its expiry
(the sweeper is not releasing it) is a difference, and so is a seat held by
a hold that is no longer active; a cancelled ticket is not live: checked
clean once persisted, and while its cancellation is still on its way (the
consumer stopped) it is counted "cancelling", not a seat "sold in MySQL
but free in Redis"."""

import json

import box
from box import check, eq

EVENT, VENUE, ZONE = "Event2", "Venue2", 1   # 10 x 20 seats


def ctl(*args):
    return box.ticketctl(*args, check_rc=False)


def rz(*args):
    return box.redis(*args, node=box.zone_node(EVENT, ZONE))


def line(out, event=EVENT):
    """The counts of event: zones capacity redis mysql dynamodb pending
    queued held cancelling."""
    rows = [ln.split() for ln in out.splitlines() if ln.split() and ln.split()[0] == event]
    check(rows, "no line for %s: %s" % (event, out))
    return [int(x) for x in rows[0][1:]]


def checked(want_rc, *args):
    r = ctl("check", *args)
    eq(r.returncode, want_rc, "check exit status (stdout %r, stderr %r)" % (r.stdout[-1500:], r.stderr[-500:]))
    return r.stdout


def hold(body):
    r = box.http("POST", "/holds", dict({"venueId": VENUE, "eventId": EVENT, "zoneId": ZONE}, **body))
    eq(r.status, 201, "hold: %s" % r.body)
    return r.json()


def order(seats):
    r = box.http("POST", "/orders", {"venueId": VENUE, "eventId": EVENT, "zoneId": ZONE,
                                     "seats": [{"row": a, "column": b} for a, b in seats]})
    eq(r.status, 201, "order: %s" % r.body)
    return r.json()


def wait_mysql(n):
    box.wait_until(lambda: box.sql_count("SELECT COUNT(*) FROM ticketing.ticket WHERE event_id = '%s' "
                                         "AND status <> 'CANCELLED'" % EVENT) == n,
                   timeout=60, what="%d live tickets of %s in MySQL" % (n, EVENT))


def setup_module():
    box.stack("reset")


def test_held_seats_are_counted_not_lost():
    h = hold({"quantity": 3})
    out = checked(0, "--wait", "30", EVENT)
    eq(line(out)[2:], [3, 0, 0, 0, 0, 3, 0], "redis mysql dynamodb pending queued held cancelling")
    check("check: 0 difference(s)" in out, out)
    eq(box.http("DELETE", "/holds/" + h["holdId"]).status, 204, "delete the hold")
    eq(line(checked(0, EVENT))[2], 0, "nothing taken after the delete")


def test_a_hold_past_its_expiry_is_flagged():
    h = hold({"seats": [{"row": 2, "column": 1}, {"row": 2, "column": 2}], "holdSeconds": 600})
    key = "bo:holds:{%s:%d}" % (EVENT, ZONE)
    rec = rz("HGET", key, h["holdId"]).decode()
    # the hold ended 60 s ago by its record, and the sweeper's index still
    # has it in the future: the expiry is not running for it
    t = rz("TIME")
    past = int(t[0]) * 1000 - 60000
    rz("HSET", key, h["holdId"], "A %d %s" % (past, rec.split(" ", 2)[2]))
    out = checked(1, EVENT)
    check("hold %s expired 6" % h["holdId"] in out and "sweeper running?" in out,
          "the late hold is flagged: %s" % out)
    eq(line(out)[7], 2, "its seats are still counted held")
    # a seat held by a hold that is no longer active
    rz("HSET", key, h["holdId"], "D")
    out = checked(1, EVENT)
    check("row 2 column 1 is held by hold %s, which is not active" % h["holdId"] in out, out)
    eq(line(out)[7], 0, "not counted held")
    # put the record back: DELETE finds it expired and releases the seats
    rz("HSET", key, h["holdId"], "A %d %s" % (past, rec.split(" ", 2)[2]))
    eq(box.http("DELETE", "/holds/" + h["holdId"]).status, 410, "the late hold is expired")
    out = checked(0, EVENT)
    eq(line(out)[2], 0, "released")


def test_cancelled_tickets_are_not_live():
    o = order([(5, 1), (5, 2), (5, 3)])
    wait_mysql(3)
    t0, t1, t2 = (t["ticketId"] for t in o["tickets"])
    eq(box.http("POST", "/tickets/%s/cancel" % t0, {"cancelToken": o["cancelToken"]}).status, 200, "cancel")
    wait_mysql(2)
    out = checked(0, "--wait", "30", EVENT)
    eq(line(out)[2:5], [2, 2, 2], "redis mysql dynamodb: the cancelled ticket is not counted")
    # a cancellation on its way: MySQL still has the ticket live
    box.stack("stop", "consumer")
    try:
        eq(box.http("POST", "/tickets/%s/cancel" % t1, {"cancelToken": o["cancelToken"]}).status, 200,
           "cancel while the consumer is stopped")
        out = checked(0, EVENT)
        eq(line(out)[2:4], [1, 2], "redis mysql")
        eq(line(out)[8], 1, "cancelling")
        # and its cancel message pending in Redis is no bad entry
        msg = json.dumps({"type": "cancel", "orderId": o["orderId"], "eventId": EVENT, "zoneId": ZONE,
                          "ticketIds": [t1], "cancelledOn": o["createdOn"]}, separators=(",", ":"))
        rz("ZADD", "bo:sweep:{%s:%d}" % (EVENT, ZONE), "1", msg)
        try:
            out = checked(0, EVENT)
            check("not tickets" not in out, out)
        finally:
            rz("ZREM", "bo:sweep:{%s:%d}" % (EVENT, ZONE), msg)
    finally:
        box.stack("start", "consumer")
    wait_mysql(1)
    out = checked(0, "--wait", "30", EVENT)
    eq(line(out)[2:], [1, 1, 1, 0, 0, 0, 0], "after the cancel is persisted")
    check(t2 in box.sql("SELECT ticket_id FROM ticketing.ticket WHERE status <> 'CANCELLED'")[0], "t2 live")


if __name__ == "__main__":
    raise SystemExit(box.main(globals()))
