# SPDX-License-Identifier: ISC
"""test_zone_sales.py - the sales summary (issue 14 item 5,
sql/migrations/003_zone_sales.sql, docs/reliability.md): after a mixed
stream of orders, round-1 tickets, cancellations (some before their order),
redelivered messages and a double sale, and purchases through HTTP, the
stats, count and money answers (read from zone_sales) equal a full count of
the live tickets; `ticketctl check` reports a summary that differs from the
tickets and sql/zone_sales_repair.sql repairs it.

The order and cancellation messages are forged (tests/lib/forge.py) and
published straight into both queues, as test_orders_consumer_faults does.
"""

import json
import os
import random
import subprocess
from decimal import Decimal

import box
import forge
import persist
from box import check, eq

EVENT = "Event1"
ZONES = range(40, 46)       # seats of this file in Event1 (Venue1, 320.00)
HTTP_EVENT, HTTP_VENUE = "Event3", "Venue2"


def setup_module():
    box.stack("reset")


def full_count(event):
    """{zone: (sold, Decimal revenue)} of the live tickets, counted."""
    return {int(z): (int(n), Decimal(s)) for z, n, s in box.sql(
        "SELECT zone_id, COUNT(*), SUM(price) FROM ticketing.ticket WHERE event_id = '%s' "
        "AND status <> 'CANCELLED' GROUP BY zone_id" % event)}


def get(path):
    r = box.http("GET", path)
    eq(r.status, 200, "GET %s: %s" % (path, r.body[:200]))
    return json.loads(r.body, parse_float=Decimal)


def answers_equal_full_count(event, venue):
    """stats (per zone and in total), count and money against full_count()."""
    want = full_count(event)
    st = get("/get/events/%s/stats" % event)
    got = {z["zoneId"]: (z["sold"], z["revenue"]) for z in st["zones"] if z["sold"] or
           z["revenue"]}
    eq(got, {z: v for z, v in want.items() if z in {x["zoneId"] for x in st["zones"]}},
       "%s stats per zone against a full count" % event)
    sold = sum(v[0] for v in want.values())
    revenue = sum((v[1] for v in want.values()), Decimal("0"))
    eq((st["sold"], st["revenue"]), (sold, revenue), "%s stats totals" % event)
    eq(get("/get/count/%s" % event)["sold"], sold, "%s count" % event)
    eq(get("/get/money/%s/%s" % (venue, event))["revenue"], revenue, "%s money" % event)
    summary = {int(z): (int(n), Decimal(s)) for z, n, s in box.sql(
        "SELECT zone_id, sold, revenue FROM ticketing.zone_sales WHERE event_id = '%s' "
        "AND (sold <> 0 OR revenue <> 0)" % event)}
    eq(summary, want, "%s zone_sales against a full count" % event)
    return sold


def mixed_stream(rng):
    """Forged messages: orders (some twice), round-1 tickets (some twice),
    cancellations whole or part (some before their order, some twice), one
    round-1 ticket for a seat an order holds (a double sale)."""
    seats = [(z, r, c) for z in ZONES for r in range(1, 3) for c in range(1, 21)]
    rng.shuffle(seats)
    bodies, orders, cancels = [], [], 0
    while len(seats) > 20:
        z = seats[0][0]
        mine = [s for s in seats if s[0] == z][:rng.randint(1, 4)]
        for s in mine:
            seats.remove(s)
        o = forge.order([(r, c) for _, r, c in mine], zone=z)
        orders.append(o)
        i = len(orders)
        times = 2 if i % 5 == 0 else 1
        if i % 3 == 0:
            ids = [t["ticketId"] for t in o["tickets"]]
            c = forge.cancel(o, ids if i % 2 == 0 else ids[:1])
            cancels += 1
            first, then = ((forge.cancel_json(c), forge.order_json(o)) if i % 4 == 0 else
                           (forge.order_json(o), forge.cancel_json(c)))
            bodies += [first] * times + [then] * times
        else:
            bodies += [forge.order_json(o)] * times
    for k, (z, r, c) in enumerate(seats):
        t = {"ticketId": persist.new_ticket_id(), "venueId": "Venue1", "eventId": EVENT,
             "zoneId": z, "row": r, "column": c, "price": "320.00", "status": "CREATED",
             "createdOn": forge.stamp()}
        bodies += [persist.forged_copy(t)] * (2 if k % 4 == 0 else 1)
    taken = orders[1]["tickets"][0]
    bodies.append(persist.forged_copy(taken, ticketId=persist.new_ticket_id()))
    return bodies, orders, cancels


def test_answers_equal_a_full_count_after_a_mixed_load():
    rng = random.Random(14)
    bodies, orders, cancels = mixed_stream(rng)
    check(len(orders) > 20 and cancels > 5, "the stream has what it tests")
    for q in forge.QUEUES:
        forge.publish_lines(bodies, q)
    bought = 0
    for row in range(1, 4):
        for zone in (1, 2, 4):
            r = box.buy(HTTP_VENUE, HTTP_EVENT, zone, row, 1)
            check(r.status in (201, 409), "buy: %r" % r)
            bought += r.status == 201
    forge.settled(timeout=300)
    try:
        box.wait_until(lambda: box.queue_count("ticketSQL.dead") == 1, timeout=120,
                       what="the double sale dead-lettered")
    except box.Fail as e:
        raise box.Fail("%s; ticketSQL.dead holds %d, ticketSQL %d ready" % (
            e, box.queue_count("ticketSQL.dead"), box.queue_count("ticketSQL"))) from e
    sold = answers_equal_full_count(EVENT, "Venue1")
    check(0 < sold < sum(len(o["tickets"]) for o in orders) + 20, "some cancelled: %d" % sold)
    eq(answers_equal_full_count(HTTP_EVENT, HTTP_VENUE), bought, "HTTP purchases counted")


def test_check_reports_a_summary_that_differs_and_the_repair_mends_it():
    for row in range(1, 4):
        check(box.buy("Venue2", "Event2", 4, row, 2).status in (201, 409), "buy")
    box.wait_until(lambda: full_count("Event2").get(4, (0,))[0] == 3, timeout=120,
                   what="three tickets in MySQL")
    forge.settled(timeout=120)
    r = box.ticketctl("check", "--wait", "30", "Event2", check_rc=False)
    eq(r.returncode, 0, "check before: %s" % r.stdout[-400:])
    box.sql("UPDATE ticketing.zone_sales SET sold = sold + 1, revenue = revenue + 1 "
            "WHERE event_id = 'Event2' AND zone_id = 4")
    r = box.ticketctl("check", "Event2", check_rc=False)
    check(r.returncode == 1 and "Event2 zone 4: sales summary: 4 sold, revenue 136.00; "
          "the tickets: 3, 135.00" in r.stdout and "zone_sales_repair.sql" in r.stdout,
          "check names the difference: %s" % r.stdout[-600:])
    eq(get("/get/count/Event2")["sold"], 4, "the count answers from the summary")
    with open(os.path.join(box.ROOT, "sql", "zone_sales_repair.sql")) as f:
        subprocess.run([os.path.join(box.ROOT, "scripts", "stack"), "sql"], stdin=f,
                       check=True, capture_output=True)
    r = box.ticketctl("check", "Event2", check_rc=False)
    eq(r.returncode, 0, "check after the repair: %s" % r.stdout[-400:])
    answers_equal_full_count("Event2", "Venue2")


def run_migrations():
    """Every migration in name order, as an upgrade does (scripts/stack)."""
    d = os.path.join(box.ROOT, "sql", "migrations")
    for name in sorted(os.listdir(d)):
        with open(os.path.join(d, name)) as f:
            r = subprocess.run([os.path.join(box.ROOT, "scripts", "stack"), "sql"], stdin=f,
                               capture_output=True, text=True)
        eq(r.returncode, 0, "migration %s: %s" % (name, r.stderr[-400:]))


def triggers():
    return sorted(t for (t,) in box.sql(
        "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = "
        "'ticketing' AND EVENT_OBJECT_TABLE = 'ticket'"))


def test_a_migration_that_failed_before_its_triggers_is_mended_by_the_next_run():
    """Migration 003 back-fills the summary, then creates its triggers.  A
    run that fails in between (no TRIGGER privilege, binary logging without
    SUPER, a killed client: here the triggers dropped after a run) leaves a
    summary no trigger keeps; tickets cancelled meanwhile stay counted.  The
    next run (deploy.md: an upgrade runs them all again) must count them
    afresh.  Would catch: the back-fill skipped because the summary is not
    empty (then stats, count and money stay wrong for good)."""
    want = ["ticket_sales_del", "ticket_sales_ins", "ticket_sales_upd"]
    eq(triggers(), want, "the summary's triggers")
    bought = []
    for col in (1, 2):
        r = box.buy("Venue2", "Event2", 4, 3, col + 2)
        eq(r.status, 201, "buy: " + r.body)
        bought.append(r.json())
    box.wait_until(lambda: full_count("Event2").get(4, (0,))[0] == 5, timeout=120,
                   what="two more tickets in MySQL")
    try:
        box.sql("DROP TRIGGER ticketing.ticket_sales_upd")
        box.sql("DROP TRIGGER ticketing.ticket_sales_del")
        t = bought[0]
        r = box.http("POST", "/tickets/%s/cancel" % t["ticketId"],
                     {"cancelToken": t["cancelToken"]})
        eq(r.status, 200, "cancel: " + r.body)
        box.wait_until(lambda: forge.mysql_ticket(t["ticketId"])[0] == "CANCELLED",
                       timeout=120, what="the cancellation in MySQL")
        eq(get("/get/count/Event2")["sold"], sum(v[0] for v in full_count("Event2").values())
           + 1, "the summary missed the cancellation (the failed run's state)")
    finally:
        run_migrations()
    eq(triggers(), want, "the triggers after the next run")
    answers_equal_full_count("Event2", "Venue2")
    r = box.ticketctl("check", "Event2", check_rc=False)
    eq(r.returncode, 0, "check after the next run: %s" % r.stdout[-400:])
    # and the triggers keep it from there
    t = bought[1]
    r = box.http("POST", "/tickets/%s/cancel" % t["ticketId"], {"cancelToken": t["cancelToken"]})
    eq(r.status, 200, "cancel: " + r.body)
    box.wait_until(lambda: forge.mysql_ticket(t["ticketId"])[0] == "CANCELLED", timeout=120,
                   what="the second cancellation in MySQL")
    answers_equal_full_count("Event2", "Venue2")


if __name__ == "__main__":
    raise SystemExit(box.main(globals()))
