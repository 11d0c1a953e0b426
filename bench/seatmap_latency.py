#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""seatmap_latency - seat-map latency under a purchase load, with the query
responder reading Redis masters or replicas (redis_read_from; issue 15 item
10, docs/performance.md "Seat maps from the replicas").

On a stack whose services run on the Redis Cluster (tests/run cluster with
KEEP_STACK=1, or BOX_REDIS_TOPOLOGY=cluster): for each round, the query
responders are restarted with redis_read_from = master or replica
(alternating, --rounds pairs), then `--buyers` threads buy best-available
orders of 1-4 seats as fast as they get answers over fresh zones of Event1
on every master (`--rate` purchases a second in all, or as fast as
answered), while `--browsers` threads read seat maps of the same
zones; the seat-map latencies (client side, through nginx and lighttpd)
give p50/p99 per round and per mode (medians of the rounds).

  source /work/wt/<name>.env; BOX_REDIS_MODE=cluster ... bench/seatmap_latency.py
"""

import argparse
import http.client
import json
import os
import random
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "tests", "lib"))
import box  # noqa: E402

EVENT = "Event1"


def restart_query(read_from):
    env = dict(os.environ, BOXOFFICE_REDIS_READ_FROM=read_from)
    for act in ("stop", "start"):
        subprocess.run([os.path.join(box.ROOT, "scripts", "stack"), act, "query"], env=env,
                       check=True, capture_output=True)


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100.0 * len(xs)))] if xs else float("nan")


def one_round(read_from, zones, seconds, buyers, browsers, rate):
    restart_query(read_from)
    time.sleep(1)
    stop = threading.Event()
    lat, outcomes, lock = [], {}, threading.Lock()

    def buyer(n):
        port = box.WEB_PORTS[n % 2]
        rnd = random.Random(n)
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        gap = buyers / rate if rate else 0
        while not stop.is_set():
            t0 = time.time()
            body = json.dumps({"venueId": "Venue1", "eventId": EVENT,
                               "zoneId": rnd.choice(zones), "quantity": rnd.randint(1, 4)})
            try:
                c.request("POST", "/orders", body, {"Content-Type": "application/json"})
                r = c.getresponse()
                r.read()
                st = r.status
            except (OSError, http.client.HTTPException):
                c.close()
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                st = "err"
            with lock:
                outcomes[st] = outcomes.get(st, 0) + 1
            if gap:
                stop.wait(max(0.0, gap - (time.time() - t0)))

    def browser(n):
        port = box.WEB_PORTS[n % 2]
        rnd = random.Random(1000 + n)
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while not stop.is_set():
            t0 = time.perf_counter()
            try:
                c.request("GET", "/get/events/%s/zones/%d/seats" % (EVENT, rnd.choice(zones)))
                r = c.getresponse()
                r.read()
                ok = r.status == 200
            except (OSError, http.client.HTTPException):
                c.close()
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                ok = False
            if ok:
                with lock:
                    lat.append((time.perf_counter() - t0) * 1000.0)

    threads = [threading.Thread(target=buyer, args=(i,)) for i in range(buyers)]
    threads += [threading.Thread(target=browser, args=(i,)) for i in range(browsers)]
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    return lat, outcomes


def metric(name):
    r = box.http("GET", "/get/metrics", port=box.NGINX_METRICS)
    for line in r.body.splitlines():
        if line.startswith(name + "{"):
            return float(line.split()[-1])
    return float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=2, help="pairs of rounds (master, replica)")
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--buyers", type=int, default=12)
    ap.add_argument("--browsers", type=int, default=4)
    ap.add_argument("--rate", type=float, default=0,
                    help="purchases a second in all (0: as fast as answered)")
    ap.add_argument("--zones-per-round", type=int, default=12)
    ap.add_argument("--first-zone", type=int, default=20)
    ap.add_argument("--args-env", default="BOX_SEATMAP_ARGS",
                    help="more arguments from this environment variable")
    a = ap.parse_args()
    if os.environ.get(a.args_env):
        a = ap.parse_args(sys.argv[1:] + os.environ[a.args_env].split())
    res = {"master": [], "replica": []}
    z = a.first_zone
    for k in range(a.rounds):
        for mode in (("master", "replica") if k % 2 == 0 else ("replica", "master")):
            zones = list(range(z, z + a.zones_per_round))
            z += a.zones_per_round
            r0 = metric("boxoffice_redis_replica_reads_total")
            lat, out = one_round(mode, zones, a.seconds, a.buyers, a.browsers, a.rate)
            r1 = metric("boxoffice_redis_replica_reads_total")
            p50, p99 = pct(lat, 50), pct(lat, 99)
            res[mode].append((p50, p99))
            print("round %d %-7s zones %d-%d: %d seat maps, p50 %.1f ms, p99 %.1f ms; "
                  "purchases %r; replica reads +%d" % (k + 1, mode, zones[0], zones[-1],
                                                       len(lat), p50, p99, out, r1 - r0),
                  flush=True)
    for mode in ("master", "replica"):
        p50s = sorted(x[0] for x in res[mode])
        p99s = sorted(x[1] for x in res[mode])
        print("%-7s median of rounds: p50 %.1f ms, p99 %.1f ms" % (
            mode, p50s[len(p50s) // 2], p99s[len(p99s) // 2]))
    restart_query("master")


if __name__ == "__main__":
    main()
