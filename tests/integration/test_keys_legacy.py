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
    eq(len(r.json()["holdId"]), 25, "holdId: 22 characters of 128 random bits, then the slot")
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


def test_a_holdid_keeps_128_random_bits():
    """CONTRACT section 7: a holdId is 128-bit random.  Until 2026-12-05
    it was 22 characters with the slot written over 14 of its bits (the
    low 14 bits of characters 18..20 were the zone's slot in every hold of
    a zone); now the slot follows the 22 characters of the token."""
    slot, seen = box.zone_slot(EVENT, ZONE), []
    for col in range(22, 30):
        r = http("POST", "/holds", {"venueId": "Venue1", "eventId": EVENT, "zoneId": ZONE,
                                    "seats": [{"row": 6, "column": col}]})
        eq(r.status, 201, "hold")
        hid = r.json()["holdId"]
        eq(box.id_slot(hid), slot, "slot in the last 3 characters of %s" % hid)
        v = 0
        for ch in hid[18:21]:
            v = (v << 6) | box.B64.index(ch)
        seen.append(v & 0x3FFF)
        # the last of the 22 characters carries 2 bits, its other 4 are 0
        check(hid[21] in "AQgw", "character 21 of %s ends the 128 bits" % hid)
        eq(http("DELETE", "/holds/" + hid).status, 204, "delete")
    check(len(set(seen)) > 1, "bits 114..127 random, not the slot: %s" % seen)


def old_hold_id(hid):
    """The 22-character form of the build before: the slot in characters
    18..20 (keys_id_slot() still reads it)."""
    return hid[:18] + hid[22:25] + "A"


def test_a_22_character_holdid_made_before_is_confirmed_and_deleted():
    """An upgrade meets holds made by the build before (a hold lives up to
    hold_max_seconds): their 22-character ids are still taken by
    POST /holds/{id}/confirm and DELETE /holds/{id}.  The test makes holds
    and renames every trace of each in Redis to the old id form."""
    tag = "%s:%d" % (EVENT, ZONE)
    for col, action in ((1, "confirm"), (2, "delete")):
        r = http("POST", "/holds", {"venueId": "Venue1", "eventId": EVENT, "zoneId": ZONE,
                                    "seats": [{"row": 7, "column": col}]})
        eq(r.status, 201, "hold")
        hid = r.json()["holdId"]
        old = old_hold_id(hid)
        eq(box.id_slot(old), box.id_slot(hid), "the old form carries the same slot")
        rec = box.redis("HGET", "bo:holds:{%s}" % tag, hid)
        box.redis("HDEL", "bo:holds:{%s}" % tag, hid)
        box.redis("HSET", "bo:holds:{%s}" % tag, old, rec)
        score = box.redis("ZSCORE", "bo:hexp:{%s}" % tag, hid)
        box.redis("ZREM", "bo:hexp:{%s}" % tag, hid)
        box.redis("ZADD", "bo:hexp:{%s}" % tag, score, old)
        bit = str((7 - 1) * box.zone_state(EVENT, ZONE)["cols"] + (col - 1))
        eq(box.redis("HGET", "bo:own:{%s}" % tag, bit).decode(), "h:" + hid, "owner")
        box.redis("HSET", "bo:own:{%s}" % tag, bit, "h:" + old)
        box.redis("RENAME", box.id_key("bo:hix:", hid), box.id_key("bo:hix:", old))
        if action == "confirm":
            r = http("POST", "/holds/%s/confirm" % old)
            eq(r.status, 201, "confirm of the 22-character id (%s)" % r.body)
            eq([(t["row"], t["column"]) for t in r.json()["tickets"]], [(7, col)], "its seat")
            eq(http("POST", "/holds/%s/confirm" % old).status, 200, "again: the same order")
        else:
            eq(http("DELETE", "/holds/" + old).status, 204, "delete of the 22-character id")
            check((7, col) not in box.zone_state(EVENT, ZONE)["taken"], "seat free again")
        eq(http("DELETE", "/holds/" + hid).status, 404, "the 25-character id is gone")


if __name__ == "__main__":
    box.main(globals())
