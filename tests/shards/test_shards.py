# SPDX-License-Identifier: ISC
"""Redis sharded over two nodes (tests/run runs this with the purchase and
query suites after switching the stack to two Redis nodes): every event
zone lives on the node that CRC16 of its hash tag picks, the same node for
the catalog, the counters, the seats, the owners and the ticket cache;
zones really land on both nodes; ticketctl sees both; a node that is down
only stops the sales of its own zones."""

import box
from box import buy, check, eq, http

ZONES = [("Event1", z) for z in range(1, 101)] + \
        [(e, z) for e in ("Event2", "Event3") for z in range(1, 5)]


def tag(event, zone):
    return "%s:%d" % (event, zone)


def other(node):
    return 1 - node


def zone_on(node, event="Event1"):
    return next(z for e, z in ZONES if e == event and box.zone_node(e, z) == node)


def setup_module():
    check(len(box.REDIS_PORTS) == 2, "two Redis nodes expected, BOX_REDIS_PORTS=%r"
          % box.REDIS_PORTS)
    box.stack("reset")


def test_zones_land_on_both_nodes():
    per_node = {0: set(), 1: set()}
    for e, z in ZONES:
        per_node[box.zone_node(e, z)].add(tag(e, z))
    check(len(per_node[0]) >= 30 and len(per_node[1]) >= 30,
          "zones per node: %d and %d" % (len(per_node[0]), len(per_node[1])))
    for node in (0, 1):
        members = {m.decode() for m in box.redis("SMEMBERS", "bo:zones", node=node)}
        eq(members, per_node[node], "bo:zones of node %d" % node)
    for e, z in ZONES:
        n = box.zone_node(e, z)
        for kind in ("zone", "left"):
            key = "bo:%s:{%s}" % (kind, tag(e, z))
            eq(box.redis("EXISTS", key, node=n), 1, "%s on node %d" % (key, n))
            eq(box.redis("EXISTS", key, node=other(n)), 0, "%s on node %d" % (key, other(n)))


def test_purchases_and_queries_use_the_zone_node():
    for node in (0, 1):
        z = zone_on(node)
        r = buy("Venue1", "Event1", z, 2, 3)
        eq(r.status, 201, "buy in zone %d (node %d): %s" % (z, node, r.body))
        tid = r.json()["ticketId"]
        t = tag("Event1", z)
        eq(box.redis("GETBIT", "bo:seat:{%s}" % t, 30 + 2, node=node), 1, "seat bit")
        eq(box.redis("HGET", "bo:own:{%s}" % t, 32, node=node), tid.encode(), "owner")
        eq(box.redis("EXISTS", "bo:tkt:" + tid, node=node), 1, "ticket cache on the zone node")
        for kind in ("seat", "own", "pend"):
            eq(box.redis("EXISTS", "bo:%s:{%s}" % (kind, t), node=other(node)), 0,
               "bo:%s of zone %d on the other node" % (kind, z))
        eq(buy("Venue1", "Event1", z, 2, 3).json()["error"], "SEAT_TAKEN", "second buyer")
        seats = http("GET", "/get/events/Event1/zones/%d/seats" % z).json()
        eq(seats["remaining"], 779, "remaining of zone %d" % z)
        eq(seats["rows"][1]["seats"][2], "1", "seat map of zone %d" % z)
        eq(http("GET", "/get/tickets/" + tid).json()["ticketId"], tid, "ticket lookup")


def test_ticketctl_sees_both_nodes():
    box.wait_until(lambda: box.sql_count("SELECT COUNT(*) FROM ticketing.ticket") == 2 and
                   box.ddb_count() == 2, timeout=60, what="2 tickets persisted")
    r = box.ticketctl("check", "--wait", "30")
    check("check: 0 difference(s)" in r.stdout, r.stdout)
    r = box.ticketctl("status")
    for node, port in enumerate(box.REDIS_PORTS):
        n = sum(1 for e, z in ZONES if box.zone_node(e, z) == node)
        check("127.0.0.1:%d  memory" % port in r.stdout and
              ", %d event zones" % n in r.stdout.split("127.0.0.1:%d" % port)[1].splitlines()[0],
              "node %d line: %s" % (node, r.stdout))


def test_a_node_down_stops_only_its_zones():
    z0, z1 = zone_on(0), zone_on(1)
    try:
        box.redis("SHUTDOWN", port=box.REDIS_PORTS[1])
    except (box.RedisError, OSError):
        pass    # the connection closes as the server goes
    try:
        box.wait_until(lambda: buy("Venue1", "Event1", z1, 5, 5).status == 503, timeout=10,
                       what="503 for a zone of the stopped node")
        r = buy("Venue1", "Event1", z0, 5, 5)
        eq(r.status, 201, "a zone of the running node: %s" % r.body)
    finally:
        box.stack("start", "redis")
    box.wait_until(lambda: buy("Venue1", "Event1", z1, 5, 6).status == 201, timeout=30,
                   what="sales in zone %d after its node is back" % z1)


if __name__ == "__main__":
    raise SystemExit(box.main(globals()))
