# SPDX-License-Identifier: ISC
"""The catalog's sale state (cancellation, sale windows) through the
recovery paths and beside other operators (CONTRACT sections 6 and 9,
docs/reliability.md, docs/catalog.md):

- `rebuild` of a zone whose Redis data was lost writes its sale state from
  the catalog: a cancelled event answers 410 and a window not yet open 403
  afterwards (rebuild wrote venue, shape and price only, so both sold);
- `check` reports a zone whose sale state in Redis is not the catalog's,
  and `init` repairs it;
- `rebuild` puts back what a cancellation needs of the orders in MySQL
  (their messages and id index, the cancellations recorded): a ticket
  sold before the loss can be cancelled afterwards (it answered 404);
- `rebuild` leaves free the seat of a ticket whose cancellation is still
  queued (it took it again: that seat never sold again), and `rebuild
  --all` the seat Redis gives to a ticket MySQL has cancelled (an AOF that
  lost the cancel);
- a failed `catalog apply` never gives counters to a zone that had none (a
  node that lost its data): its undo did, beside seats sold in MySQL;
- two `event cancel` / `catalog stagger` run at once both take effect (each
  read the catalog before waiting for the lock, so the second undid the
  first), and `init` waits for the catalog lock too.
"""

import os
import subprocess
import time
from datetime import timedelta

import box
import catalog
from box import buy, check, eq
from catalog import redis_now, stamp

LOCK = "boxoffice.catalog"
KINDS = ("zone", "left", "seat", "own", "pend", "sweep")


def setup_module():
    catalog.restore()


def teardown_module():
    catalog.restore()


def rz(event, zone, *args):
    return box.redis(*args, node=box.zone_node(event, zone))


def lose(event, zone):
    """What a Redis node that restarted empty leaves of a zone: nothing."""
    rz(event, zone, "DEL", *["bo:%s:{%s:%d}" % (k, event, zone) for k in KINDS])


def persisted(*tids):
    box.wait_until(lambda: box.sql_count("SELECT COUNT(*) FROM ticketing.ticket WHERE ticket_id "
                                         "IN (%s)" % ",".join("'%s'" % t for t in tids))
                   == len(tids), what="%d ticket(s) in MySQL" % len(tids))


def sold(*seat):
    r = buy(*seat)
    eq(r.status, 201, "buy %r: %s" % (seat, r.body))
    return r.json()["ticketId"]


def clean_check():
    r = catalog.ctl("check", "--wait", "30")
    eq(r.returncode, 0, "check (stdout %r, stderr %r)" % (r.stdout[-1500:], r.stderr[-800:]))


def test_rebuild_after_a_loss_keeps_the_cancellation_and_the_windows():
    """Would catch: rebuild writing a lost zone's catalog hash without its
    status, opensAt and closesAt, so that the zones of a cancelled event and
    of a sale not yet open sell at once after the documented recovery."""
    t2 = sold("Venue2", "Event2", 1, 1, 1)
    t3 = sold("Venue2", "Event3", 1, 1, 1)
    later = redis_now().replace(microsecond=0) + timedelta(hours=1)
    doc = catalog.seed()
    catalog.event(doc, "Event2")["status"] = "CANCELLED"
    catalog.event(doc, "Event3")["onSale"] = [{"fromZone": 1, "toZone": 4,
                                               "opensAt": stamp(later)}]
    catalog.apply_ok(doc, "Event2 cancelled, Event3 opens in an hour")
    persisted(t2, t3)
    box.stack("stop", "consumer")
    try:
        lose("Event2", 1)
        lose("Event3", 1)
        r = catalog.ctl("init")
        eq(r.returncode, 1, "init beside the lost zones (stdout %r, stderr %r)"
           % (r.stdout, r.stderr))
        eq(rz("Event2", 1, "EXISTS", "bo:zone:{Event2:1}"), 0, "init wrote the refused zone")
        r = catalog.ctl("rebuild", "Event2", "Event3")
        eq(r.returncode, 0, "rebuild (stdout %r, stderr %r)" % (r.stdout, r.stderr))
        check("Event2 zone 1: rebuilt: 200 seats, 1 sold" in r.stdout, r.stdout)
        check("Event3 zone 1: rebuilt: 200 seats, 1 sold" in r.stdout, r.stdout)
        # no init after it: the procedure of docs/reliability.md ends with
        # the rebuild, and sales start again from there
    finally:
        box.stack("start", "consumer")
    eq(rz("Event2", 1, "HGET", "bo:zone:{Event2:1}", "status"), b"CANCELLED", "status in Redis")
    eq(int(rz("Event3", 1, "HGET", "bo:zone:{Event3:1}", "opens")),
       int(later.timestamp() * 1000), "opens in Redis")
    for port in box.WEB_PORTS:
        r = buy("Venue2", "Event2", 1, 1, 2, port=port)
        eq((r.status, r.json().get("error")), (410, "EVENT_CANCELLED"),
           "a zone of the cancelled event after rebuild, on %d: %s" % (port, r.body))
        r = buy("Venue2", "Event3", 1, 1, 2, port=port)
        eq((r.status, r.json().get("error"), r.json().get("opensAt")),
           (403, "NOT_ON_SALE", stamp(later)),
           "a zone not yet on sale after rebuild, on %d: %s" % (port, r.body))
    eq(box.sql_count("SELECT COUNT(*) FROM ticketing.ticket WHERE event_id IN ('Event2','Event3')"),
       2, "tickets of the two events")
    clean_check()


def test_check_reports_a_sale_state_redis_lost_and_init_repairs_it():
    """Would catch: check comparing only venue, shape and price, so that a
    zone selling for a cancelled event (or outside its window) is clean."""
    eq(catalog.event(catalog.show(), "Event2")["status"], "CANCELLED", "the previous test's catalog")
    rz("Event2", 2, "HDEL", "bo:zone:{Event2:2}", "status")
    rz("Event3", 3, "HDEL", "bo:zone:{Event3:3}", "opens")
    r = catalog.ctl("check")
    eq(r.returncode, 1, "check with two sale states lost (stdout %r)" % r.stdout[-1500:])
    check("Event2 zone 2: Redis sale state status=- opens=- closes=-, MySQL catalog "
          "status=CANCELLED opens=- closes=-" in r.stdout, r.stdout[-1500:])
    check("Event3 zone 3: Redis sale state status=- opens=- closes=-, MySQL catalog "
          "status=- opens=" in r.stdout, r.stdout[-1500:])
    check("check: 2 difference(s)" in r.stdout, r.stdout[-1500:])
    r = catalog.ctl("init")
    eq(r.returncode, 0, "init: " + r.stderr)
    eq(buy("Venue2", "Event2", 2, 1, 1).status, 410, "Event2 zone 2 after init")
    eq(buy("Venue2", "Event3", 3, 1, 1).status, 403, "Event3 zone 3 after init")
    clean_check()


def test_failed_apply_gives_no_counters_to_a_zone_that_lost_them():
    """Would catch: the undo of a failed apply loading every zone it had
    written with counters allowed, so a zone whose Redis data was lost (no
    counters, its sales in MySQL) got full ones: its sold seat sold again."""
    catalog.restore()
    tid = sold("Venue2", "Event2", 1, 2, 2)
    persisted(tid)
    lose("Event2", 1)
    new = catalog.seed()
    new["events"].append({"eventId": "EventZ9", "venueId": "Venue2", "name": "Undo Night",
                          "type": "CONCERT", "date": "2027-06-01T20:00:00Z",
                          "status": "SCHEDULED"})
    last = sorted(box.VENUE2_ZONES)[-1]
    sab = "bo:zone:{EventZ9:%d}" % last
    # the sabotage: a string where the last zone's hash goes (WRONGTYPE)
    eq(rz("EventZ9", last, "SET", sab, "sabotage"), "OK", "SET of the sabotage key")
    try:
        r = catalog.apply(new)
        eq(r.returncode, 1, "apply with the sabotaged zone (stdout %r, stderr %r)"
           % (r.stdout, r.stderr))
        check("catalog not applied" in r.stderr, r.stderr)
        check("WRONGTYPE" in r.stderr, "the failure is the sabotaged write: %r" % r.stderr)
    finally:
        rz("EventZ9", last, "DEL", sab)
    eq(rz("Event2", 1, "EXISTS", "bo:left:{Event2:1}"), 0,
       "counters of the zone that lost its data, after the undo")
    r = buy("Venue2", "Event2", 1, 2, 2)
    check(r.status != 201, "the seat sold in MySQL sold again after the undo: %s" % r.body)
    eq(box.sql_count("SELECT COUNT(*) FROM ticketing.ticket WHERE event_id='Event2' AND "
                     "zone_id=1 AND row_no=2 AND col_no=2"), 1, "tickets of the seat")
    box.stack("stop", "consumer")
    try:
        r = catalog.ctl("rebuild", "Event2")
        eq(r.returncode, 0, "rebuild: " + r.stderr)
    finally:
        box.stack("start", "consumer")
    eq(buy("Venue2", "Event2", 1, 2, 2).json().get("error"), "SEAT_TAKEN", "after rebuild")
    clean_check()


def test_rebuild_puts_back_what_a_cancellation_needs():
    """Would catch: rebuild leaving out the orders' messages and their id
    index (bo:ords, bo:oix), so that no ticket sold before a Redis loss can
    be cancelled any more (404), and a ticket cancelled before it is not
    known as cancelled (its repeat would stamp it anew)."""
    catalog.restore()
    r = box.http("POST", "/orders", {"venueId": "Venue2", "eventId": "Event3", "zoneId": 2,
                                     "seats": [{"row": 2, "column": 1}, {"row": 2, "column": 2}]})
    eq(r.status, 201, "order of two: " + r.body)
    oid, token = r.json()["orderId"], r.json()["cancelToken"]
    t1, t2 = [t["ticketId"] for t in r.json()["tickets"]]
    c = box.http("POST", "/tickets/%s/cancel" % t1, {"cancelToken": token})
    eq(c.status, 200, "cancel of the first ticket: " + c.body)
    on1 = c.json()["cancelledOn"]
    box.wait_until(lambda: box.sql("SELECT ticket_id, status FROM ticketing.ticket WHERE order_id "
                                   "= '%s' ORDER BY col_no" % oid) ==
                   [[t1, "CANCELLED"], [t2, "CREATED"]], what="the order and its cancel in MySQL")
    box.stack("stop", "consumer")
    try:
        # the node loses the zone and every key of the order
        lose("Event3", 2)
        rz("Event3", 2, "DEL", "bo:ords:{Event3:2}")
        for ident in (oid, t1, t2):
            for k in box.redis("KEYS", "bo:*" + ident, node=box.zone_node("Event3", 2)):
                rz("Event3", 2, "DEL", k)
        eq(box.http("POST", "/tickets/%s/cancel" % t2, {"cancelToken": token}).status, 404,
           "a cancel while the order is lost")
        r = catalog.ctl("init")
        eq(r.returncode, 1, "init beside the lost zone: " + r.stderr)
        r = catalog.ctl("rebuild", "Event3")
        eq(r.returncode, 0, "rebuild (stdout %r, stderr %r)" % (r.stdout, r.stderr))
        check("Event3 zone 2: 1 order(s) of MySQL: messages and index for cancellation put "
              "back where missing" in r.stdout, r.stdout)
    finally:
        box.stack("start", "consumer")
    c = box.http("POST", "/tickets/%s/cancel" % t1, {"cancelToken": token})
    eq((c.status, c.json().get("status"), c.json().get("cancelledOn")), (200, "CANCELLED", on1),
       "the ticket cancelled before the loss, cancelled again: %s" % c.body)
    eq(box.http("POST", "/tickets/%s/cancel" % t2, {"cancelToken": "A" * 22}).status, 403,
       "a wrong token")
    c = box.http("POST", "/orders/%s/cancel" % oid, {"cancelToken": token})
    eq(c.status, 200, "cancel of the order after the rebuild: " + c.body)
    eq((c.json()["status"], [t["status"] for t in c.json()["tickets"]]),
       ("CANCELLED", ["CANCELLED", "CANCELLED"]), "the order's answer")
    eq([t.get("cancelledOn") == on1 for t in c.json()["tickets"]], [True, False],
       "the first ticket keeps its own stamp")
    box.wait_until(lambda: box.sql("SELECT status FROM ticketing.ticket WHERE ticket_id = '%s'"
                                   % t2) == [["CANCELLED"]], what="the second ticket cancelled")
    eq(box.http("POST", "/orders", {"venueId": "Venue2", "eventId": "Event3", "zoneId": 2,
                                    "seats": [{"row": 2, "column": 2}]}).status, 201,
       "the seat sold again")
    clean_check()


def cancel_queued(col):
    """Seat (1, col) of Event3 zone 3 sold and persisted, then its ticket
    cancelled with the consumer stopped (left stopped: the cancellation
    waits in ticketSQL).  Returns (ticketId, cancelToken, the answer)."""
    catalog.restore()
    r = buy("Venue2", "Event3", 3, 1, col)
    eq(r.status, 201, "buy: " + r.body)
    tid, token = r.json()["ticketId"], r.json()["cancelToken"]
    persisted(tid)
    box.stack("stop", "consumer")
    try:
        c = box.http("POST", "/tickets/%s/cancel" % tid, {"cancelToken": token})
        eq(c.status, 200, "cancel: " + c.body)
    except BaseException:
        box.stack("start", "consumer")
        raise
    return tid, token, c


def test_rebuild_leaves_free_the_seat_of_a_queued_cancellation():
    """Would catch: rebuild taking again the seat of a ticket whose
    cancellation still waits in ticketSQL (the ticket live in MySQL until
    the consumer applies it): the seat the cancel freed could never be
    sold again."""
    tid, _, c = cancel_queued(5)
    try:
        eq(box.queue_count("ticketSQL"), 1, "the cancellation queued")
        lose("Event3", 3)
        rz("Event3", 3, "DEL", "bo:ords:{Event3:3}")
        r = catalog.ctl("init")
        eq(r.returncode, 1, "init beside the lost zone: " + r.stderr)
        r = catalog.ctl("rebuild", "Event3")
        eq(r.returncode, 0, "rebuild (stdout %r, stderr %r)" % (r.stdout, r.stderr))
        check("Event3 zone 3: rebuilt: 8 seats, 0 sold" in r.stdout, r.stdout)
        check("Event3 zone 3: 1 ticket(s) whose cancellation is queued in ticketSQL: their "
              "seats left free" in r.stdout, r.stdout)
        eq(rz("Event3", 3, "HGET", "bo:ords:{Event3:3}", "c:" + tid), c.json()["cancelledOn"].encode(),
           "the cancellation recorded in Redis again")
        again = buy("Venue2", "Event3", 3, 1, 5)
        eq(again.status, 201, "the seat sold again after the rebuild: " + again.body)
    finally:
        box.stack("start", "consumer")
    box.wait_until(lambda: box.sql("SELECT ticket_id, status FROM ticketing.ticket WHERE "
                                   "event_id = 'Event3' AND zone_id = 3 ORDER BY status") ==
                   [[tid, "CANCELLED"], [again.json()["ticketId"], "CREATED"]],
                   what="the cancellation and the new sale in MySQL")
    eq((box.queue_count("ticketSQL.dead"), box.queue_count("ticketNoSQL.dead")), (0, 0),
       "dead-lettered")
    clean_check()


def cancel_lost(col, tid):
    """What an AOF without its last second holds of the cancel of ticket
    tid, seat (1, col) of Event3 zone 3: the seat and its owner back, the
    counters down by one, no c: record."""
    bit = col - 1
    rz("Event3", 3, "SETBIT", "bo:seat:{Event3:3}", bit, 1)
    rz("Event3", 3, "HSET", "bo:own:{Event3:3}", bit, tid)
    rz("Event3", 3, "HINCRBY", "bo:left:{Event3:3}", "z", -1)
    rz("Event3", 3, "HINCRBY", "bo:left:{Event3:3}", "r1", -1)
    rz("Event3", 3, "HDEL", "bo:ords:{Event3:3}", "c:" + tid)


def test_rebuild_all_records_no_cancel_for_a_seat_redis_still_gives():
    """An AOF that lost a cancellation (Redis: the seat still the ticket's,
    no c: record) while its message waits in ticketSQL.  Would catch:
    rebuild --all keeping the seat (a rebuild never frees one) and yet
    recording the cancellation, so that the repeated cancel, which would
    free the seat, finds it done: the seat never sold again."""
    tid, token, _ = cancel_queued(6)
    try:
        cancel_lost(6, tid)
        r = catalog.ctl("rebuild", "--all", "Event3")
        eq(r.returncode, 0, "rebuild --all (stdout %r, stderr %r)" % (r.stdout, r.stderr))
        check("Event3 zone 3: rebuilt: 8 seats, 1 sold" in r.stdout, r.stdout)
        eq(rz("Event3", 3, "HGET", "bo:ords:{Event3:3}", "c:" + tid), None,
           "a cancellation recorded for a ticket that still has its seat")
    finally:
        box.stack("start", "consumer")
    c = box.http("POST", "/tickets/%s/cancel" % tid, {"cancelToken": token})
    eq(c.status, 200, "the cancel repeated: " + c.body)
    again = buy("Venue2", "Event3", 3, 1, 6)
    eq(again.status, 201, "the seat after the repeated cancel: " + again.body)
    persisted(again.json()["ticketId"])


def test_rebuild_all_frees_the_seat_of_a_ticket_mysql_has_cancelled():
    """The consumer stored a cancellation (MySQL: CANCELLED), then Redis
    came back from an AOF that lost the cancel's last second: the seat the
    ticket's again, no c: record.  Would catch: rebuild --all keeping the
    seat for the cancelled ticket while the orders' rebuild recorded its
    cancellation from MySQL, so that a repeated cancel answered 200 and
    freed nothing: the seat never sold again, and check never clean."""
    catalog.restore()
    r = buy("Venue2", "Event3", 3, 1, 7)
    eq(r.status, 201, "buy: " + r.body)
    tid, token = r.json()["ticketId"], r.json()["cancelToken"]
    persisted(tid)
    eq(box.http("POST", "/tickets/%s/cancel" % tid, {"cancelToken": token}).status, 200,
       "the cancel")
    box.wait_until(lambda: box.sql("SELECT status FROM ticketing.ticket WHERE ticket_id = "
                                   "'%s'" % tid) == [["CANCELLED"]],
                   what="the cancellation in MySQL")
    box.stack("stop", "consumer")
    try:
        cancel_lost(7, tid)
        r = catalog.ctl("rebuild", "--all", "Event3")
        eq(r.returncode, 0, "rebuild --all (stdout %r, stderr %r)" % (r.stdout, r.stderr))
        check("Event3 zone 3: 1 seat(s) Redis gave to ticket(s) MySQL has cancelled" in r.stdout,
              r.stdout)
        eq(rz("Event3", 3, "GETBIT", "bo:seat:{Event3:3}", 6), 0, "the seat after rebuild --all")
        eq(rz("Event3", 3, "HGET", "bo:own:{Event3:3}", 6), None, "the seat's owner")
    finally:
        box.stack("start", "consumer")
    again = buy("Venue2", "Event3", 3, 1, 7)
    eq(again.status, 201, "the seat sold again: " + again.body)
    persisted(again.json()["ticketId"])
    c = box.http("POST", "/tickets/%s/cancel" % tid, {"cancelToken": token})
    eq(c.status, 200, "the cancel repeated, answered the same: " + c.body)
    eq(rz("Event3", 3, "GETBIT", "bo:seat:{Event3:3}", 6), 1, "the new sale's seat")
    clean_check()


class HeldLock:
    """The catalog lock held by an admin MariaDB session."""

    def __init__(self):
        self.sess = catalog.sql_admin_session()
        self.sess.stdin.write("SELECT GET_LOCK('%s', 5);\n" % LOCK)
        self.sess.stdin.flush()
        eq(self.sess.stdout.readline().strip(), "1", "GET_LOCK by the admin session")

    def release(self):
        if self.sess is None:
            return
        self.sess.stdin.write("SELECT RELEASE_LOCK('%s');\n" % LOCK)
        self.sess.stdin.close()
        self.sess.wait(timeout=30)
        self.sess = None


def waiting_for_lock():
    return box.sql_count("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE "
                         "INFO LIKE 'SELECT GET_LOCK(%s%%'" % ("'" + LOCK + "'").replace("'", "''"))


def ctl_start(*args):
    return subprocess.Popen([os.path.join(box.BIN, "ticketctl"), "-c", box.CONF] + list(args),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_two_changes_at_once_both_take_effect():
    """Would catch: event cancel and catalog stagger reading the catalog
    before they wait for the lock, so that the one that applies second
    writes back what the first changed (an event back on sale)."""
    catalog.restore()
    lock = HeldLock()
    procs = []
    try:
        procs.append(ctl_start("event", "cancel", "Event2"))
        procs.append(ctl_start("catalog", "stagger", "Event3", "--start",
                               "2026-01-01T00:00:00Z", "--every", "5m"))
        box.wait_until(lambda: waiting_for_lock() == 2, timeout=30,
                       what="both commands waiting for the catalog lock")
    finally:
        lock.release()
    outs = [p.communicate(timeout=60) for p in procs]
    for p, (out, err) in zip(procs, outs):
        eq(p.returncode, 0, "%s (stdout %r, stderr %r)" % (p.args[3:], out, err))
    doc = catalog.show()
    eq(catalog.event(doc, "Event2")["status"], "CANCELLED", "Event2 after both")
    eq(len(catalog.event(doc, "Event3").get("onSale", [])) > 0, True, "Event3 windows after both")
    eq(rz("Event2", 1, "HGET", "bo:zone:{Event2:1}", "status"), b"CANCELLED", "Redis Event2")
    check(rz("Event3", 1, "HGET", "bo:zone:{Event3:1}", "opens") is not None, "Redis Event3")
    eq(buy("Venue2", "Event2", 3, 1, 1).status, 410, "Event2 sells after both")


def test_init_waits_for_the_catalog_lock():
    """Would catch: init writing the sale state it read while a catalog
    change holds the lock (an event cancelled meanwhile put back on sale in
    Redis)."""
    lock = HeldLock()
    p = None
    try:
        p = ctl_start("init")
        box.wait_until(lambda: waiting_for_lock() == 1, timeout=30,
                       what="init waiting for the catalog lock")
        time.sleep(1)
        eq(p.poll(), None, "init finished while the lock was held")
    finally:
        lock.release()
    out, err = p.communicate(timeout=120)
    eq(p.returncode, 0, "init (stdout %r, stderr %r)" % (out, err))


def test_dlq_waits_for_the_catalog_lock():
    """init and rebuild read ticketSQL, then the dead-letter queues, under
    the catalog lock.  Would catch: `dlq requeue` moving a message from
    ticketSQL.dead to ticketSQL between those reads (a sale neither sees:
    its seat free after a Redis loss, sold twice), or `dlq` holding it
    unacked meanwhile: both now wait for the lock."""
    box.stack("stop", "consumer")
    try:
        r = buy("Venue1", "Event1", 51, 3, 3)
        eq(r.status, 201, "buy: " + r.body)
        body = box.queue_get("ticketSQL")
        eq(len(body), 1, "its message in ticketSQL")
        box.mqtool("publish", "-q", "ticketSQL.dead", body[0])
    finally:
        box.stack("start", "consumer")
    lock = HeldLock()
    procs = []
    try:
        procs = [ctl_start("dlq"), ctl_start("dlq", "requeue")]
        box.wait_until(lambda: waiting_for_lock() == 2, timeout=30,
                       what="dlq and dlq requeue waiting for the catalog lock")
        time.sleep(1)
        eq([p.poll() for p in procs], [None, None], "dlq commands finished under the lock")
        eq(box.queue_count("ticketSQL.dead"), 1, "the dead letter under the lock")
    finally:
        lock.release()
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, outs):
        eq(p.returncode, 0, "%s (stdout %r, stderr %r)" % (p.args[3:], out, err))
    eq(box.queue_count("ticketSQL.dead"), 0, "the dead letter requeued after the lock")
    tid = r.json()["ticketId"]
    box.wait_until(lambda: box.sql_count("SELECT COUNT(*) FROM ticketing.ticket WHERE "
                                         "ticket_id = '%s'" % tid) == 1, timeout=60,
                   what="the requeued ticket in MySQL")
    clean_check()


if __name__ == "__main__":
    raise SystemExit(box.main(globals()))
