# SPDX-License-Identifier: ISC
"""scenario.py - what the fault scenarios of tests/faults share: sizes, the
file's history, a scenario runner (load before, during and after a fault,
then the history check), the test hooks of the responders, and handles on
the servers of the stack.

Sizes are small by default so that the whole suite fits in CI; FAULTS_FULL=1
(make test-faults) runs them bigger and longer.
"""

import os
import signal
import time

import box
import history
from box import check

FULL = os.environ.get("FAULTS_FULL") == "1"
RATE = 250 if FULL else 80          # purchases a second, all clients together
WORKERS = 16 if FULL else 8
BEFORE = 6 if FULL else 2.5         # seconds of load before the fault
AFTER = 10 if FULL else 3           # seconds of load after the recovery
VAR = box.ENV.get("BOX_VAR", os.path.join(box.ROOT, "var"))
HISTORIES = os.path.join(VAR, "histories")
RUN = os.path.join(VAR, "run")


def sql_count(query):
    """A count from MySQL, quicker than box.sql_count (no scripts/stack)."""
    import subprocess
    out = subprocess.run(["mariadb", "--no-defaults", "--socket=" + os.path.join(RUN, "mysqld.sock"),
                          "-uroot", "-N", "-B", "-e", query], capture_output=True, text=True,
                         check=True).stdout
    return int(out.split()[0])


class TableLock:
    """An admin session holding LOCK TABLES ticketing.ticket WRITE: the
    consumer's writes to MySQL block, mid-batch, until release()."""

    def __init__(self):
        import subprocess
        self.p = subprocess.Popen(["mariadb", "--no-defaults", "--socket=" +
                                   os.path.join(RUN, "mysqld.sock"), "-uroot", "-N", "-B",
                                   "--unbuffered"],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.p.stdin.write("LOCK TABLES ticketing.ticket WRITE; SELECT 'locked';\n")
        self.p.stdin.flush()
        check(self.p.stdout.readline().strip() == "locked", "LOCK TABLES failed")

    def release(self):
        if self.p.poll() is None:
            self.p.stdin.write("UNLOCK TABLES;\n")
            self.p.stdin.close()
            self.p.wait(30)


def pool(*zones, event="Event1"):
    """The seats of some Event1 zones, for the load client to pick from."""
    seats = []
    for z in zones:
        seats += history.zone_seats(event, z)
    return seats


class Scenarios:
    """The history of one test file: every scenario adds to it, and every
    check verifies all of it (the stores hold the whole file's sales)."""

    def __init__(self, name):
        self.h = history.History(name)

    def run(self, name, seats, fault, before=BEFORE, after=AFTER, rate=RATE, workers=WORKERS,
            resume=True, load=history.Load, ports=None, **check_kw):
        """Load on `seats` before, during and after fault() (which returns
        when the system is back), then settle and check the history.
        resume: some purchase must succeed after the fault.  load: the load
        client class (history.Load, or orderload.MixedLoad with a list of
        (event, zone) for seats).  ports: the web servers to load (default
        box.WEB_PORTS)."""
        print("--- %s (%s sizes, %d/s, %d clients)" % (name, "full" if FULL else "CI", rate,
                                                      workers), flush=True)
        t0 = time.time()
        n0 = len(self.h.records)
        load = load(self.h, seats, workers=workers, rate=rate, ports=ports).start()
        try:
            time.sleep(before)
            fault()
            back = time.time()
            time.sleep(after)
        finally:
            load.stop()
        mine = self.h.records[n0:]
        ok_after = sum(1 for r in mine if r["outcome"] == "ok" and r["t0"] >= back)
        print("%s: %d requests (%d ok after the recovery) in %.1f s" % (
            name, len(mine), ok_after, time.time() - t0), flush=True)
        if resume:
            check(ok_after > 0, "%s: no purchase succeeded after the recovery" % name)
        return history.settle_and_check(self.h, save_dir=HISTORIES, **check_kw)


# --------------------------------------------------------------- test hooks

# box.py's (the integration tests use them too)
hook_arm = box.hook_arm
hook_wait = box.hook_wait
hook_clear = box.hook_clear


# ---------------------------------------------------------------- servers

def pidfile(path):
    with open(path) as f:
        return int(f.read().split()[0])


def redis_pid(node=0):
    return pidfile(os.path.join(RUN, "redis-%d.pid" % box.REDIS_PORTS[node]))


def dynamodb_pid():
    return pidfile(os.path.join(RUN, "dynamodb.pid"))


def consumer_pid():
    return pidfile(os.path.join(RUN, "consumer.pid"))


def kill9(pid):
    os.kill(pid, signal.SIGKILL)
    box.wait_until(lambda: not box.alive(pid), timeout=30, interval=0.05,
                   what="pid %d gone" % pid)


def responders_back(n=None):
    n = n or int(box.ENV.get("BOX_TICKET_PROCS", "8"))
    box.wait_until(lambda: len([p for p in box.fcgi_pids("ticket") if box.alive(p)]) >= n,
                   timeout=30, what="%d ticket responders" % n)


def health_ok(timeout=120):
    box.wait_until(lambda: all(box.http("GET", "/tickets/health", port=p, timeout=5).status == 200
                               for p in box.WEB_PORTS), timeout=timeout,
                   what="/tickets/health 200 on both web servers")
