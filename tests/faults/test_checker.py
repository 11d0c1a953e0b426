# SPDX-License-Identifier: ISC
"""The history checker itself (tests/lib/history.py): a checker that passes
when the promise is broken would prove nothing.  After a small clean run,
each invariant is broken on purpose, in the history or in a store, and the
checker must name it; then the damage is repaired and the check is clean
again.  tests/faults/check-history exits 1 on a violation, 0 without.
"""

import os
import subprocess

import box
import history
import persist
import scenario as sc
from box import check, eq

H = history.History("checker")
CHECK_HISTORY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "check-history")


def setup_module():
    box.stack("reset")
    history.Load(H, sc.pool(41)[:120], workers=4, rate=60).run_for(3)
    history.settle()


def expect(inv, phrase, h=None):
    rep = history.check(h or H, run_ticketctl=False)
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


def test_clean_run_passes():
    check(H.count("ok") > 10 and H.count("fail") > 0, "a poor history: " + H.summary())
    rep = history.check(H)
    print(rep.text())
    check(rep.ok, "clean run not clean")


def test_two_201_for_one_seat_is_I1():
    h = H.copy()
    r = dict(an_ok())
    r["ticketId"] = persist.new_ticket_id()
    r["ticket"] = dict(r["ticket"], ticketId=r["ticketId"])
    h.add(r)
    expect("I1", "answered 201 2 times", h)
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
        expect("I1", "DynamoDB sells seat")
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
