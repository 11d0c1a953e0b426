# SPDX-License-Identifier: ISC
"""test_rcluster.py - shared/rcluster.c against the real Redis Cluster of the
stack's cluster topology (3 masters + 3 replicas, BOX_REDIS_CLUSTER_PORTS),
driven through build/.../rcltool (tests/tools/rcltool.c).

Commands reach the master of their slot without a redirect; reads go to the
replica; a slot in migration answers ASK (followed, map kept) and, once
moved, MOVED (followed, map refreshed); after kill -9 of a master its
replica is promoted and the client writes to it again within a bound, with
no command in doubt; WAIT counts the replicas.
"""

import os
import signal
import socket
import subprocess
import sys
import time

import box
from box import Fail, check, eq

PORTS = [int(p) for p in os.environ.get("BOX_REDIS_CLUSTER_PORTS", "7001,7002,7003,7004,7005,7006")
         .replace(",", " ").split()]
SEEDS = ",".join("127.0.0.1:%d" % p for p in PORTS[:2])
RUN = "%x" % int(time.time() * 1000)   # keys of this run only


class Client:
    """One rcltool process: one rcluster client kept across commands."""

    def __init__(self, timeout_ms=1000, retry_ms=2000, seeds=SEEDS, rds=False):
        """rds: shared/rds.c in cluster mode (rcltool -r) over the client."""
        self.p = subprocess.Popen([os.path.join(box.BIN, "rcltool")] + ["-r"] * rds +
                                  [seeds, str(timeout_ms), str(retry_ms)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                  bufsize=1)

    def __call__(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()
        out = self.p.stdout.readline()
        if not out:
            raise Fail("rcltool exited on %r" % line)
        return out.rstrip("\n")

    def ok(self, line):
        out = self(line)
        check(out.startswith("OK "), "%s -> %s" % (line, out))
        return out[3:]

    def stats(self):
        return dict(kv.split("=") for kv in self.ok("STATS").split())

    def close(self):
        self.p.stdin.close()
        self.p.wait(timeout=30)


def r(port, *args):
    return box.redis(*args, port=port)


def slot_of(key):
    k = key.encode()
    s = k.find(b"{")
    if s >= 0:
        e = k.find(b"}", s + 1)
        if e > s + 1:
            k = k[s + 1:e]
    return box.crc16(k) % 16384


def node_id(port):
    return r(port, "CLUSTER", "MYID").decode()


def masters():
    """{port: [(start, end), ...]} of the masters, from CLUSTER SHARDS."""
    for p in PORTS:
        try:
            shards = r(p, "CLUSTER", "SHARDS")
            break
        except (OSError, box.RedisError):
            continue
    out = {}
    for sh in shards:
        d = dict(zip(sh[::2], sh[1::2]))
        slots = d[b"slots"]
        for n in d[b"nodes"]:
            nd = dict(zip(n[::2], n[1::2]))
            if nd[b"role"] == b"master" and nd[b"health"] == b"online" and slots:
                out[nd[b"port"]] = [(slots[i], slots[i + 1]) for i in range(0, len(slots), 2)]
    return out


def replica_online(slot):
    """Every node's CLUSTER SHARDS lists an online replica for the slot
    (the client may ask any of them for its map)."""
    for port in PORTS:
        found = False
        for sh in r(port, "CLUSTER", "SHARDS"):
            d = dict(zip(sh[::2], sh[1::2]))
            slots = d[b"slots"]
            if any(slots[i] <= slot <= slots[i + 1] for i in range(0, len(slots), 2)):
                found = any(dict(zip(n[::2], n[1::2]))[b"role"] == b"replica" and
                            dict(zip(n[::2], n[1::2]))[b"health"] == b"online"
                            for n in d[b"nodes"])
        if not found:
            return False
    return True


def master_of(slot):
    for port, ranges in masters().items():
        if any(a <= slot <= b for a, b in ranges):
            return port
    raise Fail("slot %d has no master" % slot)


def replica_of(master):
    info = r(master, "INFO", "replication").decode()
    for line in info.splitlines():
        if line.startswith("slave0:"):
            return int(dict(kv.split("=") for kv in line.split(":", 1)[1].split(","))["port"])
    raise Fail("master %d has no replica" % master)


def settled():
    """Every node up, cluster_state ok, 3 masters each with a replica in sync."""
    for p in PORTS:
        if b"cluster_state:ok" not in r(p, "CLUSTER", "INFO"):
            return False
    m = masters()
    return len(m) == 3 and all(b"connected_slaves:1" in r(p, "INFO", "replication") and
                               b"state=online" in r(p, "INFO", "replication") for p in m)


def setup_module():
    box.wait_until(settled, timeout=60, what="the Redis Cluster settled (3 masters + 3 replicas)")


def test_commands_route_to_the_master_of_their_slot():
    c = Client()
    try:
        keys = ["k%s:%d" % (RUN, i) for i in range(40)] + ["bo:seat:{E%s:%d}" % (RUN, i) for i in range(20)]
        for k in keys:
            eq(c.ok("M SET %s v-%s" % (k, k)), "OK", "SET %s" % k)
        st = c.stats()
        eq(st["moved"], "0", "MOVED replies (the map was right from the start)")
        eq(st["ask"], "0", "ASK replies")
        # each key is on the master of its slot (a plain GET there does not
        # redirect), and the client names that master
        hit = set()
        for k in keys:
            m = master_of(slot_of(k))
            eq(r(m, "GET", k), ("v-" + k).encode(), "GET %s on its master %d" % (k, m))
            eq(c.ok("NODE %s" % k), "127.0.0.1:%d" % m, "master of %s" % k)
            hit.add(m)
        eq(len(hit), 3, "masters used by 60 keys")
        # keys sharing a hash tag share a slot: a multi-key command works
        eq(c.ok("M MSET {t%s}a 1 {t%s}b 2" % (RUN, RUN)), "OK", "MSET of one tag")
        eq(c.ok("M MGET {t%s}a {t%s}b" % (RUN, RUN)), "[2]", "MGET of one tag")
        # one connection per node (the seed asked for the map, and the
        # masters), reused: the same commands once more open none
        n = int(c.stats()["connects"])
        check(n <= 4, "%d connections for 3 masters and a seed" % n)
        for k in keys:
            eq(c.ok("M GET %s" % k), "v-" + k, "GET %s" % k)
        eq(int(c.stats()["connects"]), n, "connections after 60 more commands")
    finally:
        c.close()


def test_reads_from_the_replica_and_wait():
    c = Client()
    try:
        k = "rw%s" % RUN
        eq(c.ok("M SET %s 1" % k), "OK", "SET")
        eq(c.ok("WAIT 1 5000"), "1", "WAIT 1 after a write (replicas acknowledging)")
        # a replica that never replicated anything shows as "loading" in
        # CLUSTER SHARDS: reads go to it once it is "online" (a new map)
        box.wait_until(lambda: replica_online(slot_of(k)), timeout=30,
                       what="the replica of the slot online in CLUSTER SHARDS")
        c.close()
        c = Client()
        eq(c.ok("R GET %s" % k), "1", "GET on the replica")
        eq(c.stats()["replica_reads"], "1", "reads served by a replica")
        # the replica's connection is READONLY: without it, it would MOVE
        eq(c.stats()["moved"], "0", "MOVED replies")
        # WAIT 2 on a master with one replica: 1 after the timeout
        eq(c.ok("M SET %s 2" % k), "OK", "SET")
        eq(c.ok("WAIT 2 300"), "1", "WAIT 2 with one replica")
    finally:
        c.close()


def test_a_transaction_stays_on_its_connection():
    """WATCH ... MULTI ... EXEC (ticketctl rebuild and init): a map grown
    old inside the transaction is not asked for on its connection (the
    CLUSTER SHARDS would be queued, its answer unusable, the connection
    dropped and the rest run at once, outside the transaction on a new
    one: a rebuild's write unguarded by its WATCH).  One key per master,
    so that the one the client asks for the map first is among them."""
    c = Client()
    try:
        tags, seen = [], set()
        i = 0
        while len(seen) < 3:
            t = "tx%s-%d" % (RUN, i)
            i += 1
            m = master_of(slot_of("{%s}x" % t))
            if m not in seen:
                seen.add(m)
                tags.append((t, m))
        for t, m in tags:
            k = "{%s}x" % t
            eq(c.ok("M WATCH %s" % k), "OK", "WATCH on %d" % m)
            eq(c.ok("M GET %s" % k), "(nil)", "read under WATCH")
            eq(c.ok("M MULTI"), "OK", "MULTI")
            c.ok("AGE")
            eq(c("M SET %s 1" % k), "OK QUEUED", "SET inside MULTI with an old map (%d)" % m)
            eq(r(m, "GET", k), None, "nothing written before EXEC (%d)" % m)
            eq(c("M EXEC"), "OK [1]", "EXEC (%d)" % m)
            eq(r(m, "GET", k), b"1", "written by EXEC (%d)" % m)
            # the WATCH still guards: a change by another client aborts it
            eq(c.ok("M WATCH %s" % k), "OK", "WATCH again")
            eq(c.ok("M MULTI"), "OK", "MULTI")
            c.ok("AGE")
            r(m, "SET", k, "other")
            eq(c("M SET %s 2" % k), "OK QUEUED", "SET queued")
            eq(c("M EXEC"), "OK (nil)", "EXEC aborted by the change (%d)" % m)
            eq(r(m, "GET", k), b"other", "the other client's value stands (%d)" % m)
        # outside a transaction the old map is asked for again
        n = int(c.stats()["refreshes"])
        c.ok("AGE")
        c.ok("M GET {%s}x" % tags[0][0])
        eq(int(c.stats()["refreshes"]), n + 1, "map asked for after the transactions")
    finally:
        c.close()


def test_migrating_slot_gives_ask_then_moved():
    c = Client()
    tag = "mig%s" % RUN
    old = "{%s}old" % tag
    new = "{%s}new" % tag
    slot = slot_of(old)
    src = master_of(slot)
    dst = next(p for p in masters() if p != src)
    try:
        eq(c.ok("M SET %s before" % old), "OK", "SET before the migration")
        eq(r(dst, "CLUSTER", "SETSLOT", slot, "IMPORTING", node_id(src)), "OK", "IMPORTING")
        eq(r(src, "CLUSTER", "SETSLOT", slot, "MIGRATING", node_id(dst)), "OK", "MIGRATING")
        # a key the source no longer has: ASK to the destination, once
        eq(c.ok("M SET %s during" % new), "OK", "SET of a new key during the migration")
        st = c.stats()
        eq(st["ask"], "1", "ASK replies followed")
        eq(st["moved"], "0", "MOVED replies")
        eq(r(dst, "CLUSTER", "COUNTKEYSINSLOT", slot), 1, "keys of the slot on the destination")
        eq(c.ok("NODE %s" % old), "127.0.0.1:%d" % src, "map after ASK (unchanged)")
        # a key still on the source is served there
        eq(c.ok("M GET %s" % old), "before", "GET of a key not yet moved")
        # move the key and hand the slot over
        eq(r(src, "MIGRATE", "127.0.0.1", dst, "", 0, 5000, "KEYS", old), "OK", "MIGRATE")
        for p in (dst, src) + tuple(p for p in masters() if p not in (src, dst)):
            r(p, "CLUSTER", "SETSLOT", slot, "NODE", node_id(dst))
        box.wait_until(lambda: r(PORTS[0], "CLUSTER", "COUNTKEYSINSLOT", slot) is not None and
                       master_of(slot) == dst, timeout=30, what="the slot owned by %d" % dst)
        eq(c.ok("M GET %s" % old), "before", "GET after the move")
        eq(c.ok("M GET %s" % new), "during", "GET of the key written during the migration")
        st = c.stats()
        eq(st["moved"], "1", "MOVED replies followed")
        eq(c.ok("NODE %s" % old), "127.0.0.1:%d" % dst, "map after MOVED")
        eq(c.ok("M GET %s" % old), "before", "GET once more")
        eq(c.stats()["moved"], "1", "MOVED replies (no more once the map is right)")
    finally:
        c.close()
        try:   # leave no slot half-migrated behind
            r(src, "CLUSTER", "SETSLOT", slot, "STABLE")
            r(dst, "CLUSTER", "SETSLOT", slot, "STABLE")
        except (OSError, box.RedisError):
            pass


def test_scripts_on_a_slot_being_moved():
    """A script on a slot whose keys are split between two masters: TRYAGAIN
    until the retry budget is spent, then a failure that says the master
    answered (err=server, moving=1: the sweeper goes on with the master's
    other zones), not that it is gone (err=io, as before).  Once every key
    is on the destination the script runs there on ASK, even if that node
    never had it (NOSCRIPT: loaded on the node that answered, not on the
    slot's master, which before failed "NOSCRIPT after reload")."""
    c = Client(retry_ms=300, rds=True)
    tag = "mv%s" % RUN
    keys = ["bo:%s:{%s}" % (k, tag) for k in ("pend", "sweep", "ords")]
    slot = slot_of(keys[0])
    src = master_of(slot)
    dst = next(p for p in masters() if p != src)
    try:
        c.ok("M ZADD %s 9000000000000 later" % keys[0])
        c.ok("M ZADD %s 1 {\"claimed\":1} " % keys[1])
        c.ok("M HSET %s later {}" % keys[2])
        eq(c.ok("CLAIM %s" % tag), "[2]", "claim.lua on a settled slot")
        eq(r(dst, "CLUSTER", "SETSLOT", slot, "IMPORTING", node_id(src)), "OK", "IMPORTING")
        eq(r(src, "CLUSTER", "SETSLOT", slot, "MIGRATING", node_id(dst)), "OK", "MIGRATING")
        eq(r(src, "MIGRATE", "127.0.0.1", dst, "", 0, 5000, "KEYS", keys[0]), "OK",
           "MIGRATE of one key")
        got = c("CLAIM %s" % tag)
        check(got.startswith("FAIL in_doubt=0 err=server moving=1 ") and "TRYAGAIN" in got,
              "claim.lua with its keys split: %s" % got)
        got = c("CLAIM %s" % tag)
        check(got.startswith("FAIL in_doubt=0 err=server moving=1 "),
              "claim.lua with its keys still split: %s" % got)
        eq(r(src, "MIGRATE", "127.0.0.1", dst, "", 0, 5000, "KEYS", *keys[1:]), "OK",
           "MIGRATE of the others")
        eq(r(dst, "SCRIPT", "FLUSH"), "OK", "SCRIPT FLUSH on the destination")
        eq(c.ok("CLAIM %s" % tag), "[2]", "claim.lua with every key on the destination (ASK)")
        eq(c.ok("M ZSCORE %s {\"claimed\":1}" % keys[1]), "1", "the claimed entry scored "
           "again (its now, 1) on the destination")
    finally:
        c.close()
        # back as it was: the source serves the slot, the keys gone
        r(src, "CLUSTER", "SETSLOT", slot, "STABLE")
        back = r(dst, "CLUSTER", "GETKEYSINSLOT", slot, 1000)
        if back:
            r(dst, "MIGRATE", "127.0.0.1", src, "", 0, 5000, "KEYS", *back)
        r(dst, "CLUSTER", "SETSLOT", slot, "STABLE")
        r(src, "DEL", *keys)


def test_an_unreachable_master_costs_at_most_the_retry_budget():
    """redis_retry_ms bounds the whole command, the time its connects take
    included: a master whose host no longer answers (SYNs dropped: here
    the process stopped and its accept queue filled) makes every connect
    wait redis_timeout_ms, and the old budget counted only the sleeps
    between them (about 20 s at 1000/1000).  Stopped for less than
    cluster-node-timeout, so that no failover comes to the rescue."""
    key = "bh%s" % RUN
    victim = master_of(slot_of(key))
    others = ",".join("127.0.0.1:%d" % p for p in masters() if p != victim)
    name = "redis-%d" % (PORTS.index(victim) + 1)
    with open(os.path.join(box.ENV["BOX_CLUSTER_VAR"], "run", "redis-%d.pid" % victim)) as f:
        pid = int(f.read().split()[0])
    timeout_ms, retry_ms = 200, 500
    c = Client(timeout_ms=timeout_ms, retry_ms=retry_ms, seeds=others)
    socks = []
    os.kill(pid, signal.SIGSTOP)
    try:
        # the kernel completes handshakes into the accept queue until it
        # holds tcp-backlog (capped by somaxconn) + 1; then SYNs are dropped
        for _ in range(8192):
            s = socket.socket()
            s.settimeout(0.05)
            try:
                s.connect(("127.0.0.1", victim))
            except OSError:
                s.close()
                break
            socks.append(s)
        else:
            raise Fail("the accept queue of %d did not fill" % victim)
        t0 = time.time()
        out = c("M SET %s 1" % key)
        took = time.time() - t0
    finally:
        os.kill(pid, signal.SIGCONT)
        for s in socks:
            s.close()
        c.close()
    print("  %s (127.0.0.1:%d) stopped, %d connections queued: SET answered %r after %.2f s "
          "(redis_timeout_ms %d, redis_retry_ms %d)" % (name, victim, len(socks), out, took,
                                                         timeout_ms, retry_ms), flush=True)
    check(out.startswith("FAIL in_doubt=0"), "the SET failed, not sent: %s" % out)
    # the budget, a connect past it and one map request (each at most
    # redis_timeout_ms), and slack for a loaded machine: 1.8 s, where the
    # old budget took 2.5 s on a quiet one (sleeps only: 6 connects and
    # map requests on top)
    bound = (retry_ms + 2 * timeout_ms) / 1000.0 + 0.9
    check(took <= bound, "the SET took %.2f s, more than the budget and a connect (%.2f s)"
          % (took, bound))
    box.wait_until(settled, timeout=90, what="the cluster settled after %s resumed" % name)


def test_master_killed_replica_promoted_client_follows():
    key = "fo%s" % RUN
    slot = slot_of(key)
    victim = master_of(slot)
    heir = replica_of(victim)
    name = "redis-%d" % (PORTS.index(victim) + 1)
    c = Client(timeout_ms=500, retry_ms=1000)
    try:
        eq(c.ok("M SET %s 0" % key), "OK", "SET before the kill")
        eq(c.ok("WAIT 1 5000"), "1", "WAIT: the replica has it")
        box.stack("kill", name)
        t0 = time.time()
        failures, doubts, i = 0, [], 0
        while True:
            i += 1
            out = c("M SET %s %d" % (key, i))
            if out.startswith("OK "):
                break
            failures += 1
            print("  write %d: %s" % (i, out), flush=True)
            if "in_doubt=1" in out:
                doubts.append(i)
            if time.time() - t0 > 60:
                raise Fail("no write reached the new master within 60 s (last: %s)" % out)
        took = time.time() - t0
        print("  kill -9 %s (127.0.0.1:%d): writes failed %d times over %.1f s, then reached "
              "127.0.0.1:%d" % (name, victim, failures, took, heir), flush=True)
        # only writes sent while the kernel was still closing the dead
        # master's sockets may be in doubt (the client cannot tell); once
        # a connection is refused, every write fails before it is sent
        check(doubts == list(range(1, len(doubts) + 1)),
              "writes in doubt: %s (want only the first ones, before any refused)" % doubts)
        check(failures > len(doubts), "no write refused before the new master took over")
        eq(c.ok("NODE %s" % key), "127.0.0.1:%d" % heir, "master after the failover")
        eq(r(heir, "GET", key), str(i).encode(), "the write on the promoted replica")
        eq(c.ok("M GET %s" % key), str(i), "GET through the client")
    finally:
        c.close()
        # the killed node comes back as a replica of its heir
        box.stack("start", name)
        box.wait_until(settled, timeout=90, what="the cluster settled after %s returned" % name)
    c = Client()
    try:
        eq(c.ok("M SET %s again" % key), "OK", "SET after the return")
        eq(c.ok("WAIT 1 10000"), "1", "WAIT: the returned node replicates the new master")
    finally:
        c.close()


if __name__ == "__main__":
    sys.exit(box.main(globals()))
