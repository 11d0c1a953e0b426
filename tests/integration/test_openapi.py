# SPDX-License-Identifier: ISC
"""docs/openapi.yaml against the running servers.

The description itself: OpenAPI 3.1, every $ref resolves, every schema is a
valid JSON Schema 2020-12 (python3-jsonschema's Draft202012Validator; Debian
12 packages no OpenAPI validator, so the document's structure is checked
here by hand), path parameters declared.  Then every documented path,
method and status gets one real request (PROBES) through nginx, lighttpd
and Apache -- the 503s with Redis or MySQL stopped, through nginx -- and the
answer must have that status, the documented headers, and a JSON body that
validates against the documented schema.  A documented status without a
probe, or a probe of an undocumented one, fails too.  The answers of the
catalog's sale windows and cancellation (403 NOT_ON_SALE and SALE_CLOSED,
410 EVENT_CANCELLED, and the sale fields of the queries) are probed with a
catalog applied for them (tests/lib/catalog.py), the seed put back after.
The orders of CONTRACT §7 need state first (an order to cancel, a hold to
confirm, a key to reuse): FLOW runs their probes in order through every
web server, each answer checked the same way, and what the document cannot
say (a replay is the same body, a SEAT_TAKEN lists the taken seat, a
cancel answers what a lookup shows) checked beside.
"""

import json
import os
import re
from datetime import timedelta

import box
import catalog
from box import NGINX, WEB_PORTS, check, eq

yaml, jsonschema = box.debian_modules("yaml", "jsonschema")

SPEC_FILE = os.path.join(box.ROOT, "docs", "openapi.yaml")
with open(SPEC_FILE) as f:
    SPEC = yaml.safe_load(f)
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
UUID0 = "01a21fb3-0000-7000-8000-000000000000"


def seat(col, row=1):
    return {"venueId": "Venue2", "eventId": "Event2", "zoneId": 4, "row": row, "column": col}


def legacy(query):
    return "/ticket?venueId=Venue2&eventId=Event2&zoneId=4&" + query


# the catalog of the sale probes (sale_catalog): Event3's zone 1 opens in an
# hour, Event1's sale closed an hour ago, EventOff is cancelled
def at(venue, event):
    return {"venueId": venue, "eventId": event, "zoneId": 1, "row": 1, "column": "{i}"}


def at_legacy(venue, event):
    return "/ticket?venueId=%s&eventId=%s&zoneId=1&row=A&column={i}" % (venue, event)


def at_order(venue, event):
    return {"venueId": venue, "eventId": event, "zoneId": 1, "quantity": 1}


JSON = {"Content-Type": "application/json"}
TOKEN0 = "AAAAAAAAAAAAAAAAAAAAAA"

# (path, method, status[, error code]) -> (fault, method, url, body,
# headers); {i} in a body column or url is the web server's index + 1 (each
# buys its own seats), {ticket} the ticketId of that server's first 201 (see
# fill).  fault:
# the store that is stopped for the probe (those run through nginx only),
# or "catalog": run with sale_catalog() applied.  With an error code, the
# body's "error" must be it (one status, several answers).
PROBES = {
    ("/tickets", "post", "403", "NOT_ON_SALE"): ("catalog", "POST", "/tickets", at("Venue2", "Event3"), None),
    ("/tickets", "post", "403", "SALE_CLOSED"): ("catalog", "POST", "/tickets", at("Venue1", "Event1"), None),
    ("/tickets", "post", "410", "EVENT_CANCELLED"): ("catalog", "POST", "/tickets", at("Venue2", "EventOff"), None),
    ("/ticket", "post", "403", "NOT_ON_SALE"): ("catalog", "POST", at_legacy("Venue2", "Event3"), None, None),
    ("/ticket", "post", "403", "SALE_CLOSED"): ("catalog", "POST", at_legacy("Venue1", "Event1"), None, None),
    ("/ticket", "post", "410", "EVENT_CANCELLED"): ("catalog", "POST", at_legacy("Venue2", "EventOff"), None, None),
    ("/orders", "post", "403", "NOT_ON_SALE"): ("catalog", "POST", "/orders", at_order("Venue2", "Event3"), None),
    ("/orders", "post", "403", "SALE_CLOSED"): ("catalog", "POST", "/orders", at_order("Venue1", "Event1"), None),
    ("/orders", "post", "410", "EVENT_CANCELLED"): ("catalog", "POST", "/orders", at_order("Venue2", "EventOff"), None),
    ("/holds", "post", "403", "NOT_ON_SALE"): ("catalog", "POST", "/holds", at_order("Venue2", "Event3"), None),
    ("/holds", "post", "403", "SALE_CLOSED"): ("catalog", "POST", "/holds", at_order("Venue1", "Event1"), None),
    ("/holds", "post", "410", "EVENT_CANCELLED"): ("catalog", "POST", "/holds", at_order("Venue2", "EventOff"), None),
    ("/orders", "post", "503"): ("redis", "POST", "/orders", dict(at_order("Venue2", "Event2"), zoneId=2), None),
    ("/holds", "post", "503"): ("redis", "POST", "/holds", dict(at_order("Venue2", "Event2"), zoneId=2), None),
    ("/holds/{holdId}/confirm", "post", "503"): ("redis", "POST", "/holds/%s/confirm" % TOKEN0, None, None),
    ("/holds/{holdId}", "delete", "503"): ("redis", "DELETE", "/holds/" + TOKEN0, None, None),
    ("/orders/{orderId}/cancel", "post", "503"):
        ("redis", "POST", "/orders/%s/cancel" % UUID0, {"cancelToken": TOKEN0}, None),
    ("/tickets/{ticketId}/cancel", "post", "503"):
        ("redis", "POST", "/tickets/%s/cancel" % UUID0, {"cancelToken": TOKEN0}, None),
    ("/get/orders/{orderId}", "get", "503"): ("mysql", "GET", "/get/orders/" + UUID0, None, None),
    ("/tickets", "post", "201"): (None, "POST", "/tickets", seat("{i}"), None),
    ("/tickets", "post", "409"): (None, "POST", "/tickets", seat("{i}"), None),
    ("/tickets", "post", "400"): (None, "POST", "/tickets", "not json", JSON),
    ("/tickets", "post", "404"): (None, "POST", "/tickets", dict(seat(1), eventId="Event1"), None),
    ("/tickets", "post", "405"): (None, "GET", "/tickets", None, None),
    ("/tickets", "post", "413"): (None, "POST", "/tickets", "x" * 5000, JSON),
    ("/tickets", "post", "415"): (None, "POST", "/tickets", json.dumps(seat(1)), {"Content-Type": "text/plain"}),
    ("/tickets", "post", "503"): ("redis", "POST", "/tickets", seat(4), None),
    ("/ticket", "post", "201"): (None, "POST", legacy("row=B&column={i}"), None, None),
    ("/ticket", "post", "409"): (None, "POST", legacy("row=B&column={i}"), None, None),
    ("/ticket", "post", "400"): (None, "POST", "/ticket?venueId=Venue2", None, None),
    ("/ticket", "post", "404"): (None, "POST", "/ticket?venueId=Venue9&eventId=Event2&zoneId=4&row=1&column=1",
                                 None, None),
    ("/ticket", "post", "405"): (None, "GET", legacy("row=1&column=1"), None, None),
    ("/ticket", "post", "415"): (None, "POST", "/ticket", "x", {"Content-Type": "text/plain"}),
    ("/ticket", "post", "503"): ("redis", "POST", legacy("row=C&column=4"), None, None),
    ("/tickets/health", "get", "200"): (None, "GET", "/tickets/health", None, None),
    ("/tickets/health", "get", "405"): (None, "POST", "/tickets/health", "{}", JSON),
    ("/tickets/health", "get", "503"): ("redis", "GET", "/tickets/health", None, None),
    ("/get/venues", "get", "200"): (None, "GET", "/get/venues", None, None),
    ("/get/venues", "get", "405"): (None, "POST", "/get/venues", "{}", JSON),
    ("/get/venues", "get", "503"): ("mysql", "GET", "/get/venues", None, None),
    ("/get/venues/{venueId}/events", "get", "200"): (None, "GET", "/get/venues/Venue2/events", None, None),
    ("/get/venues/{venueId}/events", "get", "400"): (None, "GET", "/get/venues/Ven%20ue/events", None, None),
    ("/get/venues/{venueId}/events", "get", "404"): (None, "GET", "/get/venues/Venue9/events", None, None),
    ("/get/venues/{venueId}/events", "get", "503"): ("mysql", "GET", "/get/venues/Venue2/events", None, None),
    ("/get/events/{eventId}", "get", "200"): (None, "GET", "/get/events/Event2", None, None),
    ("/get/events/{eventId}", "get", "400"): (None, "GET", "/get/events/Ev.ent1", None, None),
    ("/get/events/{eventId}", "get", "404"): (None, "GET", "/get/events/Event9", None, None),
    ("/get/events/{eventId}", "get", "503"): ("mysql", "GET", "/get/events/Event2", None, None),
    ("/get/events/{eventId}/zones/{zoneId}/seats", "get", "200"):
        (None, "GET", "/get/events/Event2/zones/4/seats", None, None),
    ("/get/events/{eventId}/zones/{zoneId}/seats", "get", "400"):
        (None, "GET", "/get/events/Event2/zones/0/seats", None, None),
    ("/get/events/{eventId}/zones/{zoneId}/seats", "get", "404"):
        (None, "GET", "/get/events/Event2/zones/5/seats", None, None),
    ("/get/events/{eventId}/zones/{zoneId}/seats", "get", "503"):
        ("redis", "GET", "/get/events/Event2/zones/4/seats", None, None),
    ("/get/tickets/{ticketId}", "get", "200"): (None, "GET", "/get/tickets/{ticket}", None, None),
    ("/get/tickets/{ticketId}", "get", "400"): (None, "GET", "/get/tickets/not-a-uuid", None, None),
    ("/get/tickets/{ticketId}", "get", "404"): (None, "GET", "/get/tickets/" + UUID0, None, None),
    ("/get/tickets/{ticketId}", "get", "503"): ("mysql", "GET", "/get/tickets/" + UUID0, None, None),
    ("/get/events/{eventId}/tickets", "get", "200"): (None, "GET", "/get/events/Event2/tickets?limit=2", None, None),
    ("/get/events/{eventId}/tickets", "get", "400"): (None, "GET", "/get/events/Event2/tickets?limit=0", None, None),
    ("/get/events/{eventId}/tickets", "get", "404"): (None, "GET", "/get/events/Event9/tickets", None, None),
    ("/get/events/{eventId}/tickets", "get", "503"): ("mysql", "GET", "/get/events/Event2/tickets", None, None),
    ("/get/events/{eventId}/stats", "get", "200"): (None, "GET", "/get/events/Event2/stats", None, None),
    ("/get/events/{eventId}/stats", "get", "400"): (None, "GET", "/get/events/Ev.ent1/stats", None, None),
    ("/get/events/{eventId}/stats", "get", "404"): (None, "GET", "/get/events/Event9/stats", None, None),
    ("/get/events/{eventId}/stats", "get", "503"): ("mysql", "GET", "/get/events/Event2/stats", None, None),
    ("/get/count/{eventId}", "get", "200"): (None, "GET", "/get/count/Event2", None, None),
    ("/get/count/{eventId}", "get", "400"): (None, "GET", "/get/count/Event%C3%A9", None, None),
    ("/get/count/{eventId}", "get", "404"): (None, "GET", "/get/count/Event9", None, None),
    ("/get/count/{eventId}", "get", "503"): ("mysql", "GET", "/get/count/Event2", None, None),
    ("/get/money/{venueId}/{eventId}", "get", "200"): (None, "GET", "/get/money/Venue2/Event2", None, None),
    ("/get/money/{venueId}/{eventId}", "get", "400"): (None, "GET", "/get/money/Venue1/Ev!", None, None),
    ("/get/money/{venueId}/{eventId}", "get", "404"): (None, "GET", "/get/money/Venue1/Event2", None, None),
    ("/get/money/{venueId}/{eventId}", "get", "503"): ("mysql", "GET", "/get/money/Venue2/Event2", None, None),
    ("/get/health", "get", "200"): (None, "GET", "/get/health", None, None),
    ("/get/health", "get", "405"): (None, "POST", "/get/health", "{}", JSON),
    ("/get/health", "get", "503"): ("mysql", "GET", "/get/health", None, None),
    ("/ticket", "post", "413"): (None, "POST", legacy("row=D&column={i}"),
                                 "venueId=Venue2&pad=" + "x" * 5000,
                                 {"Content-Type": "application/x-www-form-urlencoded"}),
}

# every path of the query responder (fcgi/query/route.c): any method but GET
# and HEAD is 405 with "Allow: GET, HEAD"; a query string over 1024 bytes
# (ROUTE_QUERY_MAX) is 400 BAD_REQUEST "query string too long", checked
# before anything else of the request
QUERY_PATHS = {
    "/get/venues": "/get/venues",
    "/get/venues/{venueId}/events": "/get/venues/Venue2/events",
    "/get/events/{eventId}": "/get/events/Event2",
    "/get/events/{eventId}/zones/{zoneId}/seats": "/get/events/Event2/zones/4/seats",
    "/get/tickets/{ticketId}": "/get/tickets/{ticket}",
    "/get/orders/{orderId}": "/get/orders/" + UUID0,
    "/get/events/{eventId}/tickets": "/get/events/Event2/tickets",
    "/get/events/{eventId}/stats": "/get/events/Event2/stats",
    "/get/count/{eventId}": "/get/count/Event2",
    "/get/money/{venueId}/{eventId}": "/get/money/Venue2/Event2",
    "/get/health": "/get/health",
}
QUERY_MAX = 1024
LONG_QUERY = "zoneId=1&pad=" + "x" * (QUERY_MAX + 1 - len("zoneId=1&pad="))
assert len(LONG_QUERY) == QUERY_MAX + 1
TOO_LONG = set()
for _path, _url in QUERY_PATHS.items():
    PROBES[(_path, "get", "405")] = (None, "POST", _url, "{}", JSON)
    TOO_LONG.add((_path, "get", "400", "BAD_REQUEST"))
    PROBES[(_path, "get", "400", "BAD_REQUEST")] = (None, "GET", _url + "?" + LONG_QUERY, None, None)


# ------------------------------------------------------ the orders of §7

def ob(venue="Venue1", event="Event1", zone="{z}", **kw):
    """An order (or hold) body; {z} is the server's own zone of Event1."""
    return dict({"venueId": venue, "eventId": event, "zoneId": zone}, **kw)


def seats(*rc):
    return [{"row": r, "column": c} for r, c in rc]


def saved(ctx, name, path):
    return fill("{%s.%s}" % (name, path), ctx)


def pend(name, old_shape=False):
    """Puts the order ctx[name] back in the state of a publish not yet
    confirmed: its orderId pending since now (the sweeper claims it only
    after sweeper_stale_ms, 6 s in tests/run; one in bo:sweep would be
    published and dropped by its next round, 0.5 s).  old_shape: the
    member is the order message, as written before the upgrade that made
    it the orderId (lua/lib/pending.lua)."""
    def step(ctx):
        node = box.zone_node("Event1", ctx["z"])
        key, oid = "bo:pend:{Event1:%d}" % ctx["z"], ctx[name]["orderId"]
        member = oid
        if old_shape:
            member = box.redis("HGET", "bo:ords:{Event1:%d}" % ctx["z"], oid, node=node)
            check(member, "order message of %s" % oid)
        ctx["pending"] = (key, member)
        s, us = box.redis("TIME", node=node)
        box.redis("ZADD", key, str(int(s) * 1000 + int(us) // 1000), member, node=node)
    return step


def unpend(ctx):
    box.redis("ZREM", *ctx.pop("pending"), node=box.zone_node("Event1", ctx["z"]))


def same(a, b, what, header=None):
    """ctx[b] answers exactly as ctx[a]; with header, b carries it "true"."""
    def step(ctx):
        eq(ctx[b], ctx[a], what)
        if header:
            eq(ctx["resp"][b].header(header), "true", "%s: %s" % (what, header))
    return step


def expect(name, path, want, what):
    return lambda ctx: eq(saved(ctx, name, path), fill(want, ctx), what)


def without_token(ctx):
    a = dict(ctx["A"])
    del a["cancelToken"]
    eq(ctx["A_get"], a, "the lookup of an order: its 201 without cancelToken")


def hold_expired(name):
    """Waits until the hold ctx[name] is past its expiresAt (Redis clock)."""
    def step(ctx):
        exp = ctx[name]["expiresAt"]
        box.wait_until(lambda: catalog.redis_now().strftime("%Y-%m-%dT%H:%M:%S.%f")[:23] + "Z" > exp,
                       timeout=30, what="hold %s past %s" % (ctx[name]["holdId"], exp))
    return step


KEYED = {"Idempotency-Key": "openapi-{i}"}
TKEYED = {"Idempotency-Key": "openapi-ticket-{i}"}
HKEYED = {"Idempotency-Key": "openapi-hold-{i}"}
CKEYED = {"Idempotency-Key": "openapi-confirm-{i}"}
XKEYED = {"Idempotency-Key": "openapi-cancel-{i}"}
T = "/tickets/{A.tickets.0.ticketId}/cancel"
O = "/orders/{A.orderId}/cancel"
# FLOW, run in order through each web server (its index i, its zone z of
# Event1): (key, method, url, body, headers[, name]) probes as PROBES (the
# answer's JSON kept as ctx[name], its Resp as ctx["resp"][name]; {name.a.0.b}
# in a url, body or header is a field of it), or a step(ctx).
FLOW = [
    (("/orders", "post", "201"), "POST", "/orders", ob(quantity=4), None, "A"),
    (("/get/orders/{orderId}", "get", "200"), "GET", "/get/orders/{A.orderId}", None, None, "A_get"),
    without_token,
    (("/orders", "post", "201"), "POST", "/orders", ob(seats=seats((5, 1), (5, 2))), KEYED, "B"),
    (("/orders", "post", "201"), "POST", "/orders", ob(seats=seats((5, 1), (5, 2))), KEYED, "B_again"),
    same("B", "B_again", "a keyed order again: the first 201", "Idempotent-Replayed"),
    (("/orders", "post", "422", "IDEMPOTENCY_KEY_REUSED"), "POST", "/orders", ob(quantity=1), KEYED),
    (("/orders", "post", "409", "SEAT_TAKEN"), "POST", "/orders", ob(seats=seats((5, 3), (5, 1))), None, "taken"),
    expect("taken", "seats", seats((5, 1)), "SEAT_TAKEN lists the taken seat"),
    (("/orders", "post", "409", "NOT_ENOUGH_ADJACENT"), "POST", "/orders",
     ob("Venue2", "Event3", 4, quantity=5), None),
    (("/orders", "post", "409", "ZONE_SOLD_OUT"), "POST", "/orders", ob("Venue2", "Event3", 3, quantity=9), None),
    (("/orders", "post", "400", "BAD_REQUEST"), "POST", "/orders", ob(seats=seats((6, 1), (6, 1))), None),
    (("/orders", "post", "400", "BAD_REQUEST"), "POST", "/orders", ob(quantity=11), None),
    (("/orders", "post", "400", "INVALID_SEAT"), "POST", "/orders", ob(seats=seats((27, 1))), None),
    (("/orders", "post", "404"), "POST", "/orders", ob(event="Event9", quantity=1), None),
    (("/orders", "post", "405"), "GET", "/orders", None, None),
    (("/orders", "post", "413"), "POST", "/orders", "x" * 5000, JSON),
    (("/orders", "post", "415"), "POST", "/orders", json.dumps(ob(quantity=1, zone=1)), {"Content-Type": "text/plain"}),
    # the ticket of an order of one, keyed
    (("/tickets", "post", "201"), "POST", "/tickets", ob(row=9, column="{i}"), TKEYED, "t"),
    (("/tickets", "post", "201"), "POST", "/tickets", ob(row=9, column="{i}"), TKEYED, "t_again"),
    same("t", "t_again", "a keyed ticket again: the first 201", "Idempotent-Replayed"),
    (("/tickets", "post", "422", "IDEMPOTENCY_KEY_REUSED"), "POST", "/tickets", ob(row=9, column=9), TKEYED),
    (("/ticket", "post", "422", "IDEMPOTENCY_KEY_REUSED"), "POST",
     "/ticket?venueId=Venue1&eventId=Event1&zoneId={z}&row=9&column=8", None, TKEYED),
    # cancellation
    (("/tickets/{ticketId}/cancel", "post", "200"), "POST", T, {"cancelToken": "{A.cancelToken}"}, None, "tc"),
    (("/tickets/{ticketId}/cancel", "post", "200"), "POST", T, {"cancelToken": "{A.cancelToken}"}, None, "tc2"),
    same("tc", "tc2", "a ticket cancelled again: the same"),
    (("/tickets/{ticketId}/cancel", "post", "403", "FORBIDDEN"), "POST", "/tickets/{B.tickets.0.ticketId}/cancel",
     {"cancelToken": "{A.cancelToken}"}, None),
    (("/orders/{orderId}/cancel", "post", "403", "FORBIDDEN"), "POST", O, {"cancelToken": "{B.cancelToken}"}, None),
    (("/orders/{orderId}/cancel", "post", "200"), "POST", O, {"cancelToken": "{A.cancelToken}"}, None, "oc"),
    expect("oc", "tickets.0", "{tc}", "the ticket cancelled first keeps its cancelledOn"),
    (("/get/orders/{orderId}", "get", "200"), "GET", "/get/orders/{A.orderId}", None, None, "oc_get"),
    same("oc", "oc_get", "the lookup of a cancelled order answers its cancel"),
    (("/get/tickets/{ticketId}", "get", "200"), "GET", "/get/tickets/{A.tickets.0.ticketId}", None, None, "tc_get"),
    same("tc", "tc_get", "the lookup of a cancelled ticket answers its cancel"),
    (("/orders/{orderId}/cancel", "post", "404"), "POST", "/orders/%s/cancel" % UUID0,
     {"cancelToken": "{A.cancelToken}"}, None),
    (("/tickets/{ticketId}/cancel", "post", "404"), "POST", "/tickets/{A.orderId}/cancel",
     {"cancelToken": "{A.cancelToken}"}, None),
    (("/orders/{orderId}/cancel", "post", "400"), "POST", O, {"cancelToken": "short"}, None),
    (("/tickets/{ticketId}/cancel", "post", "400"), "POST", T, {"token": "{A.cancelToken}"}, None),
    (("/orders/{orderId}/cancel", "post", "405"), "GET", O, None, None),
    (("/tickets/{ticketId}/cancel", "post", "405"), "DELETE", T, None, None),
    (("/orders/{orderId}/cancel", "post", "413"), "POST", O, "x" * 5000, JSON),
    (("/tickets/{ticketId}/cancel", "post", "413"), "POST", T, "x" * 5000, JSON),
    (("/orders/{orderId}/cancel", "post", "415"), "POST", O, "{}", {"Content-Type": "text/plain"}),
    (("/tickets/{ticketId}/cancel", "post", "415"), "POST", T, "{}", {"Content-Type": "text/plain"}),
    # B's message not yet confirmed: cancels wait, its key is in progress
    pend("B"),
    (("/orders/{orderId}/cancel", "post", "409", "NOT_YET_CONFIRMED"), "POST", "/orders/{B.orderId}/cancel",
     {"cancelToken": "{B.cancelToken}"}, None),
    (("/tickets/{ticketId}/cancel", "post", "409", "NOT_YET_CONFIRMED"), "POST",
     "/tickets/{B.tickets.0.ticketId}/cancel", {"cancelToken": "{B.cancelToken}"}, None),
    (("/orders", "post", "409", "REQUEST_IN_PROGRESS"), "POST", "/orders", ob(seats=seats((5, 1), (5, 2))), KEYED),
    unpend,
    # holds
    (("/holds", "post", "201"), "POST", "/holds", ob(seats=seats((8, 1)), holdSeconds=1), None, "H3"),
    (("/holds", "post", "201"), "POST", "/holds", ob(quantity=3, holdSeconds=600), None, "H1"),
    (("/holds", "post", "201"), "POST", "/holds", ob(seats=seats((10, 1))), HKEYED, "HK"),
    (("/holds", "post", "201"), "POST", "/holds", ob(seats=seats((10, 1))), HKEYED, "HK_again"),
    same("HK", "HK_again", "a keyed hold again: the first 201", "Idempotent-Replayed"),
    (("/holds", "post", "422", "IDEMPOTENCY_KEY_REUSED"), "POST", "/holds", ob(seats=seats((10, 2))), HKEYED),
    (("/holds/{holdId}/confirm", "post", "400", "BAD_REQUEST"), "POST", "/holds/{HK.holdId}/confirm", None,
     {"Idempotency-Key": "bad key"}),
    (("/holds", "post", "409", "SEAT_TAKEN"), "POST", "/holds",
     ob(seats=[{"row": "{H1.seats.1.row}", "column": "{H1.seats.1.column}"}]), None, "held"),
    expect("held", "seats", ["{H1.seats.1}"], "held seats are taken"),
    # a keyed confirm: its 201 again, the key on another hold 422
    (("/holds", "post", "201"), "POST", "/holds", ob(seats=seats((11, 1), (11, 2))), None, "HC"),
    (("/holds/{holdId}/confirm", "post", "201"), "POST", "/holds/{HC.holdId}/confirm", None, CKEYED, "CK"),
    (("/holds/{holdId}/confirm", "post", "201"), "POST", "/holds/{HC.holdId}/confirm", None, CKEYED, "CK_again"),
    same("CK", "CK_again", "a keyed confirm again: the first 201", "Idempotent-Replayed"),
    (("/holds/{holdId}/confirm", "post", "422", "IDEMPOTENCY_KEY_REUSED"), "POST", "/holds/{H1.holdId}/confirm",
     None, CKEYED),
    # a keyed cancel: its 200 again, the key on another ticket 422
    (("/tickets/{ticketId}/cancel", "post", "200"), "POST", "/tickets/{CK.tickets.0.ticketId}/cancel",
     {"cancelToken": "{CK.cancelToken}"}, XKEYED, "XK"),
    (("/tickets/{ticketId}/cancel", "post", "200"), "POST", "/tickets/{CK.tickets.0.ticketId}/cancel",
     {"cancelToken": "{CK.cancelToken}"}, XKEYED, "XK_again"),
    same("XK", "XK_again", "a keyed cancel again: the first 200", "Idempotent-Replayed"),
    (("/tickets/{ticketId}/cancel", "post", "422", "IDEMPOTENCY_KEY_REUSED"), "POST",
     "/tickets/{CK.tickets.1.ticketId}/cancel", {"cancelToken": "{CK.cancelToken}"}, XKEYED),
    (("/orders/{orderId}/cancel", "post", "422", "IDEMPOTENCY_KEY_REUSED"), "POST", "/orders/{CK.orderId}/cancel",
     {"cancelToken": "{CK.cancelToken}"}, CKEYED),
    (("/holds/{holdId}/confirm", "post", "201"), "POST", "/holds/{H1.holdId}/confirm", None, None, "C"),
    (("/holds/{holdId}/confirm", "post", "200"), "POST", "/holds/{H1.holdId}/confirm", None, None, "C_again"),
    same("C", "C_again", "a hold confirmed again: the same order"),
    expect("C", "tickets.2.column", "{H1.seats.2.column}", "the order has the hold's seats"),
    pend("C", old_shape=True),
    (("/holds/{holdId}/confirm", "post", "409", "REQUEST_IN_PROGRESS"), "POST", "/holds/{H1.holdId}/confirm",
     None, None),
    (("/holds/{holdId}", "delete", "409", "REQUEST_IN_PROGRESS"), "DELETE", "/holds/{H1.holdId}", None, None),
    unpend,
    (("/holds/{holdId}", "delete", "404"), "DELETE", "/holds/{H1.holdId}", None, None),
    (("/holds", "post", "201"), "POST", "/holds", ob(seats=seats((7, 1))), None, "H2"),
    (("/holds/{holdId}", "delete", "204"), "DELETE", "/holds/{H2.holdId}", None, None),
    (("/holds/{holdId}/confirm", "post", "404"), "POST", "/holds/{H2.holdId}/confirm", None, None),
    (("/holds/{holdId}", "delete", "405"), "POST", "/holds/{H2.holdId}", "{}", JSON),
    (("/holds/{holdId}/confirm", "post", "405"), "GET", "/holds/{H2.holdId}/confirm", None, None),
    (("/holds", "post", "400", "BAD_REQUEST"), "POST", "/holds", ob(quantity=1, holdSeconds=100000), None),
    (("/holds", "post", "400", "INVALID_SEAT"), "POST", "/holds", ob(seats=seats((1, 31))), None),
    (("/holds", "post", "404"), "POST", "/holds", ob(event="Event9", quantity=1), None),
    (("/holds", "post", "405"), "GET", "/holds", None, None),
    (("/holds", "post", "413"), "POST", "/holds", "x" * 5000, JSON),
    (("/holds", "post", "415"), "POST", "/holds", json.dumps(ob(quantity=1, zone=1)), {"Content-Type": "text/plain"}),
    hold_expired("H3"),
    (("/holds/{holdId}/confirm", "post", "410"), "POST", "/holds/{H3.holdId}/confirm", None, None),
    (("/holds/{holdId}", "delete", "410"), "DELETE", "/holds/{H3.holdId}", None, None),
    (("/get/orders/{orderId}", "get", "400"), "GET", "/get/orders/nope", None, None),
    (("/get/orders/{orderId}", "get", "404"), "GET", "/get/orders/" + UUID0, None, None),
]


# ------------------------------------------------------------- the document

def resolve(node):
    """Follows a local $ref ("#/a/b") to what it names."""
    while isinstance(node, dict) and "$ref" in node and len(node) == 1:
        ref = node["$ref"]
        check(ref.startswith("#/"), "only local $refs: %s" % ref)
        node = SPEC
        for part in ref[2:].split("/"):
            check(isinstance(node, dict) and part in node, "$ref %s does not resolve" % ref)
            node = node[part]
    return node


def refs(node):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref":
                yield v
            else:
                yield from refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from refs(v)


def documented():
    """{(path, method, status): resolved response object}"""
    out = {}
    for path, item in SPEC["paths"].items():
        for method, op in item.items():
            if method in METHODS:
                for status, resp in op["responses"].items():
                    out[(path, method, status)] = resolve(resp)
    return out


def validator(schema):
    resolver = jsonschema.RefResolver("", SPEC)
    return jsonschema.Draft202012Validator(schema, resolver=resolver)


def test_document_is_openapi_3_1():
    check(str(SPEC.get("openapi", "")).startswith("3.1."), "openapi: %r" % SPEC.get("openapi"))
    for key in ("title", "version"):
        check(SPEC["info"].get(key), "info.%s" % key)
    for ref in refs(SPEC):
        resolve({"$ref": ref})
    for name, schema in SPEC["components"]["schemas"].items():
        try:
            jsonschema.Draft202012Validator.check_schema(schema)
        except jsonschema.exceptions.SchemaError as e:
            raise box.Fail("schema %s: %s" % (name, e.message))
    for path, item in SPEC["paths"].items():
        check(path.startswith("/"), "path %s" % path)
        wanted = set(re.findall(r"\{(\w+)\}", path))
        for method, op in item.items():
            check(method in METHODS or method in ("parameters", "summary", "description"),
                  "%s: unknown key %s" % (path, method))
            if method not in METHODS:
                continue
            check(op.get("operationId") and op.get("responses"), "%s %s: operationId, responses" % (method, path))
            params = [resolve(p) for p in item.get("parameters", []) + op.get("parameters", [])]
            got = {p["name"] for p in params if p["in"] == "path"}
            eq(got, wanted, "%s %s path parameters" % (method, path))
            for p in params:
                check(p["in"] != "path" or p.get("required") is True, "path parameter %s required" % p["name"])
            for status, resp in op["responses"].items():
                resp = resolve(resp)
                check(re.match(r"^[1-5][0-9][0-9]$", status), "%s %s: status %s" % (method, path, status))
                check(resp.get("description"), "%s %s %s: description" % (method, path, status))
                for mt, c in resp.get("content", {}).items():
                    check("schema" in c, "%s %s %s %s: schema" % (method, path, status, mt))
                    jsonschema.Draft202012Validator.check_schema(c["schema"])


def test_every_documented_status_has_a_probe():
    docs = set(documented())
    probed = {k[:3] for k in PROBES} | {s[0][:3] for s in FLOW if not callable(s)}
    eq(sorted(docs - probed), [], "documented but never requested")
    eq(sorted(probed - docs), [], "requested but not documented")


# ------------------------------------------------------------------ answers

PLACE = re.compile(r"\{([A-Za-z_][\w.]*)\}")


def lookup(ctx, name):
    """ctx["a"]["b"][0] for "a.b.0"; None when ctx has no "a"."""
    parts = name.split(".")
    if parts[0] not in ctx:
        return None
    v = ctx
    for part in parts:
        v = v[int(part)] if isinstance(v, list) else v[part]
    return v


def fill(value, ctx):
    """value with every {name} of ctx filled in (see lookup); a string that
    is one placeholder becomes the value itself (an int stays an int)."""
    if isinstance(value, str):
        m = PLACE.fullmatch(value)
        if m and lookup(ctx, m.group(1)) is not None:
            return lookup(ctx, m.group(1))
        return PLACE.sub(lambda m: m.group(0) if lookup(ctx, m.group(1)) is None
                         else str(lookup(ctx, m.group(1))), value)
    if isinstance(value, dict):
        return {k: fill(v, ctx) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, ctx) for v in value]
    return value


def send(port, ctx, verb, url, body, headers):
    return box.http(verb, fill(url, ctx), fill(body, ctx), headers=fill(headers, ctx), port=port)


def probe(key, port, ctx):
    """Sends the probe of key through port; checks it (conform)."""
    return conform(key, send(port, ctx, *PROBES[key][1:]), port)


def conform(key, r, port):
    """Checks status, headers and body of r against the document's answer
    of key; returns r."""
    path, method, status = key[:3]
    what = "%s %s -> %s via %d" % (method.upper(), path, " ".join(key[2:]), port)
    eq(str(r.status), status, "%s status (body %s)" % (what, r.body[:200]))
    if len(key) > 3:
        eq(r.json().get("error"), key[3], what + " error")
    resp = documented()[key[:3]]
    for name, h in resp.get("headers", {}).items():
        h = resolve(h)
        value = r.header(name)
        if value is None and h.get("required") is False:
            continue
        check(value is not None, "%s: header %s missing" % (what, name))
        errs = list(validator(h["schema"]).iter_errors(value))
        check(not errs, "%s: header %s %r: %s" % (what, name, value, errs[:1]))
    content = resp.get("content", {})
    if "application/json" in content:
        eq((r.header("Content-Type") or "").split(";")[0], "application/json", what + " content type")
        try:
            data = json.loads(r.body)
        except ValueError:
            raise box.Fail("%s: body is not JSON: %r" % (what, r.body[:200]))
        errs = sorted(validator(content["application/json"]["schema"]).iter_errors(data), key=str)
        check(not errs, "%s: body %s does not match the schema: %s at %s" %
              (what, r.body[:200], errs[0].message if errs else "", list(errs[0].path) if errs else ""))
    else:
        eq(r.body, "", what + ": no body")
    return r


def setup_module():
    catalog.restore()


def test_every_path_answers_as_documented():
    keys = [k for k in PROBES if PROBES[k][0] is None]
    # the 201s first (the 409s buy the same seats again, lookups need an id)
    keys.sort(key=lambda k: (k[2] != "201", k[2] == "409"))
    for i, port in enumerate(WEB_PORTS):
        ctx = {"i": i + 1, "ticket": UUID0}
        for key in keys:
            r = probe(key, port, ctx)
            if key[2] == "201" and ctx["ticket"] == UUID0:
                ctx["ticket"] = r.json()["ticketId"]
            if key in TOO_LONG:
                eq(r.json().get("message"), "query string too long", "%s: the 400's message" % key[0])
                # one byte less is not refused for its length
                ok = send(port, ctx, "GET", QUERY_PATHS[key[0]] + "?" + LONG_QUERY[:-1], None, None)
                check(ok.status != 400 or ok.json().get("message") != "query string too long",
                      "%s: a query string of %d bytes refused: %s" % (key[0], QUERY_MAX, ok.body[:200]))
            if key[2] == "405" and key[0] in QUERY_PATHS:
                eq(r.header("Allow"), "GET, HEAD", "%s: Allow" % key[0])
            if key == ("/ticket", "post", "413"):
                eq(r.json().get("message"), "request body is over 4096 bytes", "/ticket 413 message")


def test_orders_answer_as_documented():
    """FLOW through every web server, each in its own zone of Event1."""
    for i, port in enumerate(WEB_PORTS):
        ctx = {"i": i + 1, "z": 50 + i, "resp": {}}
        for step in FLOW:
            if callable(step):
                step(ctx)
                continue
            r = conform(step[0], send(port, ctx, *step[1:5]), port)
            if len(step) > 5:
                ctx[step[5]] = r.json()
                ctx["resp"][step[5]] = r


def with_store_stopped(store):
    box.stack("stop", store)
    try:
        for key in PROBES:
            if PROBES[key][0] == store:
                probe(key, NGINX, {"i": 1, "ticket": UUID0})
    finally:
        box.stack("start", store)
        for path in ("/get/health", "/tickets/health"):
            box.wait_until(lambda: box.http("GET", path).status == 200, timeout=60,
                           what="%s after restarting %s" % (path, store))


def sale_catalog(opens, closed):
    doc = catalog.with_event("Event3", onSale=[{"fromZone": 1, "toZone": 1, "opensAt": catalog.stamp(opens)}])
    catalog.event(doc, "Event1")["closesAt"] = catalog.stamp(closed)
    doc["events"].append({"eventId": "EventOff", "venueId": "Venue2", "name": "Called Off",
                          "type": "CONCERT", "date": "2027-05-01T20:00:00Z", "status": "CANCELLED"})
    return doc


def test_sale_answers_as_documented():
    """The 403s and 410s of the purchase endpoints, through every web
    server, with a catalog of sale windows and a cancelled event; the
    queries show the fields of those windows as documented."""
    now = catalog.redis_now().replace(microsecond=0)
    opens = now + timedelta(hours=1)
    catalog.apply_ok(sale_catalog(opens, now - timedelta(hours=1)), "the sale catalog")
    try:
        for i, port in enumerate(WEB_PORTS):
            for key in PROBES:
                if PROBES[key][0] != "catalog":
                    continue
                r = probe(key, port, {"i": i + 1})
                if key[3] == "NOT_ON_SALE":
                    eq(r.json()["opensAt"], catalog.stamp(opens), "opensAt")
                    ra = int(r.header("Retry-After") or -1)
                    check(0 < ra <= 3600, "Retry-After %d" % ra)
        for url, key in (("/get/events/Event3", "/get/events/{eventId}"),
                         ("/get/events/Event3/zones/1/seats", "/get/events/{eventId}/zones/{zoneId}/seats"),
                         ("/get/venues/Venue2/events", "/get/venues/{venueId}/events")):
            r = box.http("GET", url)
            eq(r.status, 200, url)
            schema = documented()[(key, "get", "200")]["content"]["application/json"]["schema"]
            errs = list(validator(schema).iter_errors(r.json()))
            check(not errs, "%s: %s does not match the schema: %s" % (url, r.body[:200], errs[:1]))
        eq({e["eventId"]: e["status"] for e in r.json()}["EventOff"], "CANCELLED", "EventOff listed")
        zone1 = box.http("GET", "/get/events/Event3").json()["zones"][0]
        eq((zone1["opensAt"], zone1["onSale"]), (catalog.stamp(opens), False), "zone 1 of Event3")
        eq(box.http("GET", "/get/events/Event1").json()["closesAt"], catalog.stamp(now - timedelta(hours=1)),
           "closesAt of Event1")
    finally:
        catalog.apply_ok(catalog.seed(), "the seed again")


def test_unavailable_answers_as_documented():
    with_store_stopped("redis")
    with_store_stopped("mysql")


if __name__ == "__main__":
    raise SystemExit(box.main(globals()))
