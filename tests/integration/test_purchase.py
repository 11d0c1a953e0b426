# SPDX-License-Identifier: ISC
"""Purchase responder through nginx and lighttpd: every row of docs/api.md,
the 201 body and Location, the legacy form, health, and the message in both
queues."""

import calendar
import hashlib
import json
import re
import socket
import time

import box
import fcgi
import stores
from box import NGINX, LIGHTTPD, WEB_PORTS, buy, check, eq, http

UUID7 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
# the ticket of section 2, then the order of one it is underneath (section 7)
TICKET_KEYS = ["ticketId", "venueId", "eventId", "zoneId", "row", "column", "price", "status",
               "createdOn", "orderId", "cancelToken"]
TOKEN = re.compile(r"^[A-Za-z0-9_-]{22}$")


def expect_error(r, status, code, what=""):
    eq(r.status, status, "%s status (body %s)" % (what, r.body))
    eq(r.header("Content-Type"), "application/json", what + " content type")
    body = r.json()
    check(isinstance(body, dict), what + ": error body is not an object")
    eq(body.get("error"), code, what + " error code")
    check(isinstance(body.get("message"), str) and body["message"], what + ": no message")


def check_ticket(r, venue, event, zone, row, col, price):
    """Checks a 201 response exactly; returns the ticket dict."""
    eq(r.status, 201, "status (body %s)" % r.body)
    eq(r.header("Content-Type"), "application/json", "content type")
    t = r.json()
    eq(list(t.keys()), TICKET_KEYS, "ticket fields in order")
    check(UUID7.match(t["ticketId"]), "ticketId %r is not a lowercase UUIDv7" % t["ticketId"])
    check(UUID7.match(t["orderId"]), "orderId %r is not a lowercase UUIDv7" % t["orderId"])
    check(TOKEN.match(t["cancelToken"]), "cancelToken %r" % t["cancelToken"])
    eq((t["venueId"], t["eventId"], t["zoneId"], t["row"], t["column"]),
       (venue, event, zone, row, col), "seat")
    check('"price":%s,' % price in r.body, "price %s not written with 2 decimals: %s" % (price, r.body))
    eq(t["status"], "CREATED", "status")
    check(STAMP.match(t["createdOn"]), "createdOn %r" % t["createdOn"])
    created = calendar.timegm(time.strptime(t["createdOn"][:19], "%Y-%m-%dT%H:%M:%S"))
    check(abs(created - time.time()) < 120, "createdOn %s is not now" % t["createdOn"])
    eq(r.header("Location"), "/get/tickets/" + t["ticketId"], "Location")
    return t


def setup_module():
    box.stack("reset")


def test_buy_through_nginx_and_lighttpd():
    for i, port in enumerate(WEB_PORTS):
        before = box.zone_state("Event1", 1)
        r = buy("Venue1", "Event1", 1, 1, 10 + i, port=port)
        t = check_ticket(r, "Venue1", "Event1", 1, 1, 10 + i, "320.00")
        after = box.zone_state("Event1", 1)
        eq(after["left"], before["left"] - 1, "zone counter decremented")
        eq(after["row_left"][1], before["row_left"][1] - 1, "row counter decremented")
        eq(after["taken"] - before["taken"], {(1, 10 + i)}, "exactly the seat bit set")
        eq(after["owners"].get(9 + i), t["ticketId"], "owner token")


def test_prices_by_zone_band():
    for zone, price in ((20, "320.00"), (21, "160.00"), (41, "80.00"), (61, "40.00"), (100, "20.00")):
        check_ticket(buy("Venue1", "Event1", zone, 26, 30), "Venue1", "Event1", zone, 26, 30, price)
    check_ticket(buy("Venue2", "Event2", 2, 5, 12, port=LIGHTTPD), "Venue2", "Event2", 2, 5, 12, "95.50")


def test_seat_taken_and_events_are_separate():
    for port in WEB_PORTS:
        expect_error(buy("Venue1", "Event1", 1, 1, 10, port=port), 409, "SEAT_TAKEN", "taken")
    # the same seat of Event2 and Event3 are two seats
    check_ticket(buy("Venue2", "Event2", 1, 3, 3), "Venue2", "Event2", 1, 3, 3, "150.00")
    check_ticket(buy("Venue2", "Event3", 1, 3, 3), "Venue2", "Event3", 1, 3, 3, "150.00")
    expect_error(buy("Venue2", "Event3", 1, 3, 3), 409, "SEAT_TAKEN", "taken in Event3")


BAD_BODIES = [
    ("not json", "hello"),
    ("json array", "[1,2]"),
    ("json string", '"x"'),
    ("empty body", ""),
    ("trailing garbage", '{"venueId":"Venue1","eventId":"Event1","zoneId":1,"row":2,"column":1} x'),
    ("missing venueId", {"eventId": "Event1", "zoneId": 1, "row": 2, "column": 1}),
    ("missing eventId", {"venueId": "Venue1", "zoneId": 1, "row": 2, "column": 1}),
    ("missing zoneId", {"venueId": "Venue1", "eventId": "Event1", "row": 2, "column": 1}),
    ("missing row", {"venueId": "Venue1", "eventId": "Event1", "zoneId": 1, "column": 1}),
    ("missing column", {"venueId": "Venue1", "eventId": "Event1", "zoneId": 1, "row": 2}),
    ("zoneId string", {"venueId": "Venue1", "eventId": "Event1", "zoneId": "1", "row": 2, "column": 1}),
    ("zoneId float", {"venueId": "Venue1", "eventId": "Event1", "zoneId": 1.5, "row": 2, "column": 1}),
    ("row true", {"venueId": "Venue1", "eventId": "Event1", "zoneId": 1, "row": True, "column": 1}),
    ("column null", {"venueId": "Venue1", "eventId": "Event1", "zoneId": 1, "row": 2, "column": None}),
    ("row 2.0", '{"venueId":"Venue1","eventId":"Event1","zoneId":1,"row":2.0,"column":1}'),
    ("venueId number", {"venueId": 1, "eventId": "Event1", "zoneId": 1, "row": 2, "column": 1}),
    ("venueId bad chars", {"venueId": "Venue 1", "eventId": "Event1", "zoneId": 1, "row": 2, "column": 1}),
    ("venueId empty", {"venueId": "", "eventId": "Event1", "zoneId": 1, "row": 2, "column": 1}),
    ("eventId too long", {"venueId": "Venue1", "eventId": "E" * 65, "zoneId": 1, "row": 2, "column": 1}),
    ("zoneId 0", {"venueId": "Venue1", "eventId": "Event1", "zoneId": 0, "row": 2, "column": 1}),
    ("zoneId 2^31", {"venueId": "Venue1", "eventId": "Event1", "zoneId": 2 ** 31, "row": 2, "column": 1}),
]


state = {}


def test_bad_request_rows():
    before = box.zone_state("Event1", 1)
    state["stores"] = stores.Baseline([("Event1", 1)])
    for port in WEB_PORTS:
        for what, body in BAD_BODIES:
            if isinstance(body, dict):
                r = http("POST", "/tickets", body, port=port)
            else:
                r = http("POST", "/tickets", body, {"Content-Type": "application/json"}, port=port)
            expect_error(r, 400, "BAD_REQUEST", "%s via %d" % (what, port))
    eq(box.zone_state("Event1", 1), before, "nothing changed in Redis")
    state["stores"].check("the 400 BAD_REQUEST rows")


def test_invalid_seat_rows():
    for port in WEB_PORTS:
        for row, col in ((27, 1), (1, 31), (0, 1), (1, 0), (-1, 1), (1, 2 ** 31), (100000, 1)):
            expect_error(buy("Venue1", "Event1", 1, row, col, port=port), 400, "INVALID_SEAT",
                         "row %d col %d" % (row, col))
        # a single-row zone: row 2 is outside
        expect_error(buy("Venue2", "Event2", 3, 2, 1, port=port), 400, "INVALID_SEAT", "Venue2 z3 row 2")
    if "stores" in state:
        state["stores"].check("the 400 INVALID_SEAT rows")


def test_not_found_rows():
    for port in WEB_PORTS:
        for args, what in ((("NoVenue", "Event1", 1), "unknown venue"),
                           (("Venue1", "NoEvent", 1), "unknown event"),
                           (("Venue1", "Event1", 101), "unknown zone"),
                           (("Venue2", "Event2", 5), "zone not in Venue2"),
                           (("Venue2", "Event1", 1), "event not at venue"),
                           (("Venue1", "Event2", 1), "event not at venue (2)")):
            expect_error(buy(*args, row=1, col=1, port=port), 404, "NOT_FOUND", what)


def test_method_not_allowed():
    for port in WEB_PORTS:
        for method, path in (("GET", "/tickets"), ("PUT", "/tickets"), ("DELETE", "/tickets"),
                             ("GET", "/ticket?venueId=Venue1&eventId=Event1&zoneId=1&row=A&column=1"),
                             ("POST", "/tickets/health")):
            r = http(method, path, port=port)
            expect_error(r, 405, "METHOD_NOT_ALLOWED", "%s %s via %d" % (method, path, port))
            check(r.header("Allow"), "%s %s: no Allow header" % (method, path))
            check(("GET" if path.endswith("health") else "POST") in r.header("Allow"), "Allow value")


def test_payload_too_large_and_media_type():
    big = json.dumps({"venueId": "Venue1", "eventId": "Event1", "zoneId": 1, "row": 3, "column": 3,
                      "pad": "x" * 5000})
    ok = json.dumps({"venueId": "Venue1", "eventId": "Event1", "zoneId": 1, "row": 3, "column": 3})
    for port in WEB_PORTS:
        expect_error(http("POST", "/tickets", big, {"Content-Type": "application/json"}, port=port),
                     413, "PAYLOAD_TOO_LARGE", "5000-byte body")
        for ct in ("text/plain", "application/x-www-form-urlencoded", "application/jsonx"):
            expect_error(http("POST", "/tickets", ok, {"Content-Type": ct}, port=port), 415,
                         "UNSUPPORTED_MEDIA_TYPE", ct)
        expect_error(http("POST", "/tickets", ok, {}, port=port), 415, "UNSUPPORTED_MEDIA_TYPE",
                     "no content type")
    # exactly 4096 bytes is allowed; parameters of the media type are fine
    exact = ok[:-1] + ',"pad":"' + "y" * (4096 - len(ok) - 9) + '"}'
    eq(len(exact), 4096, "body size")
    r = http("POST", "/tickets", exact, {"Content-Type": "application/json; charset=utf-8"})
    check_ticket(r, "Venue1", "Event1", 1, 3, 3, "320.00")
    eq(box.zone_state("Event1", 1)["taken"] & {(3, 3)}, {(3, 3)}, "seat sold once")


def test_legacy_endpoint():
    q = "/ticket?venueId=Venue1&eventId=Event1&zoneId=2&row=%s&column=%d"
    r = http("POST", q % ("A", 1))
    check_ticket(r, "Venue1", "Event1", 2, 1, 1, "320.00")
    check_ticket(http("POST", q % ("Z", 2), port=LIGHTTPD), "Venue1", "Event1", 2, 26, 2, "320.00")
    check_ticket(http("POST", q % ("b", 3)), "Venue1", "Event1", 2, 2, 3, "320.00")
    check_ticket(http("POST", q % ("7", 4)), "Venue1", "Event1", 2, 7, 4, "320.00")
    expect_error(http("POST", q % ("A", 1)), 409, "SEAT_TAKEN", "legacy taken")
    expect_error(http("POST", q % ("AA", 1)), 400, "INVALID_SEAT", "AA = row 27")
    expect_error(http("POST", q % ("1A", 1)), 400, "BAD_REQUEST", "junk row")
    expect_error(http("POST", "/ticket?venueId=Venue1&eventId=Event1&zoneId=x&row=A&column=1"),
                 400, "BAD_REQUEST", "zoneId not a number")
    expect_error(http("POST", "/ticket?venueId=Venue1&eventId=Event1&row=A&column=1"), 400,
                 "BAD_REQUEST", "zoneId missing")
    expect_error(http("POST", "/ticket?venueId=Venue9&eventId=Event1&zoneId=2&row=A&column=9"), 404,
                 "NOT_FOUND", "legacy unknown venue")
    # form body
    form = "venueId=Venue2&eventId=Event2&zoneId=3&row=A&column=5"
    for port in WEB_PORTS:
        r = http("POST", "/ticket", form, {"Content-Type": "application/x-www-form-urlencoded"},
                 port=port)
        if port == NGINX:
            check_ticket(r, "Venue2", "Event2", 3, 1, 5, "250.00")
        else:
            expect_error(r, 409, "SEAT_TAKEN", "form body again")
    expect_error(http("POST", "/ticket", form, {"Content-Type": "text/plain"}), 415,
                 "UNSUPPORTED_MEDIA_TYPE", "legacy body of another type")


def test_unknown_paths():
    for port in WEB_PORTS:
        for path in ("/nothing", "/tickets/123", "/ticketsx", "/ui/nothing", "/app.js"):
            expect_error(http("GET", path, port=port), 404, "NOT_FOUND", "%s via %d" % (path, port))
        # "/" is the box-office page (web/), a static file
        r = http("GET", "/", port=port)
        eq((r.status, r.header("Content-Type")), (200, "text/html; charset=utf-8"), "/ via %d" % port)


def test_health():
    for port in WEB_PORTS:
        r = http("GET", "/tickets/health", port=port)
        eq(r.status, 200, "health")
        want = {"status": "ok", "redis": "ok", "broker": "ok"}
        if box.PUBLISHER == "local":
            want["publisher"] = "ok"    # pubd takes messages
        eq(r.json(), want, "health body")


def test_head_has_no_body_at_the_responder():
    """HEAD on the purchase responder's GET paths (health, metrics) and on
    the paths that refuse it: the status and headers a GET gets, with
    Content-Length, and not one byte of body, straight from the socket
    (the web servers strip a HEAD's body themselves)."""
    sock = box.fcgi_socket("ticket")
    for path, status in (("/tickets/health", 200), ("/tickets/metrics", 200),
                         ("/tickets", 405), ("/holds/x", 404), ("/nothing", 404)):
        ghead, gbody = fcgi.parts(sock, "GET", path)
        hhead, hbody = fcgi.parts(sock, "HEAD", path)
        for what, head in (("GET", ghead), ("HEAD", hhead)):
            eq(int(head.split(" ", 2)[1]), status, "%s %s status: %s" % (what, path, head))
        check(len(gbody) > 0, "GET %s has a body" % path)
        eq(sorted(h.split(":")[0] for h in hhead.split("\r\n")),
           sorted(h.split(":")[0] for h in ghead.split("\r\n")), "HEAD %s header names" % path)
        if path != "/tickets/metrics":	# the counters move between the two
            eq(hhead, ghead, "HEAD %s headers" % path)
        check(hbody == "", "HEAD %s: %d bytes of body: %r" % (path, len(hbody), hbody[:80]))


def test_a_body_that_stops_coming_frees_the_responder():
    """A web server that passes a body on as the client sends it (Apache)
    makes a responder wait for the rest: the responder waits at most
    fcgi_read_timeout_ms (2 s by default), then answers 400 and takes the
    next request; a trickle (a byte now and then) does not keep it either.
    Straight to the socket: half a purchase body, then nothing; then one
    byte every 0.5 s.  Nothing is sold."""
    sock = box.fcgi_socket("ticket")
    body = json.dumps({"venueId": "Venue1", "eventId": "Event1", "zoneId": 5, "row": 26,
                       "column": 30}).encode()
    before = box.zone_state("Event1", 5)
    for trickle in (False, True):
        head, _ = fcgi.request("POST", "/tickets", body, "application/json")
        s = fcgi.connect(sock, timeout=30)
        t0 = time.time()
        s.sendall(head + fcgi.record(fcgi.PARAMS, b"") + fcgi.record(fcgi.STDIN, body[:20]))
        if trickle:
            s.settimeout(0.5)
            i = 20
            while time.time() - t0 < 20 and i < len(body) - 1:
                try:
                    s.sendall(fcgi.record(fcgi.STDIN, body[i:i + 1]))
                except OSError:
                    break
                i += 1
                try:
                    if s.recv(1, socket.MSG_PEEK):
                        break
                except socket.timeout:
                    pass
            s.settimeout(30)
        reply = fcgi.read_reply(s)
        took = time.time() - t0
        s.close()
        check(reply.startswith("Status: 400"), "%s: the answer: %r" % (
            "trickle" if trickle else "stop", reply[:200]))
        check('"BAD_REQUEST"' in reply, "BAD_REQUEST: %r" % reply[:200])
        check(took < 10, "%s: the responder waited %.1f s for the body" % (
            "trickle" if trickle else "stop", took))
    eq(box.zone_state("Event1", 5), before, "nothing sold")


def test_message_reaches_both_queues():
    box.stack("stop", "consumer")
    try:
        for q in ("ticketSQL", "ticketNoSQL"):
            box.mqtool("purge", q)
        bodies = []
        for i, port in enumerate((NGINX, LIGHTTPD, NGINX)):
            r = buy("Venue1", "Event1", 5, 4, 1 + i, port=port)
            check_ticket(r, "Venue1", "Event1", 5, 4, 1 + i, "320.00")
            bodies.append(r.body)
        for q in ("ticketSQL", "ticketNoSQL"):
            eq(box.queue_count(q), 3, q + " depth")
            got = [json.loads(m, parse_float=str) for m in box.queue_get(q)]
            want = []
            for b in bodies:
                t = json.loads(b, parse_float=str)
                token = t.pop("cancelToken")
                want.append({"type": "order", "orderId": t["orderId"], "venueId": t["venueId"],
                             "eventId": t["eventId"], "zoneId": t["zoneId"],
                             "status": "CONFIRMED", "total": t["price"],
                             "createdOn": t["createdOn"],
                             "cancelHash": hashlib.sha256(token.encode()).hexdigest(),
                             "tickets": [t]})
            key = lambda m: m["orderId"]
            eq(sorted(got, key=key), sorted(want, key=key),
               q + " messages are the orders of one of the 201 bodies")
    finally:
        box.stack("start", "consumer")


def test_no_pending_left_after_confirmed_sales():
    # every confirmed sale removed its entry from the pending set
    for zone in (1, 2, 5):
        eq(box.redis("ZCARD", "bo:pend:{Event1:%d}" % zone), 0, "pending entries of zone %d" % zone)


if __name__ == "__main__":
    raise SystemExit(box.main(globals()))
