# SPDX-License-Identifier: ISC
"""test_seatmap_migration.py - the query responder's seat map while the
Redis Cluster moves the zone's slot to another master (CONTRACT §8: the
client follows ASK; docs/api.md, the seat map), on the cluster of
tests/run cluster.

The slot is put in IMPORTING (destination) and MIGRATING (source) state as
`redis-cli --cluster reshard` does, and its keys are MIGRATEd in two
batches: the seat bitmap first (the zone's keys split between the two
nodes), then every other key of the slot.  Before the first batch, after
each, and once the keys are back and the slot stable again, every query
process answers through every web server exactly the map it answered
before: a zone with sales (all three keys exist), a zone without (no seat
bitmap: the transaction cannot run on any node for the whole migration)
and a zone the venue does not have (404).  Before the fix the transaction
answered EXECABORT and the seat map was 503 for the whole migration.

The same once more with redis_read_from = replica: the source's replica
does not know the slot migrates, and the keys already moved are missing
there (the map of a zone whose bitmap moved showed every seat free, one
whose keys all moved was 404).  A map read on a replica that is not whole
(no catalog hash or counters, or counters that do not match the seat bits)
is read again on the master, following ASK.
"""

import json

import box
from box import check, eq, http

EVENT = "Event1"
SOLD = (EVENT, 93)      # seats sold here: zone, counters and seat bitmap exist
EMPTY = None            # (event, zone) with nothing sold and no seat bitmap, as
                        # `ticketctl init` leaves it: made at setup (the suite's
                        # failovers sell in every Event1 zone, and its `rebuild
                        # --all` writes a bitmap of zeros for every zone)
UNKNOWN = (EVENT, 101)  # Venue1 has zones 1..100
SEATS = ((1, 1), (2, 5), (26, 30))
PROCS = int(box.ENV.get("BOX_QUERY_PROCS", "4"))
BEFORE = {}


def r(port, *args):
    return box.redis(*args, port=port)


def node_id(port):
    return r(port, "CLUSTER", "MYID").decode()


def seat_map(ez):
    """(status, body) of the seat map of (event, zone) through each web
    server."""
    out = []
    for port in box.WEB_PORTS:
        a = http("GET", "/get/events/%s/zones/%d/seats" % ez, port=port)
        out.append((a.status, a.body))
    return out


def answers(ez):
    """The distinct (status, body) of many reads (every query process
    answers some)."""
    got = set()
    for _ in range(PROCS * 2):
        got.update(seat_map(ez))
    return got


def same_as_before(ez, when):
    got = answers(ez)
    check(got == {BEFORE[ez]}, "seat map of %s zone %d %s: %r, not the %d of before" % (
        ez[0], ez[1], when, sorted((st, body[:100]) for st, body in got), BEFORE[ez][0]))


def settled():
    try:
        return all(b"cluster_state:ok" in r(p, "CLUSTER", "INFO") for p in box.CLUSTER_PORTS)
    except (OSError, box.RedisError):
        return False


def setup_module():
    global EMPTY
    eq(box.REDIS_MODE, "cluster", "BOX_REDIS_MODE (tests/run cluster)")
    box.wait_until(settled, timeout=60, what="the Redis Cluster settled")
    zones = [("Event3", z) for z in range(4, 0, -1)] + [("Event2", z) for z in range(4, 0, -1)] \
        + [(EVENT, z) for z in range(100, 0, -1) if (EVENT, z) != SOLD]
    # a bitmap of zeros and no bitmap are the same zone to every script
    # (GETBIT of a missing key is 0): one of zeros is dropped
    EMPTY = next((ez for ez in zones if box.redis("BITCOUNT", "bo:seat:{%s:%d}" % ez) == 0),
                 None)
    check(EMPTY is not None, "every zone has sales: none left without")
    box.redis("DEL", "bo:seat:{%s:%d}" % EMPTY)
    for row, col in SEATS:   # (taken already if the cluster kept an earlier run's sales)
        b = box.buy("Venue1", EVENT, SOLD[1], row, col)
        check(b.status == 201 or (b.status == 409 and b.json()["error"] == "SEAT_TAKEN"),
              "seat %d/%d: %r" % (row, col, b))
    for ez in (SOLD, EMPTY, UNKNOWN):
        got = answers(ez)
        eq(len(got), 1, "one answer for %r before the migration: %r" % (ez, got))
        BEFORE[ez] = got.pop()
    eq(BEFORE[UNKNOWN][0], 404, "the unknown zone")
    eq(BEFORE[SOLD][0], 200, "zone %r: %s" % (SOLD, BEFORE[SOLD][1][:200]))
    rows = json.loads(BEFORE[SOLD][1])["rows"]
    check(all(rows[row - 1]["seats"][col - 1] == "1" for row, col in SEATS),
          "the sold seats in the map")
    eq(BEFORE[EMPTY][0], 200, "zone %r" % (EMPTY,))
    eq(box.redis("EXISTS", "bo:seat:{%s:%d}" % EMPTY), 0, "zone %r has no seat bitmap" % (EMPTY,))


def keys_on(port, slot):
    return [k.decode() for k in r(port, "CLUSTER", "GETKEYSINSLOT", slot, 10000)]


def migrate(src, dst, keys):
    if keys:
        eq(r(src, "MIGRATE", "127.0.0.1", dst, "", 0, 5000, "KEYS", *keys), "OK",
           "MIGRATE %r" % keys)


def check_migration(zone):
    """Every step of a migration of the slot of zone (event, zone) answers
    the map of before; the slot is given back to its master at the end."""
    slot = box.zone_slot(*zone)
    src = box.cluster_port(slot, refresh=True)
    dst = next(p for p in set(box.cluster_masters().values()) if p != src)
    tag = "{%s:%d}" % zone
    seat = "bo:seat:" + tag
    try:
        eq(r(dst, "CLUSTER", "SETSLOT", slot, "IMPORTING", node_id(src)), "OK", "IMPORTING")
        eq(r(src, "CLUSTER", "SETSLOT", slot, "MIGRATING", node_id(dst)), "OK", "MIGRATING")
        same_as_before(zone, "with its slot migrating, no key moved yet")
        migrate(src, dst, [k for k in keys_on(src, slot) if k == seat])
        same_as_before(zone, "with its seat bitmap moved, the other keys not yet")
        migrate(src, dst, keys_on(src, slot))
        eq(keys_on(src, slot), [], "keys left on the source")
        same_as_before(zone, "with every key moved, the slot not handed over")
    finally:
        # back as it was: the source serves the slot again, the keys return
        r(src, "CLUSTER", "SETSLOT", slot, "STABLE")
        migrate(dst, src, keys_on(dst, slot))
        r(dst, "CLUSTER", "SETSLOT", slot, "STABLE")
    eq(keys_on(dst, slot), [], "keys left on the destination")
    same_as_before(zone, "after the keys came back")


def replica_reads():
    r = http("GET", "/get/metrics", port=box.NGINX_METRICS)
    eq(r.status, 200, "/get/metrics")
    for line in r.body.splitlines():
        if line.startswith("boxoffice_redis_replica_reads_total{"):
            return float(line.split()[-1])
    raise box.Fail("boxoffice_redis_replica_reads_total not in /get/metrics")


def on_replicas(zone):
    """check_migration(zone) with the query responders reading from the
    replicas; they read there first (the counter of replica reads grows)."""
    box.restart_with("query", redis_read_from="replica", redis_read_max_lag_ms=60000)
    try:
        before = replica_reads()
        box.wait_until(lambda: answers(SOLD) == {BEFORE[SOLD]} and
                       replica_reads() > before + PROCS * 4,
                       timeout=60, what="seat maps read on the replicas")
        check_migration(zone)
    finally:
        box.restart_with("query")


def test_zone_with_sales_during_a_migration():
    check_migration(SOLD)


def test_zone_without_sales_during_a_migration():
    check_migration(EMPTY)


def test_unknown_zone_during_a_migration():
    check_migration(UNKNOWN)


def test_zone_with_sales_during_a_migration_read_on_replicas():
    on_replicas(SOLD)


def test_zone_without_sales_during_a_migration_read_on_replicas():
    on_replicas(EMPTY)


def test_unknown_zone_during_a_migration_read_on_replicas():
    on_replicas(UNKNOWN)


if __name__ == "__main__":
    raise SystemExit(box.main(globals()))
