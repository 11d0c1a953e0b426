# SPDX-License-Identifier: ISC
"""ticketctl catalog apply/show (docs/api.md, issue 12), through nginx and
lighttpd: a new venue and event sell at once; show round-trips; a price or
shape change or a removal is refused while anything of the zone or event is
sold (a ticket in MySQL, a seat in Redis, a ticket the consumer holds
unacked behind a gap lock), naming each item and changing nothing in
MySQL or Redis; the same change on an unsold zone works and the new shape
sells its new last seat; removing an unsold event answers 404 at once; a
database of the previous schema is migrated with its data kept."""

import json
import os
import subprocess

import box
import catalog
from box import buy, check, eq

NEW_VENUE = {"venueId": "Venue9", "name": "Club \"Nine\"",
             "zones": [{"zoneId": 1, "rows": 2, "columns": 3, "price": 12.5},
                       {"zoneId": 7, "rows": 1, "columns": 4, "price": 30}]}
NEW_EVENT = {"eventId": "Event9", "venueId": "Venue9", "name": "Late Show", "type": "COMEDY",
             "date": "2027-05-01T21:00:00Z", "status": "SCHEDULED"}


def setup_module():
    catalog.restore()


def teardown_module():
    catalog.restore()


def with_new(doc=None):
    doc = doc or catalog.seed()
    doc["venues"].append(json.loads(json.dumps(NEW_VENUE)))
    doc["events"].append(json.loads(json.dumps(NEW_EVENT)))
    return doc


def test_apply_creates_venue_and_event_that_sell_at_once():
    doc = with_new()
    r = catalog.apply(doc, "--dry-run")
    eq(r.returncode, 0, "dry run: " + r.stderr)
    check("create venue Venue9" in r.stdout and "create event Event9 at Venue9" in r.stdout and
          "create zone Venue9/7: 1x4 at 30.00" in r.stdout, "plan: " + r.stdout)
    check("dry run: nothing changed" in r.stdout, r.stdout)
    eq(buy("Venue9", "Event9", 1, 1, 1).status, 404, "after the dry run")
    r = catalog.apply_ok(doc)
    check("catalog: 4 created, 0 changed, 0 removed" in r.stdout, r.stdout)
    for port, seat in ((box.NGINX, (1, 1)), (box.LIGHTTPD, (2, 3))):
        b = buy("Venue9", "Event9", 1, seat[0], seat[1], port=port)
        eq(b.status, 201, "new event on %d: %s" % (port, b.body))
        eq(b.json()["price"], 12.5, "price")
    eq(buy("Venue9", "Event9", 7, 1, 5).status, 400, "column 5 of a 4-column zone")
    q = box.http("GET", "/get/events/Event9")
    eq(q.status, 200, "query of the new event")
    eq([z["zoneId"] for z in q.json()["zones"]], [1, 7], "zones")
    eq(q.json()["status"], "SCHEDULED", "status")
    eq(q.json()["closesAt"], None, "closesAt")
    check(all(z["onSale"] and z["opensAt"] is None for z in q.json()["zones"]), q.body)


def test_show_round_trips():
    shown = catalog.show()
    eq(catalog.normal(shown), catalog.normal(with_new()), "show after apply")
    r = catalog.apply_ok(shown, "apply of show")
    check("catalog: 0 created, 0 changed, 0 removed" in r.stdout, "not a no-op: " + r.stdout)
    eq(catalog.show(), shown, "show after applying show")


def seat_state(event, zone):
    st = box.zone_state(event, zone)
    return (st["rows"], st["cols"], st["price"], st["taken"], st["left"])


def test_change_of_a_sold_zone_is_refused():
    b = buy("Venue2", "Event2", 4, 2, 2)
    eq(b.status, 201, "sale in Event2 zone 4: " + b.body)
    before_sql = box.sql("SELECT * FROM ticketing.zone WHERE venue_id='Venue2' ORDER BY zone_id")
    before_redis = {e: seat_state(e, 4) for e in ("Event2", "Event3")}
    before_show = catalog.show()
    for change, what in ((lambda z: z.update(rows=4), "shape"),
                         (lambda z: z.update(price=50), "price")):
        doc = with_new()
        change(catalog.zone(doc, "Venue2", 4))
        catalog.event(doc, "Event1")["name"] = "Renamed"   # an allowed change beside it
        r = catalog.apply(doc)
        eq(r.returncode, 1, "%s change of a sold zone: exit status (%s)" % (what, r.stdout))
        check("refused" in r.stderr and "Venue2/4" in r.stderr and "Event2 zone 4" in r.stderr,
              "%s: refusal does not name the item: %s" % (what, r.stderr))
        check("Event3 zone 4" not in r.stderr, "unsold Event3 named: " + r.stderr)
        eq(box.sql("SELECT * FROM ticketing.zone WHERE venue_id='Venue2' ORDER BY zone_id"),
           before_sql, what + ": MySQL zones changed")
        eq({e: seat_state(e, 4) for e in ("Event2", "Event3")}, before_redis,
           what + ": Redis changed")
        eq(catalog.show(), before_show, what + ": catalog changed")
    eq(buy("Venue2", "Event2", 4, 2, 2, port=box.LIGHTTPD).status, 409, "the sold seat")
    for seat in ((2, 1), (2, 3), (1, 2), (3, 2)):
        eq(box.http("GET", "/get/events/Event2/zones/4/seats").json()["rows"][seat[0] - 1]
           ["seats"][seat[1] - 1], "0", "neighbour %r shown free" % (seat,))
    b = buy("Venue2", "Event2", 4, 2, 3)
    eq(b.status, 201, "a neighbour still sells: " + b.body)
    eq(b.json()["price"], 45.0, "at the old price")


def test_change_of_an_unsold_zone_works():
    doc = with_new()
    z = catalog.zone(doc, "Venue2", 3)        # 1 x 8 at 250: unsold in Event2 and Event3
    z.update(rows=2, columns=9, price=260)
    r = catalog.apply_ok(doc, "reshape of an unsold zone")
    check("change zone Venue2/3: 1x8 at 250.00 -> 2x9 at 260.00" in r.stdout, r.stdout)
    # nginx buys in Event2, lighttpd (and Apache, one seat further left) in Event3
    sales = {box.NGINX: ("Event2", 9), box.LIGHTTPD: ("Event3", 9), box.APACHE: ("Event3", 8)}
    for port in box.WEB_PORTS:
        ev, col = sales[port]
        b = buy("Venue2", ev, 3, 2, col, port=port)
        eq(b.status, 201, "new last seats of %s: %s" % (ev, b.body))
        eq(b.json()["price"], 260.0, "new price")
        eq(buy("Venue2", ev, 3, 2, col, port=port).status, 409, "sold once")
        eq(buy("Venue2", ev, 3, 1, 10, port=port).status, 400, "column 10")
    taken = {(2, col) for port, (ev, col) in sales.items() if port in box.WEB_PORTS and ev == "Event3"}
    st = box.zone_state("Event3", 3)
    eq((st["rows"], st["cols"], st["left"], st["taken"]), (2, 9, 18 - len(taken), taken), "Redis of Event3/3")
    eq(box.sql("SELECT row_count, col_count, price FROM ticketing.zone WHERE venue_id='Venue2' "
               "AND zone_id=3"), [["2", "9", "260.00"]], "MySQL")


def test_removal_of_an_unsold_event_answers_404_at_once_and_of_a_sold_one_is_refused():
    doc = catalog.show()
    doc["events"].append({"eventId": "Event8", "venueId": "Venue2", "name": "Gone",
                          "type": "CONCERT", "date": "2027-06-01T20:00:00Z"})
    catalog.apply_ok(doc, "add Event8")
    eq(box.http("GET", "/get/events/Event8").status, 200, "Event8 exists")
    doc["events"] = [e for e in doc["events"] if e["eventId"] != "Event8"]
    r = catalog.apply_ok(doc, "remove Event8")
    check("remove event Event8" in r.stdout, r.stdout)
    for port in box.WEB_PORTS:
        b = buy("Venue2", "Event8", 1, 1, 1, port=port)
        eq(b.status, 404, "removed event on %d: %s" % (port, b.body))
    eq(box.redis("EXISTS", "bo:zone:{Event8:1}", node=box.zone_node("Event8", 1)), 0, "Redis keys")
    eq(box.http("GET", "/get/events/Event8").status, 404, "query")
    # Event9 sold two seats of zone 1 (first test); Venue9 zone 7 is unsold
    doc2 = json.loads(json.dumps(doc))
    doc2["events"] = [e for e in doc2["events"] if e["eventId"] != "Event9"]
    doc2["venues"] = [v for v in doc2["venues"] if v["venueId"] != "Venue9"]
    r = catalog.apply(doc2)
    eq(r.returncode, 1, "removal of a sold event: " + r.stdout)
    check("remove event Event9" in r.stderr and "Event9 zone 1" in r.stderr, r.stderr)
    check("Event9 zone 7" not in r.stderr, "unsold zone named: " + r.stderr)
    eq(buy("Venue9", "Event9", 1, 1, 2).status, 201, "Event9 still sells")
    # a zone of Venue9 that is unsold goes; a sold one is refused
    doc3 = json.loads(json.dumps(doc))
    catalog.venue(doc3, "Venue9")["zones"] = [{"zoneId": 1, "rows": 2, "columns": 3, "price": 12.5}]
    r = catalog.apply_ok(doc3, "remove unsold zone 7")
    eq(buy("Venue9", "Event9", 7, 1, 1).status, 404, "removed zone")
    catalog.venue(doc3, "Venue9")["zones"] = [{"zoneId": 7, "rows": 1, "columns": 4, "price": 30}]
    r = catalog.apply(doc3)
    eq(r.returncode, 1, "removal of sold zone 1")
    check("remove zone Venue9/1" in r.stderr, r.stderr)


def test_ticket_held_by_the_consumer_counts_as_sold():
    """The consumer's insert waits behind a gap lock: the ticket is in no
    table and in no queue one can read, but it is sold."""
    sess = catalog.sql_admin_session()
    try:
        sess.stdin.write("START TRANSACTION; SELECT COUNT(*) FROM ticketing.ticket WHERE "
                         "event_id='Event3' AND zone_id=1 FOR UPDATE; SELECT 'locked';\n")
        sess.stdin.flush()
        check(sess.stdout.readline() and "locked" in sess.stdout.readline(), "admin lock")
        b = buy("Venue2", "Event3", 1, 5, 5)
        eq(b.status, 201, "sale behind the lock: " + b.body)
        box.wait_until(lambda: box.queue_count("ticketSQL") == 0, what="the consumer took it")
        eq(box.sql_count("SELECT COUNT(*) FROM ticketing.ticket WHERE event_id='Event3' AND "
                         "zone_id=1"), 0, "not yet in MySQL")
        doc = catalog.show()
        catalog.zone(doc, "Venue2", 1)["price"] = 151
        r = catalog.apply(doc)
        eq(r.returncode, 1, "price change beside a held ticket: " + r.stdout)
        check("Event3 zone 1" in r.stderr, r.stderr)
        eq(box.sql("SELECT price FROM ticketing.zone WHERE venue_id='Venue2' AND zone_id=1"),
           [["150.00"]], "price in MySQL")
    finally:
        sess.stdin.write("ROLLBACK;\n")
        sess.stdin.close()
        sess.wait(timeout=30)
    box.wait_until(lambda: box.sql_count("SELECT COUNT(*) FROM ticketing.ticket WHERE "
                                         "event_id='Event3' AND zone_id=1") == 1,
                   what="the held ticket persisted")


def test_init_never_reshapes_a_sold_zone():
    """A shape changed behind ticketctl's back (in MySQL) is not put into
    Redis by init while the zone has sales: the old code rewrote rows and
    cols beside the old seat bits, so a sold seat mapped to another one."""
    b = buy("Venue2", "Event2", 2, 2, 3)
    eq(b.status, 201, "sale in Event2 zone 2: " + b.body)
    before = seat_state("Event2", 2)
    box.sql("UPDATE ticketing.zone SET col_count = 13 WHERE venue_id='Venue2' AND zone_id=2")
    try:
        r = catalog.ctl("init")
        eq(r.returncode, 1, "init beside a sold zone of another shape: " + r.stdout)
        check("Event2 zone 2" in r.stderr, r.stderr)
        eq(seat_state("Event2", 2), before, "Redis of the sold zone")
        eq(buy("Venue2", "Event2", 2, 2, 3).status, 409, "the sold seat")
        eq(buy("Venue2", "Event2", 2, 2, 4).status, 201, "its neighbour")
    finally:
        box.sql("UPDATE ticketing.zone SET col_count = 12 WHERE venue_id='Venue2' AND zone_id=2")
    eq(catalog.ctl("init").returncode, 0, "init once MySQL agrees again")


def test_bad_documents_change_nothing():
    before = catalog.show()
    for text, want in (("{", "not a JSON document"),
                       ('{"venues": [], "events": [{"eventId": "E", "venueId": "Nowhere", '
                        '"name": "n", "type": "t", "date": "2027-01-01T00:00:00Z"}]}',
                        "venue Nowhere is not in the catalog")):
        p = os.path.join(box.ENV.get("BOX_VAR", "/tmp"), "bad-catalog.json")
        with open(p, "w") as f:
            f.write(text)
        r = catalog.ctl("catalog", "apply", p)
        eq(r.returncode, 1, "bad document")
        check(want in r.stderr, r.stderr)
    eq(catalog.show(), before, "catalog after bad documents")
    eq(catalog.ctl("catalog", "frob").returncode, 2, "usage")


def test_a_misspelt_member_is_refused():
    """A staged release misspelt ("onsale") was left out in silence, and
    the event's every zone went on sale at once; now the document is
    refused by the member's name and nothing changes."""
    before = catalog.show()
    doc = json.loads(json.dumps(before))
    event = next(e for e in doc["events"] if e["eventId"] == "Event2")
    event["onsale"] = [{"fromZone": 1, "toZone": 4, "opensAt": "2030-01-01T00:00:00Z"}]
    r = catalog.apply(doc)
    eq(r.returncode, 1, "misspelt member: exit status (%s)" % r.stdout)
    check('event Event2: unknown member "onsale"' in r.stderr, r.stderr)
    eq(catalog.show(), before, "catalog after the refusal")


def test_a_member_given_twice_is_refused():
    """json-c keeps the last of a member given twice: a document with
    "name" twice was applied with the second, in silence (as would a
    "status": "SCHEDULED" after "CANCELLED" reopen a cancelled event).  Now
    it is refused by the member's name and nothing changes."""
    before = catalog.show()
    doc = json.loads(json.dumps(before))
    event = next(e for e in doc["events"] if e["eventId"] == "Event2")
    first = event["name"]
    event["name"] = first + " (renamed)"
    text = json.dumps(doc)
    anchor = '{"eventId": "Event2"'
    eq(text.count(anchor), 1, "Event2 in the document")
    text = text.replace(anchor, '{"name": %s, "eventId": "Event2"' % json.dumps(first))
    p = os.path.join(box.ENV.get("BOX_VAR", "/tmp"), "twice-catalog.json")
    with open(p, "w") as f:
        f.write(text)
    r = catalog.ctl("catalog", "apply", p)
    eq(r.returncode, 1, "a member given twice: exit status (%s)" % r.stdout)
    check('member "name" given twice in one object' in r.stderr, r.stderr)
    eq(catalog.show(), before, "catalog after the refusal")


def test_price_too_dear_for_an_order_is_refused():
    """A seat may cost at most 9,999,999.99: ten of them (the largest order)
    must fit the order's total, DECIMAL(10,2) in MySQL and the consumer's
    parser, or a 201 would be dead-lettered. A dearer zone is refused by
    name and nothing changes; at the dearest price an order of ten persists."""
    before = catalog.show()
    doc = json.loads(json.dumps(before))
    doc["venues"].append({"venueId": "Venue7", "name": "Vault",
                          "zones": [{"zoneId": 1, "rows": 1, "columns": 10, "price": 10000000},
                                    {"zoneId": 2, "rows": 1, "columns": 2, "price": 5}]})
    doc["events"].append({"eventId": "Event7", "venueId": "Venue7", "name": "Gala",
                          "type": "GALA", "date": "2027-07-01T20:00:00Z"})
    for price in (10000000, 10000000.00, 12345678.9, 99999999.99):
        catalog.zone(doc, "Venue7", 1)["price"] = price
        r = catalog.apply(doc)
        eq(r.returncode, 1, "zone at %r: exit status (%s)" % (price, r.stdout))
        check('venue Venue7 zone 1: "price" must be 0..9999999.99 (an order of 10 seats '
              'must fit a total of 99999999.99)' in r.stderr, r.stderr)
        eq(catalog.show(), before, "catalog after the refusal of %r" % price)
    eq(buy("Venue7", "Event7", 2, 1, 1).status, 404, "nothing of the refused file applied")
    catalog.zone(doc, "Venue7", 1)["price"] = 9999999.99
    catalog.apply_ok(doc, "the dearest price")
    dead = (box.queue_count("ticketSQL.dead"), box.queue_count("ticketNoSQL.dead"))
    r = box.http("POST", "/orders", {"venueId": "Venue7", "eventId": "Event7", "zoneId": 1,
                                     "seats": [{"row": 1, "column": c} for c in range(1, 11)]})
    eq(r.status, 201, "order of ten: " + r.body)
    eq(r.body.split('"total":')[1].split(",")[0], "99999999.90", "total")
    oid = r.json()["orderId"]
    box.wait_until(lambda: box.sql_count("SELECT COUNT(*) FROM ticketing.ticket WHERE order_id "
                                         "= '%s'" % oid) == 10, timeout=120,
                   what="the order of ten in MySQL")
    eq(box.sql("SELECT total FROM ticketing.orders WHERE order_id = '%s'" % oid),
       [["99999999.90"]], "orders.total")
    box.wait_until(lambda: len([it for it in box.ddb_items() if it.get("orderId") == oid]) == 10,
                   timeout=120, what="the order of ten in DynamoDB")
    eq((box.queue_count("ticketSQL.dead"), box.queue_count("ticketNoSQL.dead")), dead,
       "nothing dead-lettered")


def test_a_zone_whose_seat_map_cannot_be_answered_is_refused():
    """A zone may have at most 1,000,000 seats: its seat map must fit one
    answer (8 MiB).  Would catch: a 10000 x 10000 zone accepted (its seat
    map a 500 on every request, after reading 12.5 MB of Redis), or the
    largest zones of either shape refused or their seat maps failing."""
    before = catalog.show()
    doc = json.loads(json.dumps(before))
    doc["venues"].append({"venueId": "Venue8", "name": "Dome",
                          "zones": [{"zoneId": 1, "rows": 10000, "columns": 100, "price": 5},
                                    {"zoneId": 2, "rows": 1000, "columns": 1000, "price": 5}]})
    doc["events"].append({"eventId": "Event8", "venueId": "Venue8", "name": "Rally",
                          "type": "RALLY", "date": "2027-08-01T20:00:00Z"})
    for rows, cols in ((1001, 1000), (10000, 10000)):
        catalog.zone(doc, "Venue8", 2).update(rows=rows, columns=cols)
        r = catalog.apply(doc)
        eq(r.returncode, 1, "a zone of %d x %d: exit status (%s)" % (rows, cols, r.stdout))
        check("venue Venue8 zone 2: %d rows x %d columns is %d seats, more than a zone may "
              "have (1000000: its seat map must fit one answer)" % (rows, cols, rows * cols)
              in r.stderr, r.stderr)
        eq(catalog.show(), before, "catalog after the refusal of %d x %d" % (rows, cols))
    catalog.zone(doc, "Venue8", 2).update(rows=1000, columns=1000)
    catalog.apply_ok(doc, "the largest zones")
    eq(buy("Venue8", "Event8", 1, 10000, 100).status, 201, "the last seat of 10000 x 100")
    for zone, rows, cols in ((1, 10000, 100), (2, 1000, 1000)):
        r = box.http("GET", "/get/events/Event8/zones/%d/seats" % zone)
        eq(r.status, 200, "the seat map of %d x %d: %s" % (rows, cols, r.body[:200]))
        m = r.json()
        eq((m["rowCount"], m["colCount"], len(m["rows"])), (rows, cols, rows),
           "the seat map of %d x %d" % (rows, cols))
        eq({len(x["seats"]) for x in m["rows"]}, {cols}, "a row's seats")
        check(len(r.body) < 1.5 * 1024 * 1024, "a seat map of %d bytes" % len(r.body))
    eq(box.http("GET", "/get/events/Event8/zones/1/seats").json()["rows"][-1]["seats"],
       "0" * 99 + "1", "the seat sold")


def test_status_counts_every_event_of_a_large_catalog():
    """The catalog may hold 10,000 events; `ticketctl status` counts each
    one.  Would catch: the events past 4096 dropped from its table with
    exit status 0 (a fixed array)."""
    doc = catalog.show()
    doc["venues"].append({"venueId": "Venue5", "name": "Hall",
                          "zones": [{"zoneId": 1, "rows": 1, "columns": 1, "price": 1}]})
    n = 4200 - len(doc["events"])
    doc["events"] += [{"eventId": "Many%04d" % i, "venueId": "Venue5", "name": "Night %d" % i,
                       "type": "CONCERT", "date": "2027-09-01T20:00:00Z"} for i in range(n)]
    catalog.apply_ok(doc, "%d events" % len(doc["events"]))
    eq(buy("Venue5", "Many%04d" % (n - 1), 1, 1, 1).status, 201, "the last event sells")
    r = box.ticketctl("status", "--no-scan", check_rc=False)
    eq(r.returncode, 0, "status: %s" % r.stderr)
    rows = [ln.split() for ln in r.stdout.splitlines() if ln.split() and
            ln.split()[0].startswith("Many")]
    eq(len(rows), n, "events of the status table")
    last = [x for x in rows if x[0] == "Many%04d" % (n - 1)][0]
    eq(last[1:3], ["1", "1"], "the last event's capacity and seats taken in Redis")


def test_previous_schema_is_migrated():
    """A database made by the previous sql/schema.sql (seed rows and a
    ticket in it) gets the new columns and keeps its data."""
    with open(os.path.join(box.ROOT, "tests", "fixtures", "schema-round1.sql")) as f:
        old = f.read()
    old = old.replace("ticketing", "ticketing_old")
    mig = os.path.join(box.ROOT, "sql", "migrations")
    box.sql("DROP DATABASE IF EXISTS ticketing_old")
    subprocess.run([os.path.join(box.ROOT, "scripts", "stack"), "sql"], input=old, text=True,
                   check=True, capture_output=True)
    box.sql("INSERT INTO ticketing_old.ticket VALUES ('01a00000-0000-7000-8000-000000000001',"
            "'Venue2','Event2',1,1,1,150.00,'CREATED','2026-11-01 10:00:00.000')")
    for f in sorted(os.listdir(mig)):
        for _ in range(2):      # idempotent
            with open(os.path.join(mig, f)) as m:
                subprocess.run([os.path.join(box.ROOT, "scripts", "stack"), "sql"],
                               input="USE ticketing_old;\n" + m.read(), text=True, check=True,
                               capture_output=True)
    eq(box.sql("SELECT event_id, status, closes_at FROM ticketing_old.event ORDER BY event_id"),
       [["Event1", "SCHEDULED", "NULL"], ["Event2", "SCHEDULED", "NULL"],
        ["Event3", "SCHEDULED", "NULL"]], "migrated events")
    eq(box.sql_count("SELECT COUNT(*) FROM ticketing_old.event_onsale"), 0, "windows table")
    eq(box.sql_count("SELECT COUNT(*) FROM ticketing_old.ticket"), 1, "ticket kept")
    eq(box.sql_count("SELECT COUNT(*) FROM ticketing_old.zone"), 104, "zones kept")
    box.sql("DROP DATABASE ticketing_old")


if __name__ == "__main__":
    raise SystemExit(box.main(globals()))
