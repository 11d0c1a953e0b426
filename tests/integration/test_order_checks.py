# SPDX-License-Identifier: ISC
"""Orders and holds answer the catalog's checks as a ticket does
(lua/order.lua, for tickets and orders: 404 -> 410 -> 403 -> 400 -> 409s), and
a hold taken while on sale is confirmed even after the sale closed
(docs/api.md: the window was checked when it was held); an event cancelled
since the hold answers its confirm 410 (test_sale_windows.py)."""

import json
from datetime import datetime, timedelta, timezone

import box
import catalog
from box import check, eq


def setup_module():
    catalog.restore()


def teardown_module():
    catalog.restore()


def redis_now():
    s, us = box.redis("TIME")
    return datetime.fromtimestamp(int(s) + int(us) / 1e6, tz=timezone.utc)


def stamp(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def with_event(eid, **fields):
    doc = catalog.seed()
    catalog.event(doc, eid).update(fields)
    return doc


def post(path, zone, port=box.NGINX, venue="Venue2", **kw):
    d = {"venueId": venue, "eventId": "Event3", "zoneId": zone}
    d.update(kw)
    return box.http("POST", path, json.dumps(d), port=port,
                    headers={"Content-Type": "application/json"})


def both(zone, **kw):
    """The answers of /orders and /holds, explicit and best available."""
    out = []
    for path in ("/orders", "/holds"):
        for port in box.WEB_PORTS:
            out.append(post(path, zone, port=port, **kw))
    return out


def codes(rs):
    return {(r.status, r.json().get("error")) for r in rs}


def test_contract_order_for_orders_and_holds():
    now = redis_now()
    catalog.apply_ok(with_event("Event3", onSale=[
        {"fromZone": 1, "toZone": 4, "opensAt": stamp(now + timedelta(hours=1))}]))
    eq(codes(both(9, quantity=1)), {(404, "NOT_FOUND")}, "unknown zone first")
    eq(codes(both(1, venue="Venue1", quantity=1)), {(404, "NOT_FOUND")}, "wrong venue")
    rs = both(1, seats=[{"row": 99, "column": 1}])
    eq(codes(rs), {(403, "NOT_ON_SALE")}, "the window before the bounds")
    for r in rs:
        check(r.json().get("opensAt") and int(r.header("Retry-After")) > 3500,
              "opensAt and Retry-After: %s %s" % (r.body, r.header("Retry-After")))
    r = catalog.ctl("event", "cancel", "Event3")
    eq(r.returncode, 0, "cancel: " + r.stderr)
    eq(codes(both(1, quantity=2)), {(410, "EVENT_CANCELLED")}, "cancellation before the window")
    eq(codes(both(9, quantity=2)), {(404, "NOT_FOUND")}, "unknown zone before the cancellation")
    catalog.apply_ok(with_event("Event3", closesAt=stamp(redis_now() - timedelta(seconds=1))))
    eq(codes(both(1, quantity=2)), {(403, "SALE_CLOSED")}, "closed")
    catalog.apply_ok(catalog.seed(), "seed again")
    eq(codes(both(1, seats=[{"row": 1, "column": 99}])), {(400, "INVALID_SEAT")}, "bounds")
    eq(box.zone_state("Event3", 1)["left"], 200, "no refusal wrote anything")


def test_hold_confirmed_after_the_sale_closed():
    h = post("/holds", 2, seats=[{"row": 1, "column": 1}]).json()
    catalog.apply_ok(with_event("Event3", closesAt=stamp(redis_now() - timedelta(seconds=1))))
    eq(post("/holds", 2, quantity=1).json()["error"], "SALE_CLOSED", "no new hold")
    r = box.http("POST", "/holds/%s/confirm" % h["holdId"])
    eq(r.status, 201, "the held seat is bought (%s)" % r.body)
    catalog.apply_ok(catalog.seed(), "seed again")


if __name__ == "__main__":
    raise SystemExit(box.main(globals()))
