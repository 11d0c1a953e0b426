# SPDX-License-Identifier: ISC
"""orderlib - the orders of CONTRACT §7 in scripts/demo and scripts/bench.

  scripted()     the demo's short phase on Event2 zone 1: an order of 4 seats
                 by quantity, a hold confirmed, a hold deleted, a ticket
                 cancelled by its token, an idempotent retry; then waits for
                 the consumer and counts what every store holds
  store_counts() live and cancelled tickets of an event zone in Redis, MySQL
                 and DynamoDB, orders in MySQL, active holds in Redis
  mixed_row()    the mixed row of scripts/bench: one load of single seats,
                 orders of 2-4 and holds on Event1 (one wrk per kind at
                 once: latencies per kind), then a second round of confirms
                 (half the holds) and cancels; the other holds expire

Python standard library only (plus tests/lib/box.py, through benchlib).
"""

import glob
import os
import random
import time

import benchlib as B

box = B.box
DEMO = ("Venue2", "Event2", 1)       # 10 rows x 20 seats, not sold by the load


class Step:
    """One request of the scripted phase, printed as a line."""

    def __init__(self, out):
        self.out = out

    def __call__(self, what, method, path, body=None, headers=None, want=None):
        r = box.http(method, path, body, headers=headers, port=B.PORT)
        ok = want is None or r.status == want
        self.out("  %-46s %s %s -> %d%s" % (what, method, path if len(path) < 40 else path[:37] + "...",
                                           r.status, "" if ok else "  (expected %d)" % want))
        if not ok:
            raise B.BenchError("%s: %d %s" % (what, r.status, r.body[:300]))
        return r


def seats_of(o):
    return ", ".join("%d-%d" % (t["row"], t["column"]) for t in o["tickets"])


def ddb_scan(req):
    """Every page of a Scan of the Tickets table."""
    req = dict(req, TableName="Tickets")
    while True:
        code, res = box.ddb("Scan", req, timeout=120)
        if code != 200:
            raise B.BenchError("DynamoDB Scan: %s %s" % (code, res))
        yield res
        if not res.get("LastEvaluatedKey"):
            return
        req["ExclusiveStartKey"] = res["LastEvaluatedKey"]


def ddb_zone_counts(event, zone):
    """(live, cancelled) items of an event zone in DynamoDB."""
    live = cancelled = 0
    for res in ddb_scan({"Select": "SPECIFIC_ATTRIBUTES", "ProjectionExpression": "#s",
                         "ExpressionAttributeNames": {"#s": "status", "#e": "eventId", "#z": "zoneId"},
                         "FilterExpression": "#e = :e AND #z = :z",
                         "ExpressionAttributeValues": {":e": {"S": event}, ":z": {"N": str(zone)}}}):
        for it in res.get("Items", []):
            if it.get("status", {}).get("S") == "CANCELLED":
                cancelled += 1
            else:
                live += 1
    return live, cancelled


def store_counts(event, zone):
    """What each store holds for one event zone."""
    tag = "{%s:%d}" % (event, zone)
    node = box.zone_node(event, zone)
    holds = box.redis("HVALS", "bo:holds:" + tag, node=node) or []
    mysql = box.sql("SELECT COUNT(*), COALESCE(SUM(status = 'CANCELLED'), 0) FROM ticketing.ticket "
                    "WHERE event_id = '%s' AND zone_id = %d" % (event, zone))[0]
    orders = box.sql_count("SELECT COUNT(*) FROM ticketing.orders WHERE event_id = '%s' AND zone_id = %d"
                           % (event, zone))
    live, cancelled = ddb_zone_counts(event, zone)
    return {
        "redis_taken": box.redis("BITCOUNT", "bo:seat:" + tag, node=node),
        "redis_owners": box.redis("HLEN", "bo:own:" + tag, node=node),
        "redis_holds_active": sum(1 for h in holds if h.startswith(b"A ")),
        "redis_pending": box.redis("ZCARD", "bo:pend:" + tag, node=node) +
        box.redis("ZCARD", "bo:sweep:" + tag, node=node),
        "mysql_live": int(mysql[0]) - int(mysql[1]), "mysql_cancelled": int(mysql[1]),
        "mysql_orders": orders,
        "ddb_live": live, "ddb_cancelled": cancelled,
    }


def scripted(out=print, timeout_s=60):
    """The demo's phase of orders, holds and cancellations; returns
    (ok, counts, expected)."""
    venue, event, zone = DEMO
    step = Step(out)

    def where(**kw):
        return dict({"venueId": venue, "eventId": event, "zoneId": zone}, **kw)

    o = step("an order of 4 adjacent seats (best available)", "POST", "/orders", where(quantity=4),
             want=201).json()
    out("  %-46s seats %s, total %.2f" % ("", seats_of(o), o["total"]))
    h = step("a hold of 2 seats for 60 s", "POST", "/holds", where(quantity=2, holdSeconds=60), want=201).json()
    c = step("... paid: the hold confirmed", "POST", "/holds/%s/confirm" % h["holdId"], want=201).json()
    out("  %-46s order of seats %s" % ("", seats_of(c)))
    d = step("a hold of 1 seat", "POST", "/holds", where(seats=[{"row": 3, "column": 10}]), want=201).json()
    step("... given back: the hold deleted", "DELETE", "/holds/" + d["holdId"], want=204)
    t = o["tickets"][0]
    x = step("one ticket of the order cancelled by token", "POST", "/tickets/%s/cancel" % t["ticketId"],
             {"cancelToken": o["cancelToken"]}, want=200).json()
    out("  %-46s seat %d-%d %s, on sale again" % ("", x["row"], x["column"], x["status"]))
    key = {"Idempotency-Key": "demo-%d" % int(time.time() * 1000)}
    k1 = step("an order with an Idempotency-Key", "POST", "/orders",
              where(seats=[{"row": 5, "column": 1}, {"row": 5, "column": 2}]), headers=key, want=201)
    k2 = step("... retried (the answer was lost)", "POST", "/orders",
              where(seats=[{"row": 5, "column": 1}, {"row": 5, "column": 2}]), headers=key, want=201)
    replayed = k2.header("Idempotent-Replayed") == "true" and k2.json()["orderId"] == k1.json()["orderId"]
    out("  %-46s Idempotent-Replayed: %s, same order: %s" % (
        "", k2.header("Idempotent-Replayed"), "yes" if k2.json()["orderId"] == k1.json()["orderId"] else "NO"))
    want = {"redis_taken": 7, "redis_owners": 7, "redis_holds_active": 0, "redis_pending": 0,
            "mysql_live": 7, "mysql_cancelled": 1, "mysql_orders": 3, "ddb_live": 7, "ddb_cancelled": 1}
    end = time.time() + timeout_s
    while True:
        got = store_counts(event, zone)
        if got == want or time.time() > end:
            break
        time.sleep(0.25)
    return replayed and got == want, got, want


# ------------------------------------------------------------- mixed row

EXPIRE_S = 5          # holdSeconds of the holds left to expire
CANCEL_SHARE = 0.1    # of the tickets and orders sold, one ticket cancelled


def mixed_files(zones, seed, workdir, requests):
    """requests lines over zones 1..zones of Event1, one file per kind:
    60 % single seats ("ticket"), 30 % orders of 2-4 seats, half best
    available ("order"), 10 % holds ("hold": half to be confirmed,
    holdSeconds 600; half left to expire, EXPIRE_S).  Returns [(kind,
    path, lines)]."""
    rng = random.Random("mixed:%s:%s" % (seed, zones))
    lines = {"ticket": [], "order": [], "hold": []}
    for i in range(requests):
        z, x = rng.randint(1, zones), rng.random()
        head = '{"venueId":"Venue1","eventId":"Event1","zoneId":%d,' % z
        if x < 0.6:
            lines["ticket"].append(head + '"row":%d,"column":%d}' % (rng.randint(1, B.ROWS),
                                                                    rng.randint(1, B.COLS)))
            continue
        n = rng.randint(2, 4)
        if rng.random() < 0.5:
            what = '"quantity":%d' % n
        else:
            r, c = rng.randint(1, B.ROWS), rng.randint(1, B.COLS - n + 1)
            what = '"seats":[%s]' % ",".join('{"row":%d,"column":%d}' % (r, c + k) for k in range(n))
        if x < 0.9:
            lines["order"].append("POST /orders " + head + what + "}")
        else:
            secs = 600 if rng.random() < 0.5 else EXPIRE_S
            lines["hold"].append("POST /holds " + head + what + ',"holdSeconds":%d}' % secs)
    return [write_lines(workdir, "mixed-%s-z%d-s%s.txt" % (k, zones, seed), k, v) for k, v in lines.items()]


def write_lines(workdir, name, kind, lines):
    path = os.path.join(workdir, name)
    os.makedirs(workdir, exist_ok=True)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return kind, path, len(lines)


def parallel_wrk(files, connections, threads, prefix):
    """One wrk per kind at the same time, the connections shared by the
    kinds' requests (at least threads each): a mixed load whose latencies
    are measured per kind.  Returns ({kind: facts}, facts of the whole)."""
    import threading
    total = sum(n for _, _, n in files if n) or 1
    out, errs, runs = {}, [], []
    B.settle()
    meter = B.CpuMeter()
    for i, (kind, path, n) in enumerate(f for f in files if f[2]):
        conns = max(threads, int(round(connections * n / total)))

        def run(kind=kind, path=path, conns=conns, m=meter if i == 0 else None):
            try:
                out[kind] = B.run_wrk(path, conns, threads, meter=m, ids="%s-%s" % (prefix, kind))
            except B.BenchError as e:
                errs.append(e)
        runs.append(threading.Thread(target=run))
    for t in runs:
        t.start()
    for t in runs:
        t.join()
    if errs:
        raise errs[0]
    facts = {"statuses": {}, "codes": {}, "cpu": None}
    for f in out.values():
        for key in ("statuses", "codes"):
            for k, v in f[key].items():
                facts[key][k] = facts[key].get(k, 0) + v
        for key in ("requests", "answered", "socket_errors", "seats_distinct", "seats_twice"):
            facts[key] = facts.get(key, 0) + f.get(key, 0)
        facts["cpu"] = facts["cpu"] or f["cpu"]
    starts = [f["end_time"] - (f["seconds"] or f["wall"]) for f in out.values()]
    facts["end_time"] = max(f["end_time"] for f in out.values())
    facts["seconds"] = facts["wall"] = facts["end_time"] - min(starts)
    facts["rate"] = facts["answered"] / facts["seconds"] if facts["seconds"] > 0 else 0.0
    facts["p50_ms"] = max(f["p50_ms"] for f in out.values())
    facts["p99_ms"] = max(f["p99_ms"] for f in out.values())
    return out, facts


def read_ids(prefix):
    out = {"t": [], "o": [], "h": []}
    for f in glob.glob(prefix + "-*.*"):
        with open(f) as fh:
            for line in fh:
                p = line.split()
                if len(p) >= 2 and p[0] in out:
                    out[p[0]].append(p[1:])
    return out


def event1_counts():
    """(live tickets, distinct live seats, cancelled) of Event1 in MySQL."""
    row = box.sql("SELECT SUM(status <> 'CANCELLED'), COUNT(DISTINCT IF(status <> 'CANCELLED', "
                  "CONCAT(zone_id, ':', row_no, ':', col_no), NULL)), SUM(status = 'CANCELLED') "
                  "FROM ticketing.ticket WHERE event_id = 'Event1'")[0]
    return tuple(int(x) if x not in ("NULL", None) else 0 for x in row)


def ddb_cancelled():
    return sum(res.get("Count", 0) for res in ddb_scan(
        {"Select": "COUNT", "FilterExpression": "#s = :c", "ExpressionAttributeNames": {"#s": "status"},
         "ExpressionAttributeValues": {":c": {"S": "CANCELLED"}}}))


def per_zone(cmd, key, prefix, zones):
    """How many members of the hash key ("bo:holds", ...) of zones 1..zones
    of Event1 start with prefix (cmd: HVALS or HKEYS)."""
    n = 0
    for z in range(1, zones + 1):
        got = box.redis(cmd, "%s:{Event1:%d}" % (key, z), node=box.zone_node("Event1", z)) or []
        n += sum(1 for v in got if v.startswith(prefix))
    return n


def redis_holds(zones):
    """Holds still active."""
    return per_zone("HVALS", "bo:holds", b"A ", zones)


def redis_cancelled(zones):
    """Tickets Redis recorded as cancelled (bo:ords c:<ticketId>)."""
    return per_zone("HKEYS", "bo:ords", b"c:", zones)


def mixed_row(zones, seed, connections, threads, workdir, requests=None):
    """Reset; round 1 (mixed_files) and round 2 (confirms of the holds of
    600 s, a cancel of CANCEL_SHARE of the tickets and orders sold, by
    token), each request sent once, one wrk per kind at the same time,
    through nginx; then the holds left expire, the stores drain, and the
    check."""
    B.reset()
    requests = requests or zones * B.ROWS * B.COLS
    prefix = os.path.join(workdir, "mixed-ids")
    for f in glob.glob(prefix + "*"):
        os.unlink(f)
    kinds1, r1 = parallel_wrk(mixed_files(zones, seed, workdir, requests), connections, threads,
                              prefix)
    ids = read_ids(prefix)
    rng = random.Random("mixed2:%s" % seed)
    # the holds of 600 s (the others expire within EXPIRE_S): by expiresAt
    horizon = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() + 60))
    confirm = ["POST /holds/%s/confirm" % h[0] for h in ids["h"] if len(h) > 1 and h[1] > horizon]
    tix = set(t[0] for t in ids["t"])
    sold = ids["t"] + ids["o"]
    cancel = ['POST /%s/%s/cancel {"cancelToken":"%s"}' % ("tickets" if oid in tix else "orders", oid, tok)
              for oid, tok in rng.sample(sold, int(len(sold) * CANCEL_SHARE))]
    kinds2, r2 = parallel_wrk([write_lines(workdir, "mixed-confirm-s%s.txt" % seed, "confirm", confirm),
                               write_lines(workdir, "mixed-cancel-s%s.txt" % seed, "cancel", cancel)],
                              connections, threads, prefix + "2") if confirm or cancel else ({}, None)
    facts = {"round1": r1, "round2": r2, "kinds": dict(kinds1, **kinds2), "holds": len(ids["h"]),
             "confirms": len(confirm), "cancels": len(cancel), "zones": zones, "requests": requests}
    facts["check"] = mixed_check(facts)
    return facts


def mixed_check(f):
    """Waits for the holds left to expire and for both stores, then checks:
    the seats of the 201s (tickets, orders, confirms) = live + cancelled
    tickets in MySQL; live tickets = distinct live seats (never two on a
    seat) = Redis seats taken = DynamoDB live items; cancelled in MySQL =
    in DynamoDB = in Redis; no hold left active; every confirm 201 and
    every cancel 200; no 5xx, no socket error, every request answered."""
    r1, r2 = f["round1"], f["round2"] or {"statuses": {}, "seats_distinct": 0, "seats_twice": 0,
                                          "requests": 0, "answered": 0, "socket_errors": 0}
    sold = r1.get("seats_distinct", 0) + r2.get("seats_distinct", 0)
    end = time.time() + max(120.0, 6 * (r1["seconds"] or r1["wall"]))
    while True:
        active = redis_holds(f["zones"])
        live, distinct, cancelled = event1_counts()
        rcan = redis_cancelled(f["zones"])
        items = B.ddb_item_count()
        if (active == 0 and live + cancelled == sold and cancelled == rcan and items == sold) or \
                time.time() > end:
            break
        time.sleep(0.5)
    taken = B.redis_state(f["zones"])[0]
    dcan = ddb_cancelled()
    bad = sum(n for s, n in list(r1["statuses"].items()) + list(r2["statuses"].items()) if s >= 500)
    c = {"sold": sold, "mysql_live": live, "mysql_distinct": distinct, "mysql_cancelled": cancelled,
         "redis_taken": taken, "redis_cancelled": rcan, "redis_holds_active": active,
         "ddb_live": items - dcan, "ddb_cancelled": dcan,
         "client_twice": r1.get("seats_twice", 0) + r2.get("seats_twice", 0),
         "confirmed": r2["statuses"].get(201, 0), "confirms": f["confirms"],
         "cancelled_ok": r2["statuses"].get(200, 0), "cancels": f["cancels"], "5xx": bad,
         "socket_errors": r1["socket_errors"] + r2["socket_errors"],
         "unanswered": r1["requests"] - r1["answered"] + r2["requests"] - r2["answered"]}
    c["ok"] = (live + cancelled == sold and live == distinct == taken == c["ddb_live"] and
               cancelled == rcan == dcan and active == 0 and c["client_twice"] == 0 and
               c["confirmed"] == f["confirms"] and c["cancelled_ok"] == f["cancels"] and bad == 0 and
               c["socket_errors"] == 0 and c["unanswered"] == 0)
    return c


def mixed_line(c):
    return ("seats sold %(sold)d = MySQL live %(mysql_live)d + cancelled %(mysql_cancelled)d; live: "
            "MySQL %(mysql_live)d, distinct seats %(mysql_distinct)d, Redis seats %(redis_taken)d, "
            "DynamoDB %(ddb_live)d; cancelled: Redis %(redis_cancelled)d, DynamoDB %(ddb_cancelled)d; "
            "holds active %(redis_holds_active)d; confirms %(confirmed)d/%(confirms)d, cancels "
            "%(cancelled_ok)d/%(cancels)d; sold twice %(client_twice)d; 5xx %(5xx)d, socket errors "
            "%(socket_errors)d, unanswered %(unanswered)d" % c) + (" => CORRECT" if c["ok"] else " => WRONG")
