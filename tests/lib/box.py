# SPDX-License-Identifier: ISC
"""box.py - helpers for the integration tests: the stack under test, HTTP,
Redis, MySQL, DynamoDB and the broker, plus a tiny test runner.

Every helper talks to the real servers of the stack that tests/run started
(ports from the BOX_* environment, settings from $BOX_CONF).  Python's
standard library only.

A test file defines functions named test_*; `box.main(globals())` runs them
in file order and prints one line per test, "PASS name" or "FAIL name: why",
which tests/run counts.
"""

import concurrent.futures
import hashlib
import hmac
import http.client as httplib
import json
import os
import re
import socket
import subprocess
import sys
import time
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ENV = os.environ
CONF = ENV.get("BOX_CONF", os.path.join(ROOT, "var", "boxoffice.conf"))
BIN = ENV.get("BOX_BIN", os.path.join(ROOT, "build", "bin"))
NGINX = int(ENV.get("BOX_NGINX_PORT", "8080"))
LIGHTTPD = int(ENV.get("BOX_LIGHTTPD_PORT", "8081"))
# Apache httpd (scripts/stack's `apache`), tested beside the others when the
# stack under test runs it (tests/run sets BOX_APACHE_PORT)
APACHE = int(ENV.get("BOX_APACHE_PORT") or 0)
WEB_PORTS = (NGINX, LIGHTTPD) + ((APACHE,) if APACHE else ())
# the metrics listeners (conf/nginx-fcgi.conf, conf/lighttpd.conf, conf/apache-fcgi.conf;
# conf/stack.env)
NGINX_METRICS = int(ENV.get("BOX_NGINX_METRICS_PORT", str(NGINX + 1000)))
LIGHTTPD_METRICS = int(ENV.get("BOX_LIGHTTPD_METRICS_PORT", str(LIGHTTPD + 1000)))
APACHE_METRICS = int(ENV.get("BOX_APACHE_METRICS_PORT", str(APACHE + 1000))) if APACHE else 0
REDIS_PORTS = [int(p) for p in ENV.get("BOX_REDIS_PORTS", "6379").replace(",", " ").split()]
DDB_PORT = int(ENV.get("BOX_DYNAMODB_PORT", "8000"))

# Seed catalog facts (conf/catalog.json), used to compute expectations.
VENUE1_ZONES = 100
VENUE1_ROWS, VENUE1_COLS = 26, 30
VENUE2_ZONES = {1: (10, 20, "150.00"), 2: (5, 12, "95.50"), 3: (1, 8, "250.00"), 4: (3, 4, "45.00")}


def venue1_price(zone):
    return "320.00" if zone <= 20 else "160.00" if zone <= 40 else "80.00" if zone <= 60 \
        else "40.00" if zone <= 80 else "20.00"


class Fail(AssertionError):
    pass


def check(cond, msg="check failed"):
    if not cond:
        raise Fail(msg)


def eq(got, want, what="value"):
    if got != want:
        raise Fail("%s: got %r, want %r" % (what, got, want))


# ------------------------------------------------------------------- HTTP

class Resp:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def __repr__(self):
        return "<%d %s>" % (self.status, self.body[:300])


def http(method, path, body=None, headers=None, port=NGINX, timeout=30, conn=None):
    """One HTTP request; returns Resp.  body may be str, bytes or a dict (sent as JSON)."""
    hdrs = dict(headers or {})
    if isinstance(body, dict):
        body = json.dumps(body)
        hdrs.setdefault("Content-Type", "application/json")
    if isinstance(body, str):
        body = body.encode()
    own = conn is None
    if own:
        conn = httplib.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=hdrs)
        r = conn.getresponse()
        data = r.read().decode("utf-8", "replace")
        return Resp(r.status, r.getheaders(), data)
    finally:
        if own:
            conn.close()


def buy(venue, event, zone, row, col, port=NGINX, conn=None):
    return http("POST", "/tickets", {"venueId": venue, "eventId": event, "zoneId": zone,
                                     "row": row, "column": col}, port=port, conn=conn)


# the responder's 503 that released what it reserved says so in these words
NOTHING_SOLD = "nothing was sold"


def nothing_sold(r):
    """True if r is the responder's 503 that sold nothing (e.g. the WAIT for a
    Redis replica timed out on a loaded machine and the seats were released):
    a definite no that asks the client to try again."""
    if r.status != 503:
        return False
    try:
        j = json.loads(r.body)
    except ValueError:
        return False
    return (isinstance(j, dict) and j.get("error") == "UNAVAILABLE" and "ticketId" not in j
            and "orderId" not in j and NOTHING_SOLD in j.get("message", ""))


def buy_definite(venue, event, zone, row, col, port=NGINX, conn=None, tries=5):
    """buy(), tried again (up to `tries` times, backing off) while the answer
    is nothing_sold(), as a client would; returns (the last Resp, attempts).
    For tests of something else than the WAIT, which the whole cluster
    topology on two cores can make miss its 500 ms now and then."""
    for n in range(1, tries + 1):
        r = buy(venue, event, zone, row, col, port=port, conn=conn)
        if n == tries or not nothing_sold(r):
            return r, n
        time.sleep(0.2 * n)


def raw_http(data, port=NGINX, timeout=10, shut_wr=True):
    """Sends raw bytes, returns everything the server answered (bytes).
    shut_wr=True half-closes the connection after sending: nginx takes that
    for a client that went away and drops requests it passed to a responder
    (empty answer); use shut_wr=False with "Connection: close" for those."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server refused early; read what it answered
        if shut_wr:
            try:
                s.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except (socket.timeout, ConnectionResetError):
                break
            if not chunk:
                break
            out += chunk
        return out
    finally:
        s.close()


def parallel(fn, args, workers=64):
    """Runs fn(*a) for every a in args on a thread pool; returns results in order."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as ex:
        return list(ex.map(lambda a: fn(*a), args))


# ------------------------------------------------------------------ Redis

def _resp_encode(args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        if not isinstance(a, bytes):
            a = str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


class RedisError(Exception):
    pass


# BOX_REDIS_MODE=cluster (tests/run cluster): the stack's Redis is the
# Redis Cluster of BOX_REDIS_CLUSTER_PORTS; redis() sends a command to the
# master of its first key's slot
REDIS_MODE = ENV.get("BOX_REDIS_MODE", "single")
CLUSTER_PORTS = [int(p) for p in ENV.get("BOX_REDIS_CLUSTER_PORTS", "").replace(",", " ").split()]
_SLOT_MASTER = {}


def key_slot(key):
    k = key.encode() if isinstance(key, str) else bytes(key)
    s = k.find(b"{")
    if s >= 0:
        e = k.find(b"}", s + 1)
        if e > s + 1:
            k = k[s + 1:e]
    return crc16(k) % 16384


def cluster_masters():
    """{(start, end): port} of the online masters, from CLUSTER SHARDS."""
    for p in CLUSTER_PORTS:
        try:
            shards = _redis_at(p, "CLUSTER", "SHARDS")
        except (OSError, RedisError):
            continue
        out = {}
        for sh in shards:
            sh = {sh[i].decode(): sh[i + 1] for i in range(0, len(sh), 2)}
            for n in sh["nodes"]:
                n = {n[i].decode(): n[i + 1] for i in range(0, len(n), 2)}
                if n["role"] == b"master" and n["health"] == b"online":
                    sl = sh["slots"]
                    for i in range(0, len(sl), 2):
                        out[(sl[i], sl[i + 1])] = n["port"]
        return out
    raise RedisError("no cluster node answers")


def cluster_port(slot, refresh=False):
    if refresh or not _SLOT_MASTER:
        _SLOT_MASTER.clear()
        _SLOT_MASTER.update(cluster_masters())
    for (a, b), p in _SLOT_MASTER.items():
        if a <= slot <= b:
            return p
    raise RedisError("slot %d not served" % slot)


def redis(*args, port=None, node=None):
    """One Redis command on a node (default: first; in cluster mode the
    master of the first key's slot); returns the decoded reply."""
    if port is None and REDIS_MODE == "cluster":
        # EVAL/EVALSHA script numkeys key...: the first key's slot
        first = 3 if str(args[0]).upper() in ("EVAL", "EVALSHA") else 1
        slot = key_slot(args[first]) if len(args) > first else 0
        for attempt in range(5):
            try:
                return _redis_at(cluster_port(slot, refresh=attempt > 0), *args)
            except RedisError as e:
                if not str(e).startswith(("MOVED", "TRYAGAIN", "CLUSTERDOWN")) or attempt == 4:
                    raise
            except OSError:
                if attempt == 4:
                    raise
            time.sleep(0.2 * attempt)
    if port is None:
        port = REDIS_PORTS[node or 0]
    return _redis_at(port, *args)


def setting(name):
    """The value of name in the stack's settings file ($BOX_CONF), or None."""
    with open(CONF) as f:
        for line in f:
            key, sep, value = line.partition("=")
            if sep and key.strip() == name:
                return value.split(" #")[0].strip()
    return None


def redis_names():
    """The single Redis as the programs name it (ticketctl status, logs):
    its unix socket's path (BOX_REDIS_SOCKET=1) or 127.0.0.1:port."""
    nodes = setting("redis_nodes") or ""
    if nodes.startswith("/"):
        return [nodes]
    return ["127.0.0.1:%d" % p for p in REDIS_PORTS]


def _redis_at(port, *args):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    f = s.makefile("rb")
    try:
        s.sendall(_resp_encode(args))
        return _resp_read(f)
    finally:
        f.close()
        s.close()


def redis_pipeline_at(port, cmds):
    """Sends every command of cmds to the Redis at port on one connection;
    returns the replies (an error reply becomes a RedisError in the list)."""
    if not cmds:
        return []
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    f = s.makefile("rb")
    try:
        s.sendall(b"".join(_resp_encode(c) for c in cmds))
        out = []
        for _ in cmds:
            try:
                out.append(_resp_read(f))
            except RedisError as e:
                out.append(e)
        return out
    finally:
        f.close()
        s.close()


def _resp_read(f):
    line = f.readline()
    if not line:
        raise RedisError("connection closed")
    t, rest = line[:1], line[1:-2]
    if t == b"+":
        return rest.decode()
    if t == b"-":
        raise RedisError(rest.decode())
    if t == b":":
        return int(rest)
    if t == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)[:-2]
        return data
    if t == b"*":
        n = int(rest)
        if n < 0:
            return None
        return [_resp_read(f) for _ in range(n)]
    raise RedisError("bad reply %r" % line)


def crc16(data):
    crc = 0
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def zone_node(event, zone):
    """Index of the Redis node holding an event zone: redis_mode single has
    one (a Redis Cluster routes by slot, tests/cluster)."""
    return 0


_CRC_TABLE = []
for _i in range(256):
    _c = _i << 8
    for _ in range(8):
        _c = ((_c << 1) ^ 0x1021) if _c & 0x8000 else _c << 1
    _CRC_TABLE.append(_c & 0xFFFF)
_SLOT_TAGS = {}
_ALNUM = b"0123456789abcdefghijklmnopqrstuvwxyz"


def slot_tag(slot):
    """shared/keys.c keys_slot_tag(): the first string of [0-9a-z]{1,4} (by
    length, then alphabet order) whose CRC16 % 16384 is slot."""
    if slot in _SLOT_TAGS:
        return _SLOT_TAGS[slot]

    def walk(prefix, crc, left):
        for ch in _ALNUM:
            c = ((crc << 8) & 0xFFFF) ^ _CRC_TABLE[((crc >> 8) ^ ch) & 0xFF]
            if left == 1:
                if c % 16384 == slot:
                    return prefix + bytes([ch])
            else:
                r = walk(prefix + bytes([ch]), c, left - 1)
                if r:
                    return r
        return None
    for n in range(1, 5):
        t = walk(b"", 0, n)
        if t:
            _SLOT_TAGS[slot] = t.decode()
            return _SLOT_TAGS[slot]
    raise ValueError("no tag for slot %d" % slot)


B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def id_slot(ident):
    """The slot an id carries (keys_id_slot()), low 14 bits: a UUID in its
    last 4 hex digits, a holdId (25 chars) in its last 3, a 22-char holdId
    made before 2026-12-05 in its characters 18..20."""
    if len(ident) == 36:
        return int(ident[32:], 16) & 0x3FFF
    at = 22 if len(ident) == 25 else 18
    v = 0
    for ch in ident[at:at + 3]:
        v = (v << 6) | B64.index(ch)
    return v & 0x3FFF


def zone_slot(event, zone):
    return crc16(("%s:%d" % (event, zone)).encode()) % 16384


def idem_key_hash(key):
    """The name MySQL, an order message and a rebuilt record know an
    Idempotency-Key by: HMAC-SHA256(token_secret, "idem:" key), hex
    (fcgi/ticket/token.h), with the stack's token_secret."""
    with open(os.path.join(ENV.get("BOX_VAR", os.path.join(ROOT, "var")), "token_secret")) as f:
        secret = f.read().strip()
    return hmac.new(secret.encode(), b"idem:" + key.encode(), hashlib.sha256).hexdigest()


def id_key(prefix, ident):
    """The Redis key by id: "bo:tkt:" + "{tag}" + id (shared/keys.h)."""
    return "%s{%s}%s" % (prefix, slot_tag(id_slot(ident)), ident)


def zone_state(event, zone):
    """Redis state of one event zone: dict with rows, cols, left (zone),
    row_left {row: n}, taken set of (row, col) from the bitmap, owners {bit: id}."""
    tag = "%s:%d" % (event, zone)
    n = zone_node(event, zone)
    meta = redis("HGETALL", "bo:zone:{%s}" % tag, node=n)
    meta = {meta[i].decode(): meta[i + 1].decode() for i in range(0, len(meta), 2)}
    rows, cols = int(meta["rows"]), int(meta["cols"])
    left = redis("HGETALL", "bo:left:{%s}" % tag, node=n)
    left = {left[i].decode(): int(left[i + 1]) for i in range(0, len(left), 2)}
    bitmap = redis("GET", "bo:seat:{%s}" % tag, node=n) or b""
    taken = set()
    for i, byte in enumerate(bitmap):
        for b in range(8):
            if byte & (0x80 >> b):
                bit = i * 8 + b
                taken.add((bit // cols + 1, bit % cols + 1))
    own = redis("HGETALL", "bo:own:{%s}" % tag, node=n)
    owners = {int(own[i]): own[i + 1].decode() for i in range(0, len(own), 2)}
    return {"rows": rows, "cols": cols, "price": meta["price"], "left": left.get("z"),
            "row_left": {int(k[1:]): v for k, v in left.items() if k.startswith("r")},
            "taken": taken, "owners": owners}


# ------------------------------------------------------------ MySQL, AMQP

def sql(query):
    """Runs SQL as the local admin; returns rows as lists of strings."""
    out = subprocess.run([os.path.join(ROOT, "scripts", "stack"), "sql", "-N", "-B", "-e", query],
                         check=True, capture_output=True, text=True).stdout
    return [line.split("\t") for line in out.splitlines() if line]


def sql_count(query):
    return int(sql(query)[0][0])


def mqtool(*args, check_rc=True):
    r = subprocess.run([os.path.join(BIN, "mqtool"), "-c", CONF] + [str(a) for a in args],
                       capture_output=True, text=True)
    if check_rc and r.returncode != 0:
        raise Fail("mqtool %s: %s" % (" ".join(map(str, args)), r.stderr.strip()))
    return r.stdout


def queue_count(queue):
    return int(mqtool("count", queue).strip())


def queue_get(queue, max_n=1000000):
    """Consumes (and acks) up to max_n messages; returns their bodies."""
    return [line for line in mqtool("get", queue, max_n).splitlines() if line]


def stack(*args, check_rc=True):
    env = None
    if len(args) > 1 and re.match(r"^redis-[0-9]+$", args[1]) and ENV.get("BOX_CLUSTER_VAR"):
        # a node of the test Redis Cluster (tests/run cluster: its own var)
        var = ENV["BOX_CLUSTER_VAR"]
        env = dict(os.environ, BOX_VAR=var, BOX_TOPOLOGY="cluster",
                   BOX_CONF=os.path.join(var, "boxoffice.conf"))
    r = subprocess.run([os.path.join(ROOT, "scripts", "stack")] + list(args),
                       capture_output=True, text=True, env=env)
    if check_rc and r.returncode != 0:
        raise Fail("scripts/stack %s failed: %s%s" % (" ".join(args), r.stdout, r.stderr))
    return r.stdout


def restart_with(service, **settings):
    """scripts/stack stop + start of service with settings given as
    BOXOFFICE_<NAME> in its environment (redis_wait_replicas=0, ...)."""
    env = dict(os.environ)
    for k, v in settings.items():
        env["BOXOFFICE_" + k.upper()] = str(v)
    for act in ("stop", "start"):
        r = subprocess.run([os.path.join(ROOT, "scripts", "stack"), act, service],
                           capture_output=True, text=True, env=env)
        if r.returncode != 0:
            raise Fail("scripts/stack %s %s: %s%s" % (act, service, r.stdout, r.stderr))


# the publisher mode the suite was started in (tests/run passes
# BOX_AMQP_PUBLISHER on to scripts/stack; conf/stack.env's local unless set)
PUBLISHER = ENV.get("BOX_AMQP_PUBLISHER") or "local"


def publisher(mode):
    """Switches the purchase responders to amqp_publisher = mode (scripts/stack
    renders it from BOX_AMQP_PUBLISHER): pubd started for local, stopped for
    direct, the responders restarted when the mode changes."""
    if os.environ.get("BOX_AMQP_PUBLISHER", PUBLISHER) == mode and \
            (mode == "direct" or any(alive(p) for p in fcgi_pids("pubd"))):
        return
    os.environ["BOX_AMQP_PUBLISHER"] = mode
    stack("restart", "ticket")
    if mode != "local":
        stack("stop", "pubd")


def ticketctl(*args, check_rc=True):
    r = subprocess.run([os.path.join(BIN, "ticketctl"), "-c", CONF] + list(args),
                       capture_output=True, text=True)
    if check_rc and r.returncode != 0:
        raise Fail("ticketctl %s failed: %s%s" % (" ".join(args), r.stdout, r.stderr))
    return r


# --------------------------------------------------------------- DynamoDB

def ddb(op, payload, timeout=30):
    """One signed DynamoDB call via curl --aws-sigv4; returns (status, json)."""
    r = subprocess.run(["curl", "-s", "-m", str(timeout), "-w", "\n%{http_code}",
                        "--aws-sigv4", "aws:amz:us-east-1:dynamodb", "--user", "boxoffice:boxoffice",
                        "-H", "X-Amz-Target: DynamoDB_20120810." + op,
                        "-H", "Content-Type: application/x-amz-json-1.0",
                        "-d", json.dumps(payload), "http://127.0.0.1:%d/" % DDB_PORT],
                       capture_output=True, text=True)
    body, _, code = r.stdout.rpartition("\n")
    try:
        return int(code), (json.loads(body) if body else None)
    except ValueError:
        return 0, None


def ddb_items():
    """Every item of the Tickets table, as plain dicts of the ticket JSON names."""
    items, start = [], None
    while True:
        req = {"TableName": "Tickets"}
        if start:
            req["ExclusiveStartKey"] = start
        code, res = ddb("Scan", req)
        check(code == 200, "DynamoDB Scan failed: %s %s" % (code, res))
        for it in res.get("Items", []):
            d = {}
            for k, v in it.items():
                if "S" in v:
                    d[k] = v["S"]
                elif "N" in v:
                    d[k] = v["N"]
            items.append(d)
        start = res.get("LastEvaluatedKey")
        if not start:
            return items


def ddb_count():
    """Number of sales in the Tickets table (Scan with Select COUNT): items
    the consumer marked as a caught double sale (status DOUBLE_SALE) are
    records of a conflict, not sales, and are not counted."""
    total, start = 0, None
    while True:
        req = {"TableName": "Tickets", "Select": "COUNT",
               "FilterExpression": "attribute_not_exists(#s) OR #s <> :ds",
               "ExpressionAttributeNames": {"#s": "status"},
               "ExpressionAttributeValues": {":ds": {"S": "DOUBLE_SALE"}}}
        if start:
            req["ExclusiveStartKey"] = start
        code, res = ddb("Scan", req)
        check(code == 200, "DynamoDB Scan failed: %s %s" % (code, res))
        total += res.get("Count", 0)
        start = res.get("LastEvaluatedKey")
        if not start:
            return total


def ticket_persisted(tid, timeout=120, settle=1.0):
    """Waits until ticket tid is in MySQL and DynamoDB; then, settle seconds
    later, that MySQL holds it exactly once (a second delivery of its message
    would have added nothing; DynamoDB's key is the ticket id)."""
    def there():
        n = sql_count("SELECT COUNT(*) FROM ticketing.ticket WHERE ticket_id = '%s'" % tid)
        code, res = ddb("GetItem", {"TableName": "Tickets", "Key": {"ticketId": {"S": tid}}})
        return n == 1 and code == 200 and "Item" in (res or {})
    wait_until(there, timeout=timeout, what="ticket %s in MySQL and DynamoDB" % tid)
    if settle:
        time.sleep(settle)
        eq(sql_count("SELECT COUNT(*) FROM ticketing.ticket WHERE ticket_id = '%s'" % tid), 1,
           "rows of ticket %s" % tid)


def rabbit_pid():
    """The single-node stack's RabbitMQ (beam) process."""
    path = os.path.join(ENV.get("BOX_VAR", os.path.join(ROOT, "var")), "rabbitmq", "rabbitmq.pid")
    with open(path) as f:
        return int(f.read().split()[0])


def wait_until(fn, timeout=60, interval=0.25, what="condition"):
    """Polls fn until it returns a truthy value; returns it or raises Fail."""
    end = time.time() + timeout
    last = None
    while time.time() < end:
        try:
            last = fn()
            if last:
                return last
        except Exception as e:  # noqa: BLE001 - servers may be restarting
            last = e
        time.sleep(interval)
    raise Fail("timed out after %ss waiting for %s (last: %r)" % (timeout, what, last))


def fcgi_socket(name):
    """The unix socket of the responders called name ("ticket", "query")."""
    return os.path.join(ENV.get("BOX_VAR", os.path.join(ROOT, "var")), "run", name + ".sock")


def pidfile_pids(path):
    """The pids a pid file lists, one per line (none if it is not there)."""
    try:
        with open(path) as f:
            return [int(x) for x in f.read().split()]
    except (OSError, ValueError):
        return []


def fcgi_pids(name):
    return pidfile_pids(os.path.join(ENV.get("BOX_VAR", os.path.join(ROOT, "var")), "run",
                                     name + ".pid"))


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


# ------------------------------------------------------- test hooks
#
# The pause points of a test build's responders (fcgi/ticket/testhook.h,
# `make san`): a file BOX_TEST_HOOK_DIR/POINT holding "MS [MATCH]" makes the
# next request whose text contains MATCH stop MS milliseconds there.  The
# responder that takes it renames the file POINT.PID, then writes the held
# request's id (a UUID) in it.

HOOKS = ENV.get("BOX_TEST_HOOK_DIR", "")


def hook_arm(point, ms, match=""):
    """Arms point for the next request whose text contains match (any
    request when match is empty), to be held ms milliseconds."""
    check(HOOKS and os.path.isdir(HOOKS), "BOX_TEST_HOOK_DIR is not set up (run via tests/run)")
    hook_clear(point)
    tmp = os.path.join(HOOKS, ".%s.tmp" % point)
    with open(tmp, "w") as f:
        f.write("%d %s\n" % (ms, match) if match else "%d\n" % ms)
    os.chmod(tmp, 0o666)  # the responder (another user) renames it and writes in it
    os.rename(tmp, os.path.join(HOOKS, point))


def hook_held(point):
    """(pid, id) of the responder holding a request at point, once it has
    written the request's id; else None."""
    for f in os.listdir(HOOKS):
        if f.startswith(point + "."):
            with open(os.path.join(HOOKS, f)) as fh:
                held = fh.read().strip()
            if len(held) == 36:
                return int(f.split(".")[-1]), held
    return None


def hook_wait(point, timeout=30):
    """Waits until a responder holds a request at point; returns (pid, id)."""
    try:
        return wait_until(lambda: hook_held(point), timeout=timeout, interval=0.05,
                          what="a responder held at the %s hook" % point)
    except Fail:
        raise Fail("no responder stopped at the %s hook: are the responders a "
                   "-DBOX_TEST_HOOKS build (make san) started with BOX_TEST_HOOK_DIR=%s?"
                   % (point, HOOKS))


def hook_clear(point=""):
    """Disarms point (every point when empty); a held request goes on when
    its time is up."""
    if HOOKS and os.path.isdir(HOOKS):
        for f in os.listdir(HOOKS):
            if f.startswith(point) or f.startswith(".%s" % point):
                os.unlink(os.path.join(HOOKS, f))


# ------------------------------------------------------- Debian modules

def debian_modules(*names):
    """Imports Python modules that come as Debian packages (python3-selenium,
    python3-jsonschema, python3-yaml: scripts/deps).  When the python3 on the
    PATH is another installation (pyenv, a venv) that does not see Debian's
    dist-packages, the test re-runs itself under /usr/bin/python3.  Returns
    the modules; prints a FAIL line and exits when they are missing."""
    import importlib
    try:
        return [importlib.import_module(n) for n in names]
    except ImportError as e:
        deb = "/usr/bin/python3"
        if os.path.exists(deb) and os.path.realpath(sys.executable) != os.path.realpath(deb):
            sys.stdout.flush()
            os.execv(deb, [deb] + sys.argv)
        print("FAIL %s: %s (Debian packages of scripts/deps)" % (os.path.basename(sys.argv[0]), e),
              flush=True)
        sys.exit(1)


# ------------------------------------------------------------------ runner

def daemon_warnings(since, limit=12):
    """Prints the warnings and errors the daemons logged since the test
    started (time.time() value): what a failure's message cannot tell."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(since))
    logdir = os.path.join(os.path.dirname(CONF), "log")
    for name in ("consumer", "pubd", "ticket", "query"):
        try:
            with open(os.path.join(logdir, name + ".log"), errors="replace") as f:
                lines = [line.rstrip()[:400] for line in f if line[:19] >= stamp and
                         (" warn: " in line or " error: " in line)]
        except OSError:
            continue
        if lines:
            print("--- %s.log: warnings and errors since the test started (last %d of %d)"
                  % (name, min(limit, len(lines)), len(lines)))
            print("\n".join(lines[-limit:]), flush=True)


def main(scope):
    only = sys.argv[1:]
    tests = [(name, fn) for name, fn in scope.items() if name.startswith("test_") and callable(fn)]
    tests.sort(key=lambda t: t[1].__code__.co_firstlineno)
    setup = scope.get("setup_module")
    if setup:
        try:
            setup()
        except Exception as e:  # noqa: BLE001
            traceback.print_exc()
            for name, _ in tests:
                print("FAIL %s: setup_module: %s" % (name, e), flush=True)
            return 1
    failed = 0
    for name, fn in tests:
        if only and name not in only:
            continue
        t0 = time.time()
        try:
            fn()
            print("PASS %s (%.1fs)" % (name, time.time() - t0), flush=True)
        except Exception as e:  # noqa: BLE001
            failed += 1
            daemon_warnings(t0)
            traceback.print_exc()
            print("FAIL %s: %s" % (name, str(e).splitlines()[0] if str(e) else type(e).__name__),
                  flush=True)
    teardown = scope.get("teardown_module")
    if teardown:
        teardown()
    return 1 if failed else 0
