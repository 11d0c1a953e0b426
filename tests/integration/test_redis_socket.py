# SPDX-License-Identifier: ISC
"""The single topology's programs reach Redis over its unix socket
(BOX_REDIS_SOCKET=1, the default: redis_nodes = the socket's path,
shared/rds.c), or over 127.0.0.1 with BOX_REDIS_SOCKET=0; the cluster
topology always over TCP.  Every program of the stack uses the transport of
the settings file: after a sale, a seat map and `ticketctl check`, Redis has
no client on the other transport."""

import os

import box
from box import check, eq

VAR = box.ENV.get("BOX_VAR", os.path.join(box.ROOT, "var"))
RUN = os.path.join(VAR, "run")
PORT = box.REDIS_PORTS[0]
SOCKET = os.path.join(RUN, "redis-%d.sock" % PORT)


def single_topology():
    return box.setting("redis_mode") == "single" and box.ENV.get("BOX_TOPOLOGY") != "cluster"


def on_socket():
    return single_topology() and box.ENV.get("BOX_REDIS_SOCKET", "1") != "0"


def clients():
    """The addresses of Redis's clients but the one asking."""
    out = []
    for line in box.redis("CLIENT", "LIST").decode().splitlines():
        f = dict(kv.split("=", 1) for kv in line.split() if "=" in kv)
        if f.get("cmd") != "client|list":
            out.append(f["addr"])
    return out


def test_the_settings_name_the_transport():
    nodes = box.setting("redis_nodes")
    if not single_topology():
        check(all(":" in n and not n.startswith("/") for n in nodes.split(",")),
              "cluster topology: redis_nodes %r should be host:port seeds" % nodes)
    elif on_socket():
        eq(nodes, SOCKET, "redis_nodes with BOX_REDIS_SOCKET=1")
        check(os.path.exists(SOCKET), "no socket at %s" % SOCKET)
        # as open as its port on 127.0.0.1: the responders run as another user
        eq(oct(os.stat(SOCKET).st_mode & 0o777), oct(0o777), "the socket's mode")
    else:
        eq(nodes, "127.0.0.1:%d" % PORT, "redis_nodes with BOX_REDIS_SOCKET=0")


def test_every_program_uses_it():
    if not single_topology():
        print("cluster topology: the Redis Cluster client is tested by tests/run cluster")
        return
    r = box.buy("Venue1", "Event1", 12, 3, 4)
    check(r.status in (201, 409), "purchase: %d %s" % (r.status, r.body))
    eq(box.http("GET", "/get/events/Event1/zones/12/seats").status, 200, "seat map")
    # the consumer persists the sale meanwhile: check agrees once it has
    box.wait_until(lambda: box.ticketctl("check", check_rc=False).returncode == 0,
                   timeout=60, what="ticketctl check exits 0")
    got = clients()
    print("%d clients: %s" % (len(got), sorted({a.rsplit(":", 1)[0] for a in got})))
    check(len(got) >= 2, "the responders keep their connections: %r" % got)
    if on_socket():
        other = [a for a in got if not a.startswith(SOCKET + ":")]
    else:
        other = [a for a in got if not a.startswith("127.0.0.1:")]
    eq(other, [], "clients on the other transport")


if __name__ == "__main__":
    raise SystemExit(box.main(globals()))
