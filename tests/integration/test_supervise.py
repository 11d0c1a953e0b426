# SPDX-License-Identifier: ISC
"""Supervision: a responder or the consumer killed with SIGKILL is replaced
within seconds by prefork, while clients keep buying through nginx and
lighttpd; no request is lost beyond the one the dead responder had in hand,
and every ticket sold is persisted.  The supervisor itself (prefork) killed
with SIGKILL under load: its responders keep serving, and the next
`scripts/stack start ticket` starts a new supervisor that replaces them;
the history check finds no violation.  Also prefork itself: SIGTERM stops the
children, a program that cannot start (a responder without its socket
included) is not restarted forever, a restart (SIGHUP) lets a responder
finish the purchase whose body is still arriving, and `scripts/stack stop`
really stops a supervised service."""

import ctypes
import json
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time

import box
import fcgi
import history
from box import check, eq

PREFORK = os.path.join(box.BIN, "prefork")
PR_SET_CHILD_SUBREAPER = 36
RUN = os.path.join(box.ENV.get("BOX_VAR", os.path.join(box.ROOT, "var")), "run")


def alive_pids(name):
    return [p for p in box.fcgi_pids(name) if box.alive(p)]


def running(pid):
    """Alive and not a zombie (an orphan stays one until init reaps it)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def sup_pid(name):
    with open(os.path.join(RUN, name + "-sup.pid")) as f:
        return int(f.read().split()[0])


class Buyers:
    """Client threads buying distinct seats of one Event1 zone on keep-alive
    connections, alternating nginx and lighttpd; every answer is counted."""

    def __init__(self, zone, threads=4):
        self.seats = [(r, c) for r in range(1, 27) for c in range(1, 31)]
        self.zone = zone
        self.lock = threading.Lock()
        self.answers = {}        # status -> count
        self.errors = []         # requests that got no HTTP answer
        self.sold = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(i,)) for i in range(threads)]

    def next_seat(self):
        with self.lock:
            return self.seats.pop() if self.seats else None

    def run(self, i):
        port = box.WEB_PORTS[i % 2]
        conn = box.httplib.HTTPConnection("127.0.0.1", port, timeout=30)
        while not self.stop.is_set():
            seat = self.next_seat()
            if seat is None:
                break
            try:
                r = box.buy("Venue1", "Event1", self.zone, seat[0], seat[1], conn=conn)
            except (OSError, box.httplib.HTTPException) as e:
                with self.lock:
                    self.errors.append(repr(e))
                conn.close()
                conn = box.httplib.HTTPConnection("127.0.0.1", port, timeout=30)
                continue
            with self.lock:
                self.answers[r.status] = self.answers.get(r.status, 0) + 1
                if r.status == 201:
                    self.sold.append(r.json()["ticketId"])
            time.sleep(0.002)
        conn.close()

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join()

    def count(self):
        with self.lock:
            return sum(self.answers.values())


def wait_sales(b, n, what):
    box.wait_until(lambda: b.count() >= n, timeout=30, what=what)


def setup_module():
    box.stack("reset")


def test_killed_responder_is_replaced_without_losing_requests():
    before = sorted(alive_pids("ticket"))
    check(len(before) >= 2, "responders: %r" % before)
    with Buyers(zone=61) as b:
        wait_sales(b, 40, "sales before the kill")
        victim = before[len(before) // 2]
        at = b.count()
        os.kill(victim, signal.SIGKILL)
        t0 = time.time()
        box.wait_until(lambda: len(alive_pids("ticket")) == len(before) and
                       victim not in alive_pids("ticket"), timeout=5, interval=0.05,
                       what="a new responder in place of %d" % victim)
        took = time.time() - t0
        wait_sales(b, at + 60, "sales after the kill")
    print("responder %d replaced in %.2f s; answers %r" % (victim, took, b.answers))
    eq(b.errors, [], "requests without an HTTP answer")
    lost = b.count() - b.answers.get(201, 0)
    check(lost <= 1, "more than the request in flight was lost: %r" % b.answers)
    # the request in flight: nginx answers 503, lighttpd 500 (docs/reliability.md)
    check(set(b.answers) <= {201, 500, 503}, "unexpected answers %r" % b.answers)
    after = alive_pids("ticket")
    eq(len(after), len(before), "responders after the kill")
    eq(len(set(after) - set(before)), 1, "exactly one new responder")
    box.wait_until(lambda: box.sql_count("SELECT COUNT(*) FROM ticketing.ticket WHERE "
                                         "event_id = 'Event1' AND zone_id = 61") >=
                   len(b.sold), timeout=60, what="the sold tickets in MySQL")


def test_killed_consumer_is_replaced_and_every_sale_persisted():
    with open(os.path.join(RUN, "consumer.pid")) as f:
        victim = int(f.read().split()[0])
    sup = sup_pid("consumer")
    with Buyers(zone=62, threads=2) as b:
        wait_sales(b, 30, "sales before the kill")
        os.kill(victim, signal.SIGKILL)
        t0 = time.time()

        def replaced():
            with open(os.path.join(RUN, "consumer.pid")) as f:
                pids = [int(x) for x in f.read().split()]
            return pids and pids[0] != victim and box.alive(pids[0])
        box.wait_until(replaced, timeout=5, interval=0.05, what="a new consumer")
        took = time.time() - t0
        wait_sales(b, b.count() + 30, "sales after the kill")
    print("consumer %d replaced in %.2f s" % (victim, took))
    eq(sup_pid("consumer"), sup, "the supervisor itself")
    eq(b.errors, [], "requests without an HTTP answer")
    eq(set(b.answers), {201}, "answers while the consumer died")
    n = len(b.sold)
    q = "SELECT ticket_id FROM ticketing.ticket WHERE event_id = 'Event1' AND zone_id = 62"
    box.wait_until(lambda: len(box.sql(q)) == n, timeout=90, what="%d tickets in MySQL" % n)
    check(sorted(r[0] for r in box.sql(q)) == sorted(b.sold), "MySQL holds other tickets")

    def in_ddb():
        return sorted(i["ticketId"] for i in box.ddb_items()
                      if i["eventId"] == "Event1" and i["zoneId"] == "62")
    box.wait_until(lambda: in_ddb() == sorted(b.sold), timeout=90,
                   what="the %d tickets in DynamoDB (have %d)" % (n, len(in_ddb())))


def test_killed_supervisor_leaves_responders_serving_until_replaced():
    """kill -9 of the responders' prefork under a purchase load: every
    responder goes on serving (purchases keep succeeding), and a new
    supervisor (scripts/stack start ticket) replaces them: its own pool on
    the socket, the orphans stopped after they finished their request."""
    box.stack("reset")      # the history check reads whole stores
    h = history.History("supervisor-killed")
    kids = sorted(alive_pids("ticket"))
    sup = sup_pid("ticket")
    check(len(kids) >= 2, "responders: %r" % kids)
    load = history.Load(h, history.zone_seats("Event1", 63), workers=4, rate=40).start()
    try:
        time.sleep(2)
        os.kill(sup, signal.SIGKILL)
        killed = time.time()
        time.sleep(4)
        survivors = [p for p in kids if running(p)]
        restarted = time.time()
        box.stack("start", "ticket")
        new_sup = sup_pid("ticket")
        box.wait_until(lambda: not any(running(p) for p in kids), timeout=60,
                       what="the orphaned responders replaced by the new supervisor")
        box.wait_until(lambda: len([p for p in alive_pids("ticket") if running(p)]) == len(kids),
                       timeout=30, what="%d responders of the new supervisor" % len(kids))
        replaced = time.time()
        time.sleep(3)
    finally:
        load.stop()
    recs = h.records

    def ok(a, b):
        return sum(1 for r in recs if r["outcome"] == "ok" and a <= r["t0"] and r["t1"] <= b)
    print("supervisor %d killed; %d of %d responders still running 4 s later; new "
          "supervisor %d; ok while orphaned %d, after the replacement %d; %s" % (
              sup, len(survivors), len(kids), new_sup, ok(killed + 0.5, restarted),
              ok(replaced, time.time()), h.summary()))
    eq(survivors, kids, "responders running after their supervisor died")
    check(ok(killed + 0.5, restarted) > 0, "no purchase succeeded while the supervisor was dead")
    check(ok(replaced, time.time()) > 0, "no purchase succeeded after the replacement")
    check(new_sup != sup and running(new_sup), "no new supervisor")
    eq(set(alive_pids("ticket")) & set(kids), set(), "old responders in the new pid file")
    history.settle_and_check(h)


def test_stack_stop_stops_the_supervised_consumer():
    sup = sup_pid("consumer")
    box.stack("stop", "consumer")
    try:
        check(not box.alive(sup), "prefork of the consumer still running")
        time.sleep(1.5)
        with open(os.path.join(RUN, "consumer.pid")) as f:
            left = [int(x) for x in f.read().split() if box.alive(int(x))]
        eq(left, [], "consumer processes after stop")
    finally:
        box.stack("start", "consumer")


def test_a_restart_while_a_body_arrives_answers_the_purchase():
    """SIGHUP to the purchase responders' prefork (a restart: SIGTERM to each
    child) while one of them reads a body that Apache passes on as the
    client sends it: that one waits for the rest, answers the purchase (201)
    and only then exits; the idle ones, blocked in accept, exit at once; the
    pool comes back and sells.  Before, the signal interrupted the read
    (EINTR), the responder answered 400 "cannot read the request body" and
    exited, and the buyer got a 400 or Apache's 503."""
    if not box.APACHE:
        print("no Apache in this stack (nginx and lighttpd pass whole bodies)")
        return
    n = int(box.ENV.get("BOX_TICKET_PROCS", "8"))
    old = alive_pids("ticket")
    eq(len(old), n, "responders before")
    body = json.dumps({"venueId": "Venue1", "eventId": "Event1", "zoneId": 64, "row": 1,
                       "column": 1}).encode()
    head = ("POST /tickets HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json"
            "\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body)).encode()
    c = socket.create_connection(("127.0.0.1", box.APACHE), timeout=30)
    try:
        c.sendall(head + body[:len(body) // 2])
        # the body's half reaches a responder, which waits for the rest
        # (fcgi_read_timeout_ms, 2 s, from now on)
        time.sleep(0.3)
        os.kill(sup_pid("ticket"), signal.SIGHUP)
        t0 = time.time()
        busy = []
        while time.time() - t0 < 1.0:
            busy = [p for p in old if running(p)]
            if len(busy) <= 1:
                break
            time.sleep(0.02)
        idle_gone = time.time() - t0
        c.sendall(body[len(body) // 2:])
        r = box.httplib.HTTPResponse(c)
        r.begin()
        out = r.read()
    finally:
        c.close()
    print("SIGHUP: %d idle responders gone in %.2f s, %r still running; answer %d" % (
        n - len(busy), idle_gone, busy, r.status))
    eq(r.status, 201, "the purchase whose body was arriving (%r)" % out[:200])
    tkt = json.loads(out)
    eq((tkt["zoneId"], tkt["row"], tkt["column"]), (64, 1, 1), "the seat sold")
    eq(len(busy), 1, "old responders still running after the idle ones stopped (one "
       "reads our body: did Apache pass the half on?)")
    box.wait_until(lambda: not running(busy[0]), timeout=10, interval=0.05,
                   what="the responder that answered %d to stop" % busy[0])
    box.wait_until(lambda: len(alive_pids("ticket")) == n and
                   not set(alive_pids("ticket")) & set(old), timeout=30,
                   what="%d new responders" % n)
    r = box.buy("Venue1", "Event1", 64, 1, 2, port=box.APACHE)
    eq(r.status, 201, "a purchase after the restart")
    box.ticket_persisted(tkt["ticketId"], timeout=60)


def test_a_stop_while_the_request_head_arrives_answers_it():
    """SIGTERM to a responder that has accepted a connection and is still
    reading the request's parameters (inside libfcgi's accept, before the
    request is in hand): it waits for the rest of them, answers that
    request, then exits 0.  Before, the signal interrupted libfcgi's read
    (EINTR), libfcgi took the parameters it had for the whole request, and
    the responder answered a request without its path (404 "no such path")
    before the web server had even sent it.  An idle responder still stops
    at once."""
    with tempfile.TemporaryDirectory() as d:
        sock = os.path.join(d, "query.sock")
        env = dict(box.ENV, BOXOFFICE_LOG_FILE="", BOXOFFICE_METRICS_DIR="")

        def start():
            p = subprocess.Popen(["spawn-fcgi", "-n", "-s", sock, "--",
                                  os.path.join(box.BIN, "query.fcgi"), "-c",
                                  box.ENV["BOX_CONF"]], stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                 text=True, env=env)
            box.wait_until(lambda: os.path.exists(sock), timeout=10, interval=0.05,
                           what="the responder's socket")
            eq(fcgi.call(sock, "GET", "/get/venues").split("\r\n", 1)[0], "Status: 200 OK",
               "a request before the test")
            return p

        p = start()
        try:
            # REQUEST_METHOD sent, the path and the parameters' end not yet
            head, rest = fcgi.request("GET", "/get/venues", head_params=1)
            s = fcgi.connect(sock, timeout=10)
            try:
                s.sendall(head)
                time.sleep(0.3)
                p.send_signal(signal.SIGTERM)
                time.sleep(0.3)
                check(p.poll() is None, "the responder exited (%s) with a request's head read"
                      % p.returncode)
                s.sendall(rest)
                out = fcgi.read_reply(s)
            finally:
                s.close()
            eq(out.split("\r\n", 1)[0], "Status: 200 OK",
               "the answer to the request whose head was arriving (%r)" % out[:200])
            eq(p.wait(timeout=10), 0, "exit status after the answer")
        finally:
            if p.poll() is None:
                p.kill()
            p.wait()
        # idle, waiting in accept: stops at once
        os.unlink(sock)
        p = start()
        try:
            t0 = time.time()
            p.send_signal(signal.SIGTERM)
            eq(p.wait(timeout=5), 0, "exit status of an idle responder")
            check(time.time() - t0 < 1.0, "an idle responder took %.2f s to stop"
                  % (time.time() - t0))
        finally:
            if p.poll() is None:
                p.kill()
            p.wait()


def test_prefork_stops_its_children_on_sigterm():
    with tempfile.TemporaryDirectory() as d:
        pidfile = os.path.join(d, "kids.pid")
        p = subprocess.Popen([PREFORK, "-n", "3", "-p", pidfile, "--", "sleep", "60"],
                             stderr=subprocess.PIPE, text=True)
        try:
            box.wait_until(lambda: os.path.exists(pidfile) and
                           len(open(pidfile).read().split()) == 3, timeout=5, what="3 children")
            kids = [int(x) for x in open(pidfile).read().split()]
            os.kill(kids[0], signal.SIGKILL)
            box.wait_until(lambda: kids[0] not in [int(x) for x in open(pidfile).read().split()]
                           and len(open(pidfile).read().split()) == 3, timeout=5,
                           what="the killed child replaced")
            kids = [int(x) for x in open(pidfile).read().split()]
            p.send_signal(signal.SIGTERM)
            eq(p.wait(timeout=10), 0, "prefork exit status")
            check(not any(box.alive(k) for k in kids), "children left running")
            err = p.stderr.read()
            check("killed by signal 9" in err and "SIGTERM: stopping 3 children" in err, err)
        finally:
            if p.poll() is None:
                p.kill()


def test_prefork_replaces_the_children_of_a_dead_prefork():
    """prefork killed with SIGKILL: its children run on; a new prefork with
    the same pid file starts its own, then stops the old ones (and only
    those running the same command line)."""
    with tempfile.TemporaryDirectory() as d:
        pidfile = os.path.join(d, "kids.pid")
        cmd = [PREFORK, "-n", "2", "-p", pidfile, "--", "sleep", "61"]
        first = subprocess.Popen(cmd, stderr=subprocess.DEVNULL)
        other = subprocess.Popen(["sleep", "62"])     # listed, but another program
        second = None
        try:
            box.wait_until(lambda: len(open(pidfile).read().split()) == 2, timeout=5,
                           what="2 children")
            old = [int(x) for x in open(pidfile).read().split()]
            first.kill()
            first.wait()
            time.sleep(0.5)
            eq([p for p in old if running(p)], old, "children after their prefork died")
            with open(pidfile, "a") as f:
                f.write("%d\n" % other.pid)
            second = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
            box.wait_until(lambda: not any(running(p) for p in old), timeout=10,
                           what="the old children stopped by the new prefork")
            new = [int(x) for x in open(pidfile).read().split()]
            eq(len([p for p in new if running(p)]), 2, "the new prefork's children")
            eq(set(new) & set(old), set(), "old pids in the new pid file")
            check(other.poll() is None, "a listed process of another program was stopped")
            second.send_signal(signal.SIGTERM)
            eq(second.wait(timeout=10), 0, "new prefork exit status")
            check("previous supervisor" in second.stderr.read(), "no word of the old children")
        finally:
            for p in (first, second, other):
                if p is not None and p.poll() is None:
                    p.kill()
            for p in [int(x) for x in open(pidfile).read().split()] if os.path.exists(
                    pidfile) else []:
                if running(p):
                    os.kill(p, signal.SIGKILL)


def test_prefork_killed_before_retiring_the_old_children():
    """The second prefork dies before its children have run for a second
    (before it stopped the first one's): a third retires both generations,
    the first one's too (they were in no pid file any more: orphans that
    accept nothing under spawn-fcgi -n)."""
    with tempfile.TemporaryDirectory() as d:
        pidfile = os.path.join(d, "kids.pid")
        cmd = [PREFORK, "-n", "2", "-p", pidfile, "--", "sleep", "63"]
        procs, gens = [], []

        def listed():
            return box.pidfile_pids(pidfile)

        def started(known):
            mine = [p for p in listed() if p not in known and running(p)]
            return mine if len(mine) == 2 else None

        try:
            for gen in range(2):
                procs.append(subprocess.Popen(cmd, stderr=subprocess.DEVNULL))
                known = sum(gens, [])
                gens.append(box.wait_until(lambda: started(known), timeout=5, interval=0.02,
                                           what="generation %d started" % gen))
                procs[-1].kill()     # within its first second: nothing retired
                procs[-1].wait()
            everyone = sum(gens, [])
            eq([p for p in everyone if running(p)], everyone, "both generations running")
            procs.append(subprocess.Popen(cmd, stderr=subprocess.DEVNULL))
            box.wait_until(lambda: not any(running(p) for p in everyone), timeout=10,
                           what="both earlier generations (first %s, second %s) stopped by "
                           "the third prefork" % (gens[0], gens[1]))
            new = listed()
            eq(len([p for p in new if running(p)]), 2, "the third prefork's children")
            eq(set(new) & set(everyone), set(), "earlier pids in the pid file")
            procs[-1].send_signal(signal.SIGTERM)
            eq(procs[-1].wait(timeout=10), 0, "third prefork exit status")
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
            for p in sum(gens, []) + listed():
                if running(p):
                    os.kill(p, signal.SIGKILL)


def test_prefork_retires_the_old_child_not_a_process_that_took_its_pid():
    """An old child (of a prefork killed with SIGKILL) that exits after the
    new prefork read the pid file and before it retires the old ones: its
    pid, taken meanwhile by another process running the very same command
    line, is not signalled.  The pid is handed on on purpose through
    /proc/sys/kernel/ns_last_pid (root).  Before, prefork sent SIGTERM to
    the pid and stopped that other process."""
    last_pid = "/proc/sys/kernel/ns_last_pid"
    if not os.access(last_pid, os.W_OK):
        print("%s is not writable here (not root): cannot hand a pid on" % last_pid)
        return
    with tempfile.TemporaryDirectory() as d:
        pidfile = os.path.join(d, "kids.pid")
        cmd = [PREFORK, "-n", "1", "-p", pidfile, "--", "sleep", "65"]
        procs, others = [], []

        def listed():
            return box.pidfile_pids(pidfile)

        # the first prefork's orphan is ours to reap at once (init may take
        # a second or more, and the new prefork retires after one)
        libc = ctypes.CDLL(None, use_errno=True)
        eq(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0, "prctl(PR_SET_CHILD_SUBREAPER)")
        try:
            procs.append(subprocess.Popen(cmd, stderr=subprocess.DEVNULL))
            old = box.wait_until(lambda: [p for p in listed() if running(p)], timeout=5,
                                 interval=0.02, what="the first child")[0]
            procs[0].kill()
            procs[0].wait()
            procs.append(subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True))
            # the new prefork read the pid file: it lists its child beside the old
            box.wait_until(lambda: len(listed()) == 2 and old in listed(), timeout=5,
                           interval=0.005, what="the second prefork's child")
            t0 = time.time()
            os.kill(old, signal.SIGKILL)
            os.waitpid(old, 0)
            other = None
            for _ in range(20):
                with open(last_pid, "w") as f:
                    f.write(str(old - 1))
                q = subprocess.Popen(["sleep", "65"])
                others.append(q)
                if q.pid == old:
                    other = q
                    break
                q.kill()
            took = time.time() - t0
            if other is None:
                print("no process got pid %d in 20 tries (a busy machine): nothing to check"
                      % old)
                return
            check(took < 0.8, "handing the pid on took %.2f s: the new prefork may have "
                  "retired the old one before" % took)
            # the new prefork retires the old generation once its child ran 1 s
            time.sleep(2.0)
            procs[1].send_signal(signal.SIGTERM)
            eq(procs[1].wait(timeout=10), 0, "second prefork exit status")
            err = procs[1].stderr.read()
            check("1 sleep process(es) of a previous supervisor" in err, err)
            check(other.poll() is None, "the process that took pid %d was stopped (%s): "
                  "prefork signalled a pid, not the old child" % (old, other.poll()))
        finally:
            libc.prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
            for p in procs + others:
                if p.poll() is None:
                    p.kill()
                p.wait()
            for p in listed():
                if running(p):
                    os.kill(p, signal.SIGKILL)
                    try:
                        os.waitpid(p, 0)
                    except ChildProcessError:
                        pass


def test_prefork_gives_up_on_a_program_that_cannot_start():
    t0 = time.time()
    r = subprocess.run([PREFORK, "-n", "2", "--", "/nonexistent/program"], capture_output=True,
                       text=True, timeout=20)
    eq(r.returncode, 1, "exit status")
    check(time.time() - t0 < 5, "took %.1f s" % (time.time() - t0))
    check("giving up" in r.stderr, r.stderr)
    r = subprocess.run([PREFORK, "-n", "0", "--", "true"], capture_output=True, text=True)
    eq(r.returncode, 2, "bad -n")


def test_a_responder_without_a_socket_gives_up():
    """prefork started without spawn-fcgi (descriptor 0 not a listening
    socket): the responder logs why its accept failed and exits 1, so prefork
    gives up at once (before, it exited 0 without a word and prefork
    restarted it for ever)."""
    env = dict(box.ENV, BOXOFFICE_LOG_FILE="", BOXOFFICE_METRICS_DIR="")
    t0 = time.time()
    p = subprocess.Popen([PREFORK, "-n", "1", "--", os.path.join(box.BIN, "query.fcgi"),
                          "-c", box.ENV["BOX_CONF"]], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    try:
        err = p.communicate(timeout=15)[1]
    except subprocess.TimeoutExpired:
        p.send_signal(signal.SIGTERM)     # prefork stops its child
        err = p.communicate(timeout=30)[1]
        check(False, "prefork still restarting the responder after 15 s:\n" + err[-2000:])
    eq(p.returncode, 1, "prefork exit status")
    check(time.time() - t0 < 10, "took %.1f s" % (time.time() - t0))
    check("giving up" in err, err)
    check("accept" in err and "non-socket" in err, "no word of why:\n" + err)


if __name__ == "__main__":
    raise SystemExit(box.main(globals()))
