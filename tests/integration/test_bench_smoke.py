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

import box
from box import check, eq


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
