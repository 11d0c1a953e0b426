# SPDX-License-Identifier: ISC
"""A catalog apply whose Redis write fails leaves the previous catalog in
force (CONTRACT section 6, docs/catalog.md): ctl/cmd_catalog.c apply_locked
writes MySQL in one transaction, then every event zone to Redis
(write_redis, lua/load_zone.lua); on a failure it undoes the Redis writes
it made (undo_redis: a zone of a new event is dropped again, with its
bo:zones entry) and rolls MySQL back.  A zone an undo could not put back
(Redis holds another price than the catalog) is put back by the next
apply while unsold, and named with the way out once sold; it no longer
refuses every later apply as "sold while the catalog was applied"."""

import copy
import json
import os
import signal
import socket
import subprocess
import tempfile
import threading

import box
import catalog
import tcpproxy
from box import buy, check, eq

EVENT = "EventZ9"  # sorts after every seed event: its zones are written last
LEFT_EVENT = "EventZ8"  # a zone an undo left at another price
VENUE = "Venue2"   # zones 1..4 (box.VENUE2_ZONES)
ZONES = sorted(box.VENUE2_ZONES)
LAST = ZONES[-1]


def add_event(doc, event, venue, name, date):
    """Appends a scheduled concert to doc's events."""
    doc["events"].append({"eventId": event, "venueId": venue, "name": name,
                          "type": "CONCERT", "date": date, "status": "SCHEDULED"})


def setup_module():
    catalog.restore()


def teardown_module():
    for ev in (EVENT, LEFT_EVENT):
        for z in ZONES:
            box.redis("DEL", "bo:zone:{%s:%d}" % (ev, z), node=box.zone_node(ev, z))
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
    add_event(new, EVENT, VENUE, "Undo Night", "2027-06-01T20:00:00Z")
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
    check("catalog not applied" in r.stderr,
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



def test_a_zone_an_undo_left_at_another_price_is_put_back_while_unsold():
    """An apply that repriced an unsold zone and then failed, whose undo
    could not reach Redis, leaves the zone at the new price in Redis and
    the old one in MySQL (the message says to apply the previous catalog).
    Made here by hand (HSET of the price).  Would catch: the next apply of
    the catalog refused for good (the zone, unchanged in the document, was
    loaded without the check that lets its price change: "sold while the
    catalog was applied", exit 1, for every apply, event cancel and
    stagger); a repair that reprices a zone with a sale."""
    doc = catalog.show()
    add_event(doc, LEFT_EVENT, VENUE, "Left Night", "2027-06-02T20:00:00Z")
    catalog.apply_ok(doc, "apply of %s" % LEFT_EVENT)
    zone = ZONES[0]
    key = "bo:zone:{%s:%d}" % (LEFT_EVENT, zone)
    node = box.zone_node(LEFT_EVENT, zone)
    price = box.redis("HGET", key, "price", node=node).decode()
    box.redis("HSET", key, "price", "123.45", node=node)

    r = catalog.apply(doc)
    print("    unsold: exit %d, stdout %r, stderr %r" % (r.returncode, r.stdout, r.stderr))
    eq(r.returncode, 0, "apply of the unchanged catalog with the zone at another price in "
       "Redis: exit status (stdout %r, stderr %r)" % (r.stdout, r.stderr))
    check("Redis holds Venue2" in r.stdout and "at 123.45" in r.stdout and
          "put back as the catalog has it" in r.stdout, "what apply said: %r" % r.stdout)
    eq(box.redis("HGET", key, "price", node=node).decode(), price, "the price in Redis")
    b = buy(VENUE, LEFT_EVENT, zone, 1, 1)
    eq(b.status, 201, "a purchase in the zone put back: " + b.body)
    check('"price":%s,' % price in b.body, "sold at the catalog's %s: %s" % (price, b.body))

    # sold since: the repair is refused, the zone named with the way out
    box.redis("HSET", key, "price", "123.45", node=node)
    r = catalog.apply(doc)
    print("    sold: exit %d, stderr %r" % (r.returncode, r.stderr))
    eq(r.returncode, 1, "apply with the zone sold at another price in Redis: exit status "
       "(stdout %r, stderr %r)" % (r.stdout, r.stderr))
    check("%s zone %d sold as Redis holds it (Venue2" % (LEFT_EVENT, zone) in r.stderr and
          "at 123.45" in r.stderr, "what apply said: %r" % r.stderr)
    check("catalog not applied" in r.stderr and "could not put" not in r.stderr,
          "stderr: %r" % r.stderr)
    eq(box.redis("HGET", key, "price", node=node).decode(), "123.45",
       "Redis's price of the sold zone, untouched")
    # the way out by hand: Redis's price back as the catalog has it
    box.redis("HSET", key, "price", price, node=node)
    catalog.apply_ok(doc, "apply once Redis's price is put back by hand")


# An apply stopped between its Redis writes: the zone of FIRST is written
# first (Event0A sorts before every seed event), then PAD_ZONES zones of
# padding (the window the test stops ticketctl in), then the zone of LAST.
FIRST = ("VenueUA", "Event0A")
PAD = ("VenueUP", "Event0P")
LAST_EV = ("VenueUZ", "EventZZ9")
PAD_ZONES = 800


def staged(doc, price_a, price_z):
    """doc with the three venues and events of the stopped applies."""
    d = copy.deepcopy(doc)
    d["venues"] = [v for v in d["venues"] if v["venueId"] not in (FIRST[0], PAD[0], LAST_EV[0])]
    d["events"] = [e for e in d["events"] if e["eventId"] not in (FIRST[1], PAD[1], LAST_EV[1])]
    for (venue, event), price, zones in ((FIRST, price_a, 1), (PAD, 1, PAD_ZONES),
                                         (LAST_EV, price_z, 1)):
        d["venues"].append({"venueId": venue, "name": venue, "zones": [
            {"zoneId": z, "rows": 2, "columns": 2 if zones == 1 else 1, "price": price}
            for z in range(1, zones + 1)]})
        add_event(d, event, venue, event, "2027-07-01T20:00:00Z")
    return d


def price_in_redis(event):
    got = box.redis("HGET", "bo:zone:{%s:1}" % event, "price", node=box.zone_node(event, 1))
    return got.decode() if got is not None else None


def apply_stopped(doc, during):
    """Applies doc with ticketctl stopped (SIGSTOP) once Redis has FIRST's
    zone at doc's price; runs during() meanwhile and lets it go on.
    Returns the CompletedProcess-like (returncode, stdout, stderr)."""
    want = "%.2f" % next(z["price"] for v in doc["venues"] if v["venueId"] == FIRST[0]
                         for z in v["zones"])
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(doc, f)
        path = f.name
    p = subprocess.Popen([os.path.join(box.BIN, "ticketctl"), "-c", box.CONF, "catalog",
                          "apply", path], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    try:
        box.wait_until(lambda: p.poll() is not None or price_in_redis(FIRST[1]) == want,
                       timeout=60, interval=0.0005, what="%s written" % FIRST[1])
        if p.poll() is not None:
            raise box.Fail("ticketctl ended before it could be stopped: %r"
                           % (p.communicate(),))
        os.kill(p.pid, signal.SIGSTOP)
        try:
            eq(price_in_redis(LAST_EV[1]), "10.00", "%s not written yet (stopped in time)"
               % LAST_EV[1])
            during()
        finally:
            os.kill(p.pid, signal.SIGCONT)
        out, err = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        os.unlink(path)
    print("    stopped apply: exit %d, stdout %r, stderr %r" % (p.returncode, out[-300:], err),
          flush=True)
    return p.returncode, out, err


def test_a_zone_sold_as_the_apply_made_it_is_recorded_not_denied():
    """An apply reprices two unsold zones; the first sells at its new price
    before the second is written, the second at its old one, so the apply
    fails and its undo cannot put the first back (sold).  Would catch: the
    apply saying the previous catalog is in force while Redis sells the
    first zone at the new price (MySQL the old), and an apply that records
    the new price refused for good ("sold"), the way out it names."""
    catalog.restore()
    base = staged(catalog.show(), 10, 10)
    catalog.apply_ok(base, "the staged venues and events")
    sold = {}

    def during():
        for venue, event in (FIRST, LAST_EV):
            b = buy(venue, event, 1, 1, 1)
            eq(b.status, 201, "a seat of %s while ticketctl is stopped: %s" % (event, b.body))
            sold[event] = b.json()["price"]

    rc, out, err = apply_stopped(staged(base, 20, 20), during)
    eq(sold, {FIRST[1]: 20.0, LAST_EV[1]: 10.0}, "prices sold at")
    eq(rc, 1, "the apply with both zones sold meanwhile: exit status")
    check("%s zone 1 sold (or fenced: sales unknown) while the catalog was applied" % LAST_EV[1]
          in err, "the second zone named: %r" % err)
    check("%s zone 1 sold while the catalog was applied, as the new catalog has it (%s 2x2 at "
          "20.00): Redis sells it so" % (FIRST[1], FIRST[0]) in err,
          "the first zone named, as Redis sells it: %r" % err)
    check("the previous one is in force" not in err and "1 event zone(s) not put back" in err,
          "no claim that the previous catalog is in force: %r" % err)
    eq(price_in_redis(FIRST[1]), "20.00", "Redis's price of the first zone")
    eq(price_in_redis(LAST_EV[1]), "10.00", "Redis's price of the second zone")
    cur = catalog.show()
    eq(catalog.zone(cur, FIRST[0], 1)["price"], 10, "MySQL's price of the first zone")
    # the way out: a catalog that has the first zone as Redis sells it
    r = catalog.apply(staged(base, 20, 10))
    eq(r.returncode, 0, "the apply that records the first zone: exit status (stdout %r, "
       "stderr %r)" % (r.stdout, r.stderr))
    check("%s zone 1: Redis sells it so already" % FIRST[1] in r.stdout, r.stdout)
    eq(catalog.zone(catalog.show(), FIRST[0], 1)["price"], 20, "MySQL's price, recorded")
    b = buy(FIRST[0], FIRST[1], 1, 1, 2)
    eq(b.status, 201, "the first zone sells on: " + b.body)
    eq(b.json()["price"], 20.0, "at the price of its first sale")
    catalog.restore()


def test_a_zone_fenced_during_an_apply_gets_no_counters():
    """The apply checked the last zone unsold (counters there); the node
    then lost data and was fenced (counters removed: its sales unknown)
    before the zone was written.  Would catch: the reprice giving the zone
    full counters again (load_zone.lua saw no trace of a sale), which sells
    again every seat whose sale the loss hid."""
    catalog.restore()
    base = staged(catalog.show(), 10, 10)
    catalog.apply_ok(base, "the staged venues and events")
    left = "bo:left:{%s:1}" % LAST_EV[1]
    node = box.zone_node(LAST_EV[1], 1)

    def during():   # the fence of scripts/stack, for this zone
        eq(box.redis("DEL", left, node=node), 1, "DEL of the zone's counters")

    rc, out, err = apply_stopped(staged(base, 20, 20), during)
    eq(rc, 1, "the apply with its last zone fenced meanwhile: exit status")
    check("%s zone 1 sold (or fenced: sales unknown) while the catalog was applied" % LAST_EV[1]
          in err and "the previous one is in force" in err, "what apply said: %r" % err)
    eq(box.redis("EXISTS", left, node=node), 0, "counters of the fenced zone")
    eq(price_in_redis(LAST_EV[1]), "10.00", "Redis's price of the fenced zone")
    eq(price_in_redis(FIRST[1]), "10.00", "Redis's price of the first zone, put back")
    eq(catalog.zone(catalog.show(), FIRST[0], 1)["price"], 10, "MySQL's price")
    b = buy(LAST_EV[0], LAST_EV[1], 1, 1, 1)
    eq(b.status, 503, "a purchase in the fenced zone: " + b.body)
    catalog.restore()


def test_a_zone_an_undo_left_removed_is_loaded_again_while_unsold():
    """An apply that removed an event's zones and then failed, whose undo
    could not reach Redis, leaves MySQL with the event and Redis without
    its zones (no catalog hash, no counters).  Made here by hand (DEL).
    Would catch: the next apply (of that catalog, as the message says)
    answering 0 with a warning while every purchase of the event answers
    404 for good; a zone of it with a sale given counters again."""
    catalog.restore()
    ev = "EventZ7"
    doc = catalog.show()
    add_event(doc, ev, VENUE, "Gone Night", "2027-06-04T20:00:00Z")
    catalog.apply_ok(doc, "apply of %s" % ev)
    sold_zone = ZONES[1]
    b = buy(VENUE, ev, sold_zone, 1, 1)
    eq(b.status, 201, "a seat of zone %d: %s" % (sold_zone, b.body))
    tid = b.json()["ticketId"]
    box.wait_until(lambda: box.sql_count("SELECT COUNT(*) FROM ticketing.ticket WHERE "
                                         "ticket_id = '%s'" % tid) == 1,
                   what="the ticket in MySQL")
    for z in ZONES:
        tag = "%s:%d" % (ev, z)
        n = box.zone_node(ev, z)
        for k in ("zone", "left", "seat", "own"):
            box.redis("DEL", "bo:%s:{%s}" % (k, tag), node=n)
        box.redis("SREM", "bo:zones", tag)
    eq(buy(VENUE, ev, ZONES[0], 1, 1).status, 404, "a purchase of the removed zone")

    r = catalog.apply(doc)
    print("    removed zones: exit %d, stdout %r, stderr %r" % (r.returncode, r.stdout, r.stderr))
    eq(r.returncode, 0, "apply of the unchanged catalog: exit status")
    for z in ZONES:
        said = "%s zone %d: not in Redis (an apply whose undo failed?), unsold: loaded" % (ev, z)
        check((said in r.stdout) == (z != sold_zone), "zone %d: %r" % (z, r.stdout))
    check("1 event zone(s) have no counters" in r.stderr, "the sold zone left: %r" % r.stderr)
    eq(box.redis("EXISTS", "bo:left:{%s:%d}" % (ev, sold_zone),
                 node=box.zone_node(ev, sold_zone)), 0, "counters of the zone with a sale")
    b = buy(VENUE, ev, ZONES[0], 1, 1)
    eq(b.status, 201, "a purchase in a zone loaded again: " + b.body)
    catalog.restore()


PROXY_PORT = int(os.environ.get("BOX_SPARE_PORT_BASE", "30200")) + 60


def test_a_commit_whose_answer_was_lost_is_not_undone():
    """MySQL runs the apply's COMMIT, and the connection is lost before
    its answer comes (tcpproxy.cut_after).  Would catch: the apply taking
    the failure for a rollback, putting Redis back as the previous catalog
    had it while MySQL has the new one: a new event in MySQL that sells
    nothing (404), an event removed or cancelled in MySQL that Redis sells
    on, and the same apply again finding nothing to change."""
    catalog.restore()
    doc = catalog.seed()
    add_event(doc, "EventC1", VENUE, "Commit Night", "2027-06-03T20:00:00Z")
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(doc, f)
        path = f.name
    proxy = tcpproxy.Proxy(PROXY_PORT, int(box.setting("mysql_port")))
    proxy.cut_after(b"COMMIT")
    try:
        r = subprocess.run([os.path.join(box.BIN, "ticketctl"), "-c", box.CONF, "catalog",
                            "apply", path], capture_output=True, text=True, timeout=120,
                           env=dict(os.environ, BOXOFFICE_MYSQL_PORT=str(PROXY_PORT)))
    finally:
        proxy.close()
        os.unlink(path)
    print("    COMMIT's answer lost: exit %d, stdout %r, stderr %r"
          % (r.returncode, r.stdout[-200:], r.stderr), flush=True)
    check("Lost connection" in r.stderr or "lost" in r.stderr, "the COMMIT failed: %r" % r.stderr)
    eq(r.returncode, 0, "the apply MySQL committed: exit status")
    check("the answer to COMMIT was lost, but MySQL has the new catalog: applied" in r.stderr,
          "what apply said: %r" % r.stderr)
    eq(box.sql_count("SELECT COUNT(*) FROM ticketing.event WHERE event_id = 'EventC1'"), 1,
       "the new event in MySQL")
    b = buy(VENUE, "EventC1", 1, 1, 1)
    eq(b.status, 201, "a purchase in the new event: " + b.body)
    catalog.restore()


if __name__ == "__main__":
    raise SystemExit(box.main(globals()))
