# SPDX-License-Identifier: ISC
"""test_amqp_heartbeat.py - a broker that goes silent without closing TCP
(host power loss, partition): AMQP heartbeats (amqp_heartbeat) must let the
consumer and the responders notice and reconnect, losing nothing.

Between the programs and the broker sits a TCP proxy (tests/lib/tcpproxy.py,
on BOX_SPARE_PORT_BASE) whose freeze() turns every open connection into a
black hole; connections opened later work, as another node would.
"""

import os
import subprocess
import time

import box
import persist
import tcpproxy
from box import check, eq

LEDGER = persist.Ledger(first_seat=20000)
HB = 2                       # seconds: short, so that the test is quick
PROXY_PORT = int(os.environ.get("BOX_SPARE_PORT_BASE", "30200"))
AMQP_PORT = int(os.environ.get("BOX_AMQP_PORT", "15673"))
CONSUMER = os.path.join(box.BIN, "consumer")
TICKET_LOG = os.path.join(os.path.dirname(persist.CONSUMER_LOG), "ticket.log")
THROUGH_PROXY = {"BOXOFFICE_AMQP_PORT": str(PROXY_PORT),
                 "BOXOFFICE_AMQP_HEARTBEAT": str(HB)}


def setup_module():
    box.stack("reset")
    # the responders' own broker connections are under test: direct mode
    # whatever the suite runs in (pubd's silence check: test_pubd_stalls)
    box.publisher("direct")


def teardown_module():
    box.publisher(box.PUBLISHER)


def stored():
    return (box.sql_count("SELECT COUNT(*) FROM ticketing.ticket"), box.ddb_count())


def test_consumer_reconnects_when_the_broker_goes_silent():
    proxy = tcpproxy.Proxy(PROXY_PORT, AMQP_PORT)
    log = os.path.join(os.path.dirname(persist.CONSUMER_LOG), "consumer-heartbeat.log")
    open(log, "w").close()
    box.stack("stop", "consumer")
    env = dict(os.environ, BOXOFFICE_LOG_FILE=log, **THROUGH_PROXY)
    p = subprocess.Popen([CONSUMER, "-c", box.CONF], env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    try:
        LEDGER.buy(LEDGER.seats(50))
        box.wait_until(lambda: stored() == (50, 50), timeout=60,
                       what="the first sales persisted through the proxy")
        frozen = proxy.freeze()
        check(frozen >= 2, "the consumer's connections went through the proxy (%d)" % frozen)
        t0 = time.time()
        LEDGER.buy(LEDGER.seats(200))
        n = len(LEDGER.sold)
        # ~2 heartbeats for the consumer to give the connection up, 2-3 for
        # the broker to requeue what it had delivered into the black hole
        box.wait_until(lambda: stored() == (n, n), timeout=20 * HB + 30,
                       what="sales made after the broker went silent persisted "
                            "(stored %r of %d)" % (stored(), n))
        print("persisted %.1f s after the freeze" % (time.time() - t0))
        text = open(log).read()
        check("lost ticketSQL" in text and "lost ticketNoSQL" in text,
              "both pipelines logged the lost connection")
        check("heartbeat" in text, "the log names the heartbeat")
    finally:
        p.kill()
        p.wait()
        proxy.close()
        persist.start_consumer()
    persist.exact_check(LEDGER)


def restart_ticket_responders(extra):
    saved = {k: os.environ.get(k) for k in extra}
    os.environ.update(extra)
    try:
        box.stack("stop", "ticket")
        box.stack("start", "ticket")
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def test_responders_reopen_a_silent_connection_before_publishing():
    proxy = tcpproxy.Proxy(PROXY_PORT + 1, AMQP_PORT)
    try:
        restart_ticket_responders({"BOXOFFICE_AMQP_PORT": str(PROXY_PORT + 1),
                                   "BOXOFFICE_AMQP_HEARTBEAT": str(HB)})
        LEDGER.buy(LEDGER.seats(40))
        offset = os.path.getsize(TICKET_LOG)
        frozen = proxy.freeze()
        check(frozen >= 1, "the responders' connections went through the proxy")
        time.sleep(2 * HB + 1)      # silent for longer than 1.5 intervals
        statuses = []
        conn = None
        for seat in LEDGER.seats(30):
            r = box.buy(*seat, conn=conn)
            statuses.append(r.status)
            if r.status == 201:
                LEDGER.add(r.body)
        eq(statuses, [201] * 30, "answers after the broker went silent")
        with open(TICKET_LOG, errors="replace") as f:
            f.seek(offset)
            text = f.read()
        # a publish on the dead connection would wait for its confirm until
        # the timeout, then go out again on a new connection (twice sent)
        check("confirm: timed out" not in text,
              "no publish went out on a silent connection: %r" % [
                  line for line in text.splitlines() if "timed out" in line][:3])
        check("presumed gone" in text, "the responders logged the silent connection")
    finally:
        proxy.close()
        restart_ticket_responders({})
    persist.exact_check(LEDGER)


if __name__ == "__main__":
    raise SystemExit(box.main(globals()))
