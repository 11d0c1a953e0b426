# SPDX-License-Identifier: ISC
"""Fault scenarios of round 2: the mixed load of tests/lib/orderload.py
(tickets, orders of 1-4 seats explicit and best available, holds of 1-3 s
confirmed, deleted or left to expire, cancellations, Idempotency-Key
retries and duplicates) through both web servers while something fails,
each ending with the history check of tests/lib/history.py (I1-I7:
CONTRACT section 9, docs/reliability.md):

- a purchase responder killed with SIGKILL between the reservation and the
  broker's confirm (held there by the test hook "reserved" of
  fcgi/ticket/testhook.h), twice: the client's retry with the same key
  waits (409 REQUEST_IN_PROGRESS) until the sweeper published the order,
  then gets it; never a second sale;
- the broker frozen (SIGSTOP) past the confirm timeout, then resumed:
  orders, confirms and cancels of unknown outcome (503 with the id);
- the consumer killed with SIGKILL, twice, while orders and cancellations
  stream in;
- Redis restarted (stop, start) under the load;
- the broker killed with SIGKILL and started again;
- pubd killed with SIGKILL (amqp_publisher = local; prefork starts another);
- MariaDB and DynamoDB Local killed with SIGKILL and started again (the
  consumer's transactions and batches cut off; promise 2 for orders and
  cancellations through "kill -9 of any process");
- (last, no load) a seat cancelled and sold again at once whose new order
  reaches the queues before the cancellation of its last ticket (two
  publishers, no order between them; the mixed load met it): the consumer
  must write both, not take the new order for a double sale.
"""

import collections
import os
import signal
import time

import box
import forge
import orderload
import scenario as sc
from box import check

S = sc.Scenarios("orders-mixed")
CONFIRM_S = int(box.ENV.get("BOXOFFICE_AMQP_CONFIRM_TIMEOUT_MS", "5000")) / 1000.0
BEFORE = 12 if sc.FULL else 6       # seconds of load before the fault
AFTER = 20 if sc.FULL else 10       # and after the recovery
RATE = 80 if sc.FULL else 40
WORKERS = 12 if sc.FULL else 8


def setup_module():
    box.stack("reset")
    sc.hook_clear()


def teardown_module():
    sc.hook_clear()


def run(name, zones, fault):
    """The mixed load on Event1's zones before, during and after fault();
    prints what was asked and answered; returns this run's records."""
    n0 = len(S.h.records)
    t0 = time.time()
    S.run(name, [("Event1", z) for z in zones], fault, before=BEFORE, after=AFTER, rate=RATE,
          workers=WORKERS, load=orderload.MixedLoad)
    mine = S.h.records[n0:]
    by = collections.defaultdict(collections.Counter)
    for r in mine:
        by[r.get("kind", "ticket")][r["outcome"]] += 1
    print("%s: %.0f s in all; %s" % (name, time.time() - t0, "; ".join(
        "%s %d ok %d fail %d unknown" % (k, c["ok"], c["fail"], c["unknown"])
        for k, c in sorted(by.items()))), flush=True)
    kinds = {k for k, c in by.items() if c["ok"]}
    check(kinds >= {"ticket", "order", "hold", "confirm", "delete", "cancel"},
          "the load did not do everything it should: %r" % dict(by))
    return mine


def persisted(oid):
    """True once the order (or ticket) id is in MySQL and DynamoDB."""
    rows = box.sql("SELECT ticket_id FROM ticketing.ticket WHERE ticket_id = '%s' OR "
                   "order_id = '%s'" % (oid, oid))
    return rows and all(box.ddb("GetItem", {"TableName": "Tickets", "Key": {
        "ticketId": {"S": r[0]}}})[1].get("Item") for r in rows)


def test_kill_9_responder_between_reserve_and_confirm():
    held = []

    def fault():
        for _ in range(2):
            sc.hook_arm("reserved", 60000, '"type":"order"')
            pid, hid = sc.hook_wait("reserved")
            sc.kill9(pid)
            held.append(hid)
            print("responder %d killed holding %s" % (pid, hid), flush=True)
            sc.responders_back()
        for hid in held:
            box.wait_until(lambda: persisted(hid), timeout=90,
                           what="the order of a killed responder published by the sweeper")
    mine = run("mixed: responder kill -9 between reserve and confirm", (41, 42), fault)
    check(len(held) == 2, "two responders killed at the hook")
    check(any(r["outcome"] == "unknown" for r in mine), "no unknown outcome")


def test_broker_frozen_past_the_confirm_timeout():
    def fault():
        pid = box.rabbit_pid()
        os.kill(pid, signal.SIGSTOP)
        try:
            time.sleep(CONFIRM_S * 2 + 2)
        finally:
            os.kill(pid, signal.SIGCONT)
        sc.health_ok()
    mine = run("mixed: broker frozen (SIGSTOP)", (43, 44), fault)
    doubt = [r for r in mine if r["outcome"] == "unknown" and r.get("orderId")]
    check(doubt, "no unknown outcome with an id while the broker was frozen")


def test_consumer_kill_9_twice():
    def fault():
        for _ in range(2):
            pid = sc.consumer_pid()
            sc.kill9(pid)
            box.wait_until(lambda: sc.consumer_pid() != pid and box.alive(sc.consumer_pid()),
                           timeout=30, what="a new consumer")
            time.sleep(3)
    run("mixed: consumer kill -9 (twice)", (45, 46), fault)


def test_redis_restart():
    def fault():
        box.stack("stop", "redis")
        time.sleep(1)
        box.stack("start", "redis")
        sc.health_ok()
    run("mixed: Redis restart", (47, 48), fault)


def test_broker_kill_9_and_restart():
    def fault():
        sc.kill9(box.rabbit_pid())
        time.sleep(2)
        box.stack("start", "rabbitmq")
        sc.health_ok()
    mine = run("mixed: broker kill -9 and restart", (50, 51), fault)
    check(any(r["outcome"] != "ok" for r in mine), "nothing failed while the broker was dead")


def test_pubd_kill_9():
    pids = [p for p in box.fcgi_pids("pubd") if box.alive(p)]
    if not pids:    # amqp_publisher = direct: no pubd to kill
        print("no pubd running (amqp_publisher = %s): nothing to kill" % box.PUBLISHER)
        return

    def fault():
        sc.kill9(pids[0])
        box.wait_until(lambda: any(box.alive(p) and p != pids[0]
                                   for p in box.fcgi_pids("pubd")),
                       timeout=30, what="a new pubd under prefork")
        time.sleep(1)
    run("mixed: pubd kill -9", (52, 53), fault)


def test_databases_kill_9():
    def fault():
        for service in ("mysql", "dynamodb"):
            box.stack("kill", service)
            time.sleep(2)
            box.stack("start", service)
    run("mixed: MariaDB and DynamoDB Local kill -9", (54, 55), fault)


def test_resold_seat_before_its_cancellation_message():
    """Order A of a seat persisted; then, in one batch, order B of the same
    seat and after it the cancellation of A (as the queues got them when
    A's cancel and B's sale ran on two responders at once).  Both are
    written, B live and A CANCELLED, nothing dead-lettered.  (Forged
    messages on a zone no load uses; Redis is not involved.)"""
    zone = 49
    a = forge.order([(5, 5), (5, 6)], zone=zone)
    forge.publish_order(a)
    box.wait_until(lambda: forge.mysql_ticket(a["tickets"][0]["ticketId"]), timeout=60,
                   what="order A in MySQL")
    b = forge.order([(5, 5)], zone=zone)
    dead = [box.queue_count(q + ".dead") for q in forge.QUEUES]
    box.stack("stop", "consumer")
    try:
        for q in forge.QUEUES:
            forge.publish_lines([forge.order_json(b), forge.cancel_json(forge.cancel(a))], q)
    finally:
        box.stack("start", "consumer")
    tb = b["tickets"][0]["ticketId"]
    box.wait_until(lambda: forge.mysql_ticket(tb) and forge.ddb_item(tb) and
                   (forge.mysql_ticket(a["tickets"][0]["ticketId"]) or ["?"])[0] ==
                   "CANCELLED" or sum(box.queue_count(q + ".dead") for q in forge.QUEUES) >
                   sum(dead), timeout=120, what="order B and the cancellation of A consumed")
    box.check([box.queue_count(q + ".dead") for q in forge.QUEUES] == dead,
              "order B dead-lettered as a double sale: %s" % box.mqtool("peek",
                                                                     "ticketSQL.dead")[-400:])
    box.eq(forge.mysql_ticket(tb)[0], "CREATED", "order B live in MySQL")
    for t in a["tickets"]:
        box.eq(forge.mysql_ticket(t["ticketId"])[0], "CANCELLED", "order A cancelled")
        box.wait_until(lambda: (forge.ddb_item(t["ticketId"]) or {}).get("status") ==
                       "CANCELLED", timeout=60, what="A cancelled in DynamoDB")


def test_resold_seat_long_before_its_cancellation_message():
    """The same, the cancellation's message seconds later (published by the
    sweeper after a broker failure): order C of a seat whose live ticket
    Redis knows as cancelled (lua/cancel.lua's c:<ticketId>) is written,
    the cancellation applied ahead of its message; the message, when it
    comes, changes nothing.  Without the cancellation in Redis the same
    order stays a double sale (dead-lettered)."""
    zone = 49
    a = forge.order([(6, 1), (6, 2)], zone=zone)
    forge.publish_order(a)
    ta = a["tickets"][0]["ticketId"]
    box.wait_until(lambda: forge.mysql_ticket(ta), timeout=60, what="order A in MySQL")
    gone = forge.cancel(a, [ta])
    box.redis("HSET", "bo:ords:{Event1:%d}" % zone, "c:" + ta, gone["cancelledOn"],
              node=box.zone_node("Event1", zone))
    dead = sum(box.queue_count(q + ".dead") for q in forge.QUEUES)
    c = forge.order([(6, 1)], zone=zone)
    forge.publish_order(c)
    tc = c["tickets"][0]["ticketId"]
    box.wait_until(lambda: forge.mysql_ticket(tc) and forge.ddb_item(tc) or sum(
        box.queue_count(q + ".dead") for q in forge.QUEUES) > dead, timeout=120,
        what="order C consumed")
    box.eq(sum(box.queue_count(q + ".dead") for q in forge.QUEUES), dead, "nothing dead-lettered")
    box.eq(forge.mysql_ticket(tc)[0], "CREATED", "order C live in MySQL")
    box.eq(forge.mysql_ticket(ta)[:2], ("CANCELLED", gone["cancelledOn"]),
           "A's ticket cancelled with Redis' stamp")
    box.eq(forge.mysql_ticket(a["tickets"][1]["ticketId"])[0], "CREATED", "A's other ticket live")
    forge.publish_cancel(gone)
    box.wait_until(lambda: (forge.ddb_item(ta) or {}).get("status") == "CANCELLED", timeout=60,
                   what="the late cancellation in DynamoDB")
    forge.settled(timeout=120)
    box.eq(sum(box.queue_count(q + ".dead") for q in forge.QUEUES), dead,
           "nothing dead-lettered after the late message")
    box.eq(forge.mysql_ticket(ta)[:2], ("CANCELLED", gone["cancelledOn"]), "A's ticket unchanged")
    # a live ticket Redis knows no cancellation of: a double sale still
    d = forge.order([(6, 2)], zone=zone)
    forge.publish_order(d)
    box.wait_until(lambda: box.queue_count("ticketSQL.dead") > 0, timeout=120,
                   what="order D (a real double sale) dead-lettered")
    box.check(forge.mysql_ticket(d["tickets"][0]["ticketId"]) is None, "order D not written")
    box.queue_get("ticketSQL.dead")
    box.queue_get("ticketNoSQL.dead")


if __name__ == "__main__":
    raise SystemExit(box.main(globals()))
