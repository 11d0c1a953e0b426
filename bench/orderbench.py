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
counts the commandstats queries and whatever else talks to that Redis), and
the bytes the append-only file grew by per sale and per ZREM.
Each --zones zone is used once (a sold zone stays sold until scripts/stack
reset): alternate the versions over fresh zones and compare medians.

  bench/orderbench.py --zone 7 [--script lua/order.lua] [--label new]
  git show OLD:lua/order.lua > /tmp/old.lua
  bench/orderbench.py --zone 8 --script /tmp/old.lua --old-shape --label old

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
import persist  # noqa: E402  (tests/lib, on the path through benchlib)


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


def aof(port):
    """Bytes of Redis's append-only file (0 without one)."""
    for line in box.redis("INFO", "persistence", port=port).decode().splitlines():
        if line.startswith("aof_current_size:"):
            return int(line.split(":", 1)[1])
    return 0


def per_call(a, b, cmd):
    ca, ua = a.get(cmd, (0, 0))
    cb, ub = b.get(cmd, (0, 0))
    return (ub - ua) / (cb - ca) if cb > ca else 0.0


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--zone", type=int, required=True)
    ap.add_argument("--script", default=os.path.join(B.ROOT, "lua", "order.lua"))
    ap.add_argument("--old-shape", action="store_true",
                    help="the script's pending member is its message (before the orderId)")
    ap.add_argument("--label", default="")
    args = ap.parse_args()
    tag = "Event1:%d" % args.zone
    port = box.REDIS_PORTS[box.zone_node("Event1", args.zone)]
    sha = box.redis("SCRIPT", "LOAD", persist.lua_source(args.script), port=port).decode()
    kt = "{%s}" % box.slot_tag(box.zone_slot("Event1", args.zone))
    keys = ["bo:%s:{%s}" % (k, tag) for k in ("zone", "left", "seat", "own", "pend", "ords")]
    keys += ["bo:idem:{%s}:-" % tag, "bo:sweep:{%s}" % tag, "bo:holds:{%s}" % tag,
             "bo:hexp:{%s}" % tag, "bo:idem:{%s}:#" % tag, "bo:hend:{%s}" % tag]
    import socket
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    f = s.makefile("rb")

    def call(*a):
        s.sendall(box._resp_encode(a))
        return box._resp_read(f)

    def order(r, c):
        oid, tid = str(uuid.uuid4()), str(uuid.uuid4())
        now = int(time.time() * 1000)
        rep = call("EVALSHA", sha, len(keys), *keys, "Venue1", "Event1", args.zone, oid,
                   time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()), now, "ab" * 32,
                   3600, 0, 1, tid, r, c, "", "", 0, "", "t", tag, kt)
        return rep, oid

    seats = [(r, c) for r in range(1, B.ROWS + 1) for c in range(1, B.COLS // 2 + 1)]
    c0, s0, a0 = cpu(port), stats(port), aof(port)
    members = []
    for r, c in seats:
        rep, oid = order(r, c)
        if rep[0] != 0:
            raise SystemExit("orderbench: seat %d %d of zone %d not sold (%r): use a fresh zone"
                             % (r, c, args.zone, rep[0]))
        # what the responder removes after the confirm
        members.append(rep[3] if args.old_shape else oid)
    c1, s1, a1 = cpu(port), stats(port), aof(port)
    for m in members:
        if call("ZREM", keys[4], m) != 1:
            raise SystemExit("orderbench: no pending member %r (--old-shape?)" % m[:40])
    c2, s2, a2 = cpu(port), stats(port), aof(port)
    for r, c in seats:
        if order(r, c)[0][0] != 1:
            raise SystemExit("orderbench: a repeat was not refused")
    c3, s3 = cpu(port), stats(port)
    n = len(seats)
    print("orderbench %s zone=%d sale_us=%.1f zrem_us=%.1f refusal_us=%.1f "
          "cpu_sale_us=%.1f cpu_zrem_us=%.1f cpu_refusal_us=%.1f aof_sale_b=%d aof_zrem_b=%d"
          % (args.label or os.path.basename(args.script), args.zone, per_call(s0, s1, "evalsha"),
             per_call(s1, s2, "zrem"), per_call(s2, s3, "evalsha"), (c1 - c0) * 1e6 / n,
             (c2 - c1) * 1e6 / n, (c3 - c2) * 1e6 / n, (a1 - a0) // n, (a2 - a1) // n))
    f.close()
    s.close()


if __name__ == "__main__":
    main()
