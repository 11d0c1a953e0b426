# SPDX-License-Identifier: ISC
"""orderlib - the orders of CONTRACT §7 in scripts/demo and scripts/bench.

  scripted()     the demo's short phase on Event2 zone 1: an order of 4 seats
                 by quantity, a hold confirmed, a hold deleted, a ticket
                 cancelled by its token, an idempotent retry; then waits for
                 the consumer and counts what every store holds
  store_counts() live and cancelled tickets of an event zone in Redis, MySQL
                 and DynamoDB, orders in MySQL, active holds in Redis

Python standard library only (plus tests/lib/box.py, through benchlib).
"""

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


def ddb_zone_counts(event, zone):
    """(live, cancelled) items of an event zone in DynamoDB (Scan, COUNT)."""
    live = cancelled = 0
    start = None
    while True:
        req = {"TableName": "Tickets", "Select": "SPECIFIC_ATTRIBUTES",
               "ProjectionExpression": "#s", "ExpressionAttributeNames": {"#s": "status", "#e": "eventId",
                                                                          "#z": "zoneId"},
               "FilterExpression": "#e = :e AND #z = :z",
               "ExpressionAttributeValues": {":e": {"S": event}, ":z": {"N": str(zone)}}}
        if start:
            req["ExclusiveStartKey"] = start
        code, res = box.ddb("Scan", req, timeout=60)
        if code != 200:
            raise B.BenchError("DynamoDB Scan: %s %s" % (code, res))
        for it in res.get("Items", []):
            if it.get("status", {}).get("S") == "CANCELLED":
                cancelled += 1
            else:
                live += 1
        start = res.get("LastEvaluatedKey")
        if not start:
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
