# SPDX-License-Identifier: ISC
"""Keys by id (shared/keys.h, docs/reliability.md "Keys and ids"): since the
Redis Cluster work every id carries its zone's slot and its keys (ticket and
order caches, the id index bo:oix, the hold index bo:hix) carry that slot's
tag.  Data stored before has untagged keys (bo:tkt:<id>, bo:oix:<id>, ...):
lookups, cancels and holds must still find it.  The test makes an order and
a hold, moves their keys to the old untagged names, and uses them."""

import json

import box
from box import check, eq, http

EVENT, ZONE = "Event1", 93


def rename_to_legacy(prefix, ident):
    new = box.id_key(prefix, ident)
    check(box.redis("EXISTS", new) == 1, "%s exists" % new)
    box.redis("RENAME", new, prefix + ident)


def test_ids_carry_the_zone_slot():
    r = http("POST", "/orders", {"venueId": "Venue1", "eventId": EVENT, "zoneId": ZONE,
                                 "seats": [{"row": 3, "column": 1}, {"row": 3, "column": 2}]})
    eq(r.status, 201, "order (%s)" % r.body)
    o = r.json()
    slot = box.zone_slot(EVENT, ZONE)
    for ident in [o["orderId"]] + [t["ticketId"] for t in o["tickets"]]:
        eq(box.id_slot(ident), slot, "slot in %s" % ident)
        check(box.redis("EXISTS", box.id_key("bo:oix:", ident)) == 1, "index of %s" % ident)
    eq(box.crc16(box.slot_tag(slot).encode()) % 16384, slot, "the tag's slot")
    r = http("POST", "/holds", {"venueId": "Venue1", "eventId": EVENT, "zoneId": ZONE,
                                "seats": [{"row": 3, "column": 9}]})
    eq(r.status, 201, "hold")
    eq(box.id_slot(r.json()["holdId"]), slot, "slot in the holdId")
    eq(box.redis("GET", box.id_key("bo:hix:", r.json()["holdId"])).decode(),
       "%s:%d" % (EVENT, ZONE), "hold index under the slot tag")
    eq(http("DELETE", "/holds/" + r.json()["holdId"]).status, 204, "delete")


def test_an_order_stored_before_is_found_and_cancelled():
    r = http("POST", "/orders", {"venueId": "Venue1", "eventId": EVENT, "zoneId": ZONE,
                                 "seats": [{"row": 4, "column": 1}, {"row": 4, "column": 2}]})
    eq(r.status, 201, "order")
    o = r.json()
    oid, tok = o["orderId"], o["cancelToken"]
    t0, t1 = o["tickets"][0]["ticketId"], o["tickets"][1]["ticketId"]
    # as the build before stored it: untagged
    for ident in (oid, t0, t1):
        rename_to_legacy("bo:oix:", ident)
    for ident in (t0, t1):
        rename_to_legacy("bo:tkt:", ident)
    rename_to_legacy("bo:ord:", oid)
    r = http("GET", "/get/tickets/" + t0)
    eq(r.status, 200, "ticket from the untagged cache")
    eq(r.json()["status"], "CREATED", "status")
    r = http("GET", "/get/orders/" + oid)
    eq((r.status, r.json()["status"]), (200, "CONFIRMED"), "order from the untagged cache")
    # a cancel finds the zone through the untagged index
    r = http("POST", "/tickets/%s/cancel" % t0, {"cancelToken": tok})
    eq(r.status, 200, "cancel one ticket (%s)" % r.body)
    eq(r.json()["status"], "CANCELLED", "cancelled")
    # the lookup now answers the cancellation, not the stale untagged cache
    r = http("GET", "/get/tickets/" + t0)
    eq((r.status, r.json()["status"]), (200, "CANCELLED"), "ticket after the cancel")
    r = http("GET", "/get/orders/" + oid)
    eq([t["status"] for t in r.json()["tickets"]], ["CANCELLED", "CREATED"], "order after")
    r = http("POST", "/orders/%s/cancel" % oid, {"cancelToken": tok})
    eq((r.status, r.json()["status"]), (200, "CANCELLED"), "cancel the order")
    st = box.zone_state(EVENT, ZONE)
    check((4, 1) not in st["taken"] and (4, 2) not in st["taken"], "seats free again")


def test_a_hold_stored_before_is_found():
    for col, action in ((20, "confirm"), (21, "delete")):
        r = http("POST", "/holds", {"venueId": "Venue1", "eventId": EVENT, "zoneId": ZONE,
                                    "seats": [{"row": 5, "column": col}]})
        eq(r.status, 201, "hold")
        hid = r.json()["holdId"]
        rename_to_legacy("bo:hix:", hid)
        if action == "confirm":
            r = http("POST", "/holds/%s/confirm" % hid)
            eq(r.status, 201, "confirm through the untagged index (%s)" % r.body)
            t = r.json()["tickets"][0]
            eq(box.id_slot(t["ticketId"]), box.zone_slot(EVENT, ZONE), "new ids carry the slot")
            eq(json.loads(box.redis("GET", box.id_key("bo:tkt:", t["ticketId"])))["ticketId"],
               t["ticketId"], "new ticket cached under its slot tag")
        else:
            eq(http("DELETE", "/holds/" + hid).status, 204, "delete through the untagged index")
    eq(http("DELETE", "/holds/AAAAAAAAAAAAAAAAAAAAAA").status, 404, "unknown hold")


if __name__ == "__main__":
    box.main(globals())
