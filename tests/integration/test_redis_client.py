# SPDX-License-Identifier: ISC
"""The single-server Redis client (shared/rds.c) against the real Redis:

- a connection the server closes between WATCH and EXEC is not replaced
  silently: the rest of the transaction would run unwatched on the new one
  (ticketctl rebuild writes a zone so, and a sale made in between would be
  overwritten); the command fails, "the transaction is lost", and the next
  one starts afresh;
- WAIT after the server closed the write's connection is unknown (-1):
  on a new connection it would count the replicas of nothing;
- a purchase whose SCRIPT LOAD got no answer (a fresh responder, Redis
  frozen) ran nothing: 503 "nothing was sold", not the unknown outcome
  with a ticketId that will never exist.
"""

import os
import signal
import subprocess
import time

import box
from box import check, eq


class Client:
    """One rcltool -1 process: one rds client kept across commands."""

    def __init__(self, timeout_ms=1000):
        self.p = subprocess.Popen([os.path.join(box.BIN, "rcltool"), "-1",
                                   "127.0.0.1:%d" % box.REDIS_PORTS[0], str(timeout_ms)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def cmd(self, *args):
        self.p.stdin.write("M %s\n" % " ".join(str(a) for a in args))
        self.p.stdin.flush()
        line = self.p.stdout.readline()
        check(line, "rcltool exited on %r" % (args,))
        return line.strip()

    def wait(self, replicas, ms):
        """rds_wait(): "OK <replicas that have the writes>" or "FAIL ..."."""
        self.p.stdin.write("WAIT %d %d\n" % (replicas, ms))
        self.p.stdin.flush()
        return self.p.stdout.readline().strip()

    def close(self):
        self.p.stdin.close()
        self.p.wait(timeout=10)


def setup_module():
    box.stack("reset")


def test_a_transaction_whose_connection_was_closed_is_not_continued():
    c = Client()
    try:
        eq(c.cmd("DEL", "rds:txn"), "OK 0", "DEL")
        cid = c.cmd("CLIENT", "ID")
        check(cid.startswith("OK "), cid)
        eq(c.cmd("WATCH", "rds:txn"), "OK OK", "WATCH")
        eq(box.redis("CLIENT", "KILL", "ID", cid.split()[1]), 1, "CLIENT KILL")
        time.sleep(0.2)
        eq(box.redis("SET", "rds:txn", "theirs"), "OK", "a write by another client")
        r = c.cmd("MULTI")
        check(r.startswith("FAIL in_doubt=0 ") and "the transaction is lost" in r,
              "MULTI on a connection closed after WATCH: %r" % r)
        # what the caller would have done had MULTI been taken: the write
        # of the watched key must not happen
        eq(c.cmd("GET", "rds:txn"), "OK theirs", "a new connection for the next command")
        eq(c.cmd("WATCH", "rds:txn"), "OK OK", "WATCH on the new connection")
        eq(c.cmd("MULTI"), "OK OK", "MULTI")
        eq(c.cmd("SET", "rds:txn", "mine"), "OK QUEUED", "SET queued")
        eq(c.cmd("EXEC"), "OK [1]", "EXEC")
        eq(box.redis("GET", "rds:txn"), b"mine", "the transaction on the new connection")
    finally:
        c.close()
        box.redis("DEL", "rds:txn")


def test_a_wait_whose_write_s_connection_was_closed_is_unknown():
    """WAIT counts the replicas that have what its own connection wrote:
    on a new connection (the server closed the write's) it counts those
    of nothing, and would call a sale no replica has replicated
    (redis_wait_replicas in single mode, a replica behind).  rds_wait
    must say it cannot tell (-1), as the cluster client does."""
    c = Client()
    try:
        eq(c.cmd("SET", "rds:wait", "1"), "OK OK", "the write")
        cid = c.cmd("CLIENT", "ID")
        check(cid.startswith("OK "), cid)
        eq(box.redis("CLIENT", "KILL", "ID", cid.split()[1]), 1, "CLIENT KILL")
        time.sleep(0.2)
        r = c.wait(1, 300)
        check(r.startswith("FAIL ") and "connection" in r,
              "WAIT after the write's connection was closed: %r" % r)
        eq(c.cmd("GET", "rds:wait"), "OK 1", "the next command on a new connection")
        eq(c.wait(0, 100), "OK 0", "WAIT on the connection of the last command")
    finally:
        c.close()
        box.redis("DEL", "rds:wait")


def test_a_lost_script_load_is_nothing_sold():
    box.stack("restart", "ticket")     # no responder has loaded a script yet
    pid = redis_pid()
    os.kill(pid, signal.SIGSTOP)
    try:
        r = box.buy("Venue1", "Event1", 12, 1, 1)
    finally:
        os.kill(pid, signal.SIGCONT)
    eq(r.status, 503, "purchase while Redis is frozen: %s" % r.body)
    check("nothing was sold" in r.body and "ticketId" not in r.json(),
          "a SCRIPT LOAD without an answer is not in doubt: %s" % r.body)
    r = box.buy("Venue1", "Event1", 12, 1, 1)
    eq(r.status, 201, "the seat afterwards: %s" % r.body)
    box.ticket_persisted(r.json()["ticketId"])


def redis_pid():
    out = subprocess.run(["redis-cli", "-p", str(box.REDIS_PORTS[0]), "INFO", "server"],
                         capture_output=True, text=True).stdout
    return int(next(l.split(":")[1] for l in out.splitlines() if l.startswith("process_id:")))


if __name__ == "__main__":
    raise SystemExit(box.main(globals()))
