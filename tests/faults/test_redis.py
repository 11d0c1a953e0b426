# SPDX-License-Identifier: ISC
"""Fault scenarios: Redis, the seat store, under load (contended seats, both
web servers), each ending with the history check (tests/lib/history.py).

- Redis frozen (SIGSTOP) longer than redis_timeout_ms, then resumed: the
  reservations the responders gave up on are executed when it wakes up.
  The responders answer those with the unknown outcome (503 + ticketId),
  never "nothing was sold"; the sweeper completes them.
- Redis killed with SIGKILL and restarted from its AOF, with the AOF's
  last second cut off as an OS crash would lose it (appendfsync everysec):
  the stack fences the restarted node (no zone sells until `ticketctl
  rebuild`), the documented rebuild restores the lost sales, nothing is
  sold twice.
- Redis loses everything (FLUSHALL) while tickets are queued: the
  documented procedure (docs/reliability.md, "After a Redis loss": stop
  sales, drain, stop the consumer, init, rebuild, check, start) restores
  it before sales go on.
"""

import collections
import os
import signal
import threading
import time

import box
import history
import scenario as sc
from box import check, eq

S = sc.Scenarios("redis")


def setup_module():
    box.stack("reset")


def redis_timeout_s():
    """redis_timeout_ms of the responders (environment, then settings file)."""
    ms = box.ENV.get("BOXOFFICE_REDIS_TIMEOUT_MS") or box.setting("redis_timeout_ms") or 1000
    return int(ms) / 1000.0


def test_redis_frozen_past_its_timeout():
    n0 = len(S.h.records)
    window = []
    timeout_s = redis_timeout_s()

    def fault():
        pid = sc.redis_pid()
        # the load keeps running: purchases reach the responders all through
        # the freeze, and each waits redis_timeout_ms on a script Redis
        # has read (or will read) but not answered
        os.kill(pid, signal.SIGSTOP)
        t = time.time()
        try:
            time.sleep(max(3.0, 3 * timeout_s))
        finally:
            os.kill(pid, signal.SIGCONT)
            window.append((t, time.time()))
        sc.health_ok()
    S.run("Redis frozen (SIGSTOP) past redis_timeout_ms", sc.pool(11, 12), fault)
    a, b = window[0]
    mine = S.h.records[n0:]
    # in doubt: 503 with the ticketId, "seat store did not answer", to a
    # request that was in flight while Redis stood still
    doubt = [r for r in mine if r["outcome"] == "unknown" and r.get("ticketId") and
             "reservation in doubt" in r["why"] and r["t0"] < b and r["t1"] > a]
    others = collections.Counter(r["why"] for r in mine if r["t0"] < b and r["t1"] > a)
    print("during the freeze (%.1f s): %d in-doubt answers (503 with ticketId); all answers %s"
          % (b - a, len(doubt), dict(others)))
    check(doubt, "no in-doubt answer (503 with ticketId, the script may have run) while "
          "Redis was frozen: %s" % dict(others))
    slow = max(r["t1"] - r["t0"] for r in doubt)
    check(slow < timeout_s + 5, "an in-doubt answer took %.1f s" % slow)


class AofWatch:
    """Remembers the size of Redis' newest AOF file every 100 ms, so that
    after a kill the file can be cut back to what it was a second earlier
    (what an OS crash with appendfsync everysec may lose)."""

    def __init__(self, port):
        self.dir = os.path.join(sc.VAR, "redis", str(port), "appendonlydir")
        self.sizes = []
        self.stop_ev = threading.Event()
        self.th = threading.Thread(target=self.run, daemon=True)

    def newest(self):
        with open([os.path.join(self.dir, f) for f in os.listdir(self.dir)
                   if f.endswith(".manifest")][0]) as f:
            incr = [line.split()[1] for line in f if " type i" in line]
        return os.path.join(self.dir, incr[-1])

    def run(self):
        while not self.stop_ev.is_set():
            try:
                path = self.newest()
                self.sizes.append((time.time(), path, os.path.getsize(path)))
            except (OSError, IndexError):
                pass
            time.sleep(0.1)

    def start(self):
        self.th.start()
        time.sleep(1.5)

    def cut_last_second(self, killed_at):
        self.stop_ev.set()
        self.th.join()
        path = self.newest()
        older = [s for (t, p, s) in self.sizes if p == path and t <= killed_at - 1.0]
        check(older, "no AOF size from a second before the kill")
        now = os.path.getsize(path)
        os.truncate(path, older[-1])
        return now - older[-1]


def test_redis_kill_9_and_restart_from_a_short_aof():
    port = box.REDIS_PORTS[0]
    zones = (13, 14)
    cut = []

    def fault():
        watch = AofWatch(port)
        watch.start()
        pid = sc.redis_pid()
        t = time.time()
        sc.kill9(pid)
        cut.append(watch.cut_last_second(t))
        S.h.lost.append((t - 1.5, t))
        print("AOF: cut %d bytes (the last second of writes)" % cut[0])
        out = box.stack("start", "redis")
        check("fenced" in out, "the restarted node was not fenced: %s" % out)
        # the restarted node is fenced: no zone sells until it is rebuilt
        time.sleep(2)
        r = history.buy_recorded(S.h, ("Venue1", "Event1", zones[0], 26, 30))
        check(r.get("status") == 503 and "being rebuilt" in r.get("body", ""),
              "a fenced zone answered %r" % r.get("body"))
        rebuild(stop_sales=True)
    S.run("Redis kill -9, restart from an AOF without its last second", sc.pool(*zones), fault)
    check(cut and cut[0] > 0, "nothing was cut from the AOF: %r" % cut)


def rebuild(stop_sales=True, init=False):
    """The procedure of docs/reliability.md, "After a Redis loss"."""
    if stop_sales:
        box.stack("stop", "ticket")
    box.wait_until(lambda: box.queue_count("ticketSQL") == 0, timeout=120,
                   what="the consumer draining ticketSQL")
    box.stack("stop", "consumer")
    try:
        if init:
            r = box.ticketctl("init", check_rc=False)
            print("ticketctl init: exit %d\n%s%s" % (r.returncode, r.stdout, r.stderr))
        r = box.ticketctl("rebuild", check_rc=False)
        print("ticketctl rebuild: exit %d\n%s%s" % (r.returncode, r.stdout[-1500:], r.stderr))
        eq(r.returncode, 0, "ticketctl rebuild exit status")
        r = box.ticketctl("check", check_rc=False)
        print("ticketctl check: %s" % r.stdout.strip().splitlines()[-1])
        eq(r.returncode, 0, "ticketctl check after the rebuild: %s" % r.stdout[-1500:])
        if init:
            eq(box.ticketctl("init", check_rc=False).returncode, 0, "ticketctl init after rebuild")
    finally:
        box.stack("start", "consumer")
        if stop_sales:
            box.stack("start", "ticket")


def test_redis_loses_everything_and_is_rebuilt():
    def fault():
        # tickets in flight: the consumer is away, ticketSQL fills
        box.stack("stop", "consumer")
        time.sleep(2)
        queued = box.queue_count("ticketSQL")
        check(queued > 0, "nothing queued")
        for n in range(len(box.REDIS_PORTS)):
            box.redis("FLUSHALL", node=n)
        S.h.lost.append((time.time() - 10, time.time()))
        time.sleep(1)
        box.stack("start", "consumer")
        rebuild(stop_sales=True, init=True)
    # pending reservations were lost with Redis: their unknown outcomes may
    # never become tickets (docs/reliability.md)
    S.run("Redis FLUSHALL, rebuild from MySQL and the queue", sc.pool(15, 16), fault)


if __name__ == "__main__":
    raise SystemExit(box.main(globals()))
