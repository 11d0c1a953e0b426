# SPDX-License-Identifier: ISC
"""ticketctl where the sales are not all where it looks (issue 10, items 1
and 4), against the real stores:

- a sale the consumer holds unacked (its MySQL insert waits on a gap lock)
  while Redis loses everything: `init` must not create full counters for
  that zone (it did, and the seat was sold a second time);
- `init`, `check` and `rebuild` must not spend the delivery attempts of
  queued messages (a quorum queue with a delivery limit dead-letters a
  message returned too often; RabbitMQ 4.0 sets a limit of 20 by default,
  emulated here with a policy of 3 in a scratch vhost), and the quorum
  queues carry an explicit x-delivery-limit;
- a ticket that sits only in a dead-letter queue counts as sold for `init`
  and `rebuild`.
"""

import json
import os
import re
import subprocess

import box
from box import buy, check, eq

RUN = os.path.join(box.ENV.get("BOX_VAR", os.path.join(box.ROOT, "var")), "run")


def ctl(*args, env=None):
    return subprocess.run([os.path.join(box.BIN, "ticketctl"), "-c", box.CONF] + list(args),
                          capture_output=True, text=True, env=env)


def expect_rc(r, rc, what):
    eq(r.returncode, rc, "%s exit status (stdout %r, stderr %r)" % (what, r.stdout[-800:],
                                                                     r.stderr[-800:]))


def rabbitmqctl(*args):
    node = "%s@localhost" % box.ENV.get("BOX_RABBIT_NODE", "boxoffice")
    return subprocess.run(["rabbitmqctl", "-q", "-n", node] + list(args), capture_output=True,
                          text=True, timeout=120)


def flush_redis():
    for n in range(len(box.REDIS_PORTS)):
        box.redis("FLUSHALL", node=n)


def zone_has_counters(event, zone):
    return box.redis("EXISTS", "bo:left:{%s:%d}" % (event, zone),
                     node=box.zone_node(event, zone)) == 1


def ddb_has(tid):
    code, res = box.ddb("GetItem", {"TableName": "Tickets", "Key": {"ticketId": {"S": tid}}})
    return code == 200 and "Item" in (res or {})


class GapLock:
    """An admin session holding START TRANSACTION; SELECT ... FOR UPDATE on
    the (empty) range of one zone's tickets: the consumer's INSERT of a
    ticket of that zone waits (and it keeps the message unacked), plain
    reads go on."""

    def __init__(self, event, zone):
        self.p = subprocess.Popen(["mariadb", "--no-defaults", "--socket=" +
                                   os.path.join(RUN, "mysqld.sock"), "-uroot", "-N", "-B",
                                   "--unbuffered", "ticketing"],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.p.stdin.write("START TRANSACTION; SELECT * FROM ticket WHERE event_id='%s' AND "
                           "zone_id=%d FOR UPDATE; SELECT 'locked';\n" % (event, zone))
        self.p.stdin.flush()
        check(self.p.stdout.readline().strip() == "locked", "gap lock not taken")

    def release(self):
        if self.p.poll() is None:
            self.p.stdin.write("ROLLBACK;\n")
            self.p.stdin.close()
            self.p.wait(30)


def rebuild_everything():
    """The documented procedure once the consumer is free again: let it
    drain ticketSQL, stop it, rebuild, init, start it."""
    box.wait_until(lambda: box.queue_count("ticketSQL") == 0, timeout=120,
                   what="the consumer draining ticketSQL")
    box.stack("stop", "consumer")
    try:
        r = ctl("rebuild")
        expect_rc(r, 0, "rebuild")
        r = ctl("init")
        expect_rc(r, 0, "init after rebuild")
    finally:
        box.stack("start", "consumer")


def clean_check():
    r = ctl("check", "--wait", "60")
    expect_rc(r, 0, "check")


def setup_module():
    box.stack("reset")


def test_init_refuses_a_zone_whose_sale_the_consumer_holds():
    """Issue 10 item 1, as reproduced: the consumer holds 77/5/5 unacked
    (gap lock), Redis loses everything, init runs; before the fix it gave
    zone 77 full counters and the seat sold again (a second 201)."""
    seat = ("Venue1", "Event1", 77, 5, 5)
    lock = GapLock("Event1", 77)
    second = None
    try:
        r = buy(*seat)
        eq(r.status, 201, "first purchase: %s" % r.body)
        tid = r.json()["ticketId"]
        box.wait_until(lambda: ddb_has(tid), timeout=60, what="the ticket in DynamoDB")
        box.wait_until(lambda: box.queue_count("ticketSQL") == 0, timeout=60,
                       what="the consumer holding the message (ticketSQL ready 0)")
        eq(box.sql_count("SELECT COUNT(*) FROM ticketing.ticket WHERE zone_id = 77"), 0,
           "the ticket is not in MySQL yet")
        flush_redis()
        r = ctl("init")
        print("init: exit %d\n%s%s" % (r.returncode, r.stdout, r.stderr))
        check(not zone_has_counters("Event1", 77),
              "init created full counters for zone 77, whose sale the consumer holds")
        second = buy(*seat)
        check(second.status != 201, "seat 77/5/5 sold a second time: %s" % second.body)
        expect_rc(r, 1, "init with zones it cannot account for")
        check(re.search(r"Event1 zone 77: .*consumer", r.stderr),
              "zone 77 not named with the reason: " + r.stderr)
        check("stop the consumer" in r.stderr and "ticketctl rebuild" in r.stderr,
              "the refusal does not say what to do: " + r.stderr)
        eq(second.status, 404, "a refused zone is not on sale")
    finally:
        lock.release()
        rebuild_everything()
    eq(buy(*seat).json().get("error"), "SEAT_TAKEN", "77/5/5 after the rebuild")
    if second is None or second.status != 201:
        clean_check()


def test_init_loads_a_new_zone_while_the_consumer_runs():
    """A zone never loaded on an intact node cannot have sales: init
    creates its counters even with a consumer attached and tickets queued
    (the runbook's "load the event, run init" during other sales)."""
    lock = GapLock("Event2", 2)
    try:
        r = buy("Venue2", "Event2", 2, 1, 1)
        eq(r.status, 201, "purchase held by the consumer")
        box.redis("DEL", *["bo:%s:{Event3:4}" % k for k in ("zone", "left", "seat", "own", "pend",
                                                             "sweep")],
                  node=box.zone_node("Event3", 4))
        box.redis("SREM", "bo:zones", "Event3:4", node=box.zone_node("Event3", 4))
        r = ctl("init")
        expect_rc(r, 0, "init with a new zone")
        check("1 created, 0 refused" in r.stdout, r.stdout)
        eq(buy("Venue2", "Event3", 4, 1, 1).status, 201, "the new zone sells")
    finally:
        lock.release()
    clean_check()


def test_fenced_node_is_no_longer_intact():
    """The fence of a Redis node that died uncleanly removes bo:intact: a
    zone loaded and sold in the second the AOF lost has no trace left, and
    must not pass for a new zone while the consumer holds its sale."""
    seat = ("Venue1", "Event1", 78, 2, 2)
    node = box.zone_node("Event1", 78)
    lock = GapLock("Event1", 78)
    try:
        eq(buy(*seat).status, 201, "purchase held by the consumer")
        box.wait_until(lambda: box.queue_count("ticketSQL") == 0, timeout=60,
                       what="the consumer holding the message")
        with open(os.path.join(RUN, "redis-%d.pid" % box.REDIS_PORTS[node])) as f:
            pid = int(f.read().split()[0])
        # the lost second: zone 78 was loaded and sold in it
        box.redis("DEL", *["bo:%s:{Event1:78}" % k for k in ("zone", "left", "seat", "own",
                                                               "pend", "sweep")], node=node)
        box.redis("SREM", "bo:zones", "Event1:78", node=node)
        os.kill(pid, 9)
        box.wait_until(lambda: not box.alive(pid), timeout=30, what="redis gone")
        out = box.stack("start", "redis")
        check("fenced" in out, "the restarted node was not fenced: " + out)
        eq(box.redis("EXISTS", "bo:intact", node=node), 0, "bo:intact after the fence")
        r = ctl("init")
        expect_rc(r, 1, "init after the fence")
        check(not zone_has_counters("Event1", 78), "zone 78 taken for a new zone: " + r.stdout)
        check(re.search(r"Event1 zone 78: .*consumer", r.stderr), r.stderr)
    finally:
        lock.release()
        rebuild_everything()
    eq(buy(*seat).json().get("error"), "SEAT_TAKEN", "the seat after the rebuild")
    clean_check()


def test_a_dead_lettered_ticket_counts_as_sold():
    """A ticket that only ticketSQL.dead holds (a delivery-limit storm, a
    consumer bug): after a Redis loss init refuses its zone and rebuild
    marks its seat sold."""
    box.stack("stop", "consumer")
    try:
        r = buy("Venue2", "Event2", 3, 1, 4)
        eq(r.status, 201, "buy")
        # the message is the order of one (type order) with this ticket
        sql = box.queue_get("ticketSQL")
        eq(len(sql), 1, "one message in ticketSQL")
        body = sql[0]
        m = json.loads(body)
        eq((m["type"], m["orderId"], [t["ticketId"] for t in m["tickets"]]),
           ("order", r.json()["orderId"], [r.json()["ticketId"]]), "the order in ticketSQL")
        eq(box.queue_get("ticketNoSQL"), [body], "the message in ticketNoSQL")
        box.mqtool("publish", "-q", "ticketSQL.dead", body)
        box.redis("DEL", *["bo:%s:{Event2:3}" % k for k in ("left", "seat", "own", "pend",
                                                             "sweep")],
                  node=box.zone_node("Event2", 3))
        r = ctl("init")
        expect_rc(r, 1, "init with a dead-lettered sale")
        check(not zone_has_counters("Event2", 3), "counters created beside a dead-lettered sale")
        check("Event2 zone 3" in r.stderr, r.stderr)
        r = ctl("rebuild", "Event2")
        expect_rc(r, 0, "rebuild")
        check(re.search(r"Event2 zone 3: rebuilt: 8 seats, 1 sold", r.stdout), r.stdout)
        eq(box.queue_count("ticketSQL.dead"), 1, "rebuild left the dead letter in place")
        eq(buy("Venue2", "Event2", 3, 1, 4).json().get("error"), "SEAT_TAKEN",
           "the dead-lettered seat after the rebuild")
        r = ctl("init")
        expect_rc(r, 0, "init after rebuild")
    finally:
        box.stack("start", "consumer")
    # the DynamoDB pipeline had its copy (taken above): it writes it; the
    # requeue gives ticketSQL.dead's back to ticketSQL alone
    box.mqtool("publish", "-q", "ticketNoSQL", body)
    r = ctl("dlq", "requeue")
    expect_rc(r, 0, "dlq requeue")
    clean_check()


def test_a_cancelled_ticket_in_a_dead_letter_queue_gets_no_seat():
    """A sale the DynamoDB pipeline gave up on (its order in
    ticketNoSQL.dead), stored in MySQL and cancelled there; then Redis
    loses the zone (its c: record too).  rebuild reads the dead letter but
    leaves the seat free: CANCELLED is final.  Would catch: the seat given
    to the cancelled ticket, for good (a repeated cancel frees nothing, the
    seat never sells again)."""
    box.stack("stop", "consumer")
    try:
        r = buy("Venue2", "Event2", 3, 1, 7)
        eq(r.status, 201, "buy: " + r.body)
        tid, token = r.json()["ticketId"], r.json()["cancelToken"]
        nosql = box.queue_get("ticketNoSQL")
        eq(len(nosql), 1, "its message in ticketNoSQL")
        box.mqtool("publish", "-q", "ticketNoSQL.dead", nosql[0])
    finally:
        box.stack("start", "consumer")
    c = box.http("POST", "/tickets/%s/cancel" % tid, {"cancelToken": token})
    eq(c.status, 200, "cancel: " + c.body)
    box.wait_until(lambda: box.sql("SELECT status FROM ticketing.ticket WHERE ticket_id = '%s'"
                                   % tid) == [["CANCELLED"]], timeout=60,
                   what="the ticket CANCELLED in MySQL")
    box.wait_until(lambda: box.queue_count("ticketSQL") + box.queue_count("ticketNoSQL") == 0,
                   timeout=60, what="the queues drained")
    box.stack("stop", "consumer")
    try:
        box.redis("DEL", *["bo:%s:{Event2:3}" % k for k in ("left", "seat", "own", "pend",
                                                             "sweep", "ords")],
                  node=box.zone_node("Event2", 3))
        r = ctl("rebuild", "Event2")
        expect_rc(r, 0, "rebuild")
        eq(box.redis("GETBIT", "bo:seat:{Event2:3}", 6, node=box.zone_node("Event2", 3)), 0,
           "the cancelled ticket's seat after the rebuild")
        check("Event2 zone 3: 1 ticket(s) of a queue, a dead-letter queue or a pending set "
              "that MySQL has cancelled: their seats left free" in r.stdout, r.stdout)
        eq(buy("Venue2", "Event2", 3, 1, 7).status, 201, "the seat sells again")
    finally:
        box.stack("start", "consumer")
    # the DynamoDB pipeline gets its copy back: the item ends CANCELLED
    expect_rc(ctl("dlq", "requeue"), 0, "dlq requeue")
    clean_check()


def test_no_command_spends_delivery_attempts():
    """Quorum queues with a delivery limit (a policy of 3 in a scratch
    vhost, as RabbitMQ 4 does with 20): init (as a retrying
    boxoffice-init.service would run it), check, rebuild, dlq list and a
    dlq requeue of another ticket leave a queued ticket and a dead letter
    where they are; the queues are declared with x-delivery-limit."""
    vhost = "/boxoffice-delivery-limit"
    r = rabbitmqctl("add_vhost", vhost)
    check(r.returncode == 0 or "already exists" in r.stderr, "add_vhost: " + r.stderr)
    env = dict(os.environ, BOXOFFICE_AMQP_VHOST=vhost, BOXOFFICE_AMQP_QUEUE_TYPE="quorum")
    mq = [os.path.join(box.BIN, "mqtool"), "-c", box.CONF]
    try:
        eq(rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*").returncode, 0,
           "set_permissions")
        r = rabbitmqctl("set_policy", "-p", vhost, "--apply-to", "queues", "limit", "^ticket",
                        '{"delivery-limit": 3}')
        eq(r.returncode, 0, "set_policy: " + r.stderr)
        expect_rc(ctl("init", env=env), 0, "init")
        body = buy("Venue2", "Event2", 1, 9, 9).body
        r = subprocess.run(mq + ["publish", body], capture_output=True, text=True, env=env)
        eq(r.returncode, 0, "publish: " + r.stderr)
        r = subprocess.run(mq + ["publish", "-q", "ticketNoSQL.dead", body], capture_output=True,
                           text=True, env=env)
        eq(r.returncode, 0, "publish to ticketNoSQL.dead: " + r.stderr)
        for i in range(6):
            ctl("init", env=env)
        for i in range(2):
            ctl("check", "Event2", env=env)
        ctl("rebuild", "Event3", env=env)
        for i in range(4):
            r = ctl("dlq", env=env)
        check(r.stdout.count('"ticketId"') == 1, "dlq lists the dead letter: " + r.stdout)
        ctl("dlq", "requeue", "00000000-0000-7000-8000-000000000000", env=env)
        # the dead-letter queue has no dead-letter exchange: a message past
        # the limit would be dropped
        for q, n in (("ticketSQL", 1), ("ticketNoSQL", 1), ("ticketSQL.dead", 0),
                     ("ticketNoSQL.dead", 1)):
            r = subprocess.run(mq + ["count", q], capture_output=True, text=True, env=env)
            eq(r.stdout.strip(), str(n), "%s after 6 init, 2 check, 1 rebuild, 4 dlq list, "
               "1 dlq requeue of another ticket" % q)
        r = rabbitmqctl("list_queues", "-p", vhost, "name", "arguments")
        args = {l.split()[0]: l for l in r.stdout.splitlines() if l.startswith("ticket")}
        for q in ("ticketSQL", "ticketNoSQL"):
            check("x-delivery-limit" in args.get(q, ""), "%s declared without x-delivery-limit: "
                  "%s" % (q, args.get(q)))
    finally:
        rabbitmqctl("delete_vhost", vhost)
    clean_check()


if __name__ == "__main__":
    raise SystemExit(box.main(globals()))
