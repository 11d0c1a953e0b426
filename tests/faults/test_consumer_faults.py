# SPDX-License-Identifier: ISC
"""test_consumer_faults.py - the consumer through faults (docs/consumer.md).

Each test ends with the exact check of persist.exact_check(): MySQL and
DynamoDB each hold exactly the tickets answered 201 in this file, field for
field, no duplicates, both queues drained, nothing dead-lettered that should
not be.

Every purchase is recorded in the file's history as well (the forged
messages are copies of sold tickets, poison, or double sales declared to
the history, dead-lettered and taken out of the dead-letter queues by the
tests; a double sale's DynamoDB item stays, marked DOUBLE_SALE): the last
test settles
the system and runs the history check of tests/lib/history.py (I1-I7),
which adds Redis (seat bits, counters, owners = live seats in MySQL) and
`ticketctl check` to the exact check of the stores.
"""

import hashlib
import time

import box
import forge
import history
import persist
import scenario as sc
from box import check, eq

H = history.History("consumer-faults")
LEDGER = persist.Ledger(history=H)


def setup_module():
    box.stack("reset")


def mysql_count():
    return box.sql_count("SELECT COUNT(*) FROM ticketing.ticket")


def test_kill_9_mid_stream_then_restart():
    base = mysql_count()
    join = LEDGER.buy_in_background(LEDGER.seats(2000), workers=8, rate=400)
    box.wait_until(lambda: mysql_count() >= base + 300, timeout=60, interval=0.1,
                   what="the stream under way")
    old = persist.kill_consumer()
    persist.start_consumer(old)
    join()
    persist.exact_check(LEDGER)


def test_mariadb_stopped_20s_during_a_stream():
    offset = persist.log_size()
    join = LEDGER.buy_in_background(LEDGER.seats(1200), workers=4, rate=50)
    time.sleep(2)
    box.stack("stop", "mysql")
    try:
        time.sleep(20)
    finally:
        box.stack("start", "mysql")
    join()
    persist.exact_check(LEDGER)
    log = persist.log_since(offset)
    check("sql: mysql write failed" in log, "the outage is logged")
    check("sql: mysql writes work again" in log, "the recovery is logged")
    check("dead-lettered a message" not in log, "nothing dead-lettered for a transient cause")


def test_dynamodb_stopped_and_started_during_a_stream():
    offset = persist.log_size()
    join = LEDGER.buy_in_background(LEDGER.seats(800), workers=4, rate=80)
    time.sleep(2)
    box.stack("stop", "dynamodb")
    try:
        time.sleep(8)
    finally:
        box.stack("start", "dynamodb")
    join()
    persist.exact_check(LEDGER)
    log = persist.log_since(offset)
    check("nosql: dynamodb write failed" in log, "the outage is logged")
    check("nosql: dynamodb writes work again" in log, "the recovery is logged")
    check("dead-lettered a message" not in log, "nothing dead-lettered for a transient cause")


def test_rabbitmq_restarted_with_messages_queued():
    box.stack("stop", "consumer")
    try:
        n = 1000
        LEDGER.buy(LEDGER.seats(n))
        eq((box.queue_count("ticketSQL"), box.queue_count("ticketNoSQL")), (n, n), "queued")
        box.stack("restart", "rabbitmq")
        eq((box.queue_count("ticketSQL"), box.queue_count("ticketNoSQL")), (n, n),
           "still queued after the restart (durable queues, persistent messages)")
    finally:
        persist.start_consumer()
    persist.exact_check(LEDGER)


def same_message(t):
    """The message the sale of t published: POST /tickets sells an order of
    one (docs/consumer.md), its cancelHash the SHA-256 of the 201's
    cancelToken.  (persist.forged_copy(t) is a round-1 ticket message
    without the orderId: as a duplicate of an order's ticket its
    unconditional BatchWriteItem drops the item's orderId and cancelHash,
    which no publisher sends and the history check would see.)"""
    return forge.order_json({"orderId": t["orderId"], "venueId": t["venueId"],
                             "eventId": t["eventId"], "zoneId": t["zoneId"], "total": t["price"],
                             "createdOn": t["createdOn"], "cancelHash": hashlib.sha256(
                                 t["cancelToken"].encode()).hexdigest(), "tickets": [t]})


def test_same_message_twice_one_row_one_item():
    # a duplicate arriving after the ticket was persisted
    first = LEDGER.buy(LEDGER.seats(20))
    persist.exact_check(LEDGER)
    for t in first[:5]:
        box.mqtool("publish", "-n", 2, same_message(t))
    persist.wait_drained()
    persist.exact_check(LEDGER)
    # duplicates queued together with their originals: same batch
    box.stack("stop", "consumer")
    try:
        more = LEDGER.buy(LEDGER.seats(200))
        for t in more[:50]:
            box.mqtool("publish", same_message(t))
        eq((box.queue_count("ticketSQL"), box.queue_count("ticketNoSQL")), (250, 250), "queued")
    finally:
        persist.start_consumer()
    persist.exact_check(LEDGER)


def test_poison_messages_are_dead_lettered_the_rest_persisted():
    offset = persist.log_size()
    LEDGER.buy(LEDGER.seats(100))
    sample = next(iter(LEDGER.sold.values()))
    poisons = [
        "this is not JSON",
        '{"ticketId":"%s"}' % persist.new_ticket_id(),
        persist.forged_copy(sample, ticketId=persist.new_ticket_id()).replace(
            '"zoneId":%d' % sample["zoneId"], '"zoneId":"%d"' % sample["zoneId"]),
        persist.forged_copy(sample, ticketId=persist.new_ticket_id(), status="PAID"),
        "[" * 5000,
    ]
    for p in poisons:
        box.mqtool("publish", p)
    LEDGER.buy(LEDGER.seats(100))
    persist.exact_check(LEDGER, dead=(len(poisons), len(poisons)))
    for q in persist.DEAD:
        eq(sorted(box.queue_get(q)), sorted(poisons), "poison messages in " + q)
    eq([box.queue_count(q) for q in persist.DEAD], [0, 0], "dead-letter queues emptied")
    eq(persist.log_since(offset).count("dead-lettered a message"), 2 * len(poisons),
       "one log line per dead-lettered message")


def test_forged_double_sale_is_dead_lettered_and_alarmed():
    (orig,) = LEDGER.buy(LEDGER.seats(1))
    persist.exact_check(LEDGER)
    offset = persist.log_size()
    # another ticket id for the sold seat, and the sold id for another seat
    other_id = persist.forged_copy(orig, ticketId=persist.new_ticket_id())
    H.expect_double_sale(persist.parse_body(other_id)["ticketId"])
    other_seat = persist.forged_copy(orig, column=orig["column"] % box.VENUE1_COLS + 1,
                                     row=orig["row"] % box.VENUE1_ROWS + 1)
    # straight to ticketSQL: the double-sale check is MySQL's seat key; the
    # DynamoDB table is keyed by ticketId only (docs/consumer.md)
    for body in (other_id, other_seat):
        box.mqtool("publish", "-q", "ticketSQL", body)
    box.wait_until(lambda: box.queue_count("ticketSQL.dead") == 2, timeout=60,
                   what="both forged messages dead-lettered")
    eq(sorted(box.queue_get("ticketSQL.dead")), sorted([other_id, other_seat]),
       "forged messages in ticketSQL.dead")
    log = persist.log_since(offset)
    alarms = [line for line in log.splitlines() if "DOUBLE SALE ALARM" in line]
    eq(len(alarms), 2, "alarm lines")
    check(all(" error: " in line for line in alarms), "alarms logged at error level")
    check(persist.parse_body(other_id)["ticketId"] in alarms[0] + alarms[1] and
          orig["ticketId"] in alarms[0] + alarms[1], "the alarm names both tickets")
    row = box.sql("SELECT ticket_id FROM ticketing.ticket WHERE event_id='%s' AND zone_id=%d "
                  "AND row_no=%d AND col_no=%d" % (orig["eventId"], orig["zoneId"], orig["row"],
                                                   orig["column"]))
    eq(row, [[orig["ticketId"]]], "the original ticket keeps its seat")
    persist.exact_check(LEDGER)


def double_sale():
    """A second ticket for a seat just sold, published like a sale (both
    queues), once ticketSQL dead-lettered it and both pipelines drained:
    returns the seat's ticket, the second one's body and its id."""
    (orig,) = LEDGER.buy(LEDGER.seats(1))
    persist.exact_check(LEDGER)
    forged = persist.forged_copy(orig, ticketId=persist.new_ticket_id())
    H.expect_double_sale(persist.parse_body(forged)["ticketId"])
    box.mqtool("publish", forged)
    box.wait_until(lambda: box.queue_count("ticketSQL.dead") == 1, timeout=90,
                   what="the second ticket dead-lettered from ticketSQL")
    persist.wait_drained()
    return orig, forged, persist.parse_body(forged)["ticketId"]


def test_double_sale_leaves_both_stores_alike():
    # a second ticket for a sold seat, published like a sale (both queues):
    # MySQL refuses it (seat key) and the consumer must tell DynamoDB, which
    # is keyed by ticketId and would otherwise keep it as a second sale
    orig, forged, fid = double_sale()
    marked = persist.double_sales().get(fid)
    check(marked is not None, "the second ticket's DynamoDB item is marked DOUBLE_SALE "
          "(it is %r)" % [it for it in box.ddb_items() if it.get("ticketId") == fid])
    eq(marked.get("doubleSaleOf"), orig["ticketId"], "doubleSaleOf names the seat's ticket")
    eq((marked["eventId"], int(marked["zoneId"]), int(marked["row"]), int(marked["column"])),
       (orig["eventId"], orig["zoneId"], orig["row"], orig["column"]), "the marked item's seat")
    r = box.ticketctl("check", orig["eventId"], check_rc=False)
    check("double sales recorded" in r.stdout and fid in r.stdout and
          orig["ticketId"] in r.stdout, "ticketctl check lists the double sale:\n" + r.stdout)
    check("sold twice in DynamoDB" not in r.stdout and "not in MySQL" not in r.stdout,
          "the stores agree:\n" + r.stdout)
    r = box.ticketctl("dlq", check_rc=False)
    check(fid in r.stdout, "ticketctl dlq shows the refused message:\n" + r.stdout)
    eq(box.queue_get("ticketSQL.dead"), [forged], "the refused message in ticketSQL.dead")
    persist.exact_check(LEDGER)   # MySQL and DynamoDB hold the same sales

def test_double_sale_mark_survives_a_later_dynamodb_write():
    # MySQL sees the second ticket first; DynamoDB's BatchWriteItem of it
    # comes seconds later and replaces whatever item is there: the mark must
    # still be the last word
    (orig,) = LEDGER.buy(LEDGER.seats(1))
    persist.exact_check(LEDGER)
    forged = persist.forged_copy(orig, ticketId=persist.new_ticket_id())
    fid = persist.parse_body(forged)["ticketId"]
    H.expect_double_sale(fid)
    box.mqtool("publish", "-q", "ticketSQL", forged)
    time.sleep(3)
    box.mqtool("publish", "-q", "ticketNoSQL", forged)
    box.wait_until(lambda: box.queue_count("ticketSQL.dead") == 1, timeout=90,
                   what="the second ticket dead-lettered from ticketSQL")
    persist.wait_drained()
    marked = persist.double_sales().get(fid)
    check(marked is not None and marked.get("doubleSaleOf") == orig["ticketId"],
          "the second ticket's DynamoDB item is marked DOUBLE_SALE (it is %r)" %
          [it for it in box.ddb_items() if it.get("ticketId") == fid])
    eq(box.queue_get("ticketSQL.dead"), [forged], "the refused message in ticketSQL.dead")
    persist.exact_check(LEDGER)


def test_a_requeued_double_sale_does_not_wait_for_a_nosql_write():
    """A round-1 double sale dead-lettered, then put back by `ticketctl dlq
    requeue` while its seat is still the other ticket's: only ticketSQL
    gets it again (the nosql pipeline wrote its copy when it first came),
    so its mark must not wait for a write that will not come.  Before,
    the mark found the item marked (not the nosql pipeline's CREATED),
    waited its 15 s (mark_wait in consumer/sink_sql.c) and held the MySQL
    pipeline's batch, and every sale behind it, as long."""
    orig, forged, fid = double_sale()
    check(fid in persist.double_sales(), "marked DOUBLE_SALE in DynamoDB")
    offset = persist.log_size()
    r = box.ticketctl("dlq", "requeue", "--queue", "sql", fid)
    check("1" in r.stdout, "requeued: " + r.stdout)

    def dead_again():
        return sum("DOUBLE SALE ALARM" in ln and fid in ln
                   for ln in persist.log_since(offset).splitlines()) == 1
    box.wait_until(dead_again, timeout=60, what="the requeued double sale refused again")
    box.wait_until(lambda: box.queue_count("ticketSQL.dead") == 1, timeout=60,
                   what="it is dead-lettered again")
    eq(box.queue_get("ticketSQL.dead"), [forged], "the refused message in ticketSQL.dead")
    log = persist.log_since(offset)
    check("double sale %s: the nosql pipeline did not write it" % fid not in log,
          "the requeued double sale waited for a nosql write:\n" + log[-2000:])
    marked = persist.double_sales().get(fid)
    check(marked is not None and marked.get("doubleSaleOf") == orig["ticketId"],
          "still marked DOUBLE_SALE of the seat's ticket: %r" % marked)
    persist.exact_check(LEDGER)


def test_more_double_sales_in_a_batch_than_a_handful_each_wait_once():
    """Round-1 double sales published to ticketSQL alone: the nosql
    pipeline never writes them, so each mark waits its 15 s (mark_wait in
    consumer/sink_sql.c) and the message is then dead-lettered.  Twenty in
    one batch (published while the consumer was stopped).  Would catch: a
    wait table smaller than a batch, whose entries the batch's retries
    evict from each other so that every wait begins again at every round:
    none ever ended, and the MySQL pipeline held that batch, and every
    sale behind it, for good (8 entries until 2026-12-06)."""
    sold = LEDGER.buy(LEDGER.seats(20))
    persist.exact_check(LEDGER)
    offset = persist.log_size()
    forged = [persist.forged_copy(t, ticketId=persist.new_ticket_id()) for t in sold]
    for body in forged:
        H.expect_double_sale(persist.parse_body(body)["ticketId"])
    box.stack("stop", "consumer")
    try:
        for body in forged:
            box.mqtool("publish", "-q", "ticketSQL", body)
    finally:
        box.stack("start", "consumer")
    t0 = time.time()
    box.wait_until(lambda: box.queue_count("ticketSQL.dead") == len(forged), timeout=90,
                   what="the %d double sales dead-lettered, each after its 15 s wait"
                   % len(forged))
    print("all %d dead-lettered %.1f s after the consumer started" % (len(forged),
                                                                    time.time() - t0))
    eq(sorted(box.queue_get("ticketSQL.dead")), sorted(forged), "ticketSQL.dead")
    log = persist.log_since(offset)
    eq(log.count("the nosql pipeline did not write it within 15 s"), len(forged),
       "one end of a wait per double sale")
    eq(len([ln for ln in log.splitlines() if "DOUBLE SALE ALARM" in ln]), len(forged),
       "alarm lines")
    # the pipeline goes on: a sale after them is stored
    LEDGER.buy(LEDGER.seats(5))
    persist.exact_check(LEDGER)



def test_the_history_holds_in_all_stores():
    """Every purchase of this file, checked against Redis, MySQL and
    DynamoDB once the system settled: 0 violations."""
    check(H.count("ok") == len(LEDGER.sold), "201s in the history: %d, tickets sold: %d" % (
        H.count("ok"), len(LEDGER.sold)))
    history.settle_and_check(H, save_dir=sc.HISTORIES)


if __name__ == "__main__":
    raise SystemExit(box.main(globals()))
