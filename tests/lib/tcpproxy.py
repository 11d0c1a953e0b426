# SPDX-License-Identifier: ISC
"""tcpproxy.py - a TCP proxy for the tests that can make a path go silent.

Proxy(listen_port, target_port) forwards every connection to
127.0.0.1:target_port.  freeze() makes every connection open at that moment
a black hole: nothing more is read or forwarded in either direction, no FIN
or RST is sent, the sockets stay open - what a client sees when the broker's
host loses power or the network partitions.  Connections opened afterwards
are forwarded normally (the client finds a working path when it reconnects,
as it would to another node).  stall() makes every connection open at that
moment stop reading its client: what the client sends stays in the socket
buffers, what the server sends (its heartbeats) still arrives, as with a
broker whose flow control stopped reading a connection.  unreachable()
leaves the open connections alone, and a new connection is never answered
(its SYNs are dropped: the port's listener never accepts and its queue is
full), so a client waits its whole connect timeout.  gone() is the host
itself lost: freeze() and unreachable().  cut_after(pattern) makes every
connection whose client sends pattern (b"COMMIT") pass that on and then
close both ways at once: the server runs what it received, its answer is
lost with the connection.  close() ends everything.
"""

import select
import socket
import threading


class Proxy:
    def __init__(self, listen_port, target_port, host="127.0.0.1"):
        self.target = (host, target_port)
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind((host, listen_port))
        self.lsock.listen(64)
        self.port = listen_port
        self.lock = threading.Lock()
        self.pairs = []
        self.closed = False
        self.hole = []
        self.cut = None
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            try:
                u = socket.create_connection(self.target, timeout=5)
                u.settimeout(None)
            except OSError:
                c.close()
                continue
            pair = {"c": c, "u": u, "frozen": False, "stalled": False}
            with self.lock:
                self.pairs.append(pair)
            threading.Thread(target=self._pump, args=(c, u, pair), daemon=True).start()
            threading.Thread(target=self._pump, args=(u, c, pair), daemon=True).start()

    def _pump(self, src, dst, pair):
        while not self.closed:
            if pair["frozen"] or (pair["stalled"] and src is pair["c"]):
                threading.Event().wait(0.05)
                continue
            try:
                r, _, _ = select.select([src], [], [], 0.1)
                # what came while select() waited stays unread as well
                if not r or pair["frozen"] or (pair["stalled"] and src is pair["c"]):
                    continue
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
                if self.cut is not None and src is pair["c"] and self.cut in data:
                    break
            except (OSError, ValueError):
                break
        if not pair["frozen"]:
            for s in (src, dst):
                try:
                    s.close()
                except OSError:
                    pass

    def connections(self):
        with self.lock:
            return sum(1 for p in self.pairs if not p["frozen"])

    def freeze(self):
        """Every connection open now goes silent for good."""
        with self.lock:
            for p in self.pairs:
                p["frozen"] = True
            return len(self.pairs)

    def stall(self):
        """Every connection open now stops reading its client for good (the
        server's side still arrives)."""
        with self.lock:
            for p in self.pairs:
                p["stalled"] = True
            return len(self.pairs)

    def cut_after(self, pattern):
        """From now on a connection whose client sends pattern passes it
        on, then is closed both ways (the answer to it lost)."""
        self.cut = pattern

    def gone(self):
        """The host is gone: every connection open now goes silent, and
        connections opened from now on are never answered."""
        n = self.freeze()
        self.unreachable()
        return n

    def unreachable(self):
        """Connections opened from now on are never answered; the open ones
        go on."""
        try:
            self.lsock.shutdown(socket.SHUT_RDWR)   # wakes the accept()
        except OSError:
            pass
        self.lsock.close()
        host = self.target[0]
        hole = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        hole.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        hole.bind((host, self.port))
        hole.listen(0)
        # one connection fills its queue (never accepted): the kernel then
        # drops every SYN to the port, as for a host that does not answer
        fill = socket.create_connection((host, self.port), timeout=5)
        self.hole = [hole, fill]

    def close(self):
        self.closed = True
        for s in self.hole:
            try:
                s.close()
            except OSError:
                pass
        try:
            # wakes the accept() (a closed descriptor would not: the
            # socket would go on listening under the thread's reference)
            self.lsock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            self.lsock.close()
        except OSError:
            pass
        with self.lock:
            for p in self.pairs:
                for s in (p["c"], p["u"]):
                    try:
                        s.close()
                    except OSError:
                        pass
            self.pairs = []
