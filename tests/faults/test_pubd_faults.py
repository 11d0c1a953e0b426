# SPDX-License-Identifier: ISC
"""Fault scenarios of the local publisher (amqp_publisher = local, pubd/),
each ending with the history check (tests/lib/history.py):

- pubd killed with SIGKILL under load (twice with FAULTS_FULL=1) (contended seats, both web
  servers): the requests whose message was in flight see EOF and answer the
  unknown outcome (seat and pending entry kept, the sweeper publishes),
  requests meanwhile fail cleanly or go through the new pubd; every 201 is
  persisted exactly once, no violation.

The stack is switched to local mode for this file (box.publisher) and back.
"""

import time

import box
import history
import scenario as sc
from box import check

S = sc.Scenarios("pubd")


def setup_module():
    box.stack("reset")
    box.publisher("local")
    # the responders just restarted: one sale through pubd before the load
    # (recorded: the history check accounts for it)
    box.wait_until(lambda: history.buy_recorded(S.h, ("Venue1", "Event1", 9, 1, 1))["outcome"]
                   == "ok", timeout=120, interval=1, what="a first sale through pubd")


def teardown_module():
    box.publisher(box.PUBLISHER)


def pubd_pid():
    pids = [p for p in box.fcgi_pids("pubd") if box.alive(p)]
    return pids[0] if pids else None


def test_kill_9_pubd_under_load():
    kills = []

    def fault():
        for _ in range(2 if sc.FULL else 1):
            pid = pubd_pid()
            check(pid, "no pubd running")
            sc.kill9(pid)
            kills.append(pid)
            box.wait_until(lambda: pubd_pid() not in (None, pid), timeout=30,
                           what="a new pubd under prefork")
            time.sleep(1)
    n0 = len(S.h.records)
    S.run("pubd kill -9 under load", sc.pool(7, 8), fault)
    mine = S.h.records[n0:]
    print("pubd killed %d times; outcomes: %d ok, %d unknown, %d failed" % (
        len(kills), sum(r["outcome"] == "ok" for r in mine),
        sum(r["outcome"] == "unknown" for r in mine),
        sum(r["outcome"] == "fail" for r in mine)))


if __name__ == "__main__":
    raise SystemExit(box.main(globals()))
