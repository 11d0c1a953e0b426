# SPDX-License-Identifier: ISC
"""test_orders_consumer_faults.py - the consumer killed with SIGKILL in the
middle of a mixed stream of orders, round-1 tickets and cancellations (some
consumed before their order, some messages twice): afterwards every order
is in MySQL and DynamoDB whole and exactly once, every cancellation is
applied in both, every round-1 ticket is there once, nothing is
dead-lettered (docs/consumer.md, docs/reliability.md promise 2), and the
sales summary (zone_sales) equals a full count of the live tickets.

The messages are forged (tests/lib/forge.py), to put them in the orders
the consumer must take but the purchase path makes only by chance: a
cancellation before its order (two publishers, no order between them), the
same message twice.  So the history check of the other fault files does
not apply here (no client saw these sales, Redis never held them): this
file's own exact check stands in for it.
"""

import os
import random
import subprocess

import box
import forge
import persist
from box import check, eq

EVENT = "Event1"
ZONES = range(20, 30)


def setup_module():
    box.stack("reset")


def mysql_count():
    return box.sql_count("SELECT COUNT(*) FROM ticketing.ticket")


def build(rng):
    """Orders of 1-4 seats and round-1 tickets on distinct seats of ZONES,
    cancellations of some orders (whole or part), and the publishing plan."""
    seats = [(z, r, c) for z in ZONES for r in range(1, 4) for c in range(1, 31)]
    rng.shuffle(seats)
    orders, singles, cancels, plan = [], [], {}, []
    while len(seats) > 30 and len(orders) < 120:
        n = rng.randint(1, 4)
        z = seats[0][0]
        mine = [s for s in seats if s[0] == z][:n]
        for s in mine:
            seats.remove(s)
        orders.append(forge.order([(r, c) for _, r, c in mine], zone=z))
    for z, r, c in seats[:30]:
        singles.append({"ticketId": persist.new_ticket_id(), "venueId": "Venue1",
                        "eventId": EVENT, "zoneId": z, "row": r, "column": c,
                        "price": "320.00", "status": "CREATED", "createdOn": forge.stamp()})
    for i, o in enumerate(orders):
        ids = [t["ticketId"] for t in o["tickets"]]
        times = 2 if i % 7 == 0 else 1          # a redelivered message
        if i % 3 == 0:
            part = ids if i % 2 == 0 else ids[:1]
            c = forge.cancel(o, part)
            cancels[o["orderId"]] = c
            if i % 9 == 0:                       # the cancellation first
                plan.append(("cancel", c, times))
                plan.append(("order", o, times))
            else:
                plan.append(("order", o, times))
                plan.append(("cancel", c, times))
        else:
            plan.append(("order", o, times))
        if i < len(singles):
            plan.append(("ticket", singles[i], 1))
    return orders, singles, cancels, plan


def publish(plan):
    """The plan's messages in order into each queue (as both bindings of
    ticket.exchange would put them)."""
    bodies = []
    for kind, m, times in plan:
        if kind == "order":
            body = forge.order_json(m)
        elif kind == "cancel":
            body = forge.cancel_json(m)
        else:
            body = persist.forged_copy(m)
        bodies += [body] * times
    for q in forge.QUEUES:
        forge.publish_lines(bodies, q)


def verify(orders, singles, cancels):
    tickets = sum(len(o["tickets"]) for o in orders) + len(singles)
    eq(mysql_count(), tickets, "MySQL tickets")
    eq(box.sql_count("SELECT COUNT(*) FROM ticketing.orders"), len(orders), "MySQL orders")
    eq(box.ddb_count(), tickets, "DynamoDB items")
    rows = {r[0]: r[1:] for r in box.sql(
        "SELECT ticket_id, status, IFNULL(order_id, 'NULL'), IFNULL(DATE_FORMAT(cancelled_on, "
        "'%Y-%m-%dT%H:%i:%s.%f'), 'NULL') FROM ticketing.ticket")}
    ords = {r[0]: r[1:] for r in box.sql(
        "SELECT order_id, status, total, (SELECT COUNT(*) FROM ticketing.ticket t WHERE "
        "t.order_id = o.order_id) FROM ticketing.orders o")}
    items = {it["ticketId"]: it for it in box.ddb_items()}
    problems = []
    for o in orders:
        c = cancels.get(o["orderId"])
        gone = set(c["ticketIds"]) if c else set()
        want_order = "CANCELLED" if len(gone) == len(o["tickets"]) else "CONFIRMED"
        if ords.get(o["orderId"]) != [want_order, o["total"], str(len(o["tickets"]))]:
            problems.append("order %s: %r" % (o["orderId"], ords.get(o["orderId"])))
        for t in o["tickets"]:
            tid = t["ticketId"]
            st = "CANCELLED" if tid in gone else "CREATED"
            on = c["cancelledOn"][:23] if tid in gone else "NULL"
            r = rows.get(tid)
            if r is None or r[0] != st or r[1] != o["orderId"] or r[2][:23] != on:
                problems.append("MySQL %s: %r, want %s %s" % (tid, r, st, on))
            it = items.get(tid, {})
            if (it.get("status"), it.get("orderId"), it.get("eventId"), it.get("row"),
                    it.get("cancelledOn", "NULL")[:23]) != (
                    st, o["orderId"], EVENT, str(t["row"]),
                    c["cancelledOn"][:23] if tid in gone else "NULL"):
                problems.append("DynamoDB %s: %r, want %s" % (tid, it, st))
    for t in singles:
        if rows.get(t["ticketId"]) != ["CREATED", "NULL", "NULL"]:
            problems.append("round-1 %s in MySQL: %r" % (t["ticketId"], rows.get(t["ticketId"])))
        if items.get(t["ticketId"], {}).get("status") != "CREATED":
            problems.append("round-1 %s in DynamoDB" % t["ticketId"])
    check(not problems, "%d problems: %s" % (len(problems), "; ".join(problems[:5])))
    eq((box.queue_count("ticketSQL.dead"), box.queue_count("ticketNoSQL.dead")), (0, 0),
       "nothing dead-lettered")
    # the sales summary (zone_sales, kept in the consumer's transactions):
    # nothing counted twice by the kill, the redeliveries or the
    # cancellations applied again
    eq(box.sql("SELECT zone_id, sold, revenue FROM ticketing.zone_sales WHERE event_id = '%s' "
               "AND (sold <> 0 OR revenue <> 0) ORDER BY zone_id" % EVENT),
       box.sql("SELECT zone_id, COUNT(*), SUM(price) FROM ticketing.ticket WHERE event_id = "
               "'%s' AND status <> 'CANCELLED' GROUP BY zone_id ORDER BY zone_id" % EVENT),
       "sales summary against a full count")


def consumer_waits_for_lock():
    return any("bo_consumer" in " ".join(r) and "metadata lock" in " ".join(r)
               for r in box.sql("SELECT user, state, IFNULL(info, '') FROM "
                                "information_schema.processlist"))


def test_kill_9_mid_batch_with_orders_and_cancellations():
    rng = random.Random(13)
    orders, singles, cancels, plan = build(rng)
    check(len(cancels) > 20 and any(p[0] == "cancel" and plan[i + 1][0] == "order"
                                    for i, p in enumerate(plan[:-1])), "the plan has what it tests")
    total = sum(len(o["tickets"]) for o in orders) + len(singles)
    # the first part persisted, then the consumer caught inside its MySQL
    # transaction of the rest (orders locked by another session), DynamoDB
    # writes under way: kill -9 there
    cut = len(plan) * 2 // 5
    publish(plan[:cut])
    box.wait_until(lambda: mysql_count() > 0, timeout=120, what="the first part under way")
    forge.settled(timeout=300)
    first = mysql_count()
    errlog = open(os.path.join(os.environ["BOX_VAR"], "lock-session.err"), "w+")
    lock = subprocess.Popen([os.path.join(box.ROOT, "scripts", "stack"), "sql"],
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=errlog, text=True)
    try:
        lock.stdin.write("LOCK TABLES orders WRITE, ticket WRITE;\nSELECT SLEEP(600);\n")
        lock.stdin.flush()
        def locked():
            if lock.poll() is not None:
                errlog.seek(0)
                raise box.Fail("the lock session ended (%s): %s" % (lock.returncode,
                                                                   errlog.read().strip()))
            return any("SLEEP(600)" in r[-1] for r in box.sql(
                "SELECT user, IFNULL(info, '') FROM information_schema.processlist"))
        box.wait_until(locked, timeout=60, what="the tables locked")
        publish(plan[cut:])
        box.wait_until(consumer_waits_for_lock, timeout=120, what="the consumer inside its "
                       "transaction, waiting for the lock")
        old = persist.kill_consumer()
    finally:
        lock.kill()
        lock.wait()
        errlog.close()
    done = mysql_count()
    print("killed with %d of %d tickets in MySQL (%d before), %d items in DynamoDB"
          % (done, total, first, box.ddb_count()))
    check(first <= done < total, "killed in the middle of the stream")
    persist.start_consumer(old)
    box.wait_until(lambda: (mysql_count(), box.ddb_count()) == (total, total), timeout=600,
                   interval=1, what="every ticket in both stores")
    forge.settled(timeout=300)
    verify(orders, singles, cancels)
    r = box.ticketctl("status")
    live = box.sql_count("SELECT COUNT(*) FROM ticketing.ticket WHERE event_id = '%s' AND "
                         "status <> 'CANCELLED'" % EVENT)
    line = [ln.split() for ln in r.stdout.splitlines() if ln.split()[:1] == [EVENT]]
    check(line and line[0][4:6] == [str(live), str(live)],
          "ticketctl status: MySQL and DynamoDB both %d live: %r" % (live, line))

if __name__ == "__main__":
    raise SystemExit(box.main(globals()))
