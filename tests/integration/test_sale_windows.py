# SPDX-License-Identifier: ISC
"""Sale windows and cancellation (docs/api.md, issue 12), through nginx and
lighttpd, on /tickets and the legacy /ticket: opensAt ahead answers 403
NOT_ON_SALE with opensAt and a Retry-After of the whole seconds left, and
201 once it passed; closesAt passed answers 403 SALE_CLOSED; a cancelled
event answers 410 at once (a confirm of a hold made before included) while
its sold tickets stay; the checks come in
the contract's order (404, 410, 403, 400, 409); stagger gives Venue1's five
price tiers in price order; event list shows status, sold and capacity."""

import json
import re
from datetime import datetime, timedelta, timezone

import box
import catalog
from box import buy, check, eq
from catalog import redis_now, stamp, with_event


def setup_module():
    catalog.restore()


def teardown_module():
    catalog.restore()


def legacy(event, zone, row, col, port=box.NGINX, venue="Venue2"):
    return box.http("POST", "/ticket?venueId=%s&eventId=%s&zoneId=%d&row=%s&column=%d"
                    % (venue, event, zone, row, col), port=port)


def test_not_on_sale_then_on_sale():
    now = redis_now().replace(microsecond=0)
    late = now + timedelta(seconds=60)
    soon = now + timedelta(seconds=6)
    catalog.apply_ok(with_event("Event3", onSale=[
        {"fromZone": 1, "toZone": 2, "opensAt": stamp(late)},
        {"fromZone": 4, "toZone": 4, "opensAt": stamp(soon)}]), "windows")
    for port in box.WEB_PORTS:
        for r in (buy("Venue2", "Event3", 2, 1, 1, port=port), legacy("Event3", 2, "A", 1, port)):
            eq(r.status, 403, "before opensAt on %d: %s" % (port, r.body))
            eq(r.json()["error"], "NOT_ON_SALE", "error")
            eq(r.json()["opensAt"], stamp(late), "opensAt")
            ra = int(r.header("Retry-After"))
            left = (late - redis_now()).total_seconds()
            check(left - 2 <= ra <= left + 2 and ra <= 60, "Retry-After %d, %.1f s left" % (ra, left))
    eq(buy("Venue2", "Event3", 3, 1, 1).status, 201, "zone 3 has no window: on sale")
    eq(buy("Venue2", "Event2", 2, 1, 1).status, 201, "Event2 has no window")
    q = box.http("GET", "/get/events/Event3").json()
    eq([(z["zoneId"], z["opensAt"], z["onSale"]) for z in q["zones"]],
       [(1, stamp(late), False), (2, stamp(late), False), (3, None, True), (4, stamp(soon), False)],
       "query of the windows")
    seats = box.http("GET", "/get/events/Event3/zones/2/seats", port=box.LIGHTTPD).json()
    eq((seats["opensAt"], seats["onSale"]), (stamp(late), False), "seat map")
    r = buy("Venue2", "Event3", 4, 1, 1)
    if r.status == 403:
        eq(r.json()["opensAt"], stamp(soon), "short window")
    box.wait_until(lambda: redis_now() >= soon + timedelta(milliseconds=200),
                   what="the short window to open")
    for port, seat in ((box.NGINX, (1, 2)), (box.LIGHTTPD, (2, 2))):
        r = buy("Venue2", "Event3", 4, seat[0], seat[1], port=port)
        eq(r.status, 201, "after opensAt on %d: %s" % (port, r.body))
    eq(legacy("Event3", 4, "C", 3).status, 201, "legacy after opensAt")
    eq(buy("Venue2", "Event3", 2, 1, 1).status, 403, "zone 2 still closed")


def test_sale_closed():
    past = redis_now() - timedelta(seconds=1)
    catalog.apply_ok(with_event("Event3", closesAt=stamp(past)), "closesAt passed")
    for port in box.WEB_PORTS:
        for r in (buy("Venue2", "Event3", 1, 1, 1, port=port), legacy("Event3", 1, "A", 1, port)):
            eq(r.status, 403, "after closesAt on %d: %s" % (port, r.body))
            eq(r.json()["error"], "SALE_CLOSED", "error")
    q = box.http("GET", "/get/events/Event3").json()
    eq(q["closesAt"], stamp(past), "closesAt shown")
    check(not any(z["onSale"] for z in q["zones"]), "zones shown on sale: %r" % q["zones"])
    future = redis_now() + timedelta(hours=1)
    catalog.apply_ok(with_event("Event3", closesAt=stamp(future)), "closesAt ahead")
    eq(buy("Venue2", "Event3", 1, 1, 1).status, 201, "before closesAt")


def test_contract_order():
    now = redis_now()
    catalog.apply_ok(with_event("Event3", onSale=[
        {"fromZone": 1, "toZone": 4, "opensAt": stamp(now + timedelta(hours=1))}]))
    eq(buy("Venue2", "Event3", 9, 1, 1).status, 404, "unknown zone before the window")
    eq(buy("Venue1", "Event3", 1, 1, 1).status, 404, "wrong venue before the window")
    eq(buy("Venue2", "Event3", 1, 99, 1).json()["error"], "NOT_ON_SALE", "window before bounds")
    r = catalog.ctl("event", "cancel", "Event3")
    eq(r.returncode, 0, "cancel: " + r.stderr)
    eq(buy("Venue2", "Event3", 1, 1, 1).json()["error"], "EVENT_CANCELLED",
       "cancellation before the window")
    eq(buy("Venue2", "Event3", 9, 1, 1).status, 404, "unknown zone before the cancellation")
    catalog.apply_ok(catalog.seed(), "seed again")
    eq(buy("Venue2", "Event3", 1, 1, 99).json()["error"], "INVALID_SEAT", "bounds")
    eq(buy("Venue2", "Event3", 1, 1, 1).status, 409, "409 last (sold in test_sale_closed)")



def test_confirm_of_a_hold_after_the_event_is_cancelled():
    """CONTRACT section 6: from the cancellation on, every purchase, order
    and hold of the event answers 410, a confirm of a hold made before it
    included; the hold can still be deleted (its seats free at once)."""
    r = box.http("POST", "/holds", json.dumps({"venueId": "Venue2", "eventId": "Event3",
                                               "zoneId": 3, "seats": [{"row": 1, "column": 7}]}),
                 headers={"Content-Type": "application/json"})
    eq(r.status, 201, "hold before the cancellation: " + r.body)
    hid = r.json()["holdId"]
    r = catalog.ctl("event", "cancel", "Event3")
    eq(r.returncode, 0, "cancel: " + r.stderr)
    try:
        for port in box.WEB_PORTS:
            c = box.http("POST", "/holds/%s/confirm" % hid, port=port)
            eq((c.status, c.json().get("error")), (410, "EVENT_CANCELLED"),
               "confirm after the cancellation via %d: %s" % (port, c.body))
        check((1, 7) in box.zone_state("Event3", 3)["taken"], "the hold keeps its seat")
        eq(box.http("DELETE", "/holds/" + hid).status, 204, "the hold can be deleted")
        check((1, 7) not in box.zone_state("Event3", 3)["taken"], "its seat is free")
    finally:
        catalog.apply_ok(catalog.seed(), "seed again")

def test_cancel_answers_410_at_once_and_keeps_sold_tickets():
    sold = buy("Venue2", "Event2", 1, 4, 4)
    eq(sold.status, 201, "before the cancellation")
    tid = sold.json()["ticketId"]
    r = catalog.ctl("event", "cancel", "Event2")
    eq(r.returncode, 0, "cancel: " + r.stderr)
    check("change event Event2: status CANCELLED" in r.stdout, r.stdout)
    for port in box.WEB_PORTS:
        for b in (buy("Venue2", "Event2", 1, 4, 5, port=port), legacy("Event2", 3, "A", 2, port)):
            eq(b.status, 410, "cancelled event on %d: %s" % (port, b.body))
            eq(b.json()["error"], "EVENT_CANCELLED", "error")
    eq(buy("Venue2", "Event3", 1, 4, 5).status, 201, "Event3 at the same venue still sells")
    box.wait_until(lambda: box.sql_count("SELECT COUNT(*) FROM ticketing.ticket WHERE "
                                         "ticket_id='%s'" % tid) == 1, what="sold ticket persisted")
    eq(box.sql("SELECT status FROM ticketing.ticket WHERE ticket_id='%s'" % tid), [["CREATED"]],
       "sold ticket untouched")
    eq(box.http("GET", "/get/tickets/" + tid).status, 200, "ticket still readable")
    q = box.http("GET", "/get/events/Event2").json()
    eq(q["status"], "CANCELLED", "status shown")
    check(not any(z["onSale"] for z in q["zones"]), "zones on sale after cancel")
    lst = catalog.ctl("event", "list")
    eq(lst.returncode, 0, "event list")
    line = next(l for l in lst.stdout.splitlines() if l.startswith("Event2 "))
    check(re.search(r"Event2\s+Venue2\s+CANCELLED\s+2027-04-02T19:30:00Z\s+-\s+\d+\s+280$", line),
          "event list line: %r" % line)
    eq(int(line.split()[5]) >= 1, True, "sold count")
    eq(catalog.ctl("event", "cancel", "Nope").returncode, 1, "unknown event")


def test_stagger_gives_five_tiers_in_price_order():
    r = catalog.ctl("catalog", "stagger", "Event1", "--start", "2026-01-01T00:00:00Z",
                    "--every", "5m")
    eq(r.returncode, 0, "stagger: " + r.stderr)
    rows = [l.split() for l in r.stdout.splitlines() if re.match(r"\d{4}-", l)]
    eq(rows, [["2026-01-01T00:00:00Z", "1-20", "320.00"],
              ["2026-01-01T00:05:00Z", "21-40", "160.00"],
              ["2026-01-01T00:10:00Z", "41-60", "80.00"],
              ["2026-01-01T00:15:00Z", "61-80", "40.00"],
              ["2026-01-01T00:20:00Z", "81-100", "20.00"]], "schedule")
    ev = catalog.event(catalog.show(), "Event1")
    eq(len(ev["onSale"]), 5, "windows in the catalog")
    st = box.redis("HGET", "bo:zone:{Event1:55}", "opens", node=box.zone_node("Event1", 55))
    eq(int(st), int(datetime(2026, 1, 1, 0, 10, tzinfo=timezone.utc).timestamp() * 1000),
       "Redis window of zone 55")
    eq(catalog.ctl("catalog", "stagger", "Event1", "--start", "yesterday", "--every",
                   "5m").returncode, 2, "bad time")
    eq(catalog.ctl("catalog", "stagger", "Event1", "--start", "2026-01-01T00:00:00Z",
                   "--every", "5x").returncode, 2, "bad duration")


if __name__ == "__main__":
    raise SystemExit(box.main(globals()))
