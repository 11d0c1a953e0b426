# SPDX-License-Identifier: ISC
"""test_rabbit_consumer.py - a consumer pipeline that lost its broker
connection reconnects starting with the next node of amqp_hosts, as
docs/deploy.md and docs/reliability.md say (and as the responders, pubd and
the sweeper do), not with the node that just failed it.

Run by `tests/run cluster-mq` (after test_rabbit_cluster.py: this file
leaves the programs on rabbitmq-2).

rabbitmq-1, the first of amqp_hosts and the node the consumer's pipelines
are on, is frozen (SIGSTOP of its beam): their connections go silent, and it
still accepts TCP connections (the kernel's backlog) but never answers the
AMQP handshake -- a hung host, a node too busy to work.  The main queues are
led by rabbitmq-3, so they stay available.  The consumer runs with a short
heartbeat (it gives a silent connection up after ~2 intervals) and a long
connect timeout: a pipeline that tried rabbitmq-1 again first would consume
again only after that timeout (it used to: CONNECT_S after the loss); it
must be on rabbitmq-2 at once.  A ticket sold meanwhile is persisted, at the
latest once rabbitmq-1 wakes up: the queue's leader may have handed it to
the lost subscriptions, which count as alive while rabbitmq-1 does (until
net_ticktime says otherwise).
"""

import calendar
import os
import re
import signal
import subprocess
import sys
import time

import box
from box import check
from mqnodes import PORTS, all_up, lead_on, node_pid, quorum_ok, use_node

HB = 2              # s: amqp_heartbeat of the consumer under test
CONNECT_S = 8       # s: its amqp_connect_timeout_ms, the cost of a wrong node
# bound from a pipeline's loss to its subscription on the next node: a
# connect and a subscribe on a loaded two-core machine, far below CONNECT_S
PROMPT_S = CONNECT_S / 4.0
LOG = os.path.join(box.ENV.get("BOX_VAR", os.path.join(box.ROOT, "var")), "log",
                   "consumer-failover.log")
PIPES = {"ticketSQL": "sql", "ticketNoSQL": "nosql"}
STAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{3})Z ")


def setup_module():
    box.stack("reset")      # the seats sell_one() buys are free
    use_node(1)
    all_up()
    lead_on(3)


def teardown_module():
    # the leaders back where the stack put them, for what runs next
    use_node(1)
    box.wait_until(quorum_ok, timeout=120, what="the queues answer")
    lead_on(1)


def log_lines():
    with open(LOG, errors="replace") as f:
        return f.read().splitlines()


def stamp(line):
    """The time of a log line (s since the epoch), or None."""
    m = STAMP.match(line)
    if not m:
        return None
    return calendar.timegm(time.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S")) + \
        int(m.group(2)) / 1000.0


def find(lines, text, after=0):
    """Index of the first of lines from after on that holds text, or None."""
    for i in range(after, len(lines)):
        if text in lines[i]:
            return i
    return None


def reconnect(lines, queue, start):
    """(index of the line saying the pipeline of queue lost its connection,
    index of the next one saying it consumes again) after line start, or
    None while there are not both."""
    i = find(lines, "%s: lost %s:" % (PIPES[queue], queue), start)
    j = None if i is None else find(lines, "%s: consuming %s (" % (PIPES[queue], queue), i)
    return None if j is None else (i, j)


def consumer_ports(pid):
    """Broker ports of pid's established connections, one per connection."""
    out = subprocess.run(["ss", "-Htnp", "state", "established"], capture_output=True,
                         text=True, check=True).stdout
    ports = []
    for line in out.splitlines():
        if "pid=%d," % pid not in line:
            continue
        peer = int(line.split()[3].rsplit(":", 1)[1])
        if peer in PORTS:
            ports.append(peer)
    return ports


def sell_one(first_row):
    """Buys seats of Event1 zone 99 from first_row on until one answers 201
    (the publishers leave the frozen node too); returns its ticketId."""
    row = [first_row]

    def attempt():
        r, _ = box.buy_definite("Venue1", "Event1", 99, row[0], 7)
        row[0] += 1
        return r.json()["ticketId"] if r.status == 201 else None
    return box.wait_until(attempt, timeout=90, interval=0.5, what="a 201 with rabbitmq-1 frozen")


def check_prompt(start, t0):
    """Both pipelines lost their connection after log line start and
    subscribed again at once, on another node than rabbitmq-1."""
    lines = log_lines()
    for q in PIPES:
        i, j = reconnect(lines, q, start)
        took = stamp(lines[j]) - stamp(lines[i])
        print("%s: lost %.1f s after the freeze, consuming again %.2f s later" % (
            q, stamp(lines[i]) - t0, took), flush=True)
        check(took < PROMPT_S, "%s: consuming again %.1f s after the loss (bound %.1f s): "
              "it tried the frozen node first" % (q, took, PROMPT_S))
    tried = [x for x in lines[start:] if "127.0.0.1:%d" % PORTS[0] in x and
             "trying the next node" in x]
    check(not tried, "a pipeline tried rabbitmq-1 again: %s" % tried)


def test_lost_pipeline_reconnects_to_the_next_node():
    open(LOG, "w").close()
    box.stack("stop", "consumer")
    env = dict(os.environ, BOXOFFICE_LOG_FILE=LOG, BOXOFFICE_AMQP_HEARTBEAT=str(HB),
               BOXOFFICE_AMQP_CONNECT_TIMEOUT_MS=str(CONNECT_S * 1000))
    p = subprocess.Popen([os.path.join(box.BIN, "consumer"), "-c", box.CONF], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    beam = node_pid(1)
    try:
        box.wait_until(lambda: all(find(log_lines(), "%s: consuming %s (" % (PIPES[q], q))
                                   is not None for q in PIPES),
                       timeout=60, what="both pipelines consuming")
        ports = consumer_ports(p.pid)
        check(ports.count(PORTS[0]) >= 2,
              "the pipelines are on rabbitmq-1 (port %d): %r" % (PORTS[0], ports))
        start = len(log_lines())
        print("SIGSTOP rabbitmq-1 (pid %d)" % beam, flush=True)
        os.kill(beam, signal.SIGSTOP)
        t0 = time.time()
        try:
            box.wait_until(lambda: all(reconnect(log_lines(), q, start) for q in PIPES),
                           timeout=4 * HB + 2 * CONNECT_S + 30,
                           what="both pipelines consuming again after their loss")
            check_prompt(start, t0)
            ports = consumer_ports(p.pid)
            check(ports.count(PORTS[1]) >= 2,
                  "both pipelines on rabbitmq-2 (port %d): %r" % (PORTS[1], ports))
            tid = sell_one(1)
            print("a ticket sold %.1f s after the freeze" % (time.time() - t0), flush=True)
        finally:
            os.kill(beam, signal.SIGCONT)
        # the queue's leader may have handed it to the lost subscriptions,
        # which rabbitmq-1 held while frozen: they come back now
        t1 = time.time()
        box.ticket_persisted(tid, timeout=60)
        print("persisted %.1f s after rabbitmq-1 woke up" % (time.time() - t1), flush=True)
    finally:
        p.kill()
        p.wait()
        box.stack("start", "consumer")


if __name__ == "__main__":
    sys.exit(box.main(globals()))
