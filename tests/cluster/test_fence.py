# SPDX-License-Identifier: ISC
"""test_fence.py - the round-1 fence on a Redis Cluster master that has no
replica to take over (CONTRACT section 9 promise 1, docs/reliability.md
"After a Redis loss").

With appendfsync everysec a master killed with -9 may come back from an AOF
without its last second: a seat sold then (201 given, ticket persisted)
would be free again and sell twice.  A replica promoted in its place keeps
what WAIT made it acknowledge; a master without one comes back as the only
copy.  So `scripts/stack start redis-N` fences a node that died as a master
(pidfile left, nodes.conf says master): every zone of it answers 503 "being
rebuilt" until `ticketctl rebuild`, the other masters sell on.  Without the
fence the zone sells at once from whatever the AOF kept (the old code).
"""

import os
import signal
import time

import box
import history
from box import check, eq, http
from test_failover import (EVENT, node_name, pid_of, replica_of, wait_replicated,
                           zones_by_master)


def buy(zone, row, col):
    return http("POST", "/tickets", {"venueId": "Venue1", "eventId": EVENT, "zoneId": zone,
                                     "row": row, "column": col})


def wait_answer(zone, row, col, want, timeout=60):
    """Buys until the answer is not a failover's transient 503 (cluster
    down, no replica acknowledged yet); returns the last answer."""
    t0 = time.time()
    while True:
        r = buy(zone, row, col)
        if r.status == want or time.time() - t0 > timeout:
            return r
        if r.status == 503 and "being rebuilt" in r.body:
            return r
        time.sleep(0.5)


def test_master_without_replica_is_fenced_after_kill_9():
    wait_replicated()
    box.stack("reset")
    by = zones_by_master()
    master = sorted(by)[-1]
    zone, other = by[master][0], by[sorted(by)[0]][0]
    r = wait_answer(zone, 10, 1, 201)
    eq(r.status, 201, "a sale before the kill (%s)" % r.body)
    replica = replica_of(master)
    # the master loses its replica, then dies itself: nobody can take over
    os.kill(pid_of(replica), signal.SIGKILL)
    time.sleep(0.5)
    os.kill(pid_of(master), signal.SIGKILL)
    print("killed %s (replica, 127.0.0.1:%d), then %s (its master, 127.0.0.1:%d, zone %d)"
          % (node_name(replica), replica, node_name(master), master, zone), flush=True)
    out = box.stack("start", node_name(master))
    check("fenced" in out, "scripts/stack fences the master that died:\n" + out)
    out = box.stack("start", node_name(replica))
    check("fenced" not in out, "a node that died as a replica is not fenced:\n" + out)
    wait_replicated()
    eq(box.cluster_port(box.zone_slot(EVENT, zone), refresh=True), master,
       "the restarted node is the zone's master again")
    r = wait_answer(zone, 10, 2, 201)
    eq(r.status, 503, "the fenced zone sells nothing (%s)" % r.body)
    check("being rebuilt" in r.json().get("message", ""), r.body)
    r = wait_answer(other, 10, 2, 201)
    eq(r.status, 201, "a zone of another master sells on (%s)" % r.body)
    box.stack("stop", "consumer")
    try:
        for event in ("Event1", "Event2", "Event3"):   # every event has zones there
            r = box.ticketctl("rebuild", "--all", event, check_rc=False)
            eq(r.returncode, 0, "rebuild %s:\n%s%s" % (event, r.stdout, r.stderr))
    finally:
        box.stack("start", "consumer")
    r = wait_answer(zone, 10, 2, 201)
    eq(r.status, 201, "the zone sells after the rebuild (%s)" % r.body)
    r = buy(zone, 10, 1)
    eq((r.status, r.json().get("error")), (409, "SEAT_TAKEN"),
       "the seat sold before the kill stays sold")
    history.settle()
    r = box.ticketctl("check", check_rc=False)
    eq(r.returncode, 0, "ticketctl check after the fence and the rebuild:\n"
       + r.stdout + r.stderr)


if __name__ == "__main__":
    box.main(globals())
