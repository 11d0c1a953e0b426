# SPDX-License-Identifier: ISC
"""Fault scenarios: processes killed with SIGKILL in the middle of their work
while clients keep buying (contended seats, both web servers), each ending
with the history check of tests/lib/history.py (I1-I5).

- a purchase responder killed between the reservation and the publish
  (held there by the test hook "reserved" of fcgi/ticket/testhook.h): its
  client gets the web server's 5xx (unknown outcome), the seat stays taken
  and the sweeper publishes the orphaned reservation: persisted once;
- a purchase responder killed after the broker's confirm, before it
  removed the pending entry and answered (hook "confirmed"): the ticket is
  in the queues already, the sweeper publishes it a second time, the
  consumer absorbs the duplicate: persisted once;
- the consumer killed with SIGKILL while it drains a backlog (mid-batch),
  twice: the unacked messages come back, idempotent writes, nothing lost,
  nothing doubled.
"""

import os
import signal
import threading
import time

import box
import history
import scenario as sc
from box import check, eq

S = sc.Scenarios("processes")
COUNT = "SELECT COUNT(*) FROM ticketing.ticket"


def setup_module():
    box.stack("reset")
    sc.hook_clear()


def teardown_module():
    sc.hook_clear()


def held_and_killed(point, zone, col, port):
    """Buys (Venue1, Event1, zone, 1, col) through port while the hook point
    holds it, kills the responder holding it; returns (record, ticketId)."""
    sc.hook_arm(point, 60000, '"zoneId":%d,' % zone)
    out = {}
    th = threading.Thread(target=lambda: out.setdefault(
        "rec", history.buy_recorded(S.h, ("Venue1", "Event1", zone, 1, col), port=port)))
    th.start()
    pid, tid = sc.hook_wait(point)
    sc.kill9(pid)
    th.join(60)
    check(not th.is_alive(), "the held purchase got no answer after its responder died")
    rec = out["rec"]
    print("held at %s by pid %d, ticket %s, client got: %s" % (point, pid, tid, rec["why"]))
    eq(rec["outcome"], "unknown", "outcome seen by the client of the killed responder (%s)"
       % rec.get("body", rec["why"]))
    sc.responders_back()
    return rec, tid


def test_kill_9_between_reserve_and_publish():
    zone = 90
    held = []

    def fault():
        for i, port in enumerate(box.WEB_PORTS):
            rec, tid = held_and_killed("reserved", zone, 1 + i, port)
            st = box.zone_state("Event1", zone)
            eq(st["owners"].get(i), tid, "the orphaned reservation keeps its seat")
            held.append(tid)
        for tid in held:
            box.ticket_persisted(tid, timeout=90)   # published by the sweeper
    S.run("kill -9 between reserve and publish", sc.pool(1, 2), fault)
    eq(box.sql_count("SELECT COUNT(*) FROM ticketing.ticket WHERE zone_id = %d" % zone),
       len(box.WEB_PORTS), "tickets of the held purchases (one per web server)")


def test_kill_9_after_confirm_before_reply():
    zone = 91

    def fault():
        for i, port in enumerate(box.WEB_PORTS):
            rec, tid = held_and_killed("confirmed", zone, 1 + i, port)
            # confirmed, so in the queues; the pending entry is left over
            box.ticket_persisted(tid, timeout=60)
        # the sweeper publishes the left-over entries again (duplicates)
        box.wait_until(lambda: box.redis("ZCARD", "bo:pend:{Event1:%d}" % zone) == 0 and
                       box.redis("ZCARD", "bo:sweep:{Event1:%d}" % zone) == 0, timeout=90,
                       what="left-over pending entries swept")
    S.run("kill -9 after the confirm, before the reply", sc.pool(3, 4), fault)
    eq(box.sql_count("SELECT COUNT(*) FROM ticketing.ticket WHERE zone_id = %d" % zone),
       len(box.WEB_PORTS), "tickets of the held purchases (one per web server)")


def test_kill_9_consumer_mid_batch():
    """First kill: MySQL's ticket table locked and DynamoDB Local frozen
    (SIGSTOP), so that both pipelines hold a batch, delivered and unacked,
    with the write under way; the MySQL INSERT of the dead consumer then
    commits after all (its connection waits for the lock): written, never
    acked, delivered again.  Second kill: while the consumer drains a
    backlog."""
    kills = []

    def fault():
        lock = sc.TableLock()
        ddb = sc.dynamodb_pid()
        os.kill(ddb, signal.SIGSTOP)
        try:
            pid = sc.consumer_pid()
            box.wait_until(lambda: history.queue_depths()["ticketSQL"][1] > 0 and
                           history.queue_depths()["ticketNoSQL"][1] > 0, timeout=60,
                           what="both pipelines holding unacked messages")
            time.sleep(1)
            depths = history.queue_depths()
            sc.kill9(pid)
            kills.append(("locked", pid, depths["ticketSQL"], depths["ticketNoSQL"]))
            print("consumer %d killed mid-batch: ticketSQL %r, ticketNoSQL %r "
                  "(ready, unacked, consumers)" % (pid, depths["ticketSQL"],
                                                   depths["ticketNoSQL"]))
        finally:
            os.kill(ddb, signal.SIGCONT)
            lock.release()
        box.wait_until(lambda: sc.consumer_pid() != pid and box.alive(sc.consumer_pid()),
                       timeout=30, what="a new consumer")
        # second kill: in the middle of a backlog
        box.stack("stop", "consumer")
        time.sleep(4 if not sc.FULL else 8)
        box.stack("start", "consumer")
        pid = sc.consumer_pid()
        base = sc.sql_count(COUNT)
        box.wait_until(lambda: sc.sql_count(COUNT) > base, timeout=60, interval=0.01,
                       what="the consumer writing")
        sc.kill9(pid)
        box.wait_until(lambda: sc.consumer_pid() != pid and box.alive(sc.consumer_pid()),
                       timeout=30, what="a new consumer")
    S.run("kill -9 of the consumer mid-batch", sc.pool(5, 6), fault)
    check(kills and kills[0][2][1] > 0 and kills[0][3][1] > 0,
          "the consumer was not killed with unacked messages in both pipelines: %r" % kills)


if __name__ == "__main__":
    raise SystemExit(box.main(globals()))
