#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""orderbench - what the reservation script costs Redis (docs/performance.md).

Calls lua/order.lua (or another version of it: --script FILE, e.g. one taken
from an older commit with git show) the way the purchase responder does for
POST /tickets (an order of one explicit seat, no Idempotency-Key): half the
seats of a zone of Event1 once (sales: columns 1-15), then the same seats
again (refusals: 409, seat taken), and the ZREM of the pending entry after
each sale, as after its confirm.  Prints
commandstats' usec_per_call of EVALSHA (sales and refusals apart) and ZREM,
and Redis's own CPU time (INFO cpu) per call of each phase (that one also
counts the commandstats queries and whatever else talks to that Redis).
Each --zones zone is used once (a sold zone stays sold until scripts/stack
reset): alternate the versions over fresh zones and compare medians.

  bench/orderbench.py --zone 7 [--script lua/order.lua] [--label new]

Needs the stack (make up, or scripts/stack with a worktree's env).
"""

import argparse
import os
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as B  # noqa: E402

box = B.box


def stats(port):
    out = {}
    for line in box.redis("INFO", "commandstats", port=port).decode().splitlines():
        if line.startswith("cmdstat_"):
            name, _, rest = line[8:].partition(":")
            kv = dict(x.split("=") for x in rest.split(","))
            out[name] = (int(kv["calls"]), int(kv["usec"]))
    return out


def cpu(port):
    """Redis's own CPU seconds (user + system), all its threads."""
    kv = dict(line.split(":", 1) for line in box.redis("INFO", "cpu", port=port).decode().splitlines()
              if ":" in line)
    return float(kv["used_cpu_user"]) + float(kv["used_cpu_sys"])


def per_call(a, b, cmd):
    ca, ua = a.get(cmd, (0, 0))
    cb, ub = b.get(cmd, (0, 0))
    return (ub - ua) / (cb - ca) if cb > ca else 0.0


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--zone", type=int, required=True)
    ap.add_argument("--script", default=os.path.join(B.ROOT, "lua", "order.lua"))
    ap.add_argument("--label", default="")
    args = ap.parse_args()
    tag = "Event1:%d" % args.zone
    port = box.REDIS_PORTS[box.zone_node("Event1", args.zone)]
    with open(args.script, "rb") as f:
        sha = box.redis("SCRIPT", "LOAD", f.read(), port=port).decode()
    keys = ["bo:%s:{%s}" % (k, tag) for k in ("zone", "left", "seat", "own", "pend", "ords")]
    keys += ["bo:idem:{%s}:-" % tag, "bo:sweep:{%s}" % tag, "bo:holds:{%s}" % tag,
             "bo:hexp:{%s}" % tag]
    import socket
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    f = s.makefile("rb")

    def call(*a):
        s.sendall(box._resp_encode(a))
        return box._resp_read(f)

    def order(r, c):
        oid, tid = str(uuid.uuid4()), str(uuid.uuid4())
        now = int(time.time() * 1000)
        return call("EVALSHA", sha, len(keys), *keys, "Venue1", "Event1", args.zone, oid,
                    time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()), now, "ab" * 32,
                    3600, 0, 1, tid, r, c, "", 0, "", "t", tag)

    seats = [(r, c) for r in range(1, B.ROWS + 1) for c in range(1, B.COLS // 2 + 1)]
    c0, s0 = cpu(port), stats(port)
    msgs = []
    for r, c in seats:
        rep = order(r, c)
        if rep[0] != 0:
            raise SystemExit("orderbench: seat %d %d of zone %d not sold (%r): use a fresh zone"
                             % (r, c, args.zone, rep[0]))
        msgs.append(rep[3])
    c1, s1 = cpu(port), stats(port)
    for m in msgs:
        call("ZREM", keys[4], m)
    c2, s2 = cpu(port), stats(port)
    for r, c in seats:
        if order(r, c)[0] != 1:
            raise SystemExit("orderbench: a repeat was not refused")
    c3, s3 = cpu(port), stats(port)
    n = len(seats)
    print("orderbench %s zone=%d sale_us=%.1f zrem_us=%.1f refusal_us=%.1f "
          "cpu_sale_us=%.1f cpu_zrem_us=%.1f cpu_refusal_us=%.1f"
          % (args.label or os.path.basename(args.script), args.zone, per_call(s0, s1, "evalsha"),
             per_call(s1, s2, "zrem"), per_call(s2, s3, "evalsha"), (c1 - c0) * 1e6 / n,
             (c2 - c1) * 1e6 / n, (c3 - c2) * 1e6 / n))
    f.close()
    s.close()


if __name__ == "__main__":
    main()
