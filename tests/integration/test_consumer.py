# SPDX-License-Identifier: ISC
"""test_consumer.py - the consumer (docs/consumer.md): every ticket sold
through nginx ends up exactly once in MySQL and in DynamoDB, field for field
equal to its 201 body; the sweeper publishes a reservation whose responder
died before publishing; SIGTERM finishes and acks the batch in hand; the
command line.
"""

import json
import os
import signal
import subprocess
import time

import box
import persist
from box import check, eq

LEDGER = persist.Ledger()
CONSUMER = os.path.join(box.BIN, "consumer")
STALE_MS = int(box.ENV.get("BOXOFFICE_SWEEPER_STALE_MS", "30000"))


def setup_module():
    box.stack("reset")


def run_consumer(*args, env=None):
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([CONSUMER] + list(args), capture_output=True, text=True, env=e,
                          timeout=30)


def test_command_line():
    r = run_consumer("-n", "-c", box.CONF)
    eq(r.returncode, 0, "consumer -n exit status (%s)" % r.stderr)
    check(r.stdout.rstrip().endswith("# configuration ok"), "-n output: %r" % r.stdout[-200:])
    for line in ("consumer_batch = ", "consumer_ddb_write = ", "sweeper_stale_ms = %d" % STALE_MS,
                 "aws_secret_access_key = ****", "mysql_consumer_password = ****"):
        check(line in r.stdout, "-n prints %r" % line)
    r = run_consumer("-n", "-c", box.CONF, env={"BOXOFFICE_CONSUMER_DDB_WRITE": "sometimes"})
    eq(r.returncode, 1, "bad consumer_ddb_write refused")
    check("consumer_ddb_write" in r.stderr, "names the setting: %r" % r.stderr)
    r = run_consumer("-n", "-c", box.CONF, env={"BOXOFFICE_CONSUMER_PREFETCH": "0"})
    eq(r.returncode, 1, "consumer_prefetch 0 refused")
    # the Redis settings its MySQL sink and sweepers refuse at start
    for name, value in (("REDIS_READ_FROM", "bogus"), ("REDIS_MODE", "sentinel"),
                        ("REDIS_WAIT_SHORT", "maybe")):
        r = run_consumer("-n", "-c", box.CONF, env={"BOXOFFICE_" + name: value})
        eq(r.returncode, 1, "bad %s refused by -n (%s)" % (name.lower(), r.stderr[-200:]))
        check(name.lower() in r.stderr, "names the setting: %r" % r.stderr)
    r = run_consumer("-n", "-c", "/nonexistent/boxoffice.conf")
    eq(r.returncode, 1, "missing -c file refused")
    r = run_consumer("-h")
    eq(r.returncode, 0, "-h")
    check(r.stdout.startswith("usage: consumer"), "-h prints usage")
    eq(run_consumer("-x").returncode, 2, "unknown flag")
    eq(run_consumer("-p", "sql,bogus", "-n").returncode, 2, "bad -p list")
    # a settings file named by BOXOFFICE_CONF must exist, as one named by -c
    r = run_consumer("-n", env={"BOXOFFICE_CONF": "/nonexistent/boxoffice.conf"})
    eq(r.returncode, 1, "missing BOXOFFICE_CONF file refused (%s)" % r.stdout[-200:])
    check("/nonexistent/boxoffice.conf" in r.stderr, "names the file: %r" % r.stderr)


def test_every_program_answers_help():
    """--help, as -h: the usage on stdout, exit 0 (it was a usage error)."""
    for prog, usage in (("consumer", "usage: consumer"), ("pubd", "usage: pubd"),
                        ("ticket.fcgi", "usage: ticket"), ("query.fcgi", "usage: query"),
                        ("prefork", "usage: prefork"), ("ticketctl", "usage: ticketctl")):
        r = subprocess.run([os.path.join(box.BIN, prog), "--help"], capture_output=True,
                           text=True, timeout=30)
        eq(r.returncode, 0, "%s --help exit status (%s)" % (prog, r.stderr[-200:]))
        check(r.stdout.startswith(usage), "%s --help: %r" % (prog, r.stdout[:80]))


def test_10000_tickets_persisted_exactly_once():
    # fewer on the cluster topology of make test (tests/run topology)
    n = int(box.ENV.get("BOX_CONSUMER_TICKETS", "10000"))
    seats = LEDGER.seats(n)
    t0 = time.time()
    LEDGER.buy(seats, workers=32)
    bought = time.time() - t0
    persist.exact_check(LEDGER, timeout=300)
    print("%d tickets: bought in %.1fs, persisted in both stores %.1fs after the first sale"
          % (n, bought, time.time() - t0))


def swept(tid, tag, node):
    """Until the sweeper published ticket tid's order (both stores have it)
    and the zone's pending and sweep sets are empty."""
    count = "SELECT COUNT(*) FROM ticketing.ticket WHERE ticket_id = '%s'" % tid
    box.wait_until(lambda: box.sql_count(count) == 1, timeout=STALE_MS / 1000.0 + 30,
                   what="the swept ticket in MySQL")
    box.wait_until(lambda: tid in persist.ddb_tickets(), timeout=30,
                   what="the swept ticket in DynamoDB")
    box.wait_until(lambda: box.redis("ZCARD", "bo:pend:{%s}" % tag, node=node) == 0 and
                   box.redis("ZCARD", "bo:sweep:{%s}" % tag, node=node) == 0,
                   timeout=30, what="pending and sweep sets empty")


def test_sweeper_publishes_a_reservation_never_published():
    tid = persist.new_ticket_id(box.zone_slot("Event2", 1))
    tag = "Event2:1"
    node = box.zone_node("Event2", 1)
    offset = persist.log_size()
    body = persist.reserve_directly(tid, "Venue2", "Event2", 1, 2, 3, int(time.time() * 1000))
    count = "SELECT COUNT(*) FROM ticketing.ticket WHERE ticket_id = '%s'" % tid
    # the pending entry is the orderId; its message is kept once, in bo:ords
    oid = json.loads(body)["orderId"]
    eq(box.redis("ZRANGE", "bo:pend:{%s}" % tag, 0, -1, node=node), [oid.encode()],
       "the orderId is the pending member")
    check(box.redis("HGET", "bo:ords:{%s}" % tag, oid, node=node), "the message in bo:ords")
    # not before it is stale: the responder may still be waiting for a confirm
    time.sleep(min(2.0, STALE_MS / 3000.0))
    eq(box.redis("ZCARD", "bo:pend:{%s}" % tag, node=node), 1, "still pending before stale")
    eq(box.sql_count(count), 0, "not persisted before stale")
    swept(tid, tag, node)
    check("sweeper: republished 1 unconfirmed ticket(s)" in persist.log_since(offset),
          "one sweeper log line for the round")
    LEDGER.add(body)
    persist.exact_check(LEDGER)


def test_sweeper_publishes_a_pending_message_of_the_old_shape():
    """An entry written before the orderId became the pending member (the
    order message itself, still in Redis after an upgrade) is claimed,
    published and dropped as before."""
    tid = persist.new_ticket_id(box.zone_slot("Event2", 1))
    tag = "Event2:1"
    node = box.zone_node("Event2", 1)
    body = persist.reserve_directly(tid, "Venue2", "Event2", 1, 2, 4, int(time.time() * 1000))
    oid = json.loads(body)["orderId"]
    msg = box.redis("HGET", "bo:ords:{%s}" % tag, oid, node=node)
    score = box.redis("ZSCORE", "bo:pend:{%s}" % tag, oid, node=node)
    # in one script, so that the sweeper never sees neither
    swap = ("return {redis.call('ZREM', KEYS[1], ARGV[1]), "
            "redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])}")
    eq(box.redis("EVAL", swap, 1, "bo:pend:{%s}" % tag, oid, score, msg, node=node), [1, 1],
       "the entry turned into the old shape")
    swept(tid, tag, node)
    LEDGER.add(body)
    persist.exact_check(LEDGER)


def test_sigterm_finishes_and_acks_the_batch_in_hand():
    box.stack("stop", "consumer")
    base_sql = box.sql_count("SELECT COUNT(*) FROM ticketing.ticket")
    base_ddb = box.ddb_count()
    n = 1500
    LEDGER.buy(LEDGER.seats(n))
    eq((box.queue_count("ticketSQL"), box.queue_count("ticketNoSQL")), (n, n), "queued")
    log = os.path.join(os.path.dirname(persist.CONSUMER_LOG), "consumer-sigterm.log")
    # small batches and a slow DynamoDB writer, so that SIGTERM comes mid-stream
    env = dict(os.environ, BOXOFFICE_LOG_FILE=log, BOXOFFICE_CONSUMER_BATCH="5",
               BOXOFFICE_CONSUMER_PREFETCH="10", BOXOFFICE_CONSUMER_DDB_WRITE="put",
               BOXOFFICE_CONSUMER_DDB_PARALLEL="1")
    p = subprocess.Popen([CONSUMER, "-c", box.CONF], env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    try:
        box.wait_until(lambda: box.sql_count("SELECT COUNT(*) FROM ticketing.ticket") > base_sql,
                       timeout=30, interval=0.02, what="the first writes")
        p.send_signal(signal.SIGTERM)
        rc = p.wait(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
    eq(rc, 0, "exit status after SIGTERM")
    written_sql = box.sql_count("SELECT COUNT(*) FROM ticketing.ticket") - base_sql
    written_ddb = box.ddb_count() - base_ddb
    check(written_ddb < n, "stopped mid-stream (%d, %d written)" % (written_sql, written_ddb))
    # everything written was acked, everything else went back to the queue
    box.wait_until(lambda: (box.queue_count("ticketSQL"), box.queue_count("ticketNoSQL")) ==
                   (n - written_sql, n - written_ddb), timeout=15,
                   what="ready = sold - written in both queues (%d, %d)"
                   % (n - written_sql, n - written_ddb))
    with open(log) as f:
        text = f.read()
    check("SIGTERM: finishing the batches in hand" in text and "info: stopped" in text,
          "shutdown logged")
    persist.start_consumer()
    persist.exact_check(LEDGER)


if __name__ == "__main__":
    raise SystemExit(box.main(globals()))
