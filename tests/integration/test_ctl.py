# SPDX-License-Identifier: ISC
"""ticketctl against the real stores: usage and exit codes; `check` finds
differences introduced here on purpose (a counter, a missing DynamoDB item,
a sold seat that Redis forgot, a ticket stuck in a dead-letter queue) and
is clean again once they are repaired; `init` refuses to create counters
beside sold seats after a Redis loss and `rebuild` restores them from MySQL
and the queue, after which the sold seats cannot be sold again; `status`;
`dlq` list and requeue."""

import json
import os
import re
import subprocess

import box
import forge
from box import buy, check, eq, http

SQL_EVENT1 = "SELECT COUNT(*) FROM ticketing.ticket WHERE event_id = 'Event1'"


def ctl(*args):
    return box.ticketctl(*args, check_rc=False)


def expect_rc(r, rc, what):
    eq(r.returncode, rc, "%s exit status (stdout %r, stderr %r)" % (what, r.stdout[-800:],
                                                                     r.stderr[-800:]))


def sold(seats):
    """Buys each seat (venue, event, zone, row, col); returns the ticket ids."""
    ids = []
    for s in seats:
        r = buy(*s)
        eq(r.status, 201, "buy %r: %s" % (s, r.body))
        ids.append(r.json()["ticketId"])
    return ids


def wait_persisted(n_mysql, n_ddb, timeout=60):
    box.wait_until(lambda: box.sql_count("SELECT COUNT(*) FROM ticketing.ticket") == n_mysql and
                   box.ddb_count() == n_ddb, timeout=timeout,
                   what="%d tickets in MySQL and %d in DynamoDB" % (n_mysql, n_ddb))


def clean_check():
    r = ctl("check", "--wait", "30")
    expect_rc(r, 0, "check")
    check("check: 0 difference(s)" in r.stdout, "no summary line: %s" % r.stdout)
    return r.stdout


def zone_keys(event, zone):
    tag = "%s:%d" % (event, zone)
    return ["bo:%s:{%s}" % (k, tag) for k in ("zone", "left", "seat", "own", "pend", "sweep")]


def rz(event, zone, *args):
    """A Redis command on the node of an event zone."""
    return box.redis(*args, node=box.zone_node(event, zone))


BOUGHT = []   # (seat, ticketId) sold by test_check_clean_after_sales


def setup_module():
    box.stack("reset")


def test_usage_and_exit_codes():
    r = ctl("--help")
    expect_rc(r, 0, "--help")
    for cmd in ("init", "rebuild", "check", "status", "dlq", "reset"):
        check(re.search(r"^  %s " % cmd, r.stdout, re.M), "%s not listed: %s" % (cmd, r.stdout))
        h = ctl(cmd, "--help")
        expect_rc(h, 0, cmd + " --help")
        check(h.stdout.startswith("usage: ticketctl"), cmd + " --help: " + h.stdout)
        check("exit status: 0 ok, 1 differences found or a failure, 2 usage error" in h.stdout,
              cmd + " --help names no exit codes")
    for args in (("bogus",), ("check", "--wait", "x"), ("check", "--frobnicate"), ("reset",),
                 ("rebuild", "not an id!"), ("status", "extra"), ("dlq", "requeue", "nope"),
                 ("dlq", "--queue", "other"), ("init", "x")):
        r = ctl(*args)
        expect_rc(r, 2, "ticketctl %s" % " ".join(args))
        check(r.stderr.strip(), "usage error without a message: %r" % (args,))
    r = subprocess.run([os.path.join(box.BIN, "ticketctl"), "-c", "/nonexistent.conf", "status"],
                       capture_output=True, text=True)
    expect_rc(r, 1, "missing config file")
    check("nonexistent" in r.stderr, "error does not name the file: " + r.stderr)


def test_check_clean_after_sales():
    seats = [("Venue1", "Event1", z, 4, c) for z in (1, 2, 3, 40) for c in (1, 2, 3)] + \
            [("Venue2", "Event2", 1, 1, 1), ("Venue2", "Event3", 3, 1, 8)]
    ids = sold(seats)
    BOUGHT.extend(zip(seats, ids))
    wait_persisted(len(ids), len(ids))
    out = clean_check()
    rows = {l.split()[0]: l.split()[1:] for l in out.splitlines() if l.startswith("Event")}
    # zones capacity redis mysql dynamodb pending queued held cancelling
    eq(rows["Event1"], ["100", "78000", "12", "12", "12", "0", "0", "0", "0"], "Event1 line")
    eq(rows["Event2"], ["4", "280", "1", "1", "1", "0", "0", "0", "0"], "Event2 line")
    eq(rows["Event3"], ["4", "280", "1", "1", "1", "0", "0", "0", "0"], "Event3 line")
    r = ctl("check", "Event2")
    expect_rc(r, 0, "check Event2")
    check("Event1" not in r.stdout, "check Event2 shows Event1")


def test_status():
    r = ctl("status")
    expect_rc(r, 0, "status")
    for q in ("ticketSQL", "ticketNoSQL", "ticketSQL.dead", "ticketNoSQL.dead"):
        check(re.search(r"^  %s\s+0\s+\d+$" % re.escape(q), r.stdout, re.M),
              "queue %s not shown: %s" % (q, r.stdout))
    check(re.search(r"^  ticketSQL\s+0\s+1$", r.stdout, re.M), "consumer not counted")
    check(re.search(r"^  Event1\s+78000\s+12\s+0\s+12\s+12\s+0$", r.stdout, re.M),
          "Event1 sold line: " + r.stdout)
    for name in box.redis_names():
        check(re.search(r"^  %s  memory \S+ .*event zones$" % re.escape(name), r.stdout, re.M),
              "redis node %s: %s" % (name, r.stdout))
    r = ctl("status", "--no-scan")
    expect_rc(r, 0, "status --no-scan")
    check(re.search(r"^  Event1\s+78000\s+12\s+0\s+12\s+-\s+0$", r.stdout, re.M), r.stdout)


def test_status_counts_held_seats_apart():
    """Seats of an active hold are taken in the Redis counters, not sold:
    status shows them in the held column, not in redis (where MySQL and
    DynamoDB would never catch up with them); once the hold is released
    they are in neither."""
    def event2():
        r = ctl("status")
        expect_rc(r, 0, "status")
        line = [ln.split() for ln in r.stdout.splitlines() if ln.split()[:1] == ["Event2"]]
        check(line, "Event2 line: " + r.stdout)
        return line[0][1:]
    before = event2()
    r = http("POST", "/holds", {"venueId": "Venue2", "eventId": "Event2", "zoneId": 1,
                                "seats": [{"row": 10, "column": 18}, {"row": 10, "column": 19},
                                          {"row": 10, "column": 20}]})
    eq(r.status, 201, "hold: %s" % r.body)
    held = event2()
    eq((held[1], held[5]), (before[1], str(int(before[5]) + 3)),
       "Event2's redis and held columns with a hold of 3 (before: %r)" % before)
    r = http("DELETE", "/holds/%s" % r.json()["holdId"])
    eq(r.status, 204, "release: %s" % r.body)
    eq(event2(), before, "Event2's line after the release")


def test_check_finds_a_wrong_counter():
    rz("Event1", 2, "HINCRBY", "bo:left:{Event1:2}", "z", 1)
    try:
        r = ctl("check")
        expect_rc(r, 1, "check with a wrong zone counter")
        check("Event1 zone 2: zone counter says 778 left, the seat bits 777" in r.stdout,
              "difference not reported: " + r.stdout)
        check("check: 1 difference(s)" in r.stdout, r.stdout)
    finally:
        rz("Event1", 2, "HINCRBY", "bo:left:{Event1:2}", "z", -1)
    clean_check()


def test_check_finds_a_missing_dynamodb_item():
    (seat, tid) = BOUGHT[0]
    code, res = box.ddb("GetItem", {"TableName": "Tickets", "Key": {"ticketId": {"S": tid}}})
    eq(code, 200, "GetItem")
    item = res["Item"]
    eq(box.ddb("DeleteItem", {"TableName": "Tickets", "Key": {"ticketId": {"S": tid}}})[0], 200,
       "DeleteItem")
    try:
        r = ctl("check", "Event1")
        expect_rc(r, 1, "check with an item missing")
        check(re.search(r"Event1 zone 1: ticket %s \(row 4 column 1\) in MySQL, not in DynamoDB"
                        % tid, r.stdout), "difference not reported: " + r.stdout)
    finally:
        eq(box.ddb("PutItem", {"TableName": "Tickets", "Item": item})[0], 200, "PutItem")
    clean_check()


DEAD_PORT = int(os.environ.get("BOX_SPARE_PORT_BASE", "30200")) + 7   # nothing listens


def ddb_status(tid):
    return (forge.ddb_item(tid) or {}).get("status")


def sql_status(tid):
    rows = box.sql("SELECT status FROM ticketing.ticket WHERE ticket_id = '%s'" % tid)
    return rows[0][0] if rows else None


def test_check_counts_a_cancel_one_store_has_not_applied_yet():
    """Each pipeline of the consumer goes at its own pace: a cancellation
    MySQL has applied while DynamoDB cannot be reached (its cancel waits in
    ticketNoSQL), and the other way round, is "cancelling", not a
    difference.  Would catch: check reporting the ticket "in DynamoDB, not
    in MySQL, not queued" (its live item was excused only against
    ticketSQL, with its seat still owned), or "in MySQL, not in DynamoDB,
    not queued" (its live row counted against ticketNoSQL).  check runs
    with that consumer stopped: a running consumer's unacked messages are
    not counted."""
    cases = (("DynamoDB", {"BOXOFFICE_DYNAMODB_ENDPOINT": "http://127.0.0.1:%d" % DEAD_PORT},
              sql_status, ddb_status, 4),
             ("MySQL", {"BOXOFFICE_MYSQL_PORT": str(DEAD_PORT)}, ddb_status, sql_status, 5))
    for down, env, applied, behind, col in cases:
        b = buy("Venue1", "Event1", 2, 1, col)
        eq(b.status, 201, "buy: " + b.body)
        tid, token = b.json()["ticketId"], b.json()["cancelToken"]
        box.wait_until(lambda: sql_status(tid) == "CREATED" and ddb_status(tid) == "CREATED",
                       what="ticket %s in both stores" % tid)
        box.stack("stop", "consumer")
        e = dict(os.environ, BOXOFFICE_LOG_FILE="/tmp/box-test-onesided.log", **env)
        p = subprocess.Popen([os.path.join(box.BIN, "consumer"), "-c", box.CONF], env=e,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            c = box.http("POST", "/tickets/%s/cancel" % tid, {"cancelToken": token})
            eq(c.status, 200, "cancel: " + c.body)
            box.wait_until(lambda: applied(tid) == "CANCELLED", timeout=60,
                           what="the cancel applied where %s is not" % down)
            eq(behind(tid), "CREATED", "the ticket in %s (unreachable)" % down)
            # stopped, it gives back the cancel it held for the store it
            # could not reach: check counts the queue's messages
            p.terminate()
            p.wait(60)
            r = ctl("check", "Event1")
            expect_rc(r, 0, "check with %s behind on a cancel" % down)
            check("check: 0 difference(s)" in r.stdout, r.stdout)
        finally:
            if p.poll() is None:
                p.terminate()
                p.wait(60)
            box.stack("start", "consumer")
        box.wait_until(lambda: behind(tid) == "CANCELLED", timeout=60,
                       what="the cancel applied in %s once it is back" % down)
    clean_check()


def test_check_counts_every_ticket_of_a_queued_order():
    """An order of four seats is one message in each queue: with the
    consumer stopped, check counts its four tickets queued.  Would catch:
    each queued message excusing one missing ticket, the other three
    reported "not in MySQL, not pending, not queued" (exit 1) though
    nothing is lost."""
    box.stack("stop", "consumer")
    try:
        r = http("POST", "/orders", {"venueId": "Venue2", "eventId": "Event2", "zoneId": 3,
                                     "quantity": 4})
        eq(r.status, 201, "an order of four: " + r.body)
        eq(box.queue_count("ticketSQL"), 1, "messages in ticketSQL")
        r = ctl("check", "Event2")
        expect_rc(r, 0, "check with the order queued (stdout %r)" % r.stdout)
        check("not queued" not in r.stdout, r.stdout)
        row = next(l.split()[1:] for l in r.stdout.splitlines() if l.startswith("Event2"))
        eq(row[6], "4", "Event2's queued tickets (%s)" % r.stdout)
    finally:
        box.stack("start", "consumer")
    clean_check()


def test_check_finds_a_sold_seat_free_in_redis_and_rebuild_repairs_it():
    """The last second of an AOF lost: a seat sold and persisted, free again
    in Redis (counters present, so init sees nothing wrong)."""
    (seat, tid) = BOUGHT[3]          # Event1 zone 2 row 4 column 1
    zone = seat[2]
    bit = (seat[3] - 1) * 30 + seat[4] - 1
    rz("Event1", zone, "SETBIT", "bo:seat:{Event1:%d}" % zone, bit, 0)
    rz("Event1", zone, "HDEL", "bo:own:{Event1:%d}" % zone, bit)
    rz("Event1", zone, "HINCRBY", "bo:left:{Event1:%d}" % zone, "z", 1)
    rz("Event1", zone, "HINCRBY", "bo:left:{Event1:%d}" % zone, "r4", 1)
    r = ctl("check")
    expect_rc(r, 1, "check with a forgotten seat")
    check("Event1 zone 2: row 4 column 1: sold in MySQL (ticket %s) but free in Redis" % tid
          in r.stdout, "difference not reported: " + r.stdout)
    r = ctl("rebuild", "--all", "Event1")
    expect_rc(r, 1, "rebuild with the consumer running")
    check("consumer(s) attached" in r.stderr, "refusal not explained: " + r.stderr)
    box.stack("stop", "consumer")
    try:
        r = ctl("rebuild", "--all", "Event1")
        expect_rc(r, 0, "rebuild --all Event1")
        check("rebuild: 100 event zone(s): 100 rebuilt, 0 kept" in r.stdout, r.stdout)
        check("Event1 zone 2: rebuilt: 780 seats, 3 sold (3 in MySQL, 0 queued, 0 dead-lettered, "
              "0 pending, 0 only in Redis), 777 left" in r.stdout, r.stdout)
    finally:
        box.stack("start", "consumer")
    eq(buy(*seat).json().get("error"), "SEAT_TAKEN", "the forgotten seat after rebuild")
    clean_check()


def test_init_refuses_after_redis_loss_and_rebuild_restores():
    """Redis loses Event1 while sales are queued: init must not create full
    counters (those seats would be sold again); rebuild recomputes them from
    MySQL and the tickets still in ticketSQL."""
    box.stack("stop", "consumer")
    try:
        queued = [("Venue1", "Event1", 3, 9, c) for c in (1, 2)] + [("Venue1", "Event1", 7, 1, 1)]
        qids = sold(queued)
        eq(box.queue_count("ticketSQL"), 3, "tickets waiting in ticketSQL")
        for z in range(1, 101):
            rz("Event1", z, "DEL", *zone_keys("Event1", z))
        r = ctl("init")
        expect_rc(r, 1, "init after the loss")
        # zones with tickets in MySQL, and (ticketSQL holds messages whose
        # zones init does not read) every other zone that was loaded
        for z in (1, 2, 3, 40):
            check(re.search(r"Event1 zone %d: no counters in Redis, but \d+ ticket\(s\) of it "
                            r"are in MySQL" % z, r.stderr), "zone %d not refused: %s" % (z, r.stderr))
        for z in (5, 7, 100):
            check(re.search(r"Event1 zone %d: no counters in Redis, and its sales cannot all be "
                            r"seen: ticketSQL holds 3 message\(s\)" % z, r.stderr),
                  "zone %d not refused: %s" % (z, r.stderr))
        check("run `ticketctl rebuild`" in r.stderr, r.stderr)
        check("redis: 108 event zones on %d node(s): 8 kept, 0 created, 100 refused"
              % len(box.REDIS_PORTS) in r.stdout, r.stdout)
        eq(rz("Event1", 3, "EXISTS", "bo:left:{Event1:3}"), 0, "counters created anyway")
        eq(buy("Venue1", "Event1", 3, 9, 1).status, 404, "a refused zone sells nothing")
        eq(buy("Venue1", "Event1", 5, 1, 1).status, 404, "a zone refused for the queue")
        eq(buy("Venue2", "Event2", 4, 1, 1).status, 201, "an untouched zone sells")
        r = ctl("rebuild")
        expect_rc(r, 0, "rebuild")
        check("ticketSQL: 4 message(s) read and left in the queue, 4 ticket(s)" in r.stdout,
              r.stdout)
        check("Event1 zone 3: rebuilt: 780 seats, 5 sold (3 in MySQL, 2 queued" in r.stdout,
              r.stdout)
        check("Event1 zone 7: rebuilt: 780 seats, 1 sold (0 in MySQL, 1 queued" in r.stdout,
              r.stdout)
        check("rebuild: 108 event zone(s): 100 rebuilt, 8 kept" in r.stdout, r.stdout)
        eq(box.queue_count("ticketSQL"), 4, "rebuild left the messages in the queue")
        r = ctl("init")
        expect_rc(r, 0, "init after rebuild")
    finally:
        box.stack("start", "consumer")
    for (seat, _) in BOUGHT[:9]:
        eq(buy(*seat).json().get("error"), "SEAT_TAKEN", "seat %r sold again" % (seat,))
    for seat in queued:
        eq(buy(*seat).json().get("error"), "SEAT_TAKEN", "queued seat %r sold again" % (seat,))
    st = box.zone_state("Event1", 3)
    eq(st["left"], 775, "zone 3 counter")
    eq(st["row_left"][9], 28, "zone 3 row 9 counter")
    eq(st["owners"][8 * 30], qids[0], "owner of a queued seat")
    clean_check()


def test_rebuild_all_leaves_a_seat_cancelled_in_redis_free():
    """A ticket cancelled while the broker was down: Redis freed its seat
    and recorded the cancel (c:<ticketId> in bo:ords), its message waits in
    Redis for the sweeper, MySQL still has the ticket live, no queue has
    the cancel.  `rebuild --all` (the consumer stopped, as it must be)
    leaves the seat free; then the sweeper publishes the cancel and the
    seat sells again.  Would catch: the seat taken again from MySQL's row,
    for good (a repeated cancel frees nothing: the record exists)."""
    r = buy("Venue1", "Event1", 9, 2, 2)
    eq(r.status, 201, "buy: " + r.body)
    tid, tok = r.json()["ticketId"], r.json()["cancelToken"]
    box.wait_until(lambda: box.sql_count("SELECT COUNT(*) FROM ticketing.ticket WHERE "
                                         "ticket_id = '%s'" % tid) == 1, timeout=60,
                   what="the ticket in MySQL")
    box.stack("stop", "consumer")       # its sweeper would publish the cancel
    try:
        box.stack("stop", "rabbitmq")
        try:
            c = box.http("POST", "/tickets/%s/cancel" % tid, {"cancelToken": tok})
        finally:
            box.stack("start", "rabbitmq")
        eq(c.status, 503, "the cancel while the broker is down: " + c.body)
        check(rz("Event1", 9, "HGET", "bo:ords:{Event1:9}", "c:" + tid), "the cancel recorded")
        check((2, 2) not in box.zone_state("Event1", 9)["taken"], "the seat freed by the cancel")
        r = ctl("rebuild", "--all", "Event1")
        expect_rc(r, 0, "rebuild --all")
        st = box.zone_state("Event1", 9)
        check((2, 2) not in st["taken"] and 30 + 1 not in st["owners"],
              "the seat cancelled in Redis is still free after rebuild --all: %s" % r.stdout)
        check("Event1 zone 9: 1 ticket(s) cancelled in Redis, not yet in MySQL nor ticketSQL"
              in r.stdout, r.stdout)
    finally:
        box.stack("start", "consumer")
    box.wait_until(lambda: box.sql("SELECT status FROM ticketing.ticket WHERE ticket_id = '%s'"
                                   % tid) == [["CANCELLED"]], timeout=60,
                   what="the sweeper's cancel in MySQL")
    eq(buy("Venue1", "Event1", 9, 2, 2).status, 201, "the seat sells again")
    clean_check()


def test_rebuild_a_zone_with_more_queued_tickets_than_one_query_asks_about():
    """rebuild asks MySQL which of the tickets it found outside MySQL (the
    queue, Redis's owners) are cancelled there, 500 ids a query.  A zone
    whose counters Redis lost with 600 sold seats still queued (the
    consumer stopped: MySQL was down) is rebuilt whole.  Would catch: the
    query's buffer sized for a shorter head than its own, so that the
    500th id ran past its end (AddressSanitizer: stack-buffer-overflow in
    mysql_cancelled; without it, a cut query MySQL refuses, and the zone
    stays fenced: no sales, rebuild exit 1)."""
    zone = 41
    box.stack("stop", "consumer")
    try:
        for i in range(60):
            r = http("POST", "/orders", {"venueId": "Venue1", "eventId": "Event1",
                                         "zoneId": zone, "quantity": 10})
            eq(r.status, 201, "order %d of ten seats: %s" % (i, r.body))
            if i == 0:
                first = r.json()["tickets"][0]
        rz("Event1", zone, "DEL", "bo:left:{Event1:%d}" % zone)
        r = ctl("rebuild", "Event1")
        expect_rc(r, 0, "rebuild Event1")
        check("Event1 zone %d: rebuilt: 780 seats, 600 sold (0 in MySQL, 600 queued, "
              "0 dead-lettered, 0 pending, 0 only in Redis), 180 left" % zone in r.stdout,
              r.stdout)
        st = box.zone_state("Event1", zone)
        eq((len(st["taken"]), st["left"]), (600, 180), "seats taken and left after rebuild")
        # the lookup cache rebuild writes for a queued ticket is the one a
        # sale writes: the ticket, then its orderId (MySQL has no row yet)
        r = http("GET", "/get/tickets/%s" % first["ticketId"])
        eq((r.status, r.json()), (200, first), "the ticket's lookup after rebuild")
    finally:
        box.stack("start", "consumer")
    # the orders filled rows 1-20 (best available: the lowest row first)
    eq(buy("Venue1", "Event1", zone, first["row"], first["column"]).json().get("error"),
       "ROW_SOLD_OUT", "a seat of the first order after rebuild")
    clean_check()


def test_rebuild_leaves_free_a_queued_ticket_whose_cancel_mysql_holds():
    """The consumer stored a cancellation before its order (the order
    still queued: consumer.md, "a cancel seen first"): MySQL logs it in
    ticket_cancel and has no ticket row yet.  Redis then loses the zone's
    counters; rebuild must leave the seat free, as the consumer will store
    the ticket CANCELLED.  Would catch: rebuild asking only the ticket
    table (live_seat NULL), so that the queued order's ticket took the seat
    for good (nothing would ever cancel it again: check's "sold in Redis,
    not in MySQL")."""
    zone = 42
    o = forge.order([(1, 1)], zone=zone, price=box.zone_state("Event1", zone)["price"])
    tid = o["tickets"][0]["ticketId"]
    forge.publish_cancel(forge.cancel(o))
    box.wait_until(lambda: box.sql_count("SELECT COUNT(*) FROM ticketing.ticket_cancel WHERE "
                                         "ticket_id = '%s'" % tid) == 1, timeout=60,
                   what="the cancel logged in ticket_cancel")
    box.stack("stop", "consumer")
    try:
        forge.publish_order(o)
        eq(box.queue_count("ticketSQL"), 1, "the order queued")
        rz("Event1", zone, "DEL", "bo:left:{Event1:%d}" % zone)
        r = ctl("rebuild", "Event1")
        expect_rc(r, 0, "rebuild Event1")
        check("Event1 zone %d: 1 ticket(s) of a queue, a dead-letter queue or a pending set "
              "that MySQL has cancelled: their seats left free" % zone in r.stdout, r.stdout)
        eq(box.zone_state("Event1", zone)["taken"], set(), "the cancelled ticket's seat")
    finally:
        box.stack("start", "consumer")
    box.wait_until(lambda: (forge.mysql_ticket(tid) or ("",))[0] == "CANCELLED", timeout=60,
                   what="the order stored, its ticket CANCELLED")
    eq(buy("Venue1", "Event1", zone, 1, 1).status, 201, "the seat sells")
    clean_check()


def test_dlq_list_and_requeue():
    """A ticket the MySQL pipeline gave up on (its order message moved to
    ticketSQL.dead here): check points at the dead-letter queue; dlq lists
    the message by its orderId; after `dlq requeue` of that id the ticket
    is in MySQL and the stores agree."""
    box.stack("stop", "consumer")
    try:
        r = buy("Venue2", "Event2", 2, 5, 12)
        eq(r.status, 201, "buy")
        tid, oid = r.json()["ticketId"], r.json()["orderId"]
        msgs = box.queue_get("ticketSQL")
        eq(len(msgs), 1, "one message in ticketSQL")
        m = json.loads(msgs[0])
        eq((m["type"], m["orderId"], [t["ticketId"] for t in m["tickets"]]),
           ("order", oid, [tid]), "the order of one in ticketSQL")
        box.mqtool("publish", "-q", "ticketSQL.dead", msgs[0])
    finally:
        box.stack("start", "consumer")
    box.wait_until(lambda: box.ddb_count() == box.sql_count("SELECT COUNT(*) FROM ticketing.ticket")
                   + 1, timeout=60, what="the ticket in DynamoDB only")
    r = ctl("check")
    expect_rc(r, 1, "check with a dead-lettered ticket")
    check(re.search(r"ticket %s .* in DynamoDB, not in MySQL, not queued \(ticketSQL\.dead "
                    r"holds messages: ticketctl dlq\)" % tid, r.stdout), r.stdout)
    r = ctl("dlq")
    expect_rc(r, 0, "dlq")
    check(re.search(r"^ticketSQL\.dead:\n  1\. %s .*\n     order %s, ticket\(s\) %s\n"
                    r"     \{\"type\":\"order\",\"orderId\":\"%s\""
                    % (oid, oid, tid, oid), r.stdout, re.M), "listing: " + r.stdout)
    check("ticketNoSQL.dead:\n  0 message(s)" in r.stdout, r.stdout)
    eq(box.queue_count("ticketSQL.dead"), 1, "list left the message")
    # an id that names no dead letter is an error, and requeues nothing
    r = ctl("dlq", "requeue", "--queue", "sql", "00000000-0000-7000-8000-000000000000")
    expect_rc(r, 1, "dlq requeue of an id no message names")
    check("no dead-lettered message of 00000000-0000-7000-8000-000000000000" in r.stderr,
          r.stderr)
    eq(box.queue_count("ticketSQL.dead"), 1, "nothing requeued")
    # the ticket id check printed names the order's message
    r = ctl("dlq", "requeue", "--queue", "sql", tid)
    expect_rc(r, 0, "dlq requeue")
    check("ticketSQL.dead: 1 message(s) published again to ticketSQL" in r.stdout, r.stdout)
    eq(box.queue_count("ticketSQL.dead"), 0, "dead-letter queue after requeue")
    box.wait_until(lambda: box.sql_count("SELECT COUNT(*) FROM ticketing.ticket WHERE "
                                         "ticket_id = '%s'" % tid) == 1, timeout=60,
                   what="the requeued ticket in MySQL")
    clean_check()


def test_a_requeue_goes_back_to_the_queue_it_died_in():
    """Each pipeline has its copy of a message: one dead in ticketSQL.dead
    is requeued to ticketSQL, one dead in ticketNoSQL.dead to ticketNoSQL,
    never to ticket.exchange (both queues), where the pipeline that had
    written it would get a second copy (a round-1 double sale's batch write
    over its DOUBLE_SALE mark; a message dead in both queues doubling with
    each requeue)."""
    box.stack("stop", "consumer")
    try:
        a, b = buy("Venue2", "Event2", 2, 5, 10), buy("Venue2", "Event2", 2, 5, 11)
        eq((a.status, b.status), (201, 201), "buy")
        sql, nosql = box.queue_get("ticketSQL"), box.queue_get("ticketNoSQL")
        eq((len(sql), len(nosql)), (2, 2), "two messages in each queue")
        # a died in the MySQL pipeline, b in the DynamoDB one
        box.mqtool("publish", "-q", "ticketSQL.dead", sql[0])
        box.mqtool("publish", "-q", "ticketNoSQL", nosql[0])
        box.mqtool("publish", "-q", "ticketSQL", sql[1])
        box.mqtool("publish", "-q", "ticketNoSQL.dead", nosql[1])
        r = ctl("dlq", "requeue")
        expect_rc(r, 0, "dlq requeue")
        check("ticketSQL.dead: 1 message(s) published again to ticketSQL\n" in r.stdout
              and "ticketNoSQL.dead: 1 message(s) published again to ticketNoSQL\n" in r.stdout,
              r.stdout)
        eq([box.queue_count(q) for q in ("ticketSQL", "ticketNoSQL", "ticketSQL.dead",
                                         "ticketNoSQL.dead")], [2, 2, 0, 0],
           "ticketSQL, ticketNoSQL and their dead-letter queues after the requeue")
        eq(sorted(box.queue_get("ticketSQL")), sorted(sql), "ticketSQL's messages")
        eq(sorted(box.queue_get("ticketNoSQL")), sorted(nosql), "ticketNoSQL's messages")
        for m in sql:
            box.mqtool("publish", "-q", "ticketSQL", m)
        for m in nosql:
            box.mqtool("publish", "-q", "ticketNoSQL", m)
    finally:
        box.stack("start", "consumer")
    tids = (a.json()["ticketId"], b.json()["ticketId"])
    box.wait_until(lambda: box.sql_count("SELECT COUNT(*) FROM ticketing.ticket WHERE "
                                         "ticket_id IN ('%s', '%s')" % tids) == 2, timeout=60,
                   what="both tickets in MySQL")
    clean_check()


def rabbitmqctl(*args):
    node = "%s@localhost" % box.ENV.get("BOX_RABBIT_NODE", "boxoffice")
    return subprocess.run(["rabbitmqctl", "-q", "-n", node] + list(args), capture_output=True,
                          text=True, timeout=120)


def test_quorum_queues():
    """amqp_queue_type = quorum: init declares the four queues as quorum
    queues (a scratch vhost of the same broker), messages reach both; init
    with the other type is refused by the broker and says so."""
    vhost = "/boxoffice-quorum-test"
    r = rabbitmqctl("add_vhost", vhost)
    check(r.returncode == 0 or "already exists" in r.stderr, "add_vhost: " + r.stderr)
    env = dict(os.environ, BOXOFFICE_AMQP_VHOST=vhost, BOXOFFICE_AMQP_QUEUE_TYPE="quorum")
    try:
        eq(rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*").returncode, 0,
           "set_permissions")
        r = subprocess.run([os.path.join(box.BIN, "ticketctl"), "-c", box.CONF, "init"],
                           capture_output=True, text=True, env=env)
        expect_rc(r, 0, "init with quorum queues")
        check("quorum queues ticketSQL, ticketNoSQL (+.dead) declared" in r.stdout, r.stdout)
        r = rabbitmqctl("list_queues", "-p", vhost, "name", "type")
        types = dict(l.split() for l in r.stdout.splitlines() if l.startswith("ticket"))
        eq(types, {q: "quorum" for q in ("ticketSQL", "ticketNoSQL", "ticketSQL.dead",
                                         "ticketNoSQL.dead")}, "queue types")
        mq = [os.path.join(box.BIN, "mqtool"), "-c", box.CONF]
        r = subprocess.run(mq + ["publish", '{"probe":1}'], capture_output=True, text=True,
                           env=env)
        eq(r.returncode, 0, "publish to the quorum queues: " + r.stderr)
        for q in ("ticketSQL", "ticketNoSQL"):
            r = subprocess.run(mq + ["count", q], capture_output=True, text=True, env=env)
            eq(r.stdout.strip(), "1", q + " depth")
        env["BOXOFFICE_AMQP_QUEUE_TYPE"] = "classic"
        r = subprocess.run([os.path.join(box.BIN, "ticketctl"), "-c", box.CONF, "init"],
                           capture_output=True, text=True, env=env)
        expect_rc(r, 1, "init with the other queue type")
        check("406" in r.stderr and "x-queue-type" in r.stderr, "refusal: " + r.stderr)
        env["BOXOFFICE_AMQP_QUEUE_TYPE"] = "mirrored"
        r = subprocess.run([os.path.join(box.BIN, "ticketctl"), "-c", box.CONF, "init"],
                           capture_output=True, text=True, env=env)
        expect_rc(r, 1, "init with a bad queue type")
        check("amqp_queue_type: 'mirrored' is not classic or quorum" in r.stderr, r.stderr)
    finally:
        rabbitmqctl("delete_vhost", vhost)


if __name__ == "__main__":
    raise SystemExit(box.main(globals()))
