# SPDX-License-Identifier: ISC
"""A catalog apply whose Redis write fails leaves the previous catalog in
force (CONTRACT section 6, docs/catalog.md): ctl/cmd_catalog.c apply_locked
writes MySQL in one transaction, then every event zone to Redis
(write_redis, lua/load_zone.lua); on a failure it undoes the Redis writes
it made (undo_redis: a zone of a new event is dropped again, with its
bo:zones entry) and rolls MySQL back."""

import copy
import json
import socket
import threading

import box
import catalog
from box import buy, check, eq

EVENT = "EventZ9"  # sorts after every seed event: its zones are written last
VENUE = "Venue2"   # zones 1..4 (box.VENUE2_ZONES)
ZONES = sorted(box.VENUE2_ZONES)
LAST = ZONES[-1]


def setup_module():
    catalog.restore()


def teardown_module():
    for z in ZONES:
        box.redis("DEL", "bo:zone:{%s:%d}" % (EVENT, z), node=box.zone_node(EVENT, z))
    catalog.restore()


class Monitor:
    """Redis MONITOR on the first node while a command runs: the commands
    the server executed (those of scripts show as [.. lua])."""

    def __init__(self):
        self.lines = []
        self.stop = False
        self.sock = socket.create_connection(("127.0.0.1", box.REDIS_PORTS[0]), timeout=0.5)
        self.sock.sendall(box._resp_encode(["MONITOR"]))
        self.f = self.sock.makefile("rb")
        first = self.f.readline()
        check(first.startswith(b"+OK"), "MONITOR: %r" % first)
        self.th = threading.Thread(target=self.run, daemon=True)
        self.th.start()

    def run(self):
        while not self.stop:
            try:
                line = self.f.readline()
            except (socket.timeout, OSError):
                continue
            if not line:
                return
            self.lines.append(line.decode(errors="replace"))

    def close(self):
        # one more command so that what ran before is surely read
        box.redis("PING")
        self.stop = True
        self.th.join(5)
        self.f.close()
        self.sock.close()
        return self.lines


def test_failed_redis_write_of_last_zone_leaves_previous_catalog():
    """Would catch: an apply whose Redis write fails midway yet commits
    MySQL (the new event in `event`, the catalog changed), or that leaves the
    zones it had written before the failure in Redis (their bo:zone hash,
    counters or bo:zones entry: the sweeper and the responders would see a
    zone the catalog does not have), or that answers 0 or does not say the
    catalog was not applied; and, afterwards, an apply that no longer works
    once the cause is gone."""
    r = catalog.ctl("catalog", "show")
    eq(r.returncode, 0, "catalog show: " + r.stderr)
    before = r.stdout
    doc = json.loads(before)
    check(all(e["eventId"] != EVENT for e in doc["events"]), "no %s yet" % EVENT)
    new = copy.deepcopy(doc)
    new["events"].append({"eventId": EVENT, "venueId": VENUE, "name": "Undo Night",
                          "type": "CONCERT", "date": "2027-06-01T20:00:00Z",
                          "status": "SCHEDULED"})
    # the sabotage: the catalog hash of the event's last zone is a string,
    # so load_zone.lua's HMGET of it fails with WRONGTYPE
    sab = "bo:zone:{%s:%d}" % (EVENT, LAST)
    node = box.zone_node(EVENT, LAST)
    eq(box.redis("SET", sab, "sabotage", node=node), "OK", "SET of the sabotage key")
    try:
        box.redis("HMGET", sab, "venue", node=node)
        raise box.Fail("HMGET of a string key did not fail")
    except box.RedisError as e:
        check("WRONGTYPE" in str(e), "HMGET of the sabotage key: %s" % e)

    mon = Monitor() if box.REDIS_MODE == "single" else None
    try:
        r = catalog.apply(new)
    finally:
        lines = mon.close() if mon else None
    print("    failed apply: exit %d, stderr %r" % (r.returncode, r.stderr), flush=True)
    eq(r.returncode, 1, "apply with the sabotaged zone: exit status (stdout %r, stderr %r)"
       % (r.stdout, r.stderr))
    check("catalog not applied; the previous one is in force" in r.stderr,
          "the message that the catalog was not applied: %r" % r.stderr)
    check("WRONGTYPE" in r.stderr, "the failure is the sabotaged write: %r" % r.stderr)
    if lines is not None:
        # the path meant: the other zones of the event were written (so
        # the undo had something to undo) before the last one failed
        for z in ZONES[:-1]:
            key = '"bo:zone:{%s:%d}"' % (EVENT, z)
            check(any('"HSET" ' + key in ln for ln in lines),
                  "zone %d of %s was written before the failure (MONITOR)" % (z, EVENT))
            check(any('"SADD" "bo:zones" "%s:%d"' % (EVENT, z) in ln for ln in lines),
                  "zone %d of %s was added to bo:zones before the failure (MONITOR)"
                  % (z, EVENT))

    r2 = catalog.ctl("catalog", "show")
    eq(r2.returncode, 0, "catalog show after: " + r2.stderr)
    eq(r2.stdout, before, "catalog show after the failed apply")
    eq(box.sql_count("SELECT COUNT(*) FROM ticketing.event WHERE event_id = '%s'" % EVENT), 0,
       "MySQL rows of %s" % EVENT)
    zones = {m.decode() for m in box.redis("SMEMBERS", "bo:zones")}
    for z in ZONES[:-1]:
        tag = "%s:%d" % (EVENT, z)
        n = box.zone_node(EVENT, z)
        for k in ("zone", "left", "seat", "own"):
            eq(box.redis("EXISTS", "bo:%s:{%s}" % (k, tag), node=n), 0,
               "bo:%s:{%s} after the failed apply" % (k, tag))
        check(tag not in zones, "%s still in bo:zones" % tag)
    check("%s:%d" % (EVENT, LAST) not in zones, "the sabotaged zone in bo:zones")
    eq(buy(VENUE, EVENT, 1, 1, 1).status, 404, "a purchase of the event not applied")

    eq(box.redis("DEL", sab, node=node), 1, "DEL of the sabotage key")
    r = catalog.apply(new)
    eq(r.returncode, 0, "apply without the sabotage: exit status (stdout %r, stderr %r)"
       % (r.stdout, r.stderr))
    b = buy(VENUE, EVENT, 1, 1, 1)
    eq(b.status, 201, "purchase in the applied event: " + b.body)
    b = buy(VENUE, EVENT, LAST, 1, 1)
    eq(b.status, 201, "purchase in the once sabotaged zone: " + b.body)


if __name__ == "__main__":
    raise SystemExit(box.main(globals()))
