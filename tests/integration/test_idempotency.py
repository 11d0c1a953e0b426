# SPDX-License-Identifier: ISC
"""Idempotency keys (CONTRACT.md section 7) through nginx and lighttpd:
replays with Idempotent-Replayed, 422 on another body, 409 while in flight,
a refusal answered again, the same key 50 times in parallel sells once, and
after a responder dies between reservation and publish (503, outcome
unknown) a retry answers the real outcome once the sweeper published it;
a keyed hold retried is one hold, its replay the first 201 even after the
hold ended; a keyed confirm and a keyed cancel answer their first answer
again; a malformed key is 400 on holds, confirms and cancels."""

import hashlib
import json
import os
import signal
import threading
import time

import box
from box import NGINX, LIGHTTPD, WEB_PORTS, check, eq, http



def keyed(path, zone, key, port=NGINX, **kw):
    """POST of a body of Event1's zone to path with Idempotency-Key key."""
    d = {"venueId": "Venue1", "eventId": "Event1", "zoneId": zone}
    d.update(kw)
    return http("POST", path, json.dumps(d), port=port,
                headers={"Content-Type": "application/json", "Idempotency-Key": key})


def order(zone, key, port=NGINX, **kw):
    return keyed("/orders", zone, key, port, **kw)


def hold(zone, key, port=NGINX, **kw):
    return keyed("/holds", zone, key, port, **kw)


def zone_orders(zone):
    """Orders recorded in the zone (bo:ords also holds c:/x: cancel stamps)."""
    f = box.redis("HKEYS", "bo:ords:{Event1:%d}" % zone, node=box.zone_node("Event1", zone))
    return len([k for k in f if b":" not in k])


def setup_module():
    box.stack("reset")


def test_replay_through_both_servers():
    for i, port in enumerate(WEB_PORTS):
        key = "replay-%d" % i
        r1 = order(13, key, port=port, quantity=3)
        eq(r1.status, 201, "first (%s)" % r1.body)
        check(r1.header("Idempotent-Replayed") is None, "first is no replay")
        for p in WEB_PORTS:
            r2 = order(13, key, port=p, quantity=3)
            eq((r2.status, r2.body, r2.header("Location")),
               (201, r1.body, r1.header("Location")), "replay via %d" % p)
            eq(r2.header("Idempotent-Replayed"), "true", "replay header")
        # the replayed token cancels
        o = r1.json()
        r = http("POST", "/orders/%s/cancel" % o["orderId"], {"cancelToken": o["cancelToken"]})
        eq(r.status, 200, "cancel with the replayed token")
    eq(zone_orders(13), len(WEB_PORTS), "one order per key (one key per web server), no more")


def test_tickets_and_legacy_replay():
    h = {"Content-Type": "application/json", "Idempotency-Key": "t-1"}
    b = json.dumps({"venueId": "Venue1", "eventId": "Event1", "zoneId": 13, "row": 9,
                    "column": 9})
    r1 = http("POST", "/tickets", b, headers=h)
    eq(r1.status, 201, "ticket")
    r2 = http("POST", "/tickets", b, headers=h, port=LIGHTTPD)
    eq((r2.status, r2.body, r2.header("Idempotent-Replayed")), (201, r1.body, "true"),
       "ticket replay")
    q = "/ticket?venueId=Venue1&eventId=Event1&zoneId=13&row=J&column=9"
    r1 = http("POST", q, headers={"Idempotency-Key": "l-1"})
    eq(r1.status, 201, "legacy")
    r2 = http("POST", q, headers={"Idempotency-Key": "l-1"}, port=LIGHTTPD)
    eq((r2.status, r2.body), (201, r1.body), "legacy replay")
    r3 = http("POST", q.replace("column=9", "column=8"), headers={"Idempotency-Key": "l-1"})
    eq((r3.status, r3.json()["error"]), (422, "IDEMPOTENCY_KEY_REUSED"), "legacy other query")


def test_other_body_422():
    eq(order(13, "k422", quantity=1).status, 201, "first")
    for port in WEB_PORTS:
        r = order(13, "k422", port=port, quantity=2)
        eq((r.status, r.json()["error"]), (422, "IDEMPOTENCY_KEY_REUSED"), "other body")
        r = http("POST", "/tickets", {"venueId": "Venue1", "eventId": "Event1", "zoneId": 13,
                                      "row": 20, "column": 1},
                 headers={"Idempotency-Key": "k422"}, port=port)
        eq((r.status, r.json()["error"]), (422, "IDEMPOTENCY_KEY_REUSED"), "other endpoint")
    # a key lives beside its zone: another zone is another key
    eq(order(14, "k422", quantity=1).status, 201, "same key, other zone")


def test_refusal_answered_again():
    eq(order(15, "first", seats=[{"row": 1, "column": 1}]).status, 201, "taker")
    r1 = order(15, "refused", seats=[{"row": 1, "column": 1}, {"row": 1, "column": 2}])
    eq((r1.status, r1.json()["error"]), (409, "SEAT_TAKEN"), "refused")
    # even once the seat is free again, the key answers its first answer
    r = order(15, "first", seats=[{"row": 1, "column": 1}]).json()
    eq(http("POST", "/orders/%s/cancel" % r["orderId"],
            {"cancelToken": r["cancelToken"]}).status, 200, "free the seat")
    for port in WEB_PORTS:
        r2 = order(15, "refused", port=port,
                   seats=[{"row": 1, "column": 1}, {"row": 1, "column": 2}])
        eq((r2.status, r2.body, r2.header("Idempotent-Replayed")), (409, r1.body, "true"),
           "the refusal again")
    for bad in ("", "a" * 65, "bad key", "k\u00e9y", "k/1"):
        if bad == "":
            continue
        r = order(15, bad, quantity=1)
        eq((r.status, r.json()["error"]), (400, "BAD_REQUEST"), "key %r" % bad)


def test_same_key_50_times_in_parallel():
    before = box.zone_state("Event1", 16)
    res = box.parallel(lambda i: order(16, "fifty", port=WEB_PORTS[i % 2], quantity=4),
                       [(i,) for i in range(50)], workers=50)
    sold = [r for r in res if r.status == 201]
    check(sold, "no 201")
    eq({r.json()["orderId"] for r in sold}.__len__(), 1, "one order id in every 201")
    eq({r.body for r in sold}.__len__(), 1, "one body")
    others = {(r.status, r.json().get("error")) for r in res if r.status != 201}
    check(others <= {(409, "REQUEST_IN_PROGRESS")}, "other answers %r" % others)
    for r in res:
        if r.status == 409:
            eq(r.header("Retry-After"), "1", "Retry-After")
    after = box.zone_state("Event1", 16)
    eq(before["left"] - after["left"], 4, "4 seats sold, once")
    eq(zone_orders(16), 1, "one order record")
    print("  %d x 201 (1 sale, %d replays), %d x 409 in progress" % (
        len(sold), len(sold) - 1, len(res) - len(sold)))


def zone_holds(zone):
    """Holds recorded in the zone (any state: active, confirmed, deleted)."""
    return box.redis("HLEN", "bo:holds:{Event1:%d}" % zone, node=box.zone_node("Event1", zone))


def test_hold_replayed():
    before = zone_holds(14)
    r1 = hold(14, "h-1", quantity=2, holdSeconds=300)
    eq(r1.status, 201, "first hold (%s)" % r1.body)
    check(r1.header("Idempotent-Replayed") is None, "first is no replay")
    for port in WEB_PORTS:
        r2 = hold(14, "h-1", port=port, quantity=2, holdSeconds=300)
        eq((r2.status, r2.body, r2.header("Location")),
           (201, r1.body, r1.header("Location")), "hold replay via %d" % port)
        eq(r2.header("Idempotent-Replayed"), "true", "replay header")
    eq(zone_holds(14) - before, 1, "one hold in Redis, not one per retry")
    r = hold(14, "h-1", quantity=3, holdSeconds=300)
    eq((r.status, r.json()["error"]), (422, "IDEMPOTENCY_KEY_REUSED"), "other body")
    # once the hold is gone (deleted; confirmed or expired alike) the key
    # still answers the first 201
    hid = r1.json()["holdId"]
    eq(http("DELETE", "/holds/%s" % hid).status, 204, "delete the hold")
    r2 = hold(14, "h-1", port=LIGHTTPD, quantity=2, holdSeconds=300)
    eq((r2.status, r2.body, r2.header("Idempotent-Replayed")), (201, r1.body, "true"),
       "replay after the delete")
    eq(zone_holds(14) - before, 1, "still one hold")
    # a confirmed hold replays its hold too, not the order
    r1 = hold(14, "h-2", seats=[{"row": 26, "column": 1}])
    eq(r1.status, 201, "second hold (%s)" % r1.body)
    eq(http("POST", "/holds/%s/confirm" % r1.json()["holdId"]).status, 201, "confirm")
    r2 = hold(14, "h-2", seats=[{"row": 26, "column": 1}])
    eq((r2.status, r2.body, r2.header("Idempotent-Replayed")), (201, r1.body, "true"),
       "replay after the confirm")
    # a refused hold is answered again too
    r1 = hold(14, "h-3", seats=[{"row": 26, "column": 1}])
    eq((r1.status, r1.json()["error"]), (409, "SEAT_TAKEN"), "refused hold")
    r2 = hold(14, "h-3", port=LIGHTTPD, seats=[{"row": 26, "column": 1}])
    eq((r2.status, r2.body, r2.header("Idempotent-Replayed")), (409, r1.body, "true"),
       "the refusal again")


def test_bad_key_400_on_holds_confirm_cancel():
    bads = ("a" * 65, "bad key", "k/1", "k.1")
    before = zone_holds(14)
    for bad in bads:
        for port in WEB_PORTS:
            r = hold(14, bad, port=port, quantity=1)
            eq((r.status, r.json()["error"]), (400, "BAD_REQUEST"), "hold, key %r" % bad)
    eq(zone_holds(14), before, "no hold made")
    h = hold(14, "ok-hold", quantity=1)
    eq(h.status, 201, "hold (%s)" % h.body)
    hid = h.json()["holdId"]
    for bad in bads:
        for port in WEB_PORTS:
            r = http("POST", "/holds/%s/confirm" % hid, port=port,
                     headers={"Idempotency-Key": bad})
            eq((r.status, r.json()["error"]), (400, "BAD_REQUEST"), "confirm, key %r" % bad)
            # the parameters before the look-up: a hold nobody made is a 400 too
            r = http("POST", "/holds/%s/confirm" % ("A" * 25), port=port,
                     headers={"Idempotency-Key": bad})
            eq((r.status, r.json()["error"]), (400, "BAD_REQUEST"),
               "confirm of an unknown hold, key %r" % bad)
    c = http("POST", "/holds/%s/confirm" % hid, headers={"Idempotency-Key": "ok-confirm"})
    eq(c.status, 201, "the first good confirm sells (%s)" % c.body)
    o = c.json()
    for bad in bads:
        for port in WEB_PORTS:
            for path in ("/orders/%s/cancel" % o["orderId"],
                         "/tickets/%s/cancel" % o["tickets"][0]["ticketId"]):
                r = http("POST", path, {"cancelToken": o["cancelToken"]}, port=port,
                         headers={"Idempotency-Key": bad})
                eq((r.status, r.json()["error"]), (400, "BAD_REQUEST"),
                   "%s, key %r" % (path, bad))
    st = box.zone_state("Event1", 14)
    t = o["tickets"][0]
    check((t["row"], t["column"]) in st["taken"], "no cancel went through")
    r = http("POST", "/orders/%s/cancel" % o["orderId"], {"cancelToken": o["cancelToken"]},
             headers={"Idempotency-Key": "ok-cancel"})
    eq(r.status, 200, "a good key cancels")


def keyed_post(path, key, body=None, port=NGINX):
    return http("POST", path, body, port=port, headers={"Idempotency-Key": key})


def test_keyed_confirm_answered_again():
    """A confirm is a POST of the purchase responder: its Idempotency-Key
    answers its first answer again (CONTRACT section 7): a 201 again as
    201, a 200 (the hold was confirmed before) as 200, a 410 or 404 as
    such, each with Idempotent-Replayed; on another hold it is 422."""
    before = zone_orders(18)
    a = hold(18, "", seats=[{"row": 1, "column": 1}, {"row": 1, "column": 2}])
    b = hold(18, "", seats=[{"row": 2, "column": 1}])
    eq((a.status, b.status), (201, 201), "two holds (%s)" % a.body)
    ha, hb = a.json()["holdId"], b.json()["holdId"]
    r1 = keyed_post("/holds/%s/confirm" % ha, "c-1")
    eq(r1.status, 201, "keyed confirm (%s)" % r1.body)
    check(r1.header("Idempotent-Replayed") is None, "the first is no replay")
    for port in WEB_PORTS:
        r2 = keyed_post("/holds/%s/confirm" % ha, "c-1", port=port)
        eq((r2.status, r2.body, r2.header("Location"), r2.header("Idempotent-Replayed")),
           (201, r1.body, r1.header("Location"), "true"), "replayed via %d" % port)
    r = keyed_post("/holds/%s/confirm" % hb, "c-1")
    eq((r.status, r.json()["error"]), (422, "IDEMPOTENCY_KEY_REUSED"), "the key on another hold")
    eq(zone_orders(18) - before, 1, "one order")
    eq(http("POST", "/holds/%s/confirm" % hb).status, 201, "the other hold was left as it was")
    # confirmed before by another request: 200 the same order, and again
    c = hold(18, "", seats=[{"row": 3, "column": 1}])
    hc = c.json()["holdId"]
    first = http("POST", "/holds/%s/confirm" % hc)
    eq(first.status, 201, "unkeyed confirm")
    r1 = keyed_post("/holds/%s/confirm" % hc, "c-2")
    eq((r1.status, r1.body, r1.header("Idempotent-Replayed")), (200, first.body, None),
       "keyed confirm of a confirmed hold: 200 the same order")
    r2 = keyed_post("/holds/%s/confirm" % hc, "c-2", port=LIGHTTPD)
    eq((r2.status, r2.body, r2.header("Idempotent-Replayed")), (200, first.body, "true"),
       "its 200 again")
    # refused for good: 410 and 404 again
    d = hold(18, "", seats=[{"row": 4, "column": 1}], holdSeconds=1)
    e = hold(18, "", seats=[{"row": 5, "column": 1}])
    hd, he = d.json()["holdId"], e.json()["holdId"]
    eq(http("DELETE", "/holds/%s" % he).status, 204, "delete hold e")
    time.sleep(1.5)
    for hid, key, status, code in ((hd, "c-3", 410, "HOLD_EXPIRED"), (he, "c-4", 404, "NOT_FOUND")):
        r1 = keyed_post("/holds/%s/confirm" % hid, key)
        eq((r1.status, r1.json()["error"], r1.header("Idempotent-Replayed")),
           (status, code, None), "keyed confirm: %d" % status)
        r2 = keyed_post("/holds/%s/confirm" % hid, key, port=LIGHTTPD)
        eq((r2.status, r2.body, r2.header("Idempotent-Replayed")), (status, r1.body, "true"),
           "its %d again" % status)
    eq(zone_orders(18) - before, 3, "three orders in all")


def test_keyed_cancel_answered_again():
    """A cancel is a POST of the purchase responder too: the same key and
    body answer the first answer again (200 the cancellation, a 403 that
    stands) with Idempotent-Replayed; the key on another request is 422
    and cancels nothing."""
    o = order(19, "o-19", seats=[{"row": 1, "column": c} for c in (1, 2, 3)])
    eq(o.status, 201, "order (%s)" % o.body)
    o = o.json()
    oid, tok = o["orderId"], o["cancelToken"]
    t0, t1 = o["tickets"][0]["ticketId"], o["tickets"][1]["ticketId"]
    body = {"cancelToken": tok}
    r1 = keyed_post("/tickets/%s/cancel" % t0, "x-1", body)
    eq((r1.status, r1.json()["status"]), (200, "CANCELLED"), "keyed cancel (%s)" % r1.body)
    check(r1.header("Idempotent-Replayed") is None, "the first is no replay")
    for port in WEB_PORTS:
        r2 = keyed_post("/tickets/%s/cancel" % t0, "x-1", body, port=port)
        eq((r2.status, r2.body, r2.header("Idempotent-Replayed")), (200, r1.body, "true"),
           "replayed via %d" % port)
    r = keyed_post("/tickets/%s/cancel" % t1, "x-1", body)
    eq((r.status, r.json()["error"]), (422, "IDEMPOTENCY_KEY_REUSED"), "the key on another ticket")
    r = keyed_post("/orders/%s/cancel" % oid, "o-19", body)
    eq((r.status, r.json()["error"]), (422, "IDEMPOTENCY_KEY_REUSED"), "the order's own key")
    st = box.zone_state("Event1", 19)
    eq([(1, c) in st["taken"] for c in (1, 2, 3)], [False, True, True],
       "only the first ticket's seat is free")
    wrong = {"cancelToken": "A" * 22}
    r1 = keyed_post("/orders/%s/cancel" % oid, "x-2", wrong)
    eq((r1.status, r1.json()["error"], r1.header("Idempotent-Replayed")),
       (403, "FORBIDDEN", None), "wrong token")
    r2 = keyed_post("/orders/%s/cancel" % oid, "x-2", wrong, port=LIGHTTPD)
    eq((r2.status, r2.body, r2.header("Idempotent-Replayed")), (403, r1.body, "true"),
       "the 403 again")
    r = keyed_post("/orders/%s/cancel" % oid, "x-2", body)
    eq((r.status, r.json()["error"]), (422, "IDEMPOTENCY_KEY_REUSED"), "the key, the right token")
    r1 = keyed_post("/orders/%s/cancel" % oid, "x-3", body)
    eq((r1.status, r1.json()["status"]), (200, "CANCELLED"), "keyed cancel of the order")
    r2 = keyed_post("/orders/%s/cancel" % oid, "x-3", body, port=LIGHTTPD)
    eq((r2.status, r2.body, r2.header("Idempotent-Replayed")), (200, r1.body, "true"),
       "the order's cancellation again")
    st = box.zone_state("Event1", 19)
    check(not any((1, c) in st["taken"] for c in (1, 2, 3)), "every seat free")


def order_started(zone, key, seats):
    """An order sent from a thread: (the thread, {"r": its answer once joined})."""
    first = {}
    t = threading.Thread(target=lambda: first.update(r=order(zone, key, seats=seats)))
    t.start()
    return t, first


def test_unknown_outcome_then_the_real_one():
    seats = [{"row": 4, "column": 4}, {"row": 4, "column": 5}]
    box.hook_arm("reserved", 120000, '"zoneId":17,"row":4,"column":4')
    t, first = order_started(17, "lost", seats)
    pid, _ = box.hook_wait("reserved", timeout=60)
    try:
        # in flight: the seats are reserved, the publish not yet made
        named = set()
        for port in WEB_PORTS:
            r = order(17, "lost", port=port, seats=seats)
            eq((r.status, r.json()["error"]), (409, "REQUEST_IN_PROGRESS"), "in flight")
            named.add(r.json().get("orderId"))
        os.kill(pid, signal.SIGKILL)
        t.join(60)
    finally:
        box.hook_clear("reserved")
    r = first["r"]
    eq((r.status, r.json()["error"]), (503, "UNAVAILABLE"), "the buyer heard nothing useful")
    # the sweeper publishes the orphaned order: then the key answers it

    def answered():
        x = order(17, "lost", port=LIGHTTPD, seats=seats)
        return x if x.status != 409 else None
    r = box.wait_until(answered, timeout=120, interval=0.5, what="the real outcome")
    eq(r.status, 201, "the sale the lost request made (%s)" % r.body)
    eq(r.header("Idempotent-Replayed"), "true", "a replay")
    o = r.json()
    eq([(t["row"], t["column"]) for t in o["tickets"]], [(4, 4), (4, 5)], "its seats")
    eq(named, {o["orderId"]}, "the order the 409s named while it was in flight")
    st = box.zone_state("Event1", 17)
    eq({st["owners"][3 * 30 + 3], st["owners"][3 * 30 + 4]},
       {t["ticketId"] for t in o["tickets"]}, "the seats are its tickets'")
    eq(zone_orders(17), 1, "sold once")
    c = http("POST", "/orders/%s/cancel" % o["orderId"], {"cancelToken": o["cancelToken"]})
    eq(c.status, 200, "its token works")
    box.stack("start", "ticket", check_rc=False)


def in_flight(point_match, send, retry):
    """send() from a thread held by the "reserved" hook (point_match in its
    order message), retry() meanwhile: (send's answer, retry's answer)."""
    box.hook_arm("reserved", 3000, point_match)
    out = {}
    t = threading.Thread(target=lambda: out.update(r=send()))
    t.start()
    try:
        box.hook_wait("reserved", timeout=60)
        again = retry()
    finally:
        t.join(60)
        box.hook_clear("reserved")
    return out["r"], again


def test_in_progress_names_what_it_will_issue():
    """A retry while the first request is between its reservation and its
    publish is 409 REQUEST_IN_PROGRESS naming what the first will issue,
    with Location, as the 503 of an unknown outcome does: a client whose
    first answer was lost knows what to look for.  Before: no id at all."""
    # POST /tickets: its ticket and order, Location the ticket
    first, r = in_flight('"zoneId":23,"row":1,"column":1,',
                         lambda: keyed("/tickets", 23, "busy-t", row=1, column=1),
                         lambda: keyed("/tickets", 23, "busy-t", port=LIGHTTPD, row=1, column=1))
    eq(first.status, 201, "the first (%s)" % first.body)
    f, b = first.json(), r.json()
    eq((r.status, b.get("error")), (409, "REQUEST_IN_PROGRESS"), "the retry (%s)" % r.body)
    eq((b.get("ticketId"), b.get("orderId")), (f["ticketId"], f["orderId"]), "the ids named")
    eq(r.header("Location"), "/get/tickets/%s" % f["ticketId"], "Location")
    check(r.header("Retry-After"), "no Retry-After")
    # POST /orders: its order
    seats = [{"row": 2, "column": 1}, {"row": 2, "column": 2}]
    first, r = in_flight('"zoneId":23,"row":2,"column":1,',
                         lambda: order(23, "busy-o", seats=seats),
                         lambda: order(23, "busy-o", port=LIGHTTPD, seats=seats))
    eq(first.status, 201, "the first order (%s)" % first.body)
    b = r.json()
    eq((r.status, b.get("error"), b.get("orderId")),
       (409, "REQUEST_IN_PROGRESS", first.json()["orderId"]), "the retry (%s)" % r.body)
    check("ticketId" not in b, "an order's 409 names no ticket: %s" % r.body)
    eq(r.header("Location"), "/get/orders/%s" % first.json()["orderId"], "Location")
    # a confirm (no key) while another confirm of the hold is in flight
    h = hold(24, "busy-h", holdSeconds=600, seats=[{"row": 3, "column": 1}]).json()
    path = "/holds/%s/confirm" % h["holdId"]
    first, r = in_flight('"zoneId":24,"row":3,"column":1,',
                         lambda: http("POST", path, None),
                         lambda: http("POST", path, None, port=LIGHTTPD))
    eq(first.status, 201, "the first confirm (%s)" % first.body)
    eq((r.status, r.json().get("orderId")), (409, first.json()["orderId"]),
       "the confirm meanwhile (%s)" % r.body)
    eq(r.header("Location"), "/get/orders/%s" % first.json()["orderId"], "Location")


def test_refusal_recorded_before_a_retry_can_sell():
    """A keyed request refused SEAT_TAKEN, its answer not yet sent when the
    seat is freed: a retry with the same key is the refusal again, never a
    sale (the refusal is recorded in the step that refused, not after it)."""
    seat = [{"row": 1, "column": 1}]
    taker = order(20, "taker", seats=seat).json()
    box.hook_arm("refused", 6000, ":race-key")
    t, first = order_started(20, "race-key", seat)
    try:
        box.hook_wait("refused", timeout=60)
        eq(http("POST", "/orders/%s/cancel" % taker["orderId"],
                {"cancelToken": taker["cancelToken"]}).status, 200, "the seat freed")
        r2 = order(20, "race-key", port=LIGHTTPD, seats=seat)
        t.join(60)
    finally:
        box.hook_clear("refused")
    r1 = first["r"]
    eq((r1.status, r1.json()["error"]), (409, "SEAT_TAKEN"), "the first answer")
    eq((r2.status, r2.body, r2.header("Idempotent-Replayed")), (409, r1.body, "true"),
       "the retry while the first was answering")
    eq(box.zone_state("Event1", 20)["taken"], set(), "the seat still free")
    eq(zone_orders(20), 1, "only the taker's order")


class out_of_memory:
    """Redis's node of Event1's zone at maxmemory 1 (noeviction,
    docs/deploy.md: every write refused) for the with block."""

    def __init__(self, zone):
        self.node = box.zone_node("Event1", zone)
        # CONFIG names no key: in a Redis Cluster, send it to the zone's master
        self.port = (box.cluster_port(box.zone_slot("Event1", zone))
                     if box.REDIS_MODE == "cluster" else None)

    def __enter__(self):
        was = box.redis("CONFIG", "GET", "maxmemory", node=self.node, port=self.port)[1]
        self.was = was.decode() if isinstance(was, bytes) else str(was)
        box.redis("CONFIG", "SET", "maxmemory", "1", node=self.node, port=self.port)
        return self

    def __exit__(self, *exc):
        box.redis("CONFIG", "SET", "maxmemory", self.was, node=self.node, port=self.port)


def test_refusal_answered_while_redis_is_out_of_memory():
    """Redis at maxmemory (noeviction, docs/deploy.md) refuses the write of
    a keyed refusal's record: the answer is still the refusal, not a 503
    "may still be issued" for an order that was never made."""
    seat = [{"row": 2, "column": 1}]
    eq(order(20, "oom-taker", seats=seat).status, 201, "taker")
    key = "bo:idem:{Event1:20}:oom-refused"
    with out_of_memory(20) as oom:
        r = order(20, "oom-refused", seats=seat)
        eq((r.status, r.json()["error"]), (409, "SEAT_TAKEN"), "refused while out of memory")
        eq(box.redis("EXISTS", key, node=oom.node), 0, "no record written")
    r2 = order(20, "oom-refused", seats=seat)
    eq((r2.status, r2.body, r2.header("Idempotent-Replayed")), (409, r.body, None),
       "once memory is back: refused again, and recorded now")
    eq(box.redis("EXISTS", key, node=oom.node), 1, "recorded")


def test_replays_answered_while_redis_is_out_of_memory():
    """A keyed hold retried, and a keyed confirm of a hold another request
    confirmed, answer from what Redis holds; the script's write that goes
    with the answer (the hold's record again, for the WAIT; the confirm's
    record under its key) is refused at maxmemory and is best effort.
    Would catch: the refused write failing the script, answered 503 "the
    hold may have been made" naming a holdId no script ever stored (a
    DELETE of it 404) while the key's hold stands, and 503 "may still be
    issued" naming a new order for a confirm whose order exists."""
    h1 = hold(20, "oom-hold", seats=[{"row": 3, "column": 1}])
    eq(h1.status, 201, "keyed hold (%s)" % h1.body)
    c = hold(20, "", seats=[{"row": 4, "column": 1}])
    eq(c.status, 201, "hold (%s)" % c.body)
    confirm = "/holds/%s/confirm" % c.json()["holdId"]
    first = http("POST", confirm)
    eq(first.status, 201, "its confirm (%s)" % first.body)
    before = zone_orders(20)
    with out_of_memory(20):
        h2 = hold(20, "oom-hold", seats=[{"row": 3, "column": 1}])
        eq((h2.status, h2.body, h2.header("Location"), h2.header("Idempotent-Replayed")),
           (201, h1.body, h1.header("Location"), "true"), "the keyed hold replayed")
        r = keyed_post(confirm, "oom-confirm")
        eq((r.status, r.body), (200, first.body), "keyed confirm of a confirmed hold")
    eq(zone_orders(20), before, "no order made")
    r = keyed_post(confirm, "oom-confirm", port=LIGHTTPD)
    eq((r.status, r.body), (200, first.body), "once memory is back: the same answer")


def test_a_sale_redis_refuses_for_memory_sold_nothing():
    """Redis at maxmemory refuses a script's first write, and only a first:
    a purchase it refuses reserved nothing, and the answer says so (503
    "nothing was sold", no ticketId or Location to follow) instead of
    "the ticket may still be issued" for a ticket that can never exist.
    The seats are free once memory is back, and the same key then sells."""
    seat = {"row": 5, "column": 1}
    body = json.dumps(dict(venueId="Venue1", eventId="Event1", zoneId=20, **seat))
    before = zone_orders(20)
    with out_of_memory(20):
        for name, r in (("ticket", http("POST", "/tickets", body,
                                        headers={"Content-Type": "application/json"})),
                        ("keyed order", order(20, "oom-sale", seats=[{"row": 5, "column": 2}]))):
            j = r.json()
            eq((r.status, j["error"], j["message"]),
               (503, "UNAVAILABLE", "seat store unavailable, nothing was sold; try again"),
               "%s while Redis is out of memory (%s)" % (name, r.body))
            eq((r.header("Location"), "ticketId" in j, "orderId" in j), (None, False, False),
               "%s: nothing named to look up" % name)
            check(r.header("Retry-After"), name + ": Retry-After")
    taken = box.zone_state("Event1", 20)["taken"]
    eq({(5, 1), (5, 2)} & set(taken), set(), "the seats are free")
    eq(zone_orders(20), before, "no order made")
    r = order(20, "oom-sale", seats=[{"row": 5, "column": 2}])
    eq((r.status, r.header("Idempotent-Replayed")), (201, None),
       "once memory is back the key sells (%s)" % r.body)
    eq(http("POST", "/tickets", body, headers={"Content-Type": "application/json"}).status,
       201, "and the seat without a key")


def lose_zone(zone, ids):
    """What a Redis node that restarted empty leaves of Event1's zone: none
    of its keys, its Idempotency-Key records, nor the keys of the ids."""
    node = box.zone_node("Event1", zone)
    tag = "{Event1:%d}" % zone
    gone = ["bo:%s:%s" % (k, tag) for k in ("zone", "left", "seat", "own", "pend", "sweep",
                                              "ords", "holds", "hexp", "hend")]
    gone += box.redis("KEYS", "bo:idem:%s:*" % tag, node=node)
    gone += [box.id_key(p, ident) for ident in ids
             for p in ("bo:tkt:", "bo:ord:", "bo:oix:", "bo:hix:")]
    box.redis("DEL", *gone, node=node)


def test_orders_still_queued_answered_again_after_a_redis_loss():
    """Redis loses a zone while its orders still wait in ticketSQL (the
    consumer stopped before it drained: MySQL was down).  `rebuild` puts
    back from their messages what the orders of MySQL get: message, id
    index, key record, confirmed hold.  Would catch: rebuild taking their
    seats only (it read their tickets), so that a keyed best-available
    retry bought a second set of seats, a cancel of one of their tickets
    answered 404 and a confirm again 404."""
    zone, node = 22, box.zone_node("Event1", 22)
    box.stack("stop", "consumer")
    try:
        r_order = order(zone, "queued-o", quantity=3)
        eq(r_order.status, 201, "order: " + r_order.body)
        h = hold(zone, "", seats=[{"row": 6, "column": 1}, {"row": 6, "column": 2}])
        eq(h.status, 201, "hold: " + h.body)
        hid = h.json()["holdId"]
        confirm = "/holds/%s/confirm" % hid
        r_confirm = keyed_post(confirm, "queued-c")
        eq(r_confirm.status, 201, "confirm: " + r_confirm.body)
        o, c = r_order.json(), r_confirm.json()
        msgs = {x["orderId"]: box.redis("HGET", "bo:ords:{Event1:%d}" % zone, x["orderId"],
                                        node=node) for x in (o, c)}
        taken = box.zone_state("Event1", zone)["taken"]
        lose_zone(zone, [o["orderId"], c["orderId"], hid] +
                  [t["ticketId"] for x in (o, c) for t in x["tickets"]])
        r = box.ticketctl("rebuild", "Event1", check_rc=False)
        eq(r.returncode, 0, "rebuild: %s %s" % (r.stdout, r.stderr))
        check("Event1 zone %d: 2 order(s) still queued in ticketSQL: messages and index put "
              "back where missing; 2 Idempotency-Key record(s), 1 confirmed hold(s)" % zone
              in r.stdout, r.stdout)
        eq(box.zone_state("Event1", zone)["taken"], taken, "the seats after the rebuild")
        for oid, m in msgs.items():
            eq(box.redis("HGET", "bo:ords:{Event1:%d}" % zone, oid, node=node), m,
               "the message of %s put back as the order script wrote it" % oid)
        for port in WEB_PORTS:
            r = order(zone, "queued-o", port=port, quantity=3)
            eq((r.status, r.body, r.header("Idempotent-Replayed")), (201, r_order.body, "true"),
               "the keyed order retried after the loss via %d" % port)
            r = keyed_post(confirm, "queued-c", port=port)
            eq((r.status, r.body, r.header("Idempotent-Replayed")),
               (201, r_confirm.body, "true"), "the keyed confirm retried via %d" % port)
        eq(box.zone_state("Event1", zone)["taken"], taken, "nothing bought again")
        t = o["tickets"][0]
        x = http("POST", "/tickets/%s/cancel" % t["ticketId"],
                 {"cancelToken": o["cancelToken"]})
        eq(x.status, 200, "a cancel of a ticket of the queued order: " + x.body)
    finally:
        box.stack("start", "consumer")
    box.wait_until(lambda: box.sql("SELECT status FROM ticketing.ticket WHERE ticket_id = "
                                   "'%s'" % t["ticketId"]) == [["CANCELLED"]],
                   what="the order, then its ticket's cancellation, in MySQL")


def test_keyed_sale_answered_again_after_a_redis_loss():
    """Would catch: a keyed retry of a sale made before a Redis loss buying
    again after `ticketctl rebuild` (the key's record lived in Redis only):
    a best-available order bought a second set of seats.  The key's HMAC
    under token_secret goes with the order to MySQL (migrations 005, 006:
    no store but Redis keeps the key, which with the request's body is as
    good as the cancel token) and rebuild puts its record back under it
    (bo:idem:{E:Z}:#<HMAC>) for the rest of its 24 h; an order older
    than that gets none.  The hold a confirm made its order of comes back
    confirmed, under the SHA-256 of its id (MySQL keeps no holdId, a
    bearer capability): a confirm again answers that order (200; keyed,
    its first 201) where it answered 404."""
    sha = lambda k: hashlib.sha256(k.encode()).hexdigest()
    hashed = lambda k: "bo:idem:{Event1:%d}:#%s" % (zone, box.idem_key_hash(k))
    zone, node = 21, box.zone_node("Event1", 21)
    r_order = order(zone, "lost-o", quantity=4)
    tb = json.dumps({"venueId": "Venue1", "eventId": "Event1", "zoneId": zone, "row": 9,
                     "column": 9})
    th = {"Content-Type": "application/json", "Idempotency-Key": "lost-t"}
    r_ticket = http("POST", "/tickets", tb, headers=th)
    h = hold(zone, "", seats=[{"row": 5, "column": 1}, {"row": 5, "column": 2}])
    eq(h.status, 201, "hold: " + h.body)
    hid = h.json()["holdId"]
    confirm = "/holds/%s/confirm" % hid
    r_confirm = keyed_post(confirm, "lost-c")
    r_old = order(zone, "lost-old", quantity=1)
    r_23h = order(zone, "lost-23h", quantity=1)
    r_plain = http("POST", "/orders", {"venueId": "Venue1", "eventId": "Event1", "zoneId": zone,
                                       "quantity": 2})
    for what, r in (("order", r_order), ("ticket", r_ticket), ("confirm", r_confirm),
                    ("old order", r_old), ("23 h old order", r_23h),
                    ("unkeyed order", r_plain)):
        eq(r.status, 201, "%s: %s" % (what, r.body))
    oids = {"lost-o": r_order.json()["orderId"], "lost-t": r_ticket.json()["orderId"],
            "lost-c": r_confirm.json()["orderId"], "lost-old": r_old.json()["orderId"],
            "lost-23h": r_23h.json()["orderId"]}
    plain = r_plain.json()["orderId"]
    records = {k: box.redis("GET", "bo:idem:{Event1:%d}:%s" % (zone, k), node=node)
               for k in oids}
    rows = lambda: sorted(box.sql("SELECT IFNULL(idem_key, '-'), IFNULL(idem_key_hash, '-'), "
                                  "IFNULL(idem_hash, '-'), IFNULL(hold_hash, '-'), "
                                  "IFNULL(idem_kind, '-'), order_id FROM ticketing.orders "
                                  "WHERE order_id IN ('%s')"
                                  % "','".join(list(oids.values()) + [plain])))
    box.wait_until(lambda: len(rows()) == 6, what="the six orders in MySQL")
    kinds = {"lost-o": "o", "lost-t": "t", "lost-c": "c", "lost-old": "o", "lost-23h": "o"}
    hashes = {}
    for k in oids:
        hashes[k], rest = records[k].decode().split(" ", 1)
        eq(rest, "P %s %s" % (oids[k], kinds[k]), "the record of %s before the loss" % k)
    eq(rows(), sorted([["-", "-", "-", "-", "-", plain]] +
                      [["-", box.idem_key_hash(k), hashes[k], sha(hid) if k == "lost-c" else "-",
                        kinds[k], oids[k]] for k in oids]),
       "each order's key's HMAC (never the key), request hash, hold's SHA-256 (never "
       "its id) and kind in MySQL")
    # a day and an hour ago: its key's 24 h are over; 23 h ago: 1 h left
    for k, hours in (("lost-old", 25), ("lost-23h", 23)):
        box.sql("UPDATE ticketing.orders SET created_on = created_on - INTERVAL %d HOUR "
                "WHERE order_id = '%s'" % (hours, oids[k]))
    taken = box.zone_state("Event1", zone)["taken"]
    msgs = {k: box.redis("HGET", "bo:ords:{Event1:%d}" % zone, oid, node=node)
            for k, oid in oids.items()}
    check(all(b'"idempotency":{"keyHash":"%s","hash":"%s","kind":"%s"},%s"tickets":['
              % (box.idem_key_hash(k).encode(), hashes[k].encode(), kinds[k].encode(),
                 b'"holdHash":"%s",' % sha(hid).encode() if k == "lost-c" else b"") in m
              and k.encode() not in m and hid.encode() not in m for k, m in msgs.items()),
          "each message carries its key's HMAC, a confirm its hold's SHA-256, not the key nor "
          "the holdId: %r" % msgs)
    ids = list(oids.values()) + [plain, h.json()["holdId"]] + [
        t["ticketId"] for r in (r_order, r_ticket, r_confirm, r_old, r_23h, r_plain)
        for t in (r.json()["tickets"] if "tickets" in r.json() else [r.json()])]
    # key columns not as the consumer writes them: the order comes back
    # without its key's record (it was left out whole before)
    box.sql("UPDATE ticketing.orders SET idem_kind = 'h' WHERE order_id = '%s'"
            % oids["lost-old"])
    box.stack("stop", "consumer")
    try:
        lose_zone(zone, ids)
        # a retry while the zone is lost: 404, and no refusal recorded (it
        # kept the key from its record, put back with SET NX: 404 for good)
        r = order(zone, "lost-o", quantity=4)
        eq((r.status, r.json().get("error")), (404, "NOT_FOUND"), "a retry in the outage")
        eq(box.redis("EXISTS", "bo:idem:{Event1:%d}:lost-o" % zone, node=node), 0,
           "nothing recorded under the key in the outage")
        # a refusal that was recorded under the key meanwhile (the zone's
        # catalog back, the event closed) does not hide the sale put back
        box.redis("SET", "bo:idem:{Event1:%d}:lost-t" % zone,
                  records["lost-t"].split(b" ")[0] + b" F 9 ", "EX", 600, node=node)
        r = box.ticketctl("rebuild", "Event1", check_rc=False)
        eq(r.returncode, 0, "rebuild: %s %s" % (r.stdout, r.stderr))
        check("Event1 zone %d: 6 order(s) of MySQL" % zone in r.stdout, r.stdout)
        check("Event1 zone %d: 4 Idempotency-Key record(s) of the last 24 h put back where "
              "missing" % zone in r.stdout, r.stdout)
        check("Event1 zone %d: 1 confirmed hold(s) of the last 24 h put back where missing"
              % zone in r.stdout, r.stdout)
        check("order %s: its Idempotency-Key columns are not what the consumer writes: its "
              "key's record is not put back" % oids["lost-old"] in r.stderr, r.stderr)
    finally:
        box.stack("start", "consumer")
    eq(box.zone_state("Event1", zone)["taken"], taken, "the seats after the rebuild")
    for k in ("lost-o", "lost-t", "lost-c"):
        eq(box.redis("HGET", "bo:ords:{Event1:%d}" % zone, oids[k], node=node), msgs[k],
           "the message of %s put back as the order script wrote it" % k)
    check(box.redis("HGET", "bo:ords:{Event1:%d}" % zone, oids["lost-old"], node=node),
          "the order with malformed key columns put back")
    eq(sorted(box.redis("KEYS", "bo:idem:{Event1:%d}:*" % zone, node=node)),
       sorted([hashed(k).encode() for k in ("lost-o", "lost-t", "lost-c", "lost-23h")] +
              [b"bo:idem:{Event1:%d}:lost-t" % zone]),
       "the records put back, under the keys' HMACs only (and the refusal of the outage)")
    for k in ("lost-o", "lost-t", "lost-c"):
        eq(box.redis("GET", hashed(k), node=node), records[k], "the record of %s put back" % k)
        ttl = box.redis("TTL", hashed(k), node=node)
        check(86000 < ttl <= 86400, "the record of %s lives what is left of 24 h: %d" % (k, ttl))
    eq(box.redis("GET", hashed("lost-23h"), node=node), records["lost-23h"],
       "the record of an order 23 h old")
    ttl = box.redis("TTL", hashed("lost-23h"), node=node)
    check(3400 < ttl <= 3600, "the record of an order 23 h old lives 1 h: %d" % ttl)
    # the confirmed hold, under its id's hash only
    eq(box.redis("HGETALL", "bo:holds:{Event1:%d}" % zone, node=node),
       [b"#" + sha(hid).encode(), b"C " + oids["lost-c"].encode()], "the hold put back")
    hix = box.id_key("bo:hix:", hid)
    eq(box.redis("EXISTS", hix, node=node), 0, "no index under the holdId")
    hix = hix[:-len(hid)] + "#" + sha(hid)
    eq(box.redis("GET", hix, node=node), b"Event1:%d" % zone, "the hold's index by its hash")
    ttl = box.redis("TTL", hix, node=node)
    check(86000 < ttl <= 86400, "the hold's index lives what is left of 24 h: %d" % ttl)
    # the field goes a minute after its index (the sweeper, bo:hend)
    pttl = box.redis("PTTL", hix, node=node)
    gone = box.redis("ZSCORE", "bo:hend:{Event1:%d}" % zone, "#" + sha(hid), node=node)
    check(gone, "the hold put back is not scored in bo:hend for its removal")
    after = float(gone) - (time.time() * 1000 + pttl)
    check(55000 <= after <= 62000,
          "the hold put back goes %.0f ms after its index, not a minute" % after)
    for port in WEB_PORTS:
        again = (("order", r_order, order(zone, "lost-o", port=port, quantity=4)),
                 ("ticket", r_ticket, http("POST", "/tickets", tb, headers=th, port=port)))
        for what, first, r in again:
            eq((r.status, r.body, r.header("Location"), r.header("Idempotent-Replayed")),
               (201, first.body, first.header("Location"), "true"),
               "the keyed %s retried after the loss via %d" % (what, port))
        # the hold put back confirmed: the keyed confirm's first 201, an
        # unkeyed one 200 the same order (404 before: the hold was lost)
        r = keyed_post(confirm, "lost-c", port=port)
        eq((r.status, r.body, r.header("Idempotent-Replayed")), (201, r_confirm.body, "true"),
           "the keyed confirm retried after the loss via %d" % port)
        r = http("POST", confirm, None, port=port)
        eq((r.status, r.body), (200, r_confirm.body),
           "the hold confirmed again after the loss via %d" % port)
        r = http("DELETE", "/holds/%s" % hid, None, port=port)
        eq((r.status, r.json().get("error")), (404, "NOT_FOUND"),
           "a confirmed hold deleted after the loss via %d" % port)
    # a sale's key reused on a cancel is another request, after the loss
    # too (the cancel script reads the record put back)
    t = r_ticket.json()
    r = keyed_post("/orders/%s/cancel" % t["orderId"], "lost-o",
                   {"cancelToken": t["cancelToken"]})
    eq((r.status, r.json().get("error")), (422, "IDEMPOTENCY_KEY_REUSED"),
       "an order's key reused on a cancel after the loss")
    # the record put back knows the request: another body is refused
    r = order(zone, "lost-o", quantity=3)
    eq((r.status, r.json().get("error")), (422, "IDEMPOTENCY_KEY_REUSED"),
       "the key retried with another body after the loss")
    eq(box.zone_state("Event1", zone)["taken"], taken, "nothing bought again")
    eq(zone_orders(zone), 6, "six orders in the zone, no more")
    # the replayed token still cancels the order
    o = r_order.json()
    c = http("POST", "/orders/%s/cancel" % o["orderId"], {"cancelToken": o["cancelToken"]})
    eq(c.status, 200, "cancel after the loss: " + c.body)


if __name__ == "__main__":
    raise SystemExit(box.main(globals()))
