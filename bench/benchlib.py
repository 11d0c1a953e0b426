# SPDX-License-Identifier: ISC
"""benchlib - the machinery of scripts/bench and scripts/demo.

Drives the local stack (scripts/stack, ports from conf/stack.env and the
BOX_* environment) with wrk and bench/wrk.lua:

  request_file()   all seats of some zones of Event1 once + ratio x seats
                   random repeats, shuffled with a seed: one JSON body a line
  run_wrk()        every line sent exactly once over C keep-alive
                   connections through nginx; statuses, seats of the 201s,
                   rate over exactly those requests, wrk's latency percentiles
  Hello            the trivial FastCGI responder (bench/hello.c) behind the
                   same nginx (a server block selected by Host: bench-hello)
  pubbench()       the broker's ceiling (bench/pubbench.c), one message in
                   flight per connection or pipelined (window)
  CpuMeter         CPU per component from /proc/<pid>/stat deltas
  purchase_row()   one row of the table: reset, load, drain, correctness;
                   elsewhere=True pauses the consumer during the load
                   (persistence "elsewhere") and times the drain after it
  per_unit()       the CPU split as microseconds per request or per sale

Python standard library only (plus tests/lib/box.py for Redis/SQL/DynamoDB).
"""

import os
import random
import re
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STACK = os.path.join(ROOT, "scripts", "stack")
WRK_LUA = os.path.join(ROOT, "bench", "wrk.lua")
HELLO_HOST = "bench-hello"
ROWS, COLS, ZONES = 26, 30, 100          # Venue1 (conf/catalog.json)


def stack_env():
    """The stack's settings (conf/stack.env under the current environment)."""
    out = subprocess.run(["bash", "-c", 'ROOT="$1"; set -a; . "$ROOT/conf/stack.env"; env', "_", ROOT],
                         check=True, capture_output=True, text=True).stdout
    env = {}
    for line in out.splitlines():
        k, _, v = line.partition("=")
        if k.startswith("BOX_"):
            env[k] = v
    return env


ENV = stack_env()
# the topology of the running stack (scripts/stack up writes it): cluster
# is the Redis Cluster, 3 RabbitMQ nodes and a MariaDB replica
try:
    with open(os.path.join(ENV["BOX_VAR"], "topology")) as _f:
        TOPOLOGY = _f.read().strip() or "single"
except OSError:
    TOPOLOGY = ENV.get("BOX_TOPOLOGY") or "single"
if TOPOLOGY == "cluster" and ENV.get("BOX_CLUSTER_REDIS", "cluster") != "single":
    ENV["BOX_REDIS_MODE"] = "cluster"
os.environ.update(ENV)
os.environ.setdefault("BOX_CONF", os.path.join(ENV["BOX_VAR"], "boxoffice.conf"))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
import box  # noqa: E402

VAR = ENV["BOX_VAR"]
RUN = os.path.join(VAR, "run")
BIN = ENV["BOX_BIN"]
CONF = os.environ["BOX_CONF"]
PORT = int(ENV["BOX_NGINX_PORT"])
NCPU = os.cpu_count() or 1
HZ = os.sysconf("SC_CLK_TCK")


class BenchError(Exception):
    pass


def stack(*args, quiet=True):
    r = subprocess.run([STACK] + list(args), capture_output=quiet, text=True)
    if r.returncode != 0:
        raise BenchError("scripts/stack %s failed:\n%s%s" % (" ".join(args), r.stdout or "", r.stderr or ""))
    return r.stdout


def read_pids(path):
    try:
        with open(path) as f:
            return [int(x) for x in f.read().split()]
    except (OSError, ValueError):
        return []


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


def responder_count():
    return sum(1 for p in read_pids(os.path.join(RUN, "ticket.pid")) if alive(p))


def nginx_workers():
    return int(ENV.get("BOX_NGINX_WORKERS", "1"))


def check_stack():
    """Raises BenchError unless every service of the stack runs."""
    out = stack("status")
    down = [line.split()[0] for line in out.splitlines() if " running " not in line]
    down = [s for s in down if s != "lighttpd"]
    if down:
        raise BenchError("not running: %s (start the stack: make up)" % ", ".join(down))
    if not os.access(os.path.join(BIN, "hello"), os.X_OK) or \
            not os.access(os.path.join(BIN, "pubbench"), os.X_OK):
        raise BenchError("%s/hello or pubbench is not built: run make" % BIN)


def reset():
    """make reset, with the consumer running afterwards."""
    stack("reset")
    stack("start", "consumer")
    box.wait_until(lambda: box.http("GET", "/tickets/health", port=PORT).status == 200,
                   timeout=30, what="purchase responders healthy after reset")


# ----------------------------------------------------------- request sets

def request_file(ratio, zones, seed, path):
    """Writes all seats of zones 1..zones of Event1 once plus ratio x seats
    random repeats (any seat, drawn with replacement), shuffled; returns
    (requests, seats)."""
    rng = random.Random("%s:%s:%s" % (seed, ratio, zones))
    seats = [(z, r, c) for z in range(1, zones + 1) for r in range(1, ROWS + 1)
             for c in range(1, COLS + 1)]
    extra = [rng.choice(seats) for _ in range(int(round(len(seats) * ratio)))]
    reqs = seats + extra
    rng.shuffle(reqs)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        for z, r, c in reqs:
            f.write('{"venueId":"Venue1","eventId":"Event1","zoneId":%d,"row":%d,"column":%d}\n'
                    % (z, r, c))
    return len(reqs), len(seats)


# ------------------------------------------------------------- CPU split

# the CPU split's entries that are not a component of the stack
NOT_OURS = ("rest of machine", "host steal", "idle")

COMPONENTS = ["wrk", "nginx", "responders", "pubd", "hello", "pubbench", "redis", "rabbitmq",
              "consumer", "mariadb", "dynamodb"]


def _proc_table():
    """{pid: (ppid, ticks, reaped)} of every process: its own utime + stime,
    and cutime + cstime, the ticks of the children it has waited for."""
    table = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                s = f.read()
        except OSError:
            continue
        rest = s[s.rfind(")") + 2:].split()
        table[int(d)] = (int(rest[1]), int(rest[11]) + int(rest[12]),
                         int(rest[13]) + int(rest[14]))
    return table


def _machine_busy():
    """(ticks this machine ran something, ticks the hypervisor gave its
    CPUs to other guests: steal) since boot."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal
    return v[0] + v[1] + v[2] + v[5] + v[6], (v[7] if len(v) > 7 else 0)


def _split(ports):
    return ports.replace(",", " ").split()


def _roots(extra):
    """{component: [root pids]} of the stack (plus extra {name: [pids]})."""
    roots = {
        "nginx": read_pids(os.path.join(RUN, "nginx.pid"))[:1],
        "responders": read_pids(os.path.join(RUN, "ticket-sup.pid"))[:1] +
        read_pids(os.path.join(RUN, "ticket.pid")),
        # the local publisher (amqp_publisher = local) publishes for them
        "pubd": read_pids(os.path.join(RUN, "pubd-sup.pid"))[:1] +
        read_pids(os.path.join(RUN, "pubd.pid"))[:1],
        "hello": read_pids(os.path.join(RUN, "hello.pid")),
        "redis": [p for port in _split(ENV["BOX_REDIS_CLUSTER_PORTS"] if box.REDIS_MODE == "cluster"
                                       else ENV["BOX_REDIS_PORTS"])
                  for p in read_pids(os.path.join(RUN, "redis-%s.pid" % port))[:1]],
        "rabbitmq": [p for d in (["rabbitmq-%d" % (i + 1) for i in
                                  range(len(_split(ENV["BOX_AMQP_CLUSTER_PORTS"])))]
                                 if TOPOLOGY == "cluster" else ["rabbitmq"])
                     for p in read_pids(os.path.join(VAR, d, "rabbitmq.pid"))[:1]],
        "consumer": read_pids(os.path.join(RUN, "consumer-sup.pid"))[:1] +
        read_pids(os.path.join(RUN, "consumer.pid"))[:1],
        "mariadb": read_pids(os.path.join(RUN, "mysqld.pid"))[:1] +
        read_pids(os.path.join(RUN, "mysqld-replica.pid"))[:1],
        "dynamodb": read_pids(os.path.join(RUN, "dynamodb.pid"))[:1],
        "other stack": read_pids(os.path.join(RUN, "query-sup.pid"))[:1] +
        read_pids(os.path.join(RUN, "query.pid")) +
        read_pids(os.path.join(RUN, "lighttpd.pid"))[:1],
    }
    for k, v in extra.items():
        roots[k] = list(v)
    return roots


class CpuMeter:
    """CPU time per component between start() and stop(), from
    /proc/<pid>/stat (utime + stime of each process and its descendants).
    A child that ends within the window (Redis's AOF rewrite, a replaced
    responder) is not in the second sample: its ticks are counted where
    they went, in its parent's cutime + cstime once reaped, less what it
    had used before the window."""

    def __init__(self, extra=None):
        self.extra = extra or {}

    def _sample(self):
        table = _proc_table()
        children = {}
        for pid, (ppid, _, _) in table.items():
            children.setdefault(ppid, []).append(pid)
        owner = {}
        for comp, pids in _roots(self.extra).items():
            todo = [p for p in pids if p in table]
            while todo:
                p = todo.pop()
                if p in owner:
                    continue
                owner[p] = comp
                todo.extend(children.get(p, []))
        return {pid: (owner.get(pid), ticks, reaped, ppid)
                for pid, (ppid, ticks, reaped) in table.items()}, \
            _machine_busy(), time.time()

    def start(self):
        self.t0 = self._sample()
        return self

    def stop(self):
        (a, (busy0, steal0), w0), (b, (busy1, steal1), w1) = self.t0, self._sample()
        comps = {}
        ours = 0
        for pid, (comp, ticks, reaped, _) in b.items():
            if comp is None:
                continue
            d = ticks + reaped - (a[pid][1] + a[pid][2] if pid in a else 0)
            comps[comp] = comps.get(comp, 0) + d
            ours += d
        # a child of the first sample reaped since by its parent: its whole
        # life went into the parent's reaped ticks, the part before the
        # window included
        for pid, (comp, ticks, _, ppid) in a.items():
            if comp is not None and pid not in b and b.get(ppid, (None,))[0] == comp:
                comps[comp] -= ticks
                ours -= ticks
        secs = max(w1 - w0, 1e-6)
        # percent of one core
        pct = {k: 100.0 * v / HZ / secs for k, v in comps.items()}
        pct["rest of machine"] = max(0.0, 100.0 * (busy1 - busy0 - ours) / HZ / secs)
        # a virtual machine's CPUs lent to other guests by the host: as good
        # as busy for us, and no process of this machine's doing
        pct["host steal"] = max(0.0, 100.0 * (steal1 - steal0) / HZ / secs)
        pct["idle"] = max(0.0, 100.0 * NCPU - 100.0 * (busy1 - busy0 + steal1 - steal0) / HZ / secs)
        self.seconds = secs
        self.pct = pct
        return pct


SETTLE = True


def settle(limit_s=60.0, busy_pct=None):
    """Waits until the stack's own processes use less than busy_pct of one
    core over a second (a JVM warming up after `make up`, a reset's
    deletions, a drain's last batches), at most limit_s; a load measured
    while they still work gets a lower ceiling or a dearer row.  Returns
    the seconds waited (None: never quiet within limit_s; 0: SETTLE off,
    as for the smoke run, which measures nothing)."""
    if not SETTLE:
        return 0.0
    if busy_pct is None:        # idle: 2-4 % single, more with 6 Redis + 3 brokers
        busy_pct = 25.0 if TOPOLOGY == "cluster" else 10.0
    t0 = time.time()
    while time.time() - t0 < limit_s:
        m = CpuMeter().start()
        time.sleep(1.0)
        pct = m.stop()
        if sum(v for k, v in pct.items() if k not in NOT_OURS) < busy_pct:
            return time.time() - t0
    return None


# --------------------------------------------------------------- wrk runs

def run_wrk(path, connections, threads, host=None, limit_s=900, timeout_s=30, meter=None, ids=None):
    """Sends every line of path once; returns the facts of bench/wrk.lua
    (dict) plus cpu (percent per component, if meter) and wall seconds.
    ids: the prefix of the files of the 201s' ids (wrk.lua IDS)."""
    args = ["wrk", "-t", str(threads), "-c", str(connections), "-d", "%ds" % limit_s,
            "--timeout", "%ds" % timeout_s, "-s", WRK_LUA,
            "http://127.0.0.1:%d/tickets" % PORT, "--", path, str(threads), host or ""]
    if ids:
        args += ["", ids]
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if meter is not None:
        meter.extra = dict(meter.extra, wrk=[p.pid])
        meter.start()
    t0 = time.time()
    task_dir = "/proc/%d/task" % p.pid
    # wrk's worker threads stop themselves after their last response;
    # wrk itself would sleep for all of limit_s: end it then
    seen_workers = False
    while p.poll() is None:
        try:
            n = len(os.listdir(task_dir))
        except OSError:
            break
        if n > 1:
            seen_workers = True
        elif seen_workers:
            break
        time.sleep(0.02)
    end_time = time.time()
    wall = end_time - t0
    cpu = meter.stop() if meter is not None else None
    cpu_s = meter.seconds if meter is not None else None
    if p.poll() is None:
        p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    facts = {"statuses": {}, "codes": {}}
    for line in out.splitlines():
        m = re.match(r"bench (\S+) (\S+)$", line)
        if not m:
            continue
        k, v = m.group(1), m.group(2)
        if k.startswith("status_"):
            facts["statuses"][int(k[7:])] = int(v)
        elif k.startswith("code_"):
            facts["codes"][k[5:]] = int(v)
        else:
            facts[k] = float(v) if "." in v else int(v)
    if "requests" not in facts:
        raise BenchError("wrk failed (exit %s):\n%s%s" % (p.returncode, out[-2000:], err[-2000:]))
    facts["wall"] = wall
    facts["end_time"] = end_time
    facts["cpu"] = cpu
    facts["cpu_s"] = cpu_s
    secs = facts["seconds"] or wall
    facts["rate"] = facts["answered"] / secs if secs > 0 else 0.0
    facts["socket_errors"] = sum(facts.get(k, 0) for k in
                                 ("errors_connect", "errors_read", "errors_write", "errors_timeout"))
    return facts


# ------------------------------------------------------------ the ceilings

class Hello:
    """The trivial FastCGI responder behind the same nginx: spawn-fcgi with
    the responders' process count, and a server block (Host: bench-hello)
    that copies the purchase location's FastCGI settings."""

    def __init__(self, procs):
        self.procs = procs
        self.sock = os.path.join(RUN, "hello.sock")
        self.pidfile = os.path.join(RUN, "hello.pid")
        self.conf = os.path.join(VAR, "nginx", "conf.d", "bench-hello.conf")

    def _render(self):
        with open(os.path.join(VAR, "nginx", "nginx-fcgi.conf")) as f:
            src = f.read()
        up = re.search(r"upstream boxoffice_ticket \{.*?\n\}", src, re.S)
        loc = re.search(r"location = /tickets .*\n", src)
        if not up or not loc:
            raise BenchError("cannot find the purchase upstream/location in nginx-fcgi.conf")
        upstream = up.group(0).replace("boxoffice_ticket", "bench_hello") \
            .replace("ticket.sock", "hello.sock")
        location = loc.group(0).replace("boxoffice_ticket", "bench_hello")
        return ("# written by scripts/bench: the trivial FastCGI responder (bench/hello.c)\n"
                "%s\n\nserver {\n    listen 127.0.0.1:%d;\n    server_name %s;\n"
                "    keepalive_requests 1000000;\n    keepalive_timeout 75s;\n"
                "    %s}\n" % (upstream, PORT, HELLO_HOST, location))

    def _reload(self):
        nginx_conf = os.path.join(VAR, "nginx", "nginx.conf")
        with open(nginx_conf) as f:
            if "conf.d/*.conf" not in f.read():
                # a stack started before scripts/stack knew conf.d
                stack("restart", "nginx")
                return
        subprocess.run(["nginx", "-q", "-s", "reload", "-c", nginx_conf, "-p",
                        os.path.join(VAR, "nginx")], check=True, capture_output=True)
        time.sleep(1)

    def start(self):
        self.stop()
        owner = []
        if os.getuid() == 0:
            owner = ["-u", ENV["BOX_FCGI_USER"], "-g", ENV["BOX_FCGI_GROUP"],
                     "-U", ENV["BOX_WEB_USER"], "-G", ENV["BOX_WEB_USER"]]
        subprocess.run(["spawn-fcgi", "-s", self.sock, "-M", "0660"] + owner +
                       ["-F", str(self.procs), "-P", self.pidfile, "--",
                        os.path.join(BIN, "hello")], check=True, capture_output=True)
        os.makedirs(os.path.dirname(self.conf), exist_ok=True)
        with open(self.conf, "w") as f:
            f.write(self._render())
        self._reload()

        def ok():
            r = box.http("POST", "/tickets", "{}", {"Host": HELLO_HOST,
                                                    "Content-Type": "application/json"}, port=PORT)
            return r.status == 200 and '"ticketId"' in r.body
        box.wait_until(ok, timeout=20, what="the trivial responder behind nginx")
        return self

    def stop(self):
        had_conf = os.path.exists(self.conf)
        if had_conf:
            os.unlink(self.conf)
        pids = read_pids(self.pidfile)
        for p in pids:
            try:
                os.kill(p, signal.SIGTERM)
            except OSError:
                pass
        for p in pids:
            for _ in range(50):
                if not alive(p):
                    break
                time.sleep(0.1)
        for path in (self.pidfile, self.sock):
            try:
                os.unlink(path)
            except OSError:
                pass
        if had_conf:
            self._reload()


def ceiling(path, connections, threads):
    """The trivial responder through the same nginx, same wrk script."""
    waited = settle()
    meter = CpuMeter()
    facts = run_wrk(path, connections, threads, host=HELLO_HOST, meter=meter)
    facts["settled_s"] = waited
    facts["ok"] = facts["statuses"].get(200, 0) == facts["requests"] and facts["socket_errors"] == 0
    return facts


def pubbench(procs, seconds, window=1):
    """The broker's ceiling: bench/pubbench.c with the consumer stopped (its
    drainers stand in); what is left in the queues is purged before the
    consumer starts again.  window: messages in flight per connection (1:
    as the responders publish, a confirm awaited before the next)."""
    settle()
    stack("stop", "consumer")
    meter = CpuMeter()
    p = subprocess.Popen([os.path.join(BIN, "pubbench"), "-c", CONF, "-p", str(procs),
                          "-d", str(seconds), "-w", str(window)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    meter.extra = {"pubbench": [p.pid]}
    time.sleep(1.0 + 0.02 * procs)       # pubbench's connect phase
    meter.start()
    out, err = p.communicate()
    cpu = meter.stop()
    # its messages are no sales: never let the consumer persist them
    for q in ("ticketSQL", "ticketNoSQL"):
        subprocess.run([os.path.join(BIN, "mqtool"), "-c", CONF, "purge", q],
                       capture_output=True, check=False)
    stack("start", "consumer")
    m = re.search(r"^pubbench (.*)$", out, re.M)
    if p.returncode != 0 or not m:
        raise BenchError("pubbench failed (exit %s): %s%s" % (p.returncode, out, err[-2000:]))
    facts = {}
    for kv in m.group(1).split():
        k, _, v = kv.partition("=")
        facts[k] = float(v)
    # its processes are gone by now: pubbench reports their CPU itself
    cpu["pubbench"] = 100.0 * facts.get("cpu_s", 0.0) / max(meter.seconds, 1e-6)
    cpu["rest of machine"] = max(0.0, cpu["rest of machine"] - cpu["pubbench"])
    facts["cpu"] = cpu
    facts["cpu_s"] = meter.seconds
    return facts


def per_unit(pct, seconds, count):
    """A CPU split in percent of one core over seconds -> microseconds of
    CPU per unit (request, sale, message) for count units."""
    if not pct or not seconds or not count:
        return {}
    return {k: v / 100.0 * seconds * 1e6 / count for k, v in pct.items()
            if k not in NOT_OURS}


# ------------------------------------------------------ drain, correctness

def mysql_count():
    out = subprocess.run(["mariadb", "--no-defaults", "--socket=" + os.path.join(RUN, "mysqld.sock"),
                          "-uroot", "-N", "-B", "-e",
                          "SELECT COUNT(*) FROM ticketing.ticket WHERE event_id='Event1'"],
                         capture_output=True, text=True)
    try:
        return int(out.stdout.strip())
    except ValueError:
        return -1


def ddb_item_count():
    """DynamoDB Local keeps DescribeTable's ItemCount live."""
    code, res = box.ddb("DescribeTable", {"TableName": "Tickets"}, timeout=10)
    if code != 200 or not res:
        return -1
    return int(res["Table"].get("ItemCount", -1))


def drain(want, start_s, timeout_s):
    """Polls until MySQL and DynamoDB hold want tickets; returns seconds
    from start_s (the load's first request) to each, or None if not in
    time."""
    t_sql = t_ddb = None
    end = time.time() + timeout_s
    while time.time() < end and (t_sql is None or t_ddb is None):
        if t_sql is None and mysql_count() >= want:
            t_sql = time.time() - start_s
        if t_ddb is None and ddb_item_count() >= want:
            t_ddb = time.time() - start_s
        if t_sql is None or t_ddb is None:
            time.sleep(0.25)
    return t_sql, t_ddb


def redis_state(zones):
    """(seats taken by bitmap, zones whose counter is not 0, pending entries)
    over zones 1..zones of Event1, in one pipeline per node."""
    import socket
    per_node = {}
    for z in range(1, zones + 1):
        if box.REDIS_MODE == "cluster":
            port = box.cluster_port(box.zone_slot("Event1", z), refresh=z == 1)
        else:
            port = box.REDIS_PORTS[box.zone_node("Event1", z)]
        per_node.setdefault(port, []).append(z)
    taken = counters_off = pending = 0
    for node, zs in per_node.items():
        cmds = []
        for z in zs:
            tag = "{Event1:%d}" % z
            cmds += [("BITCOUNT", "bo:seat:" + tag), ("HGET", "bo:left:" + tag, "z"),
                     ("ZCARD", "bo:pend:" + tag)]
        s = socket.create_connection(("127.0.0.1", node), timeout=30)
        f = s.makefile("rb")
        try:
            s.sendall(b"".join(box._resp_encode(c) for c in cmds))
            replies = [box._resp_read(f) for _ in cmds]
        finally:
            f.close()
            s.close()
        for i in range(0, len(replies), 3):
            taken += replies[i]
            counters_off += 0 if replies[i + 1] in (b"0", 0) else 1
            pending += replies[i + 2]
    return taken, counters_off, pending


def correctness(facts, seats, zones):
    """The check line: every fact and whether it holds."""
    st = facts["statuses"]
    s201 = st.get(201, 0)
    s409 = st.get(409, 0)
    other = sum(n for s, n in st.items() if s not in (201, 409))
    sql_rows, sql_seats = [int(x) for x in box.sql(
        "SELECT COUNT(*), COUNT(DISTINCT zone_id, row_no, col_no) FROM ticketing.ticket "
        "WHERE event_id='Event1'")[0]]
    ddb_items = box.ddb_count()
    taken, counters_off, pending = redis_state(zones)
    c = {
        "201": s201, "409": s409, "other": other,
        "unanswered": facts["requests"] - facts["answered"],
        "socket_errors": facts["socket_errors"],
        "mysql": sql_rows, "mysql_twice": sql_rows - sql_seats,
        "dynamodb": ddb_items,
        "client_twice": facts.get("seats_twice", 0) + (s201 - facts.get("seats_distinct", 0)),
        "redis_taken": taken, "redis_counters_off": counters_off, "redis_pending": pending,
    }
    c["ok"] = (s201 == seats == sql_rows == ddb_items == taken and other == 0 and
               s409 == facts["requests"] - seats and c["unanswered"] == 0 and
               c["socket_errors"] == 0 and c["mysql_twice"] == 0 and c["client_twice"] == 0 and
               counters_off == 0 and pending == 0)
    return c


def check_line(c, seats):
    def mark(cond):
        return "ok" if cond else "FAIL"
    return ("201 = %d (%s), MySQL = %d (%s), DynamoDB = %d (%s), Redis seats = %d (%s), "
            "sold twice: client %d, MySQL %d (%s), Redis pending %d, other statuses %d, "
            "socket errors %d, unanswered %d => %s"
            % (c["201"], mark(c["201"] == seats), c["mysql"], mark(c["mysql"] == seats),
               c["dynamodb"], mark(c["dynamodb"] == seats), c["redis_taken"],
               mark(c["redis_taken"] == seats and c["redis_counters_off"] == 0),
               c["client_twice"], c["mysql_twice"],
               mark(c["client_twice"] == 0 and c["mysql_twice"] == 0),
               c["redis_pending"], c["other"], c["socket_errors"], c["unanswered"],
               "CORRECT" if c["ok"] else "WRONG"))


def purchase_row(ratio, zones, seed, connections, threads, workdir, drain_timeout=None,
                 elsewhere=False):
    """One row: reset, request set, load through nginx, drain, correctness.
    elsewhere: the consumer is stopped (scripts/stack stop consumer: it
    finishes its batch, acks what it stored; the rest stays in the durable
    queues) before the load and started after it, so MySQL and DynamoDB
    Local do no work during the load; the drain is then timed from the
    consumer's start, with its own CPU split (drain_cpu)."""
    reset()
    path = os.path.join(workdir, "req-%d-z%d-s%s.txt" % (round(ratio * 100), zones, seed))
    requests, seats = request_file(ratio, zones, seed, path)
    if elsewhere:
        stack("stop", "consumer")
    waited = settle()
    meter = CpuMeter()
    facts = run_wrk(path, connections, threads, meter=meter)
    facts["settled_s"] = waited
    load_s = facts["seconds"] or facts["wall"]
    if drain_timeout is None:
        drain_timeout = max(120.0, 6 * load_s)
    if elsewhere:
        dmeter = CpuMeter().start()
        t0 = time.time()
        stack("start", "consumer")
        t_sql, t_ddb = drain(facts["statuses"].get(201, 0), t0, drain_timeout)
        facts["drain_cpu"] = dmeter.stop()
        facts["drain_cpu_s"] = dmeter.seconds
    else:
        # drain times count from the load's first request
        t_sql, t_ddb = drain(facts["statuses"].get(201, 0), facts["end_time"] - load_s,
                             drain_timeout)
    facts.update(ratio=ratio, seats=seats, load_s=load_s, drain_sql=t_sql, drain_ddb=t_ddb,
                 elsewhere=elsewhere)
    facts["check"] = correctness(facts, seats, zones)
    return facts
