# SPDX-License-Identifier: ISC
"""The history checker itself (tests/lib/history.py): a checker that passes
when the promise is broken would prove nothing.  After a small clean run
(round-1 purchases, then the mixed load of orders, holds, confirms,
deletions, cancellations and keyed retries of tests/lib/orderload.py),
each invariant is broken on purpose, in the history or in a store, and the
checker must name it; then the damage is repaired and the check is clean
again.  tests/faults/check-history exits 1 on a violation, 0 without.
"""

import copy
import os
import subprocess
import time
import uuid

import box
import history
import orderload
import persist
import scenario as sc
from box import check, eq

H = history.History("checker")
SNAP = []       # the stores as the clean run left them (for forged histories)
CHECK_HISTORY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "check-history")


def setup_module():
    box.stack("reset")
    history.Load(H, sc.pool(41)[:120], workers=4, rate=60).run_for(3)
    load = orderload.MixedLoad(H, [("Event1", 60), ("Event1", 61)], workers=6, rate=30,
                               seed=13).start()
    time.sleep(8)
    load.stop()
    history.settle()
    SNAP.append(history.Stores())


def expect(inv, phrase, h=None, **kw):
    """Checks h (a forged copy of H: the stores as the clean run left them)
    or, without h, H against the stores as they are now."""
    rep = history.check(h or H, run_ticketctl=False, stores=SNAP[0] if h else None, **kw)
    text = rep.text()
    check(rep.violations[inv], "%s not reported:\n%s" % (inv, text))
    check(any(phrase in v for v in rep.violations[inv]),
          "%s reported without %r:\n%s" % (inv, phrase, text))
    print("%s found: %s" % (inv, rep.violations[inv][0][:160]))
    return rep


def clean():
    rep = history.check(H, run_ticketctl=False)
    check(rep.ok, "not clean:\n" + rep.text())


def an_ok():
    return next(r for r in H.records if r["outcome"] == "ok")


def kind(k, outcome="ok"):
    return [r for r in H.records if r.get("kind", "ticket") == k and r["outcome"] == outcome]


def test_clean_run_passes():
    check(H.count("ok") > 10 and H.count("fail") > 0, "a poor history: " + H.summary())
    for k in ("order", "hold", "confirm", "delete", "cancel"):
        check(kind(k), "no ok %s in the history: %s" % (k, H.summary()))
    rep = history.check(H)
    print(rep.text())
    check(rep.ok, "clean run not clean")


def test_two_201_for_one_seat_is_I1():
    h = H.copy()
    r = dict(an_ok())
    r["ticketId"] = persist.new_ticket_id()
    r["ticket"] = dict(r["ticket"], ticketId=r["ticketId"])
    h.add(r)
    expect("I1", "live at once to this day", h)
    expect("I2", "is not in MySQL", h)


def test_a_second_ticket_for_a_seat_in_dynamodb_is_I1():
    t = an_ok()["ticket"]
    tid = persist.new_ticket_id()
    item = {k: {"S": str(v)} for k, v in t.items() if k in ("venueId", "eventId", "status",
                                                          "createdOn")}
    item.update({k: {"N": str(t[k])} for k in ("zoneId", "row", "column", "price")})
    item["ticketId"] = {"S": tid}
    eq(box.ddb("PutItem", {"TableName": "Tickets", "Item": item})[0], 200, "PutItem")
    try:
        expect("I1", tid)
        expect("I3", tid)
        expect("I5", "in DynamoDB, not in MySQL")
    finally:
        box.ddb("DeleteItem", {"TableName": "Tickets", "Key": {"ticketId": {"S": tid}}})
    clean()


def test_an_ok_missing_or_changed_is_I2():
    tid = an_ok()["ticketId"]
    code, res = box.ddb("GetItem", {"TableName": "Tickets", "Key": {"ticketId": {"S": tid}}})
    item = res["Item"]
    box.ddb("DeleteItem", {"TableName": "Tickets", "Key": {"ticketId": {"S": tid}}})
    try:
        expect("I2", "is not in DynamoDB")
    finally:
        eq(box.ddb("PutItem", {"TableName": "Tickets", "Item": item})[0], 200, "PutItem")
    box.sql("UPDATE ticketing.ticket SET price = price + 1 WHERE ticket_id = '%s'" % tid)
    try:
        expect("I2", "differs in MySQL: price")
    finally:
        box.sql("UPDATE ticketing.ticket SET price = price - 1 WHERE ticket_id = '%s'" % tid)
    clean()


def test_a_ticket_sold_to_a_fail_is_I3():
    h = H.copy()
    r = next(x for x in h.records if x["outcome"] == "ok")
    tid = r["ticketId"]
    r.update(outcome="fail", why="503 nothing sold", ticketId=None, ticket=None)
    rep = expect("I3", "no ok or unknown request explains it", h)
    check(any(tid in v and "503 nothing sold" in v for v in rep.violations["I3"]),
          "the ticket of the forged fail not named: %r" % rep.violations["I3"])


def test_redis_counters_bits_owners_are_I4():
    r = an_ok()
    _, event, zone, row, col = r["seat"]
    tag = "{%s:%d}" % (event, zone)
    node = box.zone_node(event, zone)
    box.redis("HINCRBY", "bo:left:" + tag, "r%d" % row, 1, node=node)
    try:
        expect("I4", "row %d: row counter" % row)
    finally:
        box.redis("HINCRBY", "bo:left:" + tag, "r%d" % row, -1, node=node)
    bit = (row - 1) * box.VENUE1_COLS + col - 1
    owner = box.redis("HGET", "bo:own:" + tag, bit, node=node)
    box.redis("HDEL", "bo:own:" + tag, bit, node=node)
    try:
        expect("I4", "1 seat bits without owner")
    finally:
        box.redis("HSET", "bo:own:" + tag, bit, owner, node=node)
    clean()


def test_unaccounted_dead_letter_is_I5():
    body = '{"not":"a ticket of this run"}'
    box.mqtool("publish", "-q", "ticketSQL.dead", body)
    try:
        expect("I5", "holds a message nobody accounts for")
        h = H.copy()
        h.expect_dead(body)
        rep = history.check(h, run_ticketctl=False)
        check(rep.ok, "an expected dead letter reported:\n" + rep.text())
    finally:
        box.queue_get("ticketSQL.dead")
    clean()


def stamp(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % (int(t * 1000) % 1000)


def test_a_sale_before_the_cancel_is_I1():
    """A ticket cancelled at c: another live ticket on its seat created well
    before c is a double sale; the checker names both (a slack of 0.1 s
    here: the history is short)."""
    st = history.Stores()
    cands = sorted((t for t in st.my if t["status"] == "CANCELLED"),
                   key=lambda t: history.stamp_s(t["createdOn"]) -
                   history.stamp_s(t["cancelledOn"]))
    check(cands, "no cancelled ticket in the history")
    t = cands[0]
    born, died = history.stamp_s(t["createdOn"]), history.stamp_s(t["cancelledOn"])
    check(died - born > 0.5, "no ticket cancelled 0.5 s or more after its sale: %r" % t)
    h = H.copy()
    fake = dict(t, ticketId=persist.new_ticket_id(), createdOn=stamp(born + 0.1),
                cancelledOn=stamp(died - 0.1))
    h.add({"kind": "ticket", "seat": [t["venueId"], t["eventId"], t["zoneId"], t["row"],
                                      t["column"]], "t0": 0, "t1": 0, "outcome": "ok",
           "ticketId": fake["ticketId"], "ticket": fake, "status": 201, "why": "201",
           "body": ""})
    rep = expect("I1", t["ticketId"], h, slack=0.1)
    check(any(fake["ticketId"] in x for x in rep.violations["I1"]), rep.text())
    # the same ticket sold right after the cancel is no violation
    h = H.copy()
    fake.update(createdOn=stamp(died + 0.01), status="CREATED")
    fake.pop("cancelledOn")
    h.add({"kind": "ticket", "seat": [t["venueId"], t["eventId"], t["zoneId"], t["row"],
                                      t["column"]], "t0": 0, "t1": 0, "outcome": "ok",
           "ticketId": fake["ticketId"], "ticket": fake, "status": 201, "why": "201",
           "body": ""})
    rep = history.check(h, run_ticketctl=False, slack=0.1, stores=SNAP[0])
    check(not any(fake["ticketId"] in x and t["ticketId"] in x for x in rep.violations["I1"]),
          "a sale after the cancel taken for a double sale:\n" + rep.text())


def test_two_answered_before_a_cancel_is_I1_whatever_the_stamps():
    """A seat's ticket answered sold, its cancel sent later; another ticket
    of the seat answered sold between the two, with a createdOn after the
    first one's cancelledOn (stamps that hide the overlap): both were live
    when the second was answered, and the checker says so from the
    client's clock (before, only the stamps were compared, with 1.5 s of
    slack)."""
    v = history.View(H)
    sold_at, asked = history.live_by_answers(v)
    mine = {t["ticketId"]: t for t in SNAP[0].my if t["status"] == "CANCELLED"}
    cands = [tid for tid in sold_at if tid in mine and sold_at[tid] < asked.get(tid, 0)]
    check(cands, "no ticket answered sold, then asked to cancel, then cancelled")
    tid = cands[0]
    t = v.ans_tickets[tid][0]
    died = history.stamp_s(mine[tid]["cancelledOn"])
    fake = dict(t, ticketId=persist.new_ticket_id(), createdOn=stamp(died + 0.01),
                status="CREATED")
    fake.pop("cancelledOn", None)
    h = H.copy()
    h.add({"kind": "ticket", "seat": [t["venueId"], t["eventId"], t["zoneId"], t["row"],
                                      t["column"]], "t0": sold_at[tid],
           "t1": (sold_at[tid] + asked[tid]) / 2, "outcome": "ok",
           "ticketId": fake["ticketId"], "ticket": fake, "status": 201, "why": "201",
           "body": ""})
    rep = expect("I1", "before a cancel of either was sent", h)
    check(any(fake["ticketId"] in x and tid in x for x in rep.violations["I1"]), rep.text())


def test_a_cancel_not_applied_is_I2_and_an_unasked_one_I3():
    live = next(t for t in history.Stores().my if t["status"] == "CREATED" and t.get("orderId"))
    h = H.copy()
    h.add({"kind": "cancel", "orderId": live["orderId"], "t0": 0, "t1": 0, "outcome": "ok",
           "why": "200", "status": 200, "body": "",
           "answer": dict(live, status="CANCELLED", cancelledOn=stamp(time.time()))})
    expect("I2", "answered 200 for ticket %s" % live["ticketId"], h)
    h = H.copy()
    h.records = [r for r in h.records if r.get("kind") != "cancel"]
    expect("I3", "but no cancel request", h)


def test_unknown_outcome_orders():
    """An unknown order with an id (publish in doubt) must end persisted; one
    without an id may explain a persisted order of its seats, a fail never."""
    h = H.copy()
    oid = str(uuid.uuid4())
    h.add({"kind": "order", "zone": ["Venue1", "Event1", 60], "seats": [[26, 1]], "t0": 0,
           "t1": 0, "outcome": "unknown", "orderId": oid, "status": 503, "body": "",
           "why": "503 with orderId (publish in doubt)"})
    expect("I2", "order %s (request" % oid, h)
    h = H.copy()
    r = next(x for x in h.records if x.get("kind") == "order" and x["outcome"] == "ok" and
             x.get("seats") and not x.get("key") and not x.get("replayed"))
    oid = r["orderId"]
    r.update(outcome="unknown", why="503 from the web server", orderId=None, order=None)
    rep = history.check(h, run_ticketctl=False, stores=SNAP[0])
    check(rep.ok, "an idless unknown order does not explain its order:\n" + rep.text())
    r.update(outcome="fail", why="409 SEAT_TAKEN")
    expect("I3", "order %s (tickets" % oid, h)


def test_idless_unknowns_are_matched_not_taken_greedily():
    """Two unknowns without an id at once (CI, 2026-12-03: two responders
    killed): a best-available order of one seat (it fits any one-seat
    order of its zone) and a ticket for seat s.  The order of s, looked at
    first, must not take the best-available request and leave the other
    order unexplained: each persisted order gets a request of its own
    whenever one assignment exists."""
    order_any = {"i": 200, "kind": "order", "quantity": 1}
    ticket_s = {"i": 205, "kind": "ticket", "seat": (8, 17)}
    groups = [("sold (8, 17)", (8, 17)), ("sold (1, 12)", (1, 12))]

    def fits(r, seat):
        return r["kind"] == "order" or r["seat"] == seat

    got = history.match_idless(groups, [order_any, ticket_s], fits)
    eq(got, {200: "sold (1, 12)", 205: "sold (8, 17)"}, "matching")
    # one request cannot explain two orders: one is left unexplained
    got = history.match_idless(groups, [order_any], fits)
    eq(len(got), 1, "one request, two orders")


def test_a_hold_ended_two_ways_is_I6():
    c = next(r for r in kind("confirm") if r.get("status") == 201)
    hid = c["holdId"]
    h = H.copy()
    h.add({"kind": "delete", "holdId": hid, "t0": 0, "t1": 0, "outcome": "fail",
           "status": 410, "why": "410 HOLD_EXPIRED", "body": ""})
    expect("I6", "ended 2 ways: confirmed and expired", h)
    h = H.copy()
    h.add(dict(copy.deepcopy(c), orderId=str(uuid.uuid4())))
    expect("I6", "confirmed into 2 orders", h)
    # in Redis: a hold left active, a seat still owned by an ended hold
    d = next(r for r in kind("delete"))
    hold = next(r for r in kind("hold") if r["holdId"] == d["holdId"])
    _, event, zone = hold["zone"]
    tag = "{%s:%d}" % (event, zone)
    node = box.zone_node(event, zone)
    was = box.redis("HGET", "bo:holds:" + tag, hold["holdId"], node=node)
    box.redis("HSET", "bo:holds:" + tag, hold["holdId"], "A 1 26 30", node=node)
    try:
        expect("I6", "never ended")
    finally:
        box.redis("HSET", "bo:holds:" + tag, hold["holdId"], was, node=node)
    bit = 26 * box.VENUE1_COLS - 1
    check(box.redis("HGET", "bo:own:" + tag, bit, node=node) is None, "seat 26/30 is free")
    box.redis("HSET", "bo:own:" + tag, bit, "h:" + hold["holdId"], node=node)
    try:
        expect("I6", "still owns 1 seat")
    finally:
        box.redis("HDEL", "bo:own:" + tag, bit, node=node)
    clean()


def test_a_key_that_bought_twice_is_I7():
    keyed = [r for r in kind("order") + kind("ticket") if r.get("key")]
    check(keyed, "no keyed sale in the history")
    r1 = keyed[0]
    z = history.zone_of(r1)
    r2 = next(r for r in kind("order") + kind("ticket") if history.zone_of(r) == z and
              history.order_id_of(r) != history.order_id_of(r1))
    h = H.copy()
    next(x for x in h.records if x["i"] == r2["i"])["key"] = r1["key"]
    expect("I7", "answered 2 orders", h)
    expect("I7", "bought 2 persisted orders", h)


def test_a_key_that_bought_twice_without_an_id_is_I7():
    """A keyed request whose unknown outcome carried no id (a timeout)
    and whose order was persisted, while another answer of the same key
    names another order: I3 matches the persisted order to the idless
    request (same zone and seats, made during it), and I7 counts it for
    the key (before 2026-12-05 it saw only the ids of answers)."""
    keyed = [r for r in kind("ticket") if r.get("key") and r.get("ticket")]
    check(keyed, "no keyed ticket in the history")
    r1 = keyed[0]
    z = history.zone_of(r1)
    r2 = next((r for r in kind("ticket") if history.zone_of(r) == z and r.get("ticket") and
               history.order_id_of(r) != history.order_id_of(r1)), None)
    check(r2 is not None, "no second ticket of zone %r" % (z,))
    h = H.copy()
    x = next(x for x in h.records if x["i"] == r2["i"])
    for f in ("ticket", "ticketId", "orderId", "status", "body"):
        x.pop(f, None)
    x.update(outcome="unknown", why="timeout", key=r1["key"])
    expect("I7", "bought 2 persisted orders", h)


def test_two_orders_stored_under_one_key_is_I7():
    """MySQL holds two orders of one zone bought with the same key (its
    HMAC in orders.idem_key_hash), whatever the answers said: I7 from the
    stores alone (before, only orders matched to the key's requests)."""
    keyed = [r for r in kind("order") + kind("ticket") if r.get("key") and history.order_id_of(r)]
    check(keyed, "no keyed sale in the history")
    r1 = keyed[0]
    z = history.zone_of(r1)
    r2 = next((r for r in kind("order") + kind("ticket") if history.zone_of(r) == z and
               history.order_id_of(r) and history.order_id_of(r) != history.order_id_of(r1)),
              None)
    check(r2 is not None, "no second order of zone %r" % (z,))
    oid = history.order_id_of(r2)
    was = box.sql("SELECT IFNULL(idem_key_hash, 'NULL') FROM ticketing.orders WHERE order_id = "
                  "'%s'" % oid)[0][0]
    box.sql("UPDATE ticketing.orders SET idem_key_hash = '%s' WHERE order_id = '%s'" % (
        box.idem_key_hash(r1["key"]), oid))
    try:
        expect("I7", "MySQL holds 2 orders bought with it")
    finally:
        box.sql("UPDATE ticketing.orders SET idem_key_hash = %s WHERE order_id = '%s'" % (
            "NULL" if was == "NULL" else "'%s'" % was, oid))
    clean()


def with_ddb_item(item):
    """The stores of the clean run with one more DynamoDB item."""
    st = copy.deepcopy(SNAP[0])
    st.dd.append(item)
    st.dd_by_id[item["ticketId"]] = item
    st.dd_by_order[item["ticketId"]].append(item)
    return st


def test_a_forged_double_sale_is_set_aside_only_when_declared():
    """A DynamoDB item marked DOUBLE_SALE (the consumer's record of a
    refused second ticket on a seat) counts as a sale unless the history
    declares it forged (History.expect_double_sale), and a declared one
    must be marked of the seat's live MySQL ticket."""
    live = next(t for t in SNAP[0].my if t["status"] == "CREATED" and "orderId" in t)
    fid = persist.new_ticket_id()
    item = {k: live[k] for k in history.FIELDS}
    item.update(ticketId=fid, status="DOUBLE_SALE", doubleSaleOf=live["ticketId"],
                doubleSaleOn=live["createdOn"])
    named = lambda rep: [v for vs in rep.violations.values() for v in vs if fid in v]  # noqa: E731
    rep = history.check(H.copy(), run_ticketctl=False, stores=with_ddb_item(item))
    check(rep.violations["I5"] and named(rep), "an undeclared double sale not reported:\n" +
          rep.text())
    h = H.copy()
    h.expect_double_sale(fid)
    rep = history.check(h, run_ticketctl=False, stores=with_ddb_item(item))
    check(not named(rep), "a declared double sale reported:\n" + rep.text())
    other = next(t for t in SNAP[0].my if t["status"] == "CREATED" and
                 history.seat_key(t) != history.seat_key(live))
    rep = history.check(h, run_ticketctl=False, stores=with_ddb_item(
        dict(item, doubleSaleOf=other["ticketId"])))
    check(any("forged double sale" in v and fid in v for v in rep.violations["I5"]),
          "a declared double sale marked of another seat's ticket not reported:\n" +
          rep.text())


def test_check_history_command_exit_codes():
    d = os.path.join(sc.HISTORIES, "checker")
    os.makedirs(d, exist_ok=True)
    good = os.path.join(d, "good.jsonl")
    H.save(good)
    bad = H.copy()
    r = next(x for x in bad.records if x["outcome"] == "ok")
    r.update(outcome="fail", why="503 nothing sold", ticketId=None, ticket=None)
    badpath = os.path.join(d, "bad.jsonl")
    bad.save(badpath)
    p = subprocess.run([CHECK_HISTORY, "--no-settle", good], capture_output=True, text=True)
    eq(p.returncode, 0, "check-history on a clean history: " + p.stdout[-800:] + p.stderr)
    check("all invariants hold" in p.stdout, p.stdout)
    p = subprocess.run([CHECK_HISTORY, "--no-settle", "--no-ticketctl", badpath],
                       capture_output=True, text=True)
    eq(p.returncode, 1, "check-history on a broken history: " + p.stdout[-800:] + p.stderr)
    check("I3 FAIL" in p.stdout, p.stdout)
    p = subprocess.run([CHECK_HISTORY, "/nonexistent"], capture_output=True, text=True)
    eq(p.returncode, 2, "check-history on a missing file")


if __name__ == "__main__":
    raise SystemExit(box.main(globals()))
