# SPDX-License-Identifier: ISC
"""Query responder (docs/api.md) through nginx and lighttpd: every endpoint
with exact status and exact JSON against the seed catalog; after purchases
of known seats, seat maps, counts, revenue and the ticket list computed here
from the catalog; ticket lookups before persistence (Redis cache) and after
it with the cache flushed (MySQL); 400/404/405 for bad input."""

import json
import re
import uuid
from decimal import Decimal

import box
import fcgi
from box import NGINX, LIGHTTPD, WEB_PORTS, buy, check, eq, http

# The seed catalog of conf/catalog.json, written out independently of the code.
VENUES = {"Venue1": "Grand Arena", "Venue2": "Riverside Hall"}
EVENTS = {
    "Event1": ("Venue1", "Opening Night", "CONCERT", "2027-03-14T20:00:00Z"),
    "Event2": ("Venue2", "Chamber Evening", "CONCERT", "2027-04-02T19:30:00Z"),
    "Event3": ("Venue2", "Stand-up Matinee", "COMEDY", "2027-04-03T15:00:00Z"),
}


class Num:
    """A JSON number kept as its text, so that 320.00 != 320 != "320.00"."""

    def __init__(self, text):
        self.text = text

    def __eq__(self, other):
        return isinstance(other, Num) and other.text == self.text

    def __repr__(self):
        return "Num(%s)" % self.text

    def __str__(self):
        return self.text


def jparse(body):
    return json.loads(body, parse_float=Num)


def same(got, want, path="$"):
    """Exact equality of parsed JSON, types included (True is not 1)."""
    if type(got) is not type(want):
        raise box.Fail("%s: got %r (%s), want %r (%s)" % (path, got, type(got).__name__,
                                                         want, type(want).__name__))
    if isinstance(want, dict):
        eq(list(got.keys()), list(want.keys()), path + " keys")
        for k in want:
            same(got[k], want[k], path + "." + k)
    elif isinstance(want, list):
        eq(len(got), len(want), path + " length")
        for i, (g, w) in enumerate(zip(got, want)):
            same(g, w, "%s[%d]" % (path, i))
    elif got != want:
        raise box.Fail("%s: got %r, want %r" % (path, got, want))


def money(d):
    return Num("%.2f" % d)


def zones_of(venue):
    """[(zoneId, rows, cols, Decimal price)] of the seed catalog."""
    if venue == "Venue1":
        return [(z, box.VENUE1_ROWS, box.VENUE1_COLS, Decimal(box.venue1_price(z)))
                for z in range(1, box.VENUE1_ZONES + 1)]
    return [(z, r, c, Decimal(p)) for z, (r, c, p) in sorted(box.VENUE2_ZONES.items())]


def price_of(event, zone):
    return {z: p for z, _, _, p in zones_of(EVENTS[event][0])}[zone]


def zone_json(venue):
    return [{"zoneId": z, "ticketPrice": money(p), "rowCount": r, "colCount": c}
            for z, r, c, p in zones_of(venue)]


def on_sale(zones):
    """Zones of /get/events/{id}: with the sale window of docs/api.md (the
    seed catalog has none: on sale)."""
    return [dict(z, opensAt=None, onSale=True) for z in zones]


def event_json(event):
    venue, name, typ, date = EVENTS[event]
    return {"eventId": event, "venueId": venue, "name": name, "type": typ, "date": date,
            "status": "SCHEDULED", "closesAt": None}


def get(path, port=NGINX, status=200):
    r = http("GET", path, port=port)
    eq(r.status, status, "GET %s via %d status (body %s)" % (path, port, r.body[:300]))
    eq(r.header("Content-Type"), "application/json", "GET %s content type" % path)
    return r


def get_json(path, port=NGINX, status=200):
    return jparse(get(path, port, status).body)


def expect_error(path, status, code, port=NGINX, method="GET"):
    r = http(method, path, port=port, headers={"Content-Length": "0"} if method != "GET" else None)
    eq(r.status, status, "%s %s via %d status (body %s)" % (method, path, port, r.body[:200]))
    eq(r.header("Content-Type"), "application/json", "%s content type" % path)
    body = r.json()
    eq(sorted(body.keys()), ["error", "message"], "%s error body keys" % path)
    eq(body["error"], code, "%s error code" % path)
    check(isinstance(body["message"], str) and body["message"], path + ": empty message")
    return r


# Known seats bought by test_purchases_*: (event, zone, row, col).
SEATS = (
    [("Event2", 1, r, c) for r, c in ((1, 1), (1, 20), (10, 1), (10, 20), (5, 7), (5, 8))]
    + [("Event2", 2, r, c) for r, c in ((1, 1), (2, 2), (3, 3), (4, 4), (5, 12))]
    + [("Event2", 3, 1, c) for c in (1, 2, 3, 8)]
    + [("Event2", 4, r, c) for r in (1, 2, 3) for c in (1, 2, 3, 4)]        # sold out
    + [("Event3", 1, r, c) for r, c in ((1, 1), (1, 20), (10, 1))]          # same seats, other event
    + [("Event3", 3, 1, 5)]
    + [("Event1", z, r, c) for z, r, c in ((1, 1, 1), (1, 26, 30), (20, 13, 15), (21, 1, 2),
                                          (40, 2, 1), (41, 3, 3), (60, 26, 1), (61, 4, 4),
                                          (80, 5, 5), (81, 6, 6), (100, 26, 30), (100, 1, 1))]
)
SOLD = {}           # ticketId -> (lookup body, ticket dict)


def lookup_body(body):
    """The lookup of a ticket from its 201: the 201 of POST /tickets is the
    ticket of CONTRACT section 2, its orderId, then its cancelToken, which
    no lookup shows (CONTRACT section 7)."""
    m = re.match(r'^(\{"ticketId":"[0-9a-f-]{36}",.*,"orderId":"[0-9a-f-]{36}")'
                 r',"cancelToken":"[A-Za-z0-9_-]{22}"\}$', body)
    check(m, "201 body: the ticket, orderId, cancelToken last: %s" % body)
    return m.group(1) + "}"


def setup_module():
    box.stack("reset")


def test_health():
    want = {"status": "ok", "mysql": "ok", "redis": "ok"}
    if "mysql_read_host" in open(box.CONF).read():
        # the cluster topology (tests/run topology): queries read the replica
        want.update(mysqlReplica="ok", mysqlReads="replica")
    for port in WEB_PORTS:
        h = get_json("/get/health", port)
        if "mysqlReplica" in want:
            check(isinstance(h.pop("mysqlReplicaLagSeconds", None), int), "replica lag: %r" % h)
        same(h, want)


def test_venues_with_their_zones():
    want = [{"venueId": v, "name": n, "zones": zone_json(v)} for v, n in sorted(VENUES.items())]
    for port in WEB_PORTS:
        r = get("/get/venues", port)
        same(jparse(r.body), want)
        check('"ticketPrice":95.50,' in r.body and '"ticketPrice":320.00,' in r.body,
              "prices not written with 2 decimals")


def test_events_of_a_venue():
    for port in WEB_PORTS:
        same(get_json("/get/venues/Venue1/events", port), [event_json("Event1")])
        same(get_json("/get/venues/Venue2/events", port), [event_json("Event2"), event_json("Event3")])


def test_one_event_with_its_venues_zones():
    for port in WEB_PORTS:
        for event in sorted(EVENTS):
            want = dict(event_json(event), zones=on_sale(zone_json(EVENTS[event][0])))
            same(get_json("/get/events/" + event, port), want)


def test_catalog_is_data_not_code():
    """A venue, zone and event added in MySQL show up without a restart."""
    box.sql("INSERT INTO venue (venue_id, name) VALUES ('QVenue', 'Q \"Hall\" \\\\ ü')")
    try:
        box.sql("INSERT INTO zone (venue_id, zone_id, price, row_count, col_count) VALUES "
                "('QVenue', 7, 12.30, 2, 3), ('QVenue', 2147483647, 0.05, 1, 1)")
        same(get_json("/get/venues/QVenue/events"), [])
        box.sql("INSERT INTO event (event_id, venue_id, name, type, event_date) VALUES "
                "('QEvent', 'QVenue', 'Late Show', 'THEATRE', '2028-01-02 03:04:05')")
        for port in WEB_PORTS:
            venues = get_json("/get/venues", port)
            q = [v for v in venues if v["venueId"] == "QVenue"]
            same(q, [{"venueId": "QVenue", "name": 'Q "Hall" \\ ü', "zones": [
                {"zoneId": 7, "ticketPrice": Num("12.30"), "rowCount": 2, "colCount": 3},
                {"zoneId": 2147483647, "ticketPrice": Num("0.05"), "rowCount": 1, "colCount": 1}]}])
            ev = {"eventId": "QEvent", "venueId": "QVenue", "name": "Late Show", "type": "THEATRE",
                  "date": "2028-01-02T03:04:05Z", "status": "SCHEDULED", "closesAt": None}
            same(get_json("/get/venues/QVenue/events", port), [ev])
            same(get_json("/get/events/QEvent", port), dict(ev, zones=on_sale(q[0]["zones"])))
            same(get_json("/get/events/QEvent/stats", port),
                 {"eventId": "QEvent", "venueId": "QVenue", "sold": 0, "capacity": 7,
                  "revenue": Num("0.00"), "zones": [
                      {"zoneId": 7, "sold": 0, "capacity": 6, "revenue": Num("0.00")},
                      {"zoneId": 2147483647, "sold": 0, "capacity": 1, "revenue": Num("0.00")}]})
            same(get_json("/get/money/QVenue/QEvent", port),
                 {"venueId": "QVenue", "eventId": "QEvent", "revenue": Num("0.00")})
            same(get_json("/get/events/QEvent/tickets?zoneId=2147483647", port),
                 {"tickets": [], "next": None})
            expect_error("/get/events/QEvent/tickets?zoneId=8", 404, "NOT_FOUND", port)
    finally:
        box.sql("DELETE FROM event WHERE venue_id = 'QVenue'")
        box.sql("DELETE FROM zone WHERE venue_id = 'QVenue'")
        box.sql("DELETE FROM venue WHERE venue_id = 'QVenue'")
    expect_error("/get/events/QEvent", 404, "NOT_FOUND")


def stats_json(event, tickets):
    """The stats answer computed here from the catalog and the sold seats."""
    venue = EVENTS[event][0]
    zones, sold, cap, rev = [], 0, 0, Decimal("0")
    for z, r, c, p in zones_of(venue):
        n = sum(1 for t in tickets if t["eventId"] == event and t["zoneId"] == z)
        zones.append({"zoneId": z, "sold": n, "capacity": r * c, "revenue": money(p * n)})
        sold, cap, rev = sold + n, cap + r * c, rev + p * n
    return {"eventId": event, "venueId": venue, "sold": sold, "capacity": cap,
            "revenue": money(rev), "zones": zones}


def seatmap_json(event, zone, taken):
    rows, cols = {z: (r, c) for z, r, c, _ in zones_of(EVENTS[event][0])}[zone]
    out, left = [], 0
    for r in range(1, rows + 1):
        seats = "".join("1" if (r, c) in taken else "0" for c in range(1, cols + 1))
        out.append({"row": r, "remaining": seats.count("0"), "seats": seats})
        left += seats.count("0")
    return {"eventId": event, "zoneId": zone, "rowCount": rows, "colCount": cols,
            "remaining": left, "opensAt": None, "onSale": True, "rows": out}


def test_reports_before_any_sale():
    for port in WEB_PORTS:
        for event in sorted(EVENTS):
            r = get("/get/events/%s/stats" % event, port)
            same(jparse(r.body), stats_json(event, []))
            same(get_json("/get/count/" + event, port), {"eventId": event, "sold": 0})
            r = get("/get/money/%s/%s" % (EVENTS[event][0], event), port)
            eq(r.body, '{"venueId":"%s","eventId":"%s","revenue":0.00}' % (EVENTS[event][0], event),
               "money before sales (0, never null)")
            same(get_json("/get/events/%s/tickets" % event, port), {"tickets": [], "next": None})
        for zone in (1, 2, 3, 4):
            same(get_json("/get/events/Event2/zones/%d/seats" % zone, port),
                 seatmap_json("Event2", zone, set()))
        same(get_json("/get/events/Event1/zones/100/seats", port), seatmap_json("Event1", 100, set()))


def test_purchases_are_visible_at_once():
    """Every 201 is answered by GET /get/tickets/{id} right after it, through
    the other web server, before anything is persisted (the consumer is
    stopped meanwhile, so the answer can only come from the Redis cache)."""
    box.stack("stop", "consumer")
    try:
        for i, (event, zone, row, col) in enumerate(SEATS):
            port = WEB_PORTS[i % 2]
            r, _ = box.buy_definite(EVENTS[event][0], event, zone, row, col, port=port)
            eq(r.status, 201, "buy %s %d %d %d (body %s)" % (event, zone, row, col, r.body))
            body = lookup_body(r.body)
            t = jparse(body)
            SOLD[t["ticketId"]] = (body, t)
            g = get("/get/tickets/" + t["ticketId"], WEB_PORTS[(i + 1) % 2])
            eq(g.body, body, "lookup right after the 201")
        eq(len(SOLD), len(SEATS), "tickets sold")
        eq(box.sql_count("SELECT COUNT(*) FROM ticket"), 0, "nothing persisted yet")
        # MySQL does not have them yet: reports say so
        same(get_json("/get/count/Event2"), {"eventId": "Event2", "sold": 0})
    finally:
        box.stack("start", "consumer")


def test_seat_maps_show_exactly_the_sold_seats():
    touched = sorted({(e, z) for e, z, _, _ in SEATS}) + [("Event3", 2), ("Event1", 2)]
    for port in WEB_PORTS:
        for event, zone in touched:
            taken = {(r, c) for e, z, r, c in SEATS if (e, z) == (event, zone)}
            same(get_json("/get/events/%s/zones/%d/seats" % (event, zone), port),
                 seatmap_json(event, zone, taken))
    # and the purchase path agrees with what the map shows
    m = get_json("/get/events/Event2/zones/4/seats")
    eq(m["remaining"], 0, "zone 4 of Event2 sold out")
    eq(buy("Venue2", "Event2", 4, 1, 1).json()["error"], "ZONE_SOLD_OUT", "sold out")


def test_seat_map_of_a_fenced_zone_is_unavailable():
    """A zone whose counters were fenced (the node lost data: a seat sold
    in the lost second shows free) answers 503, as its purchases do, not a
    200 with "remaining" 0 beside free seats.  Its counters are taken away
    here by hand and put back after."""
    left = "bo:left:{Event3:2}"
    node = box.zone_node("Event3", 2)
    saved = box.redis("DUMP", left, node=node)
    check(saved is not None, "Event3 zone 2 has counters")
    eq(box.redis("UNLINK", left, node=node), 1, "UNLINK of the counters")
    try:
        for port in WEB_PORTS:
            r = http("GET", "/get/events/Event3/zones/2/seats", port=port)
            eq(r.status, 503, "the seat map of the fenced zone on %d: %s" % (port, r.body))
            eq(r.json()["error"], "UNAVAILABLE", "error")
            check("being rebuilt" in r.json()["message"], r.body)
            check(r.header("Retry-After") is not None, "Retry-After")
        eq(buy("Venue2", "Event3", 2, 1, 1).status, 503, "a purchase in the fenced zone")
    finally:
        box.redis("RESTORE", left, 0, saved, "REPLACE", node=node)
    eq(http("GET", "/get/events/Event3/zones/2/seats").status, 200, "the map once unfenced")


def wait_persisted():
    ids = sorted(SOLD)
    check(ids, "nothing was sold")
    in_list = ",".join("'%s'" % i for i in ids)
    box.wait_until(lambda: box.sql_count("SELECT COUNT(*) FROM ticket WHERE ticket_id IN (%s)"
                                         % in_list) == len(ids),
                   timeout=90, what="the consumer to persist %d tickets" % len(ids))


def test_reports_after_persistence():
    wait_persisted()
    tickets = [t for _, t in SOLD.values()]
    for port in WEB_PORTS:
        for event in sorted(EVENTS):
            want = stats_json(event, tickets)
            r = get("/get/events/%s/stats" % event, port)
            same(jparse(r.body), want)
            same(get_json("/get/count/" + event, port), {"eventId": event, "sold": want["sold"]})
            same(get_json("/get/money/%s/%s" % (EVENTS[event][0], event), port),
                 {"venueId": EVENTS[event][0], "eventId": event, "revenue": want["revenue"]})
    # hand-checked figures, in case the computation above shared a mistake
    eq(get_json("/get/events/Event2/stats")["revenue"], Num("2917.50"), "Event2 revenue")
    eq(get_json("/get/events/Event3/stats")["revenue"], Num("700.00"), "Event3 revenue")
    eq(get_json("/get/money/Venue1/Event1")["revenue"], Num("1580.00"), "Event1 revenue")


def page_through(event, limit, zone=None, port=NGINX):
    """Every ticket of the list, page by page; checks the paging itself."""
    got, after, pages = [], None, 0
    while True:
        q = "limit=%d" % limit + ("&zoneId=%d" % zone if zone else "") + \
            ("&after=" + after if after else "")
        page = get_json("/get/events/%s/tickets?%s" % (event, q), port)
        eq(list(page.keys()), ["tickets", "next"], "page keys")
        check(len(page["tickets"]) <= limit, "page longer than limit")
        got += page["tickets"]
        pages += 1
        check(pages < 1000, "paging does not end")
        if page["next"] is None:
            return got
        eq(page["next"], page["tickets"][-1]["ticketId"], "next is the last ticketId")
        eq(len(page["tickets"]), limit, "a page before the last is full")
        after = page["next"]


def test_ticket_list_pages_without_repeat_or_gap():
    wait_persisted()
    for port in WEB_PORTS:
        for event in sorted(EVENTS):
            mine = sorted(i for i, (_, t) in SOLD.items() if t["eventId"] == event)
            for limit in (1, 3, 7, 1000):
                got = page_through(event, limit, port=port)
                ids = [t["ticketId"] for t in got]
                eq(ids, mine, "%s limit %d: every ticket once, in ticketId order" % (event, limit))
                for t in got:
                    # a list shows the ticket of CONTRACT section 2, no orderId
                    want = {k: v for k, v in SOLD[t["ticketId"]][1].items() if k != "orderId"}
                    same(t, want, "listed ticket")
        # a zone filter
        mine = sorted(i for i, (_, t) in SOLD.items() if t["eventId"] == "Event2" and t["zoneId"] == 4)
        eq([t["ticketId"] for t in page_through("Event2", 5, zone=4, port=port)], mine, "zone 4")
        # the default limit is 100; a cursor past the end gives an empty last page
        same(get_json("/get/events/Event2/tickets?after=ffffffff-ffff-7fff-bfff-ffffffffffff", port),
             {"tickets": [], "next": None})
    r = get_json("/get/events/Event2/tickets")
    eq(len(r["tickets"]), len([1 for _, t in SOLD.values() if t["eventId"] == "Event2"]), "default")


def test_lookup_after_persistence_with_cache_flushed():
    wait_persisted()
    for node in range(len(box.REDIS_PORTS)):
        for tid in SOLD:
            box.redis("DEL", box.id_key("bo:tkt:", tid), node=node)
    for i, (tid, (body, t)) in enumerate(sorted(SOLD.items())):
        for node in range(len(box.REDIS_PORTS)):
            eq(box.redis("EXISTS", box.id_key("bo:tkt:", tid), node=node), 0, "cache flushed")
        r = get("/get/tickets/" + tid, WEB_PORTS[i % 2])
        eq(r.body, body, "lookup from MySQL equals the 201 body")
        # an upper-case id is the same ticket
        eq(get("/get/tickets/" + tid.upper(), WEB_PORTS[(i + 1) % 2]).body, body, "upper case id")


def test_default_limit_is_100():
    """101 tickets of one event: the first page has 100 and a next."""
    box.stack("reset")
    SOLD.clear()
    seats = [(r, c) for r in range(1, 11) for c in range(1, 21)][:101]
    res = box.parallel(lambda r, c: box.buy_definite("Venue2", "Event3", 1, r, c)[0], seats,
                       workers=16)
    for r in res:
        eq(r.status, 201, "buy (body %s)" % r.body)
        SOLD[r.json()["ticketId"]] = (lookup_body(r.body), jparse(lookup_body(r.body)))
    wait_persisted()
    page = get_json("/get/events/Event3/tickets")
    eq(len(page["tickets"]), 100, "default page size")
    eq(page["next"], page["tickets"][-1]["ticketId"], "next")
    last = get_json("/get/events/Event3/tickets?after=" + page["next"])
    eq(len(last["tickets"]), 1, "second page")
    eq(last["next"], None, "end")
    eq(sorted(t["ticketId"] for t in page["tickets"] + last["tickets"]), sorted(SOLD), "all of them")
    same(get_json("/get/events/Event3/stats")["zones"][0],
         {"zoneId": 1, "sold": 101, "capacity": 200, "revenue": Num("15150.00")})


BAD = [
    # malformed ids and parameters: 400
    ("/get/venues/Ven%20ue/events", 400, "BAD_REQUEST"),
    ("/get/venues/" + "V" * 65 + "/events", 400, "BAD_REQUEST"),
    ("/get/events/Event%2F1", 400, "BAD_REQUEST"),
    ("/get/events/Ev.ent1/stats", 400, "BAD_REQUEST"),
    ("/get/count/Event%C3%A9", 400, "BAD_REQUEST"),
    ("/get/money/Venue1/Ev!", 400, "BAD_REQUEST"),
    ("/get/money/V*/Event1", 400, "BAD_REQUEST"),
    ("/get/events/Event2/zones/0/seats", 400, "BAD_REQUEST"),
    ("/get/events/Event2/zones/-1/seats", 400, "BAD_REQUEST"),
    ("/get/events/Event2/zones/1.5/seats", 400, "BAD_REQUEST"),
    ("/get/events/Event2/zones/abc/seats", 400, "BAD_REQUEST"),
    ("/get/events/Event2/zones/2147483648/seats", 400, "BAD_REQUEST"),
    ("/get/tickets/not-a-uuid", 400, "BAD_REQUEST"),
    ("/get/tickets/01a21fa5-f7be-74ae-b422-fba3111bf4d", 400, "BAD_REQUEST"),
    ("/get/tickets/01a21fa5-f7be-74ae-b422-fba3111bf4d9x", 400, "BAD_REQUEST"),
    ("/get/tickets/01a21fa5f7be-74ae-b422-fba3111bf4d9a", 400, "BAD_REQUEST"),
    ("/get/events/Event2/tickets?limit=0", 400, "BAD_REQUEST"),
    ("/get/events/Event2/tickets?limit=1001", 400, "BAD_REQUEST"),
    ("/get/events/Event2/tickets?limit=-5", 400, "BAD_REQUEST"),
    ("/get/events/Event2/tickets?limit=ten", 400, "BAD_REQUEST"),
    ("/get/events/Event2/tickets?limit=99999999999999999999", 400, "BAD_REQUEST"),
    ("/get/events/Event2/tickets?limit=5&limit=6", 400, "BAD_REQUEST"),
    ("/get/events/Event2/tickets?zoneId=0", 400, "BAD_REQUEST"),
    ("/get/events/Event2/tickets?zoneId=x", 400, "BAD_REQUEST"),
    ("/get/events/Event2/tickets?after=nope", 400, "BAD_REQUEST"),
    ("/get/events/Event2/tickets?after=%zz", 400, "BAD_REQUEST"),
    ("/get/events/Event2/tickets?" + "x=1&" * 300, 400, "BAD_REQUEST"),
    # unknown things: 404
    ("/get/venues/Venue9/events", 404, "NOT_FOUND"),
    ("/get/events/Event9", 404, "NOT_FOUND"),
    ("/get/events/Event9/stats", 404, "NOT_FOUND"),
    ("/get/events/Event9/tickets", 404, "NOT_FOUND"),
    ("/get/events/Event9/zones/1/seats", 404, "NOT_FOUND"),
    ("/get/events/Event2/zones/5/seats", 404, "NOT_FOUND"),
    ("/get/events/Event2/zones/2147483647/seats", 404, "NOT_FOUND"),
    ("/get/events/Event2/tickets?zoneId=5", 404, "NOT_FOUND"),
    ("/get/count/Event9", 404, "NOT_FOUND"),
    ("/get/money/Venue9/Event1", 404, "NOT_FOUND"),
    ("/get/money/Venue9/Event9", 404, "NOT_FOUND"),
    ("/get/money/Venue1/Event2", 404, "NOT_FOUND"),        # not at that venue
    ("/get/tickets/" + str(uuid.UUID(int=0)), 404, "NOT_FOUND"),
    ("/get/tickets/01a21fa5-f7be-74ae-b422-fba3111bf4d9", 404, "NOT_FOUND"),
    # unknown paths: 404
    ("/get/", 404, "NOT_FOUND"),
    ("/get/venues/", 404, "NOT_FOUND"),
    ("/get/venue", 404, "NOT_FOUND"),
    ("/get/events", 404, "NOT_FOUND"),
    ("/get/events/Event1/", 404, "NOT_FOUND"),
    ("/get/events/Event1/zones/1", 404, "NOT_FOUND"),
    ("/get/events/Event1/zones/1/seats/2", 404, "NOT_FOUND"),
    ("/get/events/Event1/foo", 404, "NOT_FOUND"),
    ("/get/count", 404, "NOT_FOUND"),
    ("/get/money/Venue1", 404, "NOT_FOUND"),
    ("/get//venues", 404, "NOT_FOUND"),
    ("/get/VENUES", 404, "NOT_FOUND"),
    ("/get/health/x", 404, "NOT_FOUND"),
    ("/get/" + "a/" * 300, 404, "NOT_FOUND"),
]


def test_bad_and_unknown_input():
    for port in WEB_PORTS:
        for path, status, code in BAD:
            expect_error(path, status, code, port)
    # an encoded NUL or a bad escape in the path: nginx refuses both itself
    # (its JSON error page), lighttpd the NUL (its own HTML page) and passes
    # the bad escape on to the router, which refuses it (tests/fuzz too)
    for path in ("/get/events/Event1%00/stats", "/get/events/Event1%zz/stats"):
        expect_error(path, 400, "BAD_REQUEST", NGINX)
    eq(http("GET", "/get/events/Event1%00/stats", port=LIGHTTPD).status, 400, "NUL via lighttpd")
    expect_error("/get/events/Event1%zz/stats", 400, "BAD_REQUEST", LIGHTTPD)


def test_only_get_and_head():
    for port in WEB_PORTS:
        for path in ("/get/venues", "/get/events/Event1/stats", "/get/health",
                     "/get/tickets/" + str(uuid.UUID(int=1))):
            for method in ("POST", "PUT", "DELETE", "PATCH"):
                r = expect_error(path, 405, "METHOD_NOT_ALLOWED", port, method)
                eq(r.header("Allow"), "GET, HEAD", "Allow header")
            r = http("HEAD", path, port=port)
            check(r.status in (200, 404), "HEAD %s: %d" % (path, r.status))
            eq(r.body, "", "HEAD has no body")
            if port == box.APACHE:
                continue  # Apache streams FastCGI answers (chunked): a HEAD has no length
            check(int(r.header("Content-Length")) > 0, "HEAD Content-Length")
        if port == box.APACHE:
            continue
        r = http("HEAD", "/get/venues", port=port)
        eq((r.status, r.header("Content-Length")),
           (200, str(len(get("/get/venues", port).body.encode()))), "HEAD /get/venues")


def test_empty_segments():
    """docs/api.md: an empty segment where a parameter stands is that
    parameter malformed (400, after the method check); one that leaves no
    known path is 404."""
    for port in (NGINX, LIGHTTPD):
        for path, message in (("/get/events/", "malformed eventId"),
                              ("/get/events//stats", "malformed eventId"),
                              ("/get/money/Venue1/", "malformed eventId"),
                              ("/get/venues//events", "malformed venueId"),
                              ("/get/tickets/", "ticketId must be a UUID"),
                              ("/get/events/Event1/zones//seats",
                               "zoneId must be an integer from 1 to 2147483647")):
            eq(expect_error(path, 400, "BAD_REQUEST", port).json()["message"], message, path)
        expect_error("/get/events/", 405, "METHOD_NOT_ALLOWED", port, "POST")
        for path in ("/get/venues/", "/get/events/Event1/", "/get//venues"):
            eq(expect_error(path, 404, "NOT_FOUND", port).json()["message"], "no such path", path)


def fcgi_answer(method, path):
    """(header block, body) of the query responder's own answer, straight
    from its socket: the web servers strip a HEAD's body themselves."""
    return fcgi.parts(box.fcgi_socket("query"), method, path)


def test_head_has_no_body_at_the_responder():
    """A HEAD gets the GET's status line and headers (Content-Length of the
    GET's body too) and not one byte of body, whatever the answer."""
    for path, status in (("/get/venues", 200), ("/get/health", 200),
                         ("/get/events/Event2", 200), ("/get/events/Nope", 404),
                         ("/get/events/Ev!/stats", 400), ("/get/nothing", 404)):
        ghead, gbody = fcgi_answer("GET", path)
        hhead, hbody = fcgi_answer("HEAD", path)
        eq(ghead.split("\r\n", 1)[0], "Status: %d %s" % (status, http_reason(status)),
           "GET %s status" % path)
        check(len(gbody) > 0, "GET %s has a body" % path)
        eq(hhead, ghead, "HEAD %s headers" % path)
        check(hbody == "", "HEAD %s: %d bytes of body: %r" % (path, len(hbody), hbody[:80]))


def http_reason(status):
    return {200: "OK", 400: "Bad Request", 404: "Not Found"}[status]


def test_query_string_cap_on_every_endpoint():
    """Every endpoint refuses a query string over 1024 bytes with a JSON
    400, also those that ignore its content; 1024 bytes pass."""
    paths = ("/get/venues", "/get/venues/Venue2/events", "/get/events/Event2",
             "/get/events/Event2/zones/4/seats", "/get/events/Event2/tickets",
             "/get/events/Event2/stats", "/get/count/Event2", "/get/money/Venue2/Event2",
             "/get/health")
    over, cap = "?x=" + "y" * 1023, "?x=" + "y" * 1022
    for port in (NGINX, LIGHTTPD):
        for path in paths:
            r = http("GET", path + over, port=port)
            eq((r.status, r.header("Content-Type")), (400, "application/json"),
               "%s?<1025 bytes> via %d (%s)" % (path, port, r.body[:120]))
            eq(r.json(), {"error": "BAD_REQUEST", "message": "query string too long"},
               "%s?<1025 bytes> via %d" % (path, port))
            eq(http("GET", path + cap, port=port).status, 200,
               "%s?<1024 bytes> via %d" % (path, port))
        eq(http("HEAD", "/get/health" + over, port=port).status, 400,
           "HEAD /get/health?<1025 bytes> via %d" % port)


if __name__ == "__main__":
    raise SystemExit(box.main(globals()))
