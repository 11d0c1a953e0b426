# SPDX-License-Identifier: ISC
"""mqnodes.py - the nodes of the test stack's RabbitMQ cluster, for the
tests of tests/cluster/mq: names, pids, start and kill, the main queues'
leaders, and the wait for the queues and the responders to answer.

rabbitmqctl (history.rabbitmqctl) asks the node chosen with use_node().
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "faults"))

import box        # noqa: E402
import history    # noqa: E402
import scenario as sc  # noqa: E402

NODE = box.ENV.get("BOX_RABBIT_NODE", "boxoffice")
PORTS = [int(p) for p in box.ENV.get("BOX_AMQP_CLUSTER_PORTS", "5681,5682,5683")
         .replace(",", " ").split()]
WEB = (box.NGINX, box.LIGHTTPD)


def node_name(n):
    return "%s-%d@localhost" % (NODE, n)


def node_pid(n):
    return sc.pidfile(os.path.join(sc.VAR, "rabbitmq-%d" % n, "rabbitmq.pid"))


def use_node(n):
    """history.rabbitmqctl (settle, queue depths) asks node n from now on."""
    history.RABBIT_NODE = node_name(n)


def kill_node(n):
    print("kill -9 rabbitmq-%d (%s, pid %d)" % (n, node_name(n), node_pid(n)), flush=True)
    sc.kill9(node_pid(n))


def start_node(n):
    print("start rabbitmq-%d" % n, flush=True)
    box.stack("start", "rabbitmq-%d" % n)


def quorum_ok():
    """Every queue of the topology has a leader again (a passive declare
    answers on each) -- checked through the programs' own tool."""
    try:
        return all(box.queue_count(q) >= 0 for q in history.QUEUES)
    except Exception:  # noqa: BLE001 - not yet
        return False


def leaders():
    """{queue: leader node number} of the main queues, as their records say."""
    out = {}
    for line in history.rabbitmqctl("list_queues", "--no-table-headers", "name",
                                    "leader").splitlines():
        f = line.split("\t")
        if len(f) == 2 and f[0] in ("ticketSQL", "ticketNoSQL") and "-" in f[1]:
            out[f[0]] = int(f[1].split("@")[0].rsplit("-", 1)[1])
    return out


def lead_on(n):
    """Moves the leadership of both main queues to node n (Ra's transfer;
    RabbitMQ 3.10 has no command for it)."""
    target = node_name(n)
    for q in ("ticketSQL", "ticketNoSQL"):
        history.rabbitmqctl("eval", "{ok, _, L} = ra:members({'%%2F_%s', node()}), "
                            "ra:transfer_leadership(L, {'%%2F_%s', '%s'})." % (q, q, target))
    box.wait_until(lambda: set(leaders().values()) == {n} and len(leaders()) == 2,
                   timeout=60, what="both main queues led by rabbitmq-%d" % n)


def health_ok(timeout=120):
    box.wait_until(lambda: all(box.http("GET", "/tickets/health", port=p, timeout=5).status == 200
                               for p in WEB), timeout=timeout,
                   what="/tickets/health 200 on nginx and lighttpd")


def all_up():
    """Every node running (started if not), the queues and the responders
    answering."""
    for n in range(1, len(PORTS) + 1):
        if not box.alive(node_pid(n)):
            start_node(n)
    box.wait_until(quorum_ok, timeout=120, what="the queues answer")
    health_ok()
