# SPDX-License-Identifier: ISC
"""The bench machinery cannot rot: `scripts/bench --smoke` (one small ratio
on 4 zones of Event1, 64 connections through nginx, the trivial-responder and
broker ceilings included) runs against the test stack and its correctness
line must hold: 201 = seats = MySQL rows = DynamoDB items = Redis seats, no
seat sold twice, every repeat a 409; and the mixed row of orders, holds,
confirms and cancels has its correctness line hold too.  Never a speed."""

import os
import re
import subprocess
import sys
import time

import box
from box import check, eq

sys.path.insert(0, os.path.join(box.ROOT, "bench"))
import benchlib  # noqa: E402

# a process that burns BURN s of CPU in a child of its own, waits for it,
# then sleeps: with "late" the child starts after the meter does, else it
# burns half before and half after the meter's start
BURN = 0.6
PROBE = """
import os, sys, time
def burn(s):
    t = time.process_time()
    while time.process_time() - t < s:
        pass
late = sys.argv[1] == "late"
if late:
    time.sleep(1.0)
pid = os.fork()
if pid == 0:
    burn(%(b)s if late else %(b)s / 2)
    if not late:
        sys.stdout.write("half\\n")
        sys.stdout.flush()
        sys.stdin.readline()
        burn(%(b)s / 2)
    os._exit(0)
os.waitpid(pid, 0)
time.sleep(60)
""" % {"b": BURN}


def reaped_ticks(pid):
    """cutime + cstime of pid: the ticks of the children it waited for."""
    with open("/proc/%d/stat" % pid) as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return int(rest[13]) + int(rest[14])


def probe_cpu(mode):
    """Seconds of CPU the meter gives the probe, over a window in which
    its child ends."""
    p = subprocess.Popen([sys.executable, "-c", PROBE, mode], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    try:
        if mode == "early":
            eq(p.stdout.readline(), "half\n", "the child's first half")
        m = benchlib.CpuMeter(extra={"probe": [p.pid]}).start()
        if mode == "early":
            p.stdin.write("go\n")
            p.stdin.flush()
        box.wait_until(lambda: reaped_ticks(p.pid) > 0, timeout=30, interval=0.1,
                       what="the probe's child reaped")
        time.sleep(0.2)
        pct = m.stop()
        return pct.get("probe", 0.0) * m.seconds / 100.0
    finally:
        p.kill()
        p.wait()


def test_cpu_meter_counts_a_child_that_ends_in_the_window():
    """Redis's AOF rewrite runs in a child that ends within a load: its CPU
    is Redis's.  Before: a child gone by the second sample was not counted
    anywhere of the stack (0 s for the probe)."""
    got = probe_cpu("late")
    check(BURN * 0.8 <= got <= BURN * 1.3, "a child started and reaped in the window: "
          "%.2f s counted, %.2f s burnt" % (got, BURN))
    # one alive at the start: only what it used after the start
    got = probe_cpu("early")
    check(BURN / 2 * 0.7 <= got <= BURN / 2 * 1.4, "a child reaped in the window: %.2f s "
          "counted, %.2f s burnt in it" % (got, BURN / 2))


def test_bench_smoke_correctness_line():
    out_md = os.path.join(box.ENV.get("BOX_VAR", os.path.join(box.ROOT, "var")), "bench-smoke.md")
    r = subprocess.run([os.path.join(box.ROOT, "scripts", "bench"), "--smoke", "--out", out_md],
                       capture_output=True, text=True, timeout=900)
    tail = (r.stdout + r.stderr)[-3000:]
    eq(r.returncode, 0, "scripts/bench --smoke exit status; output:\n" + tail)
    for mode in ("box", "elsewhere"):
        line = re.search(r"^\s*30%% %s: (.*)$" % mode, r.stdout, re.M)
        check(line, "no correctness line of mode %s in:\n%s" % (mode, tail))
        check(line.group(1).endswith("=> CORRECT"), "correctness line: " + line.group(1))
        # the facts behind it, as printed
        check("201 = 3120 (ok)" in line.group(1), line.group(1))
        check("MySQL = 3120 (ok)" in line.group(1), line.group(1))
        check("DynamoDB = 3120 (ok)" in line.group(1), line.group(1))
        check("sold twice: client 0, MySQL 0 (ok)" in line.group(1), line.group(1))
        check("other statuses 0, socket errors 0, unanswered 0" in line.group(1), line.group(1))
    mixed = re.search(r"^\s*mixed: (.*)$", r.stdout, re.M)
    check(mixed, "no mixed correctness line in:\n" + tail)
    check(mixed.group(1).endswith("=> CORRECT"), "mixed correctness line: " + mixed.group(1))
    check(re.search(r"confirms (\d+)/\1, cancels (\d+)/\2;", mixed.group(1)), mixed.group(1))
    # the ceilings ran too (their figures are not checked)
    check(re.search(r"^ceiling .*before: 4056 requests", r.stdout, re.M), "no ceiling line:\n" + tail)
    check(re.search(r"^broker ceiling .*one message in flight.* confirmed/s", r.stdout, re.M),
          "no broker line:\n" + tail)
    check(re.search(r"^broker ceiling .*pipelined.* confirmed/s, .* failed 0, unknown 0", r.stdout,
                    re.M), "no pipelined broker line:\n" + tail)
    check(os.path.exists(out_md), "no markdown written")
    # the trivial responder is gone again
    run = os.path.join(box.ENV.get("BOX_VAR", os.path.join(box.ROOT, "var")), "run")
    check(not os.path.exists(os.path.join(run, "hello.pid")), "hello responders left running")
    eq(box.http("GET", "/tickets/health").status, 200, "stack healthy after the bench")


if __name__ == "__main__":
    raise SystemExit(box.main(globals()))
