# SPDX-License-Identifier: ISC
"""test_hostile_orders.py - hostile input for the endpoints of section 7
(POST /orders, POST /orders/{id}/cancel, POST /tickets/{id}/cancel,
POST /holds, POST /holds/{id}/confirm, DELETE /holds/{id}, the
Idempotency-Key header) through nginx, lighttpd and Apache, in the way of
test_hostile_http.py: every request gets its exact 4xx and changes nothing
(the seats of TARGET, the order of VICTIM, its hold, and everything else
stores.snapshot() sees: the queues, MySQL, DynamoDB, the pending, order,
hold and idempotency keys of Redis), and no responder process dies."""

import json

import box
import stores
from box import eq, check

SERVERS = (("nginx", box.NGINX), ("lighttpd", box.LIGHTTPD)) + \
    ((("apache", box.APACHE),) if box.APACHE else ())
TARGET = ("Event1", 96)
JSON = {"Content-Type": "application/json"}
state = {}


def body(**kw):
    d = {"venueId": "Venue1", "eventId": TARGET[0], "zoneId": TARGET[1]}
    d.update(kw)
    return json.dumps(d)


def seats(*rc):
    return [{"row": r, "column": c} for r, c in rc]


ELEVEN = seats(*[(1, c) for c in range(1, 12)])

# (what, body, expected status, error code) for POST /orders
ORDER_CASES = [
    ("11 seats", body(seats=ELEVEN), 400, "BAD_REQUEST"),
    ("no seat", body(seats=[]), 400, "BAD_REQUEST"),
    ("duplicate seats", body(seats=seats((1, 1), (1, 2), (1, 1))), 400, "BAD_REQUEST"),
    ("negative quantity", body(quantity=-4), 400, "BAD_REQUEST"),
    ("zero quantity", body(quantity=0), 400, "BAD_REQUEST"),
    ("quantity 11", body(quantity=11), 400, "BAD_REQUEST"),
    ("huge quantity", body(quantity=10 ** 30), 400, "BAD_REQUEST"),
    ("quantity as text", body(quantity="4"), 400, "BAD_REQUEST"),
    ("quantity and seats", body(quantity=2, seats=seats((1, 1))), 400, "BAD_REQUEST"),
    ("neither", body(), 400, "BAD_REQUEST"),
    ("seats not a list", body(seats={"row": 1, "column": 1}), 400, "BAD_REQUEST"),
    ("seat as a pair", body(seats=[[1, 1]]), 400, "BAD_REQUEST"),
    ("seat without column", body(seats=[{"row": 1}]), 400, "BAD_REQUEST"),
    ("seat row null", body(seats=[{"row": None, "column": 1}]), 400, "BAD_REQUEST"),
    ("negative row", body(seats=seats((-1, 1))), 400, "INVALID_SEAT"),
    ("huge column", body(seats=seats((1, 10 ** 20))), 400, "INVALID_SEAT"),
    ("row outside the zone", body(seats=seats((27, 1), (1, 1))), 400, "INVALID_SEAT"),
    ("nested deep", body(seats=[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]), 400, "BAD_REQUEST"),
    ("not JSON", "{seats:[1]}", 400, "BAD_REQUEST"),
    ("empty", "", 400, "BAD_REQUEST"),
    ("trailing data", body(quantity=1) + "x", 400, "BAD_REQUEST"),
    ("bad venue id", json.dumps({"venueId": "V\u00e9", "eventId": "Event1", "zoneId": 1,
                                 "quantity": 1}), 400, "BAD_REQUEST"),
    ("unknown zone", json.dumps({"venueId": "Venue1", "eventId": "Event1", "zoneId": 9999,
                                 "quantity": 1}), 404, "NOT_FOUND"),
]

# (what, token JSON body, status, code) for both cancellations of VICTIM
TOKEN_CASES = [
    ("short token", '{"cancelToken":"abc"}', 400, "BAD_REQUEST"),
    ("long token", '{"cancelToken":"%s"}' % ("A" * 23), 400, "BAD_REQUEST"),
    ("token with '='", '{"cancelToken":"%s="}' % ("A" * 21), 400, "BAD_REQUEST"),
    ("token with a NUL", '{"cancelToken":"%s\\u0000"}' % ("A" * 21), 400, "BAD_REQUEST"),
    ("token as a number", '{"cancelToken":1234567890123456789012}', 400, "BAD_REQUEST"),
    ("token missing", '{}', 400, "BAD_REQUEST"),
    ("token of 64 hex (a hash)", '{"cancelToken":"%s"}' % ("a" * 64), 400, "BAD_REQUEST"),
    ("wrong token", '{"cancelToken":"%s"}' % ("A" * 22), 403, "FORBIDDEN"),
    ("not JSON", "cancelToken=x", 400, "BAD_REQUEST"),
]


# (what, body, status, code) for POST /holds, beside every ORDER_CASES
HOLD_CASES = [
    ("huge holdSeconds", body(quantity=1, holdSeconds=10 ** 30), 400, "BAD_REQUEST"),
    ("holdSeconds over hold_max_seconds", body(quantity=1, holdSeconds=1801), 400, "BAD_REQUEST"),
    ("holdSeconds 2^31", body(quantity=1, holdSeconds=2 ** 31), 400, "BAD_REQUEST"),
    ("zero holdSeconds", body(quantity=1, holdSeconds=0), 400, "BAD_REQUEST"),
    ("negative holdSeconds", body(quantity=1, holdSeconds=-600), 400, "BAD_REQUEST"),
    ("holdSeconds as text", body(quantity=1, holdSeconds="600"), 400, "BAD_REQUEST"),
    ("holdSeconds 1.5", body(quantity=1, holdSeconds=1.5), 400, "BAD_REQUEST"),
    ("holdSeconds null", body(quantity=1, holdSeconds=None), 400, "BAD_REQUEST"),
]

# Idempotency-Key values that are 400 BAD_REQUEST on every POST that buys
BAD_KEYS = ["k" * 65, "two words", "a/b", "k=v", "..", "k\u00e9",
            "k;drop", "%41"]


def snapshot():
    return (box.zone_state(*TARGET),
            box.redis("GET", box.id_key("bo:ord:", state["victim"]["orderId"]),
                      node=box.zone_node(*TARGET)),
            box.redis("HGETALL", "bo:ords:{%s:%d}" % TARGET, node=box.zone_node(*TARGET)),
            box.redis("HGETALL", "bo:holds:{%s:%d}" % TARGET, node=box.zone_node(*TARGET)))


def unchanged(what):
    eq(snapshot(), state["before"], what + ": the seats and the order changed")
    state["stores"].check(what)
    for pid in state["pids"]:
        check(box.alive(pid), what + ": responder %d died" % pid)


def setup_module():
    r = box.http("POST", "/orders", body(seats=seats((5, 5), (5, 6))), headers=JSON)
    eq(r.status, 201, "the victim order (%s)" % r.body)
    state["victim"] = r.json()
    r = box.http("POST", "/holds", body(seats=seats((6, 5), (6, 6)), holdSeconds=1800), headers=JSON)
    eq(r.status, 201, "the victim hold (%s)" % r.body)
    state["hold"] = r.json()
    state["pids"] = box.fcgi_pids("ticket")
    state["before"] = snapshot()
    state["stores"] = stores.Baseline([TARGET])


def test_order_bodies():
    for name, port in SERVERS:
        for what, b, status, code in ORDER_CASES:
            r = box.http("POST", "/orders", b, headers=JSON, port=port)
            eq((r.status, (r.json() if r.body.startswith("{") else {}).get("error")),
               (status, code), "%s via %s (%s)" % (what, name, r.body[:200]))
    unchanged("order bodies")


def test_cancel_bodies():
    v = state["victim"]
    for name, port in SERVERS:
        for path in ("/orders/%s/cancel" % v["orderId"],
                     "/tickets/%s/cancel" % v["tickets"][0]["ticketId"]):
            for what, b, status, code in TOKEN_CASES:
                r = box.http("POST", path, b, headers=JSON, port=port)
                eq((r.status, r.json().get("error")), (status, code),
                   "%s on %s via %s (%s)" % (what, path, name, r.body[:200]))
    unchanged("cancel bodies")


def test_paths_methods_types():
    v = state["victim"]
    tok = json.dumps({"cancelToken": v["cancelToken"]})
    oid = v["orderId"]
    cases = [
        ("GET", "/orders", None, JSON, 405, "METHOD_NOT_ALLOWED"),
        ("PUT", "/orders/%s/cancel" % oid, tok, JSON, 405, "METHOD_NOT_ALLOWED"),
        ("DELETE", "/orders/%s/cancel" % oid, tok, JSON, 405, "METHOD_NOT_ALLOWED"),
        ("POST", "/orders", body(quantity=1), {"Content-Type": "text/plain"}, 415,
         "UNSUPPORTED_MEDIA_TYPE"),
        ("POST", "/orders/%s/cancel" % oid, tok, {"Content-Type": "text/plain"}, 415,
         "UNSUPPORTED_MEDIA_TYPE"),
        ("POST", "/orders/%s/cancel" % oid.upper(), tok, JSON, 404, "NOT_FOUND"),
        ("POST", "/orders/%s/cancelx" % oid, tok, JSON, 404, "NOT_FOUND"),
        ("POST", "/orders/%s" % oid, tok, JSON, 404, "NOT_FOUND"),
        ("POST", "/orders/%s/cancel/" % oid, tok, JSON, 404, "NOT_FOUND"),
        ("POST", "/orders/../tickets", tok, JSON, 404, "NOT_FOUND"),
        ("POST", "/orders/%s/cancel" % ("0" * 36), tok, JSON, 404, "NOT_FOUND"),
        ("POST", "/tickets/not-a-uuid/cancel", tok, JSON, 404, "NOT_FOUND"),
        ("POST", "/orders", "x" * 5000, JSON, 413, "PAYLOAD_TOO_LARGE"),
    ]
    for name, port in SERVERS:
        for method, path, b, hdrs, status, code in cases:
            r = box.http(method, path, b, headers=hdrs, port=port)
            got = r.json().get("error") if r.body.startswith("{") else None
            # a web server may refuse a path with ".." itself, or a large body
            eq(r.status, status, "%s %s via %s (%s)" % (method, path, name, r.body[:120]))
            if got is not None:
                eq(got, code, "%s %s via %s" % (method, path, name))
    unchanged("paths, methods, types")


def test_hold_bodies():
    for name, port in SERVERS:
        for what, b, status, code in HOLD_CASES + ORDER_CASES:
            r = box.http("POST", "/holds", b, headers=JSON, port=port)
            eq((r.status, (r.json() if r.body.startswith("{") else {}).get("error")),
               (status, code), "hold: %s via %s (%s)" % (what, name, r.body[:200]))
    unchanged("hold bodies")


def test_hold_paths():
    hid = state["hold"]["holdId"]
    other = "A" * 22
    cases = [
        ("POST", "/holds/%s/confirm" % other, 404, "NOT_FOUND"),
        ("DELETE", "/holds/" + other, 404, "NOT_FOUND"),
        ("POST", "/holds/%s/confirm" % hid[:21], 404, "NOT_FOUND"),
        ("DELETE", "/holds/" + hid[:21], 404, "NOT_FOUND"),
        ("DELETE", "/holds/%sA" % hid, 404, "NOT_FOUND"),
        ("DELETE", "/holds/" + "A" * 25, 404, "NOT_FOUND"),
        ("POST", "/holds/%s/confirm" % hid[:22], 404, "NOT_FOUND"),
        ("DELETE", "/holds/" + hid[:24], 404, "NOT_FOUND"),
        ("POST", "/holds/%s/confirmx" % hid, 404, "NOT_FOUND"),
        ("POST", "/holds/%s/confirm/" % hid, 404, "NOT_FOUND"),
        ("DELETE", "/holds/%s/" % hid, 404, "NOT_FOUND"),
        ("POST", "/holds/%s=/confirm" % hid[:21], 404, "NOT_FOUND"),
        ("DELETE", "/holds/%s%%2F" % hid[:20], 404, "NOT_FOUND"),
        ("DELETE", "/holds/" + hid.swapcase(), 404, "NOT_FOUND"),
        ("GET", "/holds/" + hid, 405, "METHOD_NOT_ALLOWED"),
        ("POST", "/holds/" + hid, 405, "METHOD_NOT_ALLOWED"),
        ("PUT", "/holds/%s/confirm" % hid, 405, "METHOD_NOT_ALLOWED"),
        ("DELETE", "/holds/%s/confirm" % hid, 405, "METHOD_NOT_ALLOWED"),
        ("DELETE", "/holds", 405, "METHOD_NOT_ALLOWED"),
        ("GET", "/holds", 405, "METHOD_NOT_ALLOWED"),
    ]
    for name, port in SERVERS:
        for method, path, status, code in cases:
            r = box.http(method, path, None, port=port)
            got = r.json().get("error") if r.body.startswith("{") else None
            eq(r.status, status, "%s %s via %s (%s)" % (method, path, name, r.body[:120]))
            if got is not None:
                eq(got, code, "%s %s via %s" % (method, path, name))
    unchanged("hold paths")


def test_bad_idempotency_keys():
    ticket = json.dumps({"venueId": "Venue1", "eventId": TARGET[0], "zoneId": TARGET[1], "row": 9, "column": 9})
    legacy = "/ticket?venueId=Venue1&eventId=%s&zoneId=%d&row=9&column=9" % TARGET
    for name, port in SERVERS:
        for key in BAD_KEYS:
            for path, b, hdrs in (("/orders", body(quantity=1), JSON), ("/holds", body(quantity=1), JSON),
                                  ("/tickets", ticket, JSON), (legacy, None, {})):
                h = dict(hdrs, **{"Idempotency-Key": key})
                r = box.http("POST", path, b, headers=h, port=port)
                eq((r.status, r.json().get("error")), (400, "BAD_REQUEST"),
                   "key %r on %s via %s (%s)" % (key, path, name, r.body[:200]))
    unchanged("bad Idempotency-Keys")


if __name__ == "__main__":
    raise SystemExit(box.main(globals()))
