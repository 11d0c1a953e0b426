# SPDX-License-Identifier: ISC
"""test_pubd_stalls.py - the local publisher (pubd/) never waits on the
broker: every responder is answered by its message's deadline whatever one
broker connection does.

- a broker node that accepts TCP but never answers the AMQP handshake
  (a listening socket nobody reads): pubd's connectors wait on it, its loop
  answers every message by the message's deadline (failed: waited for a
  connection being opened, or found none), where a connect inside the
  loop held every responder for amqp_connect_timeout_ms;
- a broker gone silent without closing TCP (a proxy that turns the
  connection into a black hole): pubd drops the connection after 1.5
  heartbeat intervals, answers the message in flight "unknown" long before
  its deadline, and the next message goes out on a new connection;
- a broker that stops reading (SIGSTOP) while pubd keeps publishing
  messages big enough to fill the connection's socket buffers: every
  message is answered by its deadline, the unknown outcome for those sent,
  "not sent in time" for those that waited for room, where a publish
  inside the loop blocked on the full socket and answered nobody until the
  broker read again;
- a broker that stops reading one connection and goes on sending its
  heartbeats (its flow control; a proxy that stops forwarding what pubd
  sends): rabbitmq-c's frame reader sends a heartbeat of its own once the
  interval has passed and waits for room without a limit, so pubd drops a
  connection that has had no room for 3/4 of the interval, before reading
  its frames again (the interval agreed with the broker, which may be
  shorter than the one pubd asks for; messages of a few KiB as well as
  large ones); every message is answered by its deadline, and the
  next ones go out on a new connection;
- a message that waits for a connection being opened while the other one
  is blocked by a resource alarm: pubd sleeps until something changes,
  where it polled the blocked connection for room (always there) and spun;
- a stop (SIGTERM) while responders keep publishing: pubd closes each
  socket with nothing left to answer and exits once what it took is
  answered, where it took new messages for as long as they came; and it
  sleeps while stopping with a connection lost, where it spun;
- a message its responder wrote just as a stopping pubd closed the socket
  (unread): the responder knows it was not sent (503 "nothing was sold",
  the seat free), where it took that for an unknown outcome.

Each test runs a pubd of its own (its own socket and configuration) next
to the stack; the messages go to the default exchange with a routing key
no queue has and mandatory off, so the broker drops them (but those of
the responder of the last item's own: real sales, persisted).
"""

import json
import os
import re
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time

import box
import fcgi
import history
import tcpproxy
from box import check, eq

OK, FAILED, UNKNOWN = 0, 1, 2
VOID_KEY = "boxoffice.test.void"
PROXY_PORT = int(os.environ.get("BOX_SPARE_PORT_BASE", "30200")) + 5
AMQP_PORT = int(os.environ.get("BOX_AMQP_PORT", "15673"))


def request(mid, body, timeout_ms, key=VOID_KEY, exchange="", mandatory=False):
    """One request frame (shared/pubframe.h)."""
    mid, exchange, key = mid.encode(), exchange.encode(), key.encode()
    return (b"BP" + bytes([1 if mandatory else 0, len(mid), len(exchange), len(key)]) +
            struct.pack(">II", timeout_ms, len(body)) + mid + exchange + key + body)


class Client:
    """A responder's side of pubd's socket: requests out, answers in."""

    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.connect(path)
        self.buf = b""
        self.answers = {}
        self.at = {}
        self.eof = False        # pubd closed the socket
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        while True:
            try:
                got = self.s.recv(65536)
            except OSError:
                return
            if not got:
                self.eof = True
                return
            self.buf += got
            while len(self.buf) >= 5:
                il, wl = self.buf[3], self.buf[4]
                if len(self.buf) < 5 + il + wl:
                    break
                check(self.buf[:2] == b"BA", "not an answer frame: %r" % self.buf[:16])
                mid = self.buf[5:5 + il].decode()
                self.answers[mid] = (self.buf[2], self.buf[5 + il:5 + il + wl].decode())
                self.at[mid] = time.monotonic()
                self.buf = self.buf[5 + il + wl:]

    def send(self, frame):
        self.s.sendall(frame)

    def close(self):
        self.s.close()


class Pubd:
    """A pubd of the test's own: its configuration is the stack's with
    overrides (keys replaced), its log a file of its own."""

    def __init__(self, env=None, **overrides):
        self.dir = tempfile.mkdtemp(prefix="pubd-", dir="/tmp")
        self.sock = os.path.join(self.dir, "pubd.sock")
        overrides.setdefault("pubd_socket", self.sock)
        self.conf = os.path.join(self.dir, "boxoffice.conf")
        keys = set(overrides)
        with open(box.CONF) as f:
            lines = [ln for ln in f
                     if not re.match(r"\s*(%s)\s*=" % "|".join(map(re.escape, keys)), ln)]
        lines += ["%s = %s\n" % kv for kv in overrides.items()]
        with open(self.conf, "w") as f:
            f.writelines(lines)
        self.log = os.path.join(self.dir, "pubd.log")
        env = dict(os.environ, BOXOFFICE_LOG_FILE=self.log, **(env or {}))
        self.p = subprocess.Popen([os.path.join(box.BIN, "pubd"), "-c", self.conf],
                                  env=env, stdout=subprocess.DEVNULL,
                                  stderr=open(self.log + ".err", "w"))

    def wait_started(self, timeout=60):
        box.wait_until(lambda: os.path.exists(self.log) and
                       "started:" in open(self.log).read(),
                       timeout=timeout, what="pubd started (%s)" % self.log)

    def confirmed_client(self):
        """Once pubd is up, a client whose first message ("warm") the broker
        confirmed."""
        self.wait_started(timeout=30)
        c = Client(self.sock)
        c.send(request("warm", b"{}", 5000))
        box.wait_until(lambda: "warm" in c.answers, timeout=30, what="first confirm")
        eq(c.answers["warm"][0], OK, "the first message: %s" % (c.answers["warm"],))
        return c

    def logtext(self):
        text = ""
        for name in (self.log, self.log + ".err"):
            if os.path.exists(name):
                text += open(name).read()
        return text

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(30)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        err = self.logtext()
        check("ERROR: AddressSanitizer" not in err and "runtime error" not in err,
              "pubd: sanitizer report:\n%s" % err[-3000:])


def test_a_return_is_its_own_message_s_not_the_first_of_its_id():
    """Two messages of one id in flight on one connection (a responder's
    retry after an unknown outcome; a cancellation, which carries its
    order's id): the first routed to a queue (its confirm waits for the
    disk), the second unroutable (returned at once, then confirmed).  Each
    is answered as the broker took it: the first OK, the second FAILED
    (unroutable).  Broken (a return given to the oldest entry of its id):
    the first FAILED, a sale released whose message is queued, and the
    second OK, a 201 or a cancel's 200 for a message no queue holds."""
    pd = Pubd(pubd_connections=1)
    queue = "ticketSQL.dead"      # a durable queue nobody consumes here
    before = box.queue_count(queue)
    try:
        c = pd.confirmed_client()
        got = []
        for n in range(12):
            mid = "twice-%d" % n
            c1, c2 = Client(pd.sock), Client(pd.sock)
            c1.send(request(mid, b'{"n":%d}' % n, 5000, key=queue, mandatory=True))
            c2.send(request(mid, b"{}", 5000, key=VOID_KEY, mandatory=True))
            box.wait_until(lambda: mid in c1.answers and mid in c2.answers, timeout=30,
                           what="both answers of %s" % mid)
            got.append((c1.answers[mid][0], c2.answers[mid][0]))
            c1.close()
            c2.close()
        print("answers (routed, returned): %s" % got)
        eq(got, [(OK, FAILED)] * 12, "answers (routed, returned) of the pairs of one id")
        c.close()
    finally:
        pd.stop()
        box.mqtool("get", queue, 12)
    eq(box.queue_count(queue), before, "%s as before" % queue)


def test_a_broker_node_that_never_answers_stalls_no_one():
    hole = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    hole.bind(("127.0.0.1", 0))
    hole.listen(64)     # the kernel completes the handshakes; nobody reads
    port = hole.getsockname()[1]
    pd = Pubd(amqp_hosts="127.0.0.1:%d" % port, amqp_connect_timeout_ms=6000,
              pubd_connections=2)
    try:
        pd.wait_started(timeout=30)
        c = Client(pd.sock)
        sent = {}
        for n in range(12):     # over 2.4 s: connects to the hole in progress
            mid = "hole-%d" % n
            sent[mid] = time.monotonic()
            c.send(request(mid, b"{}", 2000))
            time.sleep(0.2)
        box.wait_until(lambda: len(c.answers) == len(sent), timeout=30,
                       what="answers to all %d messages" % len(sent))
        took = {m: round(c.at[m] - t, 2) for m, t in sent.items()}
        print("answers: %s after %s s" % (sorted(set(c.answers.values())),
                                         sorted(took.values())))
        late = {m: t for m, t in took.items() if t > 3.0}
        check(not late, "answers later than the 2 s deadline + 1 s, held by a connect "
              "(6 s) in progress (s): %s" % late)
        for m, (r, why) in c.answers.items():
            eq(r, FAILED, "message %s: not sent, so FAILED (%s)" % (m, why))
        c.close()
    finally:
        pd.stop()
        hole.close()


def test_a_broker_that_stops_reading_stalls_no_one():
    pd = Pubd(pubd_connections=1, amqp_heartbeat=30)
    pid = box.rabbit_pid()
    try:
        c = pd.confirmed_client()
        body = b"x" * (250 * 1024)
        n = 80          # 20 MB: more than the broker's and pubd's socket buffers
        os.kill(pid, signal.SIGSTOP)
        try:
            t0 = time.monotonic()
            # a pubd that blocks on the broker stops reading its socket:
            # the sends must not hold the SIGCONT below
            threading.Thread(target=lambda: [c.send(request("big-%d" % k, body, 2000))
                                             for k in range(n)], daemon=True).start()
            while len(c.answers) < n + 1 and time.monotonic() - t0 < 8:
                time.sleep(0.05)
            ok = len(c.answers) == n + 1
            took = time.monotonic() - t0
            answered = len(c.answers) - 1
        finally:
            os.kill(pid, signal.SIGCONT)
        kinds = {}
        for m, (r, why) in c.answers.items():
            if m != "warm":
                kinds.setdefault((r, why.split(":")[0][:40]), []).append(m)
        print("%d of %d answered in %.1f s: %s" % (
            answered, n, took, {k: len(v) for k, v in kinds.items()}))
        check(ok, "%d of %d messages answered within 8 s of a broker that stopped "
              "reading (deadline 2 s)" % (answered, n))
        unsent = [m for m, (r, why) in c.answers.items() if r == FAILED and
                  "not sent in time" in why]
        check(unsent, "no message waited for room: the socket buffers never filled")
        check(all(r in (FAILED, UNKNOWN) for m, (r, why) in c.answers.items()
                  if m != "warm"), "a message confirmed by a stopped broker?")
        # the broker back: the connection (or a new one) confirms again
        box.wait_until(lambda: (c.send(request("after-%f" % time.time(), b"{}", 3000)) or
                                any(m.startswith("after-") and r == OK
                                    for m, (r, _) in list(c.answers.items()))),
                       timeout=60, interval=1, what="a confirm after SIGCONT")
        c.close()
    finally:
        pd.stop()


def test_a_silent_broker_is_dropped_on_heartbeats():
    hb = 2
    proxy = tcpproxy.Proxy(PROXY_PORT, AMQP_PORT)
    pd = Pubd(amqp_hosts="127.0.0.1:%d" % PROXY_PORT, amqp_heartbeat=hb,
              pubd_connections=1)
    try:
        c = pd.confirmed_client()
        proxy.freeze()
        t0 = time.monotonic()
        c.send(request("lost", b"{}", 30000))
        box.wait_until(lambda: "lost" in c.answers, timeout=25,
                       what="an answer to the message sent into the silence")
        took = c.at["lost"] - t0
        print("silent broker: %s after %.1f s" % (c.answers["lost"], took))
        eq(c.answers["lost"][0], UNKNOWN, "the message sent into the silence")
        check(took < 10 * hb, "answered after %.1f s: not by the heartbeat check "
              "(1.5 x %d s) but later" % (took, hb))
        # connections opened after the freeze work (another node, as it were)
        c.send(request("after", b"{}", 10000))
        box.wait_until(lambda: "after" in c.answers, timeout=30, what="the next message")
        eq(c.answers["after"][0], OK, "the next message, on a new connection: %s" %
           (c.answers["after"],))
        c.close()
    finally:
        pd.stop()
        proxy.close()



def late_answers(c, sent, deadline_s, grace_s):
    """{message: seconds past its deadline + grace} of the messages sent
    (id -> monotonic time), all answered."""
    box.wait_until(lambda: all(m in c.answers for m in sent), timeout=60,
                   what="answers to all %d messages" % len(sent))
    return {m: round(c.at[m] - t - deadline_s, 2) for m, t in sent.items()
            if c.at[m] - t > deadline_s + grace_s}


# the send buffer of a stock kernel (wmem_max 208 KiB; pubd asks 1 MiB):
# sanitizer builds take it from BOX_TEST_PUBD_SNDBUF
SNDBUF_ASKED = 212992


def stopped_reading(body_len, asked=4, hb=4):
    """pubd publishing body_len-byte messages (20 MB of them) to a broker
    that stops reading its connection and goes on sending heartbeats:
    probes sent meanwhile are answered by their deadline, and those sent
    1.5-2.5 intervals in are confirmed on a new connection.  pubd asks for
    a heartbeat of asked seconds; hb is the one it agrees with the broker."""
    proxy = tcpproxy.Proxy(PROXY_PORT, AMQP_PORT)
    pd = Pubd(amqp_hosts="127.0.0.1:%d" % PROXY_PORT, amqp_heartbeat=asked,
              pubd_connections=1, env={"BOX_TEST_PUBD_SNDBUF": str(SNDBUF_ASKED)})
    try:
        probe = pd.confirmed_client()
        big = Client(pd.sock)
        check(proxy.stall() == 1, "pubd's connection is not through the proxy")
        t0 = time.monotonic()
        # 20 MB waiting long enough to fill every buffer on the way: the
        # connection has no room long before the broker's heartbeats (every
        # hb/2 s) come
        body = b"x" * body_len
        count = (20 << 20) // len(body)
        threading.Thread(target=lambda: [big.send(request("big-%d" % k, body, 10000))
                                         for k in range(count)], daemon=True).start()
        sent = {}
        while time.monotonic() - t0 < 4 * hb:
            mid = "probe-%d" % len(sent)
            sent[mid] = time.monotonic()
            probe.send(request(mid, b"{}", 1000))
            time.sleep(0.25)
        late = late_answers(probe, sent, 1.0, 1.0)
        kinds = {}
        for m in sent:
            kinds.setdefault(probe.answers[m][0], []).append(round(sent[m] - t0, 1))
        print("probes by outcome (sent at s): %s" % kinds)
        check(not late, "answers past the 1 s deadline + 1 s (s late): %s; pubd was held "
              "in rabbitmq-c's heartbeat send on the connection with no room" % late)
        # a broker closes a connection it has heard nothing from for two
        # intervals or more: pubd must not wait for that
        mid_way = [m for m in sent if 1.5 * hb <= sent[m] - t0 <= 2.5 * hb]
        not_ok = {m: probe.answers[m] for m in mid_way if probe.answers[m][0] != OK}
        check(mid_way and not not_ok, "probes sent %.0f-%.0f s after the broker stopped "
              "reading, not confirmed (no new connection yet): %s" % (1.5 * hb, 2.5 * hb,
                                                                      not_ok))
        check("presumed stuck" in pd.logtext(), "pubd did not say why it dropped the "
              "connection:\n%s" % pd.logtext()[-2000:])
        probe.close()
        big.close()
    finally:
        pd.stop()
        proxy.close()


def test_a_connection_the_broker_stopped_reading_is_dropped_before_its_heartbeat():
    # each message a quarter of pubd's send buffer (the kernel doubles what
    # pubd asks for): under the third a writable socket has free (the write
    # never waits), over the sixth pubd writes without asking the kernel
    # again, so that no write is left for a heartbeat of its own
    stopped_reading(SNDBUF_ASKED * 2 // 4)


def test_small_messages_leave_no_room_for_a_heartbeat_either():
    """Orders of a few KiB: when the kernel answers "no room", what pubd
    counted as room since its last "writable" is gone too.  Would catch:
    pubd sending the broker (which reads nothing) a heartbeat out of that
    count every half interval, each of which restarted the 3/4-interval
    clock, so the connection was not replaced until the broker closed it
    (messages failed "not sent in time" meanwhile)."""
    stopped_reading(2048)


def test_the_heartbeat_kept_to_is_the_one_agreed_with_the_broker():
    """pubd asks for 30 s, the broker for 4: RabbitMQ and rabbitmq-c agree
    on 4, and rabbitmq-c's frame reader sends its own heartbeat after 4 s
    of silence, waiting for room without a limit.  Would catch: pubd's
    timers on the 30 s it asked for (replaced the connection after 22 s;
    its loop held in that send until the broker closed the connection)."""
    got = history.rabbitmqctl("eval", "application:get_env(rabbit, heartbeat).").strip()
    m = re.match(r"^\{ok,(\d+)\}$", got)
    check(m, "the broker's heartbeat setting: %r" % got)
    history.rabbitmqctl("eval", "application:set_env(rabbit, heartbeat, 4).")
    try:
        stopped_reading(2048, asked=30, hb=4)
    finally:
        history.rabbitmqctl("eval", "application:set_env(rabbit, heartbeat, %s)." % m.group(1))


def test_a_stop_takes_no_new_message():
    """SIGTERM with a message in flight (a stalled connection: no confirm
    until its deadline): the socket of a responder with nothing left to
    answer is closed at once (it opens one to the next pubd), and a
    message that comes after the signal is answered "not sent"; pubd
    exits once the message in flight is answered.  Would catch: pubd
    taking new messages on the open sockets for as long as they came
    (under load some message is always in flight), so that a restart
    (prefork's SIGHUP: the next pubd starts when this one has exited) did
    not end, and responders needing a new socket found none meanwhile."""
    proxy = tcpproxy.Proxy(PROXY_PORT, AMQP_PORT)
    pd = Pubd(amqp_hosts="127.0.0.1:%d" % PROXY_PORT, pubd_connections=1)
    try:
        busy = pd.confirmed_client()
        idle = pd.confirmed_client()
        eq(proxy.stall(), 1, "connections stalled")
        time.sleep(0.3)
        busy.send(request("held", b"{}", 6000))
        time.sleep(0.3)
        pd.p.send_signal(signal.SIGTERM)
        box.wait_until(lambda: idle.eof, timeout=3,
                       what="the socket of the responder with nothing in flight closed")
        busy.send(request("after", b"{}", 6000))
        box.wait_until(lambda: "after" in busy.answers, timeout=3,
                       what="an answer to the message sent after the signal")
        eq(busy.answers["after"], (FAILED, "pubd is stopping: not sent"),
           "the message sent after the signal")
        pd.p.wait(15)
        eq(busy.answers["held"][0], UNKNOWN, "the message in flight at the signal")
    finally:
        pd.stop()
        proxy.close()


def test_a_stop_answers_a_message_already_in_the_socket():
    """A message that reaches a responder's socket as pubd acts on SIGTERM,
    before it closes the idle sockets (a pause there in the tests' build,
    BOX_TEST_PUBD_STOP_PAUSE_MS, makes sure of it).  Would catch: the socket
    closed with the message unread, which its responder can only take for
    an unknown outcome (503 with the ticketId, the sale left to the
    sweeper), instead of the definite "not sent" (its seats released, 503
    nothing sold)."""
    pd = Pubd(pubd_connections=1, env={"BOX_TEST_PUBD_STOP_PAUSE_MS": "1000"})
    try:
        c = pd.confirmed_client()
        pd.p.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        c.send(request("unread", b"{}", 6000))
        box.wait_until(lambda: "unread" in c.answers or not c.reader.is_alive(), timeout=5,
                       what="an answer, or the socket closed")
        eq(c.answers.get("unread"), (FAILED, "pubd is stopping: not sent"),
           "the message in the socket at the signal")
        pd.p.wait(15)
    finally:
        pd.stop()


def test_a_message_closed_unread_as_pubd_stops_is_not_sent():
    """A responder's kept socket that a stopping pubd closes just after its
    idle check, with the responder's next message written meanwhile (a
    pause there in the tests' build, BOX_TEST_PUBD_CLOSE_PAUSE_MS, makes
    sure of it): the message was never read, and the responder's read
    fails ECONNRESET, not EOF.  It tries a new socket; with no pubd
    listening yet (prefork starts the next one once this one has exited)
    nothing was sent: 503 "nothing was sold" and the seat free at once,
    sold again through the next pubd.  A responder of the test's own
    (ticket.fcgi under spawn-fcgi -n).  Would catch: the read taken for
    EOF, an unknown outcome (503 with the ticketId, the seat kept and the
    sale left to the sweeper) for a message no pubd had.  (The pause ends
    before the responder's deadline, 1.5 s + PUBC_GRACE_MS here.)"""
    zone = 61
    pd = Pubd(pubd_connections=1, amqp_publisher="local",
              env={"BOX_TEST_PUBD_CLOSE_PAUSE_MS": "1000"})
    pd2 = None
    sock = os.path.join(pd.dir, "ticket.sock")
    env = dict(box.ENV, BOXOFFICE_LOG_FILE="", BOXOFFICE_METRICS_DIR="",
               BOXOFFICE_AMQP_PUBLISHER="local", BOXOFFICE_PUBD_SOCKET=pd.sock)
    resp = None
    try:
        pd.wait_started(timeout=30)
        resp = subprocess.Popen(["spawn-fcgi", "-n", "-s", sock, "--",
                                 os.path.join(box.BIN, "ticket.fcgi"), "-c", pd.conf],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True, env=env)
        box.wait_until(lambda: os.path.exists(sock), timeout=10, interval=0.05,
                       what="the responder's socket")
        taken = box.zone_state("Event1", zone)["taken"]
        a, b = [c for c in range(1, 30) if (1, c) not in taken][:2]

        def buy(col):
            out = fcgi.call(sock, "POST", "/tickets", json.dumps(
                {"venueId": "Venue1", "eventId": "Event1", "zoneId": zone, "row": 1,
                 "column": col}).encode(), "application/json", timeout=30)
            head, _, body = out.partition("\r\n\r\n")
            return head.split("\r\n", 1)[0], body

        st, body = buy(a)
        eq(st, "Status: 201 Created", "the first purchase, through the first pubd (%s)" % body)
        pd.p.send_signal(signal.SIGTERM)
        box.wait_until(lambda: not os.path.exists(pd.sock), timeout=5, interval=0.02,
                       what="the stopping pubd's socket gone")
        st, body = buy(b)
        eq(st, "Status: 503 Service Unavailable",
           "the purchase whose message the stopping pubd closed unread (%s)" % body)
        check("nothing was sold" in body and "ticketId" not in body,
              "not a definite failure: %s" % body)
        eq(pd.p.wait(15), 0, "the first pubd's exit status")
        st = box.zone_state("Event1", zone)
        check((1, b) not in st["taken"], "seat (1,%d) still taken after 'nothing was sold'" % b)
        pd2 = Pubd(pubd_connections=1, pubd_socket=pd.sock)
        pd2.wait_started(timeout=30)
        st, body = buy(b)
        eq(st, "Status: 201 Created", "the same seat through the next pubd (%s)" % body)
        box.ticket_persisted(json.loads(body)["ticketId"])
    finally:
        if resp is not None:
            resp.terminate()
            _, err = resp.communicate(timeout=15)
            check("AddressSanitizer" not in err and "runtime error" not in err,
                  "responder: sanitizer report:\n%s" % err[-3000:])
        pd.stop()
        if pd2 is not None:
            pd2.stop()


def test_a_stop_under_load_answers_the_responders_confirms():
    """SIGTERM while responders keep publishing (8 that send one message
    at a time, as the responders do, beside 4 that keep two in flight):
    every answer is a confirm or "not sent" (the one-at-a-time ones' sockets
    are closed between messages; the signal can come between the read of
    a message and its publish, which still goes out; a message already in
    the socket when pubd would close it is read and answered "not sent"),
    and pubd exits within a confirm timeout."""
    pd = Pubd(pubd_connections=1, amqp_confirm_timeout_ms=2000)
    clients = [pd.confirmed_client() for _ in range(12)]
    stop = threading.Event()
    unanswered = []

    def loop(c, k, depth):
        n = 0
        out = []
        while not stop.is_set():
            while len(out) < depth:
                mid = "c%d-%d" % (k, n)
                n += 1
                try:
                    c.send(request(mid, b"{}", 2000))
                except OSError:
                    return
                out.append(mid)
            end = time.monotonic() + 10
            while out[0] not in c.answers:
                if c.eof or time.monotonic() > end:
                    unanswered.extend(out)
                    return
                time.sleep(0.0005)
            out.pop(0)
    threads = [threading.Thread(target=loop, args=(c, k, 2 if k < 4 else 1), daemon=True)
               for k, c in enumerate(clients)]
    for t in threads:
        t.start()
    try:
        time.sleep(2)
        before = sum(len(c.answers) for c in clients)
        check(before > 100, "the responders publishing: %d answers in 2 s" % before)
        t0 = time.monotonic()
        pd.p.send_signal(signal.SIGTERM)
        try:
            pd.p.wait(6)
        except subprocess.TimeoutExpired:
            raise box.Fail("pubd still running 6 s after SIGTERM while its responders kept "
                           "publishing (%d answers since)"
                           % (sum(len(c.answers) for c in clients) - before))
        print("pubd exited %.2f s after SIGTERM; %d answers since; %d message(s) sent as "
              "it closed the socket" % (time.monotonic() - t0,
                                        sum(len(c.answers) for c in clients) - before,
                                        len(unanswered)))
    finally:
        stop.set()
        for t in threads:
            t.join(15)
        pd.stop()
    bad = {m: a for c in clients for m, a in c.answers.items()
           if a[0] != OK and not (a[0] == FAILED and "stopping" in a[1])}
    eq(bad, {}, "answers other than a confirm or 'stopping: not sent'")
    check(len(unanswered) <= 16, "unanswered: %s" % unanswered)


def test_a_stop_with_a_connection_lost_does_not_spin():
    """Stopping, one of two connections lost while the other has a message
    in flight: pubd sleeps until that message's confirm or deadline.
    Would catch: the lost connection's retry time (0: at once), which no
    connect follows while stopping, making every poll return at once (a
    core spun until the deadline)."""
    proxy = tcpproxy.Proxy(PROXY_PORT, AMQP_PORT)
    pd = Pubd(amqp_hosts="127.0.0.1:%d" % PROXY_PORT, pubd_connections=2)
    try:
        c = pd.confirmed_client()
        box.wait_until(lambda: proxy.connections() == 2, timeout=30,
                       what="pubd's two connections through the proxy")
        eq(proxy.stall(), 2, "connections stalled")
        time.sleep(0.3)
        # round robin: one message in flight on each, never confirmed
        c.send(request("a", b"{}", 8000))
        c.send(request("b", b"{}", 8000))
        time.sleep(0.5)
        eq(c.answers.get("a"), None, "a answered")
        pd.p.send_signal(signal.SIGTERM)
        box.wait_until(lambda: "stopping:" in pd.logtext(), timeout=10, what="pubd stopping")
        conns = [ln.split("\t")[0].strip() for ln in history.rabbitmqctl(
            "list_connections", "--no-table-headers", "pid", "client_properties").splitlines()
            if "pubd[%d]" % pd.p.pid in ln]
        eq(len(conns), 2, "pubd's connections at the broker")
        history.rabbitmqctl("close_connection", conns[0], "test: closed")
        box.wait_until(lambda: len([m for m in ("a", "b") if m in c.answers]) == 1,
                       timeout=10, what="the closed connection's message answered")
        before = cpu_s(pd.p.pid)
        time.sleep(3)
        check(pd.p.poll() is None, "pubd exited: its other message was answered early")
        used = cpu_s(pd.p.pid) - before
        print("pubd used %.2f s of CPU in 3 s, stopping, a message in flight" % used)
        check(used < 0.5, "pubd used %.2f s of CPU in 3 s while stopping" % used)
        pd.p.wait(15)
        eq(sorted(c.answers[m][0] for m in ("a", "b")), [UNKNOWN, UNKNOWN],
           "both messages unknown (one lost with its connection, one past its deadline)")
    finally:
        pd.stop()
        proxy.close()


def cpu_s(pid):
    """utime + stime of process pid, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_a_message_waiting_for_a_connect_does_not_spin_on_a_blocked_connection():
    proxy = tcpproxy.Proxy(PROXY_PORT, AMQP_PORT)
    pd = Pubd(amqp_hosts="127.0.0.1:%d" % PROXY_PORT, amqp_heartbeat=60,
              amqp_connect_timeout_ms=15000, pubd_connections=2)
    alarm = False
    try:
        c = pd.confirmed_client()
        box.wait_until(lambda: proxy.connections() == 2, timeout=30,
                       what="pubd's two connections through the proxy")
        proxy.unreachable()     # a connection opened from now on hangs
        alarm = True
        history.rabbitmqctl("set_disk_free_limit", "1000000GB")
        # one message at a time, round robin: the first to meet the alarm
        # blocks its connection only (a connection is blocked when it
        # publishes)
        n = [0]

        def one_blocked():
            mid = "m-%d" % n[0]
            n[0] += 1
            c.send(request(mid, b"{}", 3000))
            box.wait_until(lambda: mid in c.answers, timeout=30, what="answer to " + mid)
            return "blocked" in c.answers[mid][1]
        box.wait_until(one_blocked, timeout=90, interval=0.5, what="the disk alarm")
        conns = [ln.split("\t")[:2] for ln in history.rabbitmqctl(
            "list_connections", "--no-table-headers", "pid", "state",
            "client_properties").splitlines() if "pubd[%d]" % pd.p.pid in ln]
        print("pubd's connections: %s" % conns)
        other = [f for f in conns if f[1].strip() != "blocked"]
        eq(len(other), 1, "pubd connections not blocked: %s" % conns)
        history.rabbitmqctl("close_connection", other[0][0].strip(), "test: closed")
        time.sleep(1)           # pubd reconnects: its connect hangs
        c.send(request("waits", b"{}", 6000))
        before = cpu_s(pd.p.pid)
        time.sleep(4)
        used = cpu_s(pd.p.pid) - before
        print("pubd used %.2f s of CPU in 4 s with a message waiting" % used)
        check(used < 1.0, "pubd used %.2f s of CPU in 4 s while a message waited for a "
              "connect and the other connection was blocked: a busy loop" % used)
        box.wait_until(lambda: "waits" in c.answers, timeout=30, what="the waiting message")
        eq(c.answers["waits"][0], FAILED, "the message no connection took: %s" %
           (c.answers["waits"],))
        c.close()
    finally:
        if alarm:
            history.rabbitmqctl("set_disk_free_limit", "50MB")
        pd.stop()
        proxy.close()
    # the alarm gone before the next test publishes
    box.wait_until(lambda: "disk" not in history.rabbitmqctl(
        "eval", "rabbit_alarm:get_alarms()."), timeout=60, interval=1,
        what="the disk alarm cleared")


if __name__ == "__main__":
    raise SystemExit(box.main(globals()))
