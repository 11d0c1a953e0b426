# SPDX-License-Identifier: ISC
"""stores.py - a snapshot of everything a request could change, for the
"bad input changes nothing" checks (CONTRACT section 9, promise 5):

  - the queues ticketSQL, ticketNoSQL and their .dead queues: messages
    ready and unacked, read live from the broker (one rabbitmqctl eval: a
    quorum queue's counts of list_queues lag by seconds), and the
    responders' and the sweeper's publish counters (/tickets/metrics), which
    count a message even once the consumer has written and acked it;
  - MySQL: the rows of ticket (and how many cancelled), orders (and how
    many cancelled), ticket_cancel, and zone_sales in full;
  - DynamoDB: the Tickets table's item count (double sales included);
  - Redis: the content of every key of the zones involved (their hash tag
    {E:Z}), of every pending set bo:pend:*, claimed set bo:sweep:*, order
    set bo:ords:*, idempotency record bo:idem:* and hold set
    bo:holds:*/bo:hexp:*/bo:hend:*, the name of every key of a zone
    (tagged {E:Z}: a new bo:own:, bo:idem: key of any zone), and how many
    keys of each prefix the rest of the keyspace holds (a new
    bo:oix:/bo:tkt:/bo:hix: key anywhere).
    Zones with holds of their own running or recently ended (bo:hexp or
    bo:hend not empty: an earlier test's), other than the zones involved,
    are left out of the content: the sweeper may end those holds at any
    moment.

Usage: base = Baseline(zones) (waits until the consumer and the sweeper
are idle: nothing pending or claimed, the queues empty, then takes the
snapshot); the hostile requests; base.check(what) (a new snapshot must
equal it, and becomes the baseline of the next check -- after a failure
once the consumer is idle again -- so that a change is reported once, by
the check after it); base.reset() after a test's own sales.  diff()
names what differs.
"""

import hashlib
import json
import os
import re
import subprocess
import time
import urllib.request

import box

QUEUES = ("ticketSQL", "ticketNoSQL", "ticketSQL.dead", "ticketNoSQL.dead")
PATTERNS = ("bo:pend:*", "bo:sweep:*", "bo:ords:*", "bo:idem:*", "bo:holds:*", "bo:hexp:*",
            "bo:hend:*")
RABBIT_NODE = box.ENV.get("BOX_RABBIT_NODE", "boxoffice") + \
    ("-1" if box.ENV.get("BOX_TOPOLOGY") == "cluster" else "") + "@localhost"

# ready and checked-out (unacked) messages of every queue, live from the
# queue (a quorum queue's leader; a classic queue's process)
_QUEUE_EVAL = (
    "[{element(4, amqqueue:get_name(Q)), "
    " case amqqueue:get_type(Q) of "
    "  rabbit_quorum_queue -> "
    "   {ok, {_, R}, _} = ra:local_query(amqqueue:get_pid(Q), "
    "                                    fun rabbit_fifo:query_messages_ready/1), "
    "   {ok, {_, C}, _} = ra:local_query(amqqueue:get_pid(Q), "
    "                                    fun rabbit_fifo:query_messages_checked_out/1), "
    "   {R, C}; "
    "  _ -> [{_, R}, {_, C}] = rabbit_amqqueue:info(Q, [messages_ready, "
    "                                                   messages_unacknowledged]), {R, C} "
    " end} || Q <- rabbit_amqqueue:list()].")


# ------------------------------------------------------------------ broker

def queue_depths():
    """{queue: (ready, unacked)} of QUEUES, live."""
    env = dict(os.environ, RABBITMQ_NODENAME=RABBIT_NODE, ERL_EPMD_ADDRESS="127.0.0.1")
    r = subprocess.run(["rabbitmqctl", "-q", "-n", RABBIT_NODE, "eval", _QUEUE_EVAL],
                       capture_output=True, text=True, env=env, timeout=120)
    box.check(r.returncode == 0, "rabbitmqctl eval (queue depths): %s%s" % (r.stdout, r.stderr))
    got = {m.group(1): (int(m.group(2)), int(m.group(3))) for m in
           re.finditer(r'<<"([^"]+)">>,\s*\{(\d+),\s*(\d+)\}', r.stdout)}
    return {q: got.get(q) for q in QUEUES}


def publish_counters():
    """The publish counters of the responders and the sweeper (every
    outcome), from /tickets/metrics: a message published and already
    consumed still counts."""
    port = box.NGINX_METRICS
    with urllib.request.urlopen("http://127.0.0.1:%d/tickets/metrics" % port, timeout=10) as r:
        text = r.read().decode()
    return tuple(sorted(m.group(0) for m in re.finditer(
        r'(?m)^boxoffice_(publish_total|consumer_(written|dead_lettered)_total)\{[^}]*\} \S+$',
        text)))


# ------------------------------------------------------------------- MySQL

SQL = ("SELECT (SELECT COUNT(*) FROM ticketing.ticket), "
       "(SELECT COUNT(*) FROM ticketing.ticket WHERE status = 'CANCELLED'), "
       "(SELECT COUNT(*) FROM ticketing.orders), "
       "(SELECT COUNT(*) FROM ticketing.orders WHERE status = 'CANCELLED'), "
       "(SELECT COUNT(*) FROM ticketing.ticket_cancel), "
       "(SELECT IFNULL(GROUP_CONCAT(CONCAT(event_id, ':', zone_id, '=', sold, '/', revenue) "
       "ORDER BY event_id, zone_id SEPARATOR ' '), '') FROM ticketing.zone_sales WHERE sold <> 0 "
       "OR revenue <> 0)")


def mysql_state():
    row = box.sql("SET SESSION group_concat_max_len = 1048576; " + SQL)[0]
    out = {"ticket rows": int(row[0]), "cancelled tickets": int(row[1]),
           "orders rows": int(row[2]), "cancelled orders": int(row[3]),
           "ticket_cancel rows": int(row[4])}
    for zs in (row[5] if len(row) > 5 else "").split():
        k, _, v = zs.partition("=")
        out["zone_sales " + k] = v
    return out


def ddb_items():
    """Every item of the Tickets table, double sales too."""
    total, start = 0, None
    while True:
        req = {"TableName": "Tickets", "Select": "COUNT"}
        if start:
            req["ExclusiveStartKey"] = start
        code, res = box.ddb("Scan", req)
        box.check(code == 200, "DynamoDB Scan failed: %s %s" % (code, res))
        total += res.get("Count", 0)
        start = res.get("LastEvaluatedKey")
        if not start:
            return total


# ------------------------------------------------------------------- Redis

def _nodes():
    if box.REDIS_MODE == "cluster":
        return sorted(set(box.cluster_masters().values()))
    return [box.REDIS_PORTS[0]]


_pipeline = box.redis_pipeline_at


def _scan(port):
    keys, cursor = [], b"0"
    while True:
        cursor, batch = box._redis_at(port, "SCAN", cursor, "COUNT", 10000)
        keys.extend(batch)
        if cursor in (b"0", 0, "0"):
            return keys


def _tag(key):
    s = key.find(b"{")
    e = key.find(b"}", s + 1)
    return key[s + 1:e].decode(errors="replace") if s >= 0 and e > s else None


def _prefix(key):
    m = re.match(rb"bo:[a-z]+:?|[^:{]*", key)
    return m.group(0).decode(errors="replace")


_READ = {b"string": ("GET",), b"hash": ("HGETALL",), b"set": ("SMEMBERS",),
         b"zset": ("ZRANGE", 0, -1, "WITHSCORES"), b"list": ("LRANGE", 0, -1)}


def _read(key, typ):
    """The command that reads a key of type typ whole (DUMP: another type)."""
    c = _READ.get(typ, ("DUMP",))
    return (c[0], key) + c[1:]


def _content(typ, value):
    """A digest of a key's value, independent of the order Redis lists a
    hash or a set in."""
    if typ == b"hash":
        value = sorted(zip(value[0::2], value[1::2]))
    elif typ == b"set":
        value = sorted(value)
    return hashlib.sha1(repr((typ, value)).encode()).hexdigest()[:16]


def redis_state(zones=()):
    """{"keys": {prefix: count}, "names": set of zone keys, "content": {key:
    digest}, "left out": [zone tags]}."""
    mine = {"%s:%d" % (e, z) for e, z in zones}
    counts, names, content, volatile = {}, set(), {}, set()
    pats = [re.compile(rb"^" + re.escape(p[:-1].encode())) for p in PATTERNS]
    for port in _nodes():
        keys = _scan(port)
        for k in keys:
            if ":" in (_tag(k) or ""):
                names.add(k.decode(errors="replace"))
            else:
                p = _prefix(k)
                counts[p] = counts.get(p, 0) + 1
        # zones whose holds the sweeper may end meanwhile
        hold_keys = [k for k in keys if k.startswith((b"bo:hexp:", b"bo:hend:"))]
        for k, n in zip(hold_keys, _pipeline(port, [("ZCARD", k) for k in hold_keys])):
            if isinstance(n, int) and n > 0 and _tag(k) not in mine:
                volatile.add(_tag(k))
        want = [k for k in keys
                if (_tag(k) in mine or any(p.match(k) for p in pats)) and _tag(k) not in volatile]
        types = _pipeline(port, [("TYPE", k) for k in want])
        types = [t if isinstance(t, bytes) else str(t).encode() for t in types]
        vals = _pipeline(port, [_read(k, t) for k, t in zip(want, types)])
        for k, t, v in zip(want, types, vals):
            content[k.decode(errors="replace")] = _content(t, v)
    return {"keys": counts, "names": names, "content": content, "left out": sorted(volatile)}


# --------------------------------------------------------------- snapshot

def snapshot(zones=()):
    """Everything a request could change (see the module's text); zones:
    (event, zone) pairs whose Redis keys are compared in full."""
    return {"queues": queue_depths(), "publish counters": publish_counters(),
            "mysql": mysql_state(), "dynamodb items": ddb_items(),
            "redis": redis_state(zones)}


def diff(before, after):
    """The differences between two snapshots, as text lines."""
    out = []
    for part in ("queues", "mysql", "redis keys"):
        a = before[part] if part != "redis keys" else before["redis"]["keys"]
        b = after[part] if part != "redis keys" else after["redis"]["keys"]
        for k in sorted(set(a) | set(b)):
            if a.get(k) != b.get(k):
                out.append("%s %s: %r -> %r" % (part, k, a.get(k), b.get(k)))
    if before["publish counters"] != after["publish counters"]:
        out.append("publish counters: %s -> %s" % (
            sorted(set(before["publish counters"]) - set(after["publish counters"])),
            sorted(set(after["publish counters"]) - set(before["publish counters"]))))
    if before["dynamodb items"] != after["dynamodb items"]:
        out.append("DynamoDB items: %d -> %d" % (before["dynamodb items"],
                                                 after["dynamodb items"]))
    skip = set(before["redis"]["left out"]) | set(after["redis"]["left out"])
    a, b = before["redis"]["content"], after["redis"]["content"]
    na, nb = before["redis"]["names"], after["redis"]["names"]
    for k in sorted(set(a) | set(b) | na | nb):
        if _tag(k.encode()) in skip:
            continue
        if k not in a and k not in na:
            out.append("Redis key %s: new" % k)
        elif k not in b and k not in nb:
            out.append("Redis key %s: gone" % k)
        elif a.get(k) != b.get(k):
            out.append("Redis key %s: changed" % k)
    return out


class Baseline:
    """The snapshot to compare the next check with (see the module's text)."""

    def __init__(self, zones=()):
        self.zones = list(zones)
        self.reset()

    def reset(self):
        quiesce()
        self.snap = snapshot(self.zones)

    def check(self, what):
        after = snapshot(self.zones)
        d = diff(self.snap, after)
        self.snap = after
        if d:
            # what changed may still be on its way to the stores: the
            # next check compares with where it ends
            self.reset()
        box.check(not d, "%s changed the stores: %s" % (what, "; ".join(d[:12]) +
                                                        (" ..." if len(d) > 12 else "")))


def quiesce(timeout=120, quiet=0.0):
    """Waits until the consumer and the sweeper are idle: no reservation
    pending or claimed in Redis, ticketSQL and ticketNoSQL empty, ready and
    unacked, live (the consumer acks a message once it is written), and the
    stores the same on two looks in a row, `quiet` seconds apart at least."""
    last = [None, 0.0]

    def idle():
        busy = 0
        for port in _nodes():
            ks = [k for k in _scan(port) if k.startswith((b"bo:pend:", b"bo:sweep:"))]
            busy += sum(n for n in _pipeline(port, [("ZCARD", k) for k in ks])
                        if isinstance(n, int))
        q = queue_depths()
        now = (busy, q["ticketSQL"], q["ticketNoSQL"], json.dumps(mysql_state(), sort_keys=True),
               ddb_items())
        if now[:3] != (0, (0, 0), (0, 0)) or now != last[0]:
            last[0], last[1] = now, time.time()
            return False
        return time.time() - last[1] >= quiet
    box.wait_until(idle, timeout=timeout, interval=0.3,
                   what="the consumer and the sweeper idle (nothing pending, queues empty)")
