# SPDX-License-Identifier: ISC
"""test_consumer_config.py - configuration errors of the stores are alarms,
not poison (docs/consumer.md, docs/reliability.md).

A table that no longer fits the tickets (a DynamoDB table recreated with
another key, a MySQL constraint or narrowed column) refuses every message
alike.  The consumer must keep them queued, raise an alarm in its log, and
write everything once the table is fixed: nothing dead-lettered.
"""

import datetime
import time

import box
import persist
from box import check, eq

LEDGER = persist.Ledger()
KEYED_BY_TICKET = {"AttributeDefinitions": [{"AttributeName": "ticketId", "AttributeType": "S"}],
                   "KeySchema": [{"AttributeName": "ticketId", "KeyType": "HASH"}],
                   "BillingMode": "PAY_PER_REQUEST"}
KEYED_BY_ID = {"AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
               "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
               "BillingMode": "PAY_PER_REQUEST"}


def setup_module():
    box.stack("reset")


def recreate_table(schema):
    code, res = box.ddb("DeleteTable", {"TableName": "Tickets"})
    check(code == 200 or "ResourceNotFound" in str(res), "DeleteTable: %s %s" % (code, res))
    req = {"TableName": "Tickets"}
    req.update(schema)
    code, res = box.ddb("CreateTable", req)
    eq(code, 200, "CreateTable %s" % res)


def wait_refused(offset, what):
    """Waits until the consumer met the refusal (alarm, or on old code a
    dead-lettered message), then a little longer for its retries."""
    box.wait_until(lambda: "CONFIGURATION ALARM" in persist.log_since(offset) or
                   "dead-lettered a message" in persist.log_since(offset),
                   timeout=90, what=what)


def test_dynamodb_table_with_another_key_keeps_the_messages():
    persist.exact_check(LEDGER)
    offset = persist.log_size()
    recreate_table(KEYED_BY_ID)
    try:
        LEDGER.buy(LEDGER.seats(60))
        box.wait_until(lambda: box.sql_count("SELECT COUNT(*) FROM ticketing.ticket") == 60,
                       timeout=90, what="MySQL persisted the sales")
        wait_refused(offset, "the consumer met the wrongly keyed table")
        eq(box.queue_count("ticketNoSQL.dead"), 0, "messages dead-lettered from ticketNoSQL")
        check(box.queue_count("ticketNoSQL") > 0 or "CONFIGURATION ALARM" in
              persist.log_since(offset), "the messages are kept")
    finally:
        recreate_table(KEYED_BY_TICKET)
    persist.exact_check(LEDGER)
    log = persist.log_since(offset)
    alarms = [line for line in log.splitlines() if "CONFIGURATION ALARM" in line]
    check(any(" error: " in line for line in alarms), "alarm logged at error level")
    check("configuration alarm over" in log, "the end of the alarm is logged")
    check("dead-lettered a message" not in log, "nothing dead-lettered")


def test_mysql_table_refusing_valid_tickets_keeps_the_messages():
    persist.exact_check(LEDGER)
    offset = persist.log_size()
    # a constraint every new ticket breaks (existing rows satisfy it): as if
    # a column had been narrowed below what the contract allows.  created_on
    # has milliseconds: the cutoff is the next whole second (a row sold in
    # this second by the test before broke "< this second": CI of 89bda49),
    # and nothing is sold before the clock has passed it
    cutoff = datetime.datetime.utcnow().replace(microsecond=0) + datetime.timedelta(seconds=1)
    box.sql("ALTER TABLE ticketing.ticket ADD CONSTRAINT cfg_alarm_test "
            "CHECK (created_on < '%s')" % cutoff.strftime("%Y-%m-%d %H:%M:%S"))
    while datetime.datetime.utcnow() <= cutoff:
        time.sleep(0.05)
    try:
        LEDGER.buy(LEDGER.seats(60))
        box.wait_until(lambda: box.ddb_count() == len(LEDGER.sold), timeout=90,
                       what="DynamoDB persisted the sales")
        wait_refused(offset, "the consumer met the refusing table")
        eq(box.queue_count("ticketSQL.dead"), 0, "messages dead-lettered from ticketSQL")
    finally:
        box.sql("ALTER TABLE ticketing.ticket DROP CONSTRAINT cfg_alarm_test")
    persist.exact_check(LEDGER)
    log = persist.log_since(offset)
    alarms = [line for line in log.splitlines() if "CONFIGURATION ALARM" in line]
    check(any(" error: " in line for line in alarms), "alarm logged at error level")
    check(any("4025" in line for line in alarms), "the alarm names the server's error")
    check("configuration alarm over" in log, "the end of the alarm is logged")
    check("dead-lettered a message" not in log, "nothing dead-lettered")


if __name__ == "__main__":
    raise SystemExit(box.main(globals()))
