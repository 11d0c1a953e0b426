# SPDX-License-Identifier: ISC
"""Least privilege of the running stack: every server listens on loopback
only (DynamoDB Local too, through tools/loopback.c); the query responder's
MySQL account can only read, the consumer's only what it persists (SELECT;
INSERT into ticket, orders and ticket_cancel; UPDATE of the status and
cancelled_on of a ticket or an order); passwords are settings that no log,
no command line and no `-n` dump shows, even when a login fails; the responders run unprivileged;
the rendered settings file is not world-readable, not even while it is
written; passwords with quotes reach MySQL intact and a changed password
takes effect; the health answers say what is down, never how (no account,
host or server message: those go to the log)."""

import concurrent.futures
import ctypes
import glob
import os
import select
import struct
import threading
import re
import signal
import stat
import subprocess
import tempfile
import time

import box
from box import check, eq

VAR = box.ENV.get("BOX_VAR", os.path.join(box.ROOT, "var"))
RUN = os.path.join(VAR, "run")
LOG = os.path.join(VAR, "log")
MYSQL_PORT = int(box.ENV.get("BOX_MYSQL_PORT", "3306"))
QUERY_PW = box.ENV.get("BOX_MYSQL_QUERY_PASSWORD", "bo_query_pw")
CONSUMER_PW = box.ENV.get("BOX_MYSQL_CONSUMER_PASSWORD", "bo_consumer_pw")
LOOPBACK = ("127.0.0.1", "::1", "::ffff:127.0.0.1")


def children(pid):
    out = []
    for d in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(d) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                out.append(int(d.split("/")[2]))
        except (OSError, IndexError, ValueError):
            pass
    return out


def stack_pids():
    """Every process of the stack: the pidfiles' processes and their children."""
    roots = []
    for f in glob.glob(os.path.join(RUN, "*.pid")):
        roots += box.pidfile_pids(f)
    roots += box.pidfile_pids(os.path.join(VAR, "rabbitmq", "rabbitmq.pid"))
    seen, todo = set(), [p for p in roots if box.alive(p)]
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        todo += children(p)
    return seen


def listeners():
    """(proto, address, port, pid, name) of every listening socket."""
    out = []
    for proto, flag in (("tcp", "-ltnpH"), ("udp", "-lunpH")):
        text = subprocess.run(["ss", flag], capture_output=True, text=True, check=True).stdout
        for line in text.splitlines():
            f = line.split()
            if len(f) < 5:
                continue
            addr, _, port = f[3].rpartition(":")
            addr = addr.strip("[]").split("%")[0]
            for name, pid in re.findall(r'\("([^"]+)",pid=(\d+)', line):
                out.append((proto, addr, port, int(pid), name))
    return out


def test_every_server_listens_on_loopback_only():
    pids = stack_pids()
    ports = {str(p) for p in box.REDIS_PORTS} | {box.ENV.get(k) for k in (
        "BOX_AMQP_PORT", "BOX_AMQP_DIST_PORT", "BOX_MYSQL_PORT", "BOX_DYNAMODB_PORT",
        "BOX_NGINX_PORT", "BOX_LIGHTTPD_PORT")} | {"4369"}   # epmd of the broker
    mine = [x for x in listeners() if x[3] in pids or x[2] in ports]
    seen = {x[2] for x in mine}
    for p in ports:
        check(p in seen, "nothing listens on port %s: %r" % (p, sorted(seen)))
    names = sorted({x[4] for x in mine})
    print("%d listening sockets of %s" % (len(mine), ", ".join(names)))
    wide = [x for x in mine if x[1] not in LOOPBACK]
    eq(wide, [], "sockets listening beyond loopback (proto, address, port, pid, program)")
    check("java" in names, "DynamoDB Local (java) not found among the listeners")


def mysql_as(user, password, query):
    r = subprocess.run(["mariadb", "--no-defaults", "-h", "127.0.0.1", "-P", str(MYSQL_PORT),
                        "-u", user, "-p" + password, "-N", "-B", "ticketing", "-e", query],
                       capture_output=True, text=True)
    return r.returncode, r.stdout.strip(), r.stderr.strip()


def denied(user, password, query):
    rc, out, err = mysql_as(user, password, query)
    check(rc != 0 and re.search(r"denied|ERROR 114[23]", err),
          "%s may run %r (rc %d, %s %s)" % (user, query, rc, out, err))


# the sales summary is written by the triggers on ticket alone (their
# definer's rights, sql/migrations/003_zone_sales.sql): by no account
SUMMARY_WRITES = ("UPDATE zone_sales SET sold = 0", "DELETE FROM zone_sales",
                  "INSERT INTO zone_sales VALUES ('E', 1, 1, 1)")


def test_query_responder_account_reads_only():
    rc, out, err = mysql_as("bo_query", QUERY_PW, "SELECT COUNT(*) FROM venue")
    eq(rc, 0, "bo_query SELECT: " + err)
    for q in ("INSERT INTO venue (venue_id, name) VALUES ('X', 'x')",
              "UPDATE venue SET name = name WHERE venue_id = 'Venue1'",
              "DELETE FROM ticket WHERE ticket_id = 'none'",
              "INSERT INTO ticket (ticket_id) VALUES ('x')",
              "CREATE TABLE t (i INT)", "DROP TABLE ticket", "TRUNCATE TABLE ticket",
              "ALTER TABLE ticket ADD COLUMN x INT") + SUMMARY_WRITES:
        denied("bo_query", QUERY_PW, q)
    grants = mysql_as("bo_query", QUERY_PW, "SHOW GRANTS")[1]
    for line in grants.splitlines():
        check(re.match(r"GRANT (USAGE|SELECT) ON ", line), "bo_query: " + line)


def test_consumer_account_selects_inserts_and_cancels_only():
    rc, out, err = mysql_as("bo_consumer", CONSUMER_PW,
                            "START TRANSACTION; INSERT INTO ticket (ticket_id, venue_id, event_id, "
                            "zone_id, row_no, col_no, price, created_on) VALUES ('00000000-0000-"
                            "7000-8000-000000000000', 'Venue1', 'Event1', 1, 26, 30, 320, NOW(3));"
                            " ROLLBACK; SELECT COUNT(*) FROM venue")
    eq(rc, 0, "bo_consumer INSERT (rolled back) and SELECT: " + err)
    for q in ("UPDATE ticket SET price = 0 WHERE ticket_id = 'none'",
              "UPDATE ticket SET row_no = 1 WHERE ticket_id = 'none'",
              "UPDATE orders SET total = 0 WHERE order_id = 'none'",
              "UPDATE ticket_cancel SET order_id = 'x'",
              "DELETE FROM ticket_cancel", "DELETE FROM orders",
              "DELETE FROM ticket WHERE ticket_id = 'none'",
              "INSERT INTO venue (venue_id, name) VALUES ('X', 'x')",
              "UPDATE zone SET price = 0", "DROP TABLE ticket", "TRUNCATE TABLE ticket",
              "CREATE TABLE t (i INT)", "ALTER TABLE ticket ADD COLUMN x INT") + SUMMARY_WRITES:
        denied("bo_consumer", CONSUMER_PW, q)
    grants = mysql_as("bo_consumer", CONSUMER_PW, "SHOW GRANTS")[1]
    for line in grants.splitlines():
        # orders (issue 13): INSERT on ticket, orders, ticket_cancel; UPDATE of
        # status and cancelled_on only, on ticket and orders
        check(re.match(r"GRANT (USAGE ON|SELECT ON `ticketing`\.\*|"
                       r"INSERT ON `ticketing`\.`ticket_cancel`|"
                       r"(INSERT, )?UPDATE \(`(status|cancelled_on)`, `(status|cancelled_on)`\) "
                       r"ON `ticketing`\.`(ticket|orders)`|"
                       r"INSERT ON `ticketing`\.`(ticket|orders)`) ", line),
              "bo_consumer: " + line)
    eq(box.sql_count("SELECT COUNT(*) FROM ticketing.ticket WHERE ticket_id = "
                     "'00000000-0000-7000-8000-000000000000'"), 0, "rolled back")


def test_responders_run_unprivileged():
    for name in ("ticket", "query"):
        pids = [p for p in box.fcgi_pids(name) if box.alive(p)]
        sup = box.pidfile_pids(os.path.join(RUN, name + "-sup.pid"))
        check(pids, "no %s responders" % name)
        for p in pids + [x for x in sup if box.alive(x)]:
            with open("/proc/%d/status" % p) as f:
                ids = {line.split(":")[0]: line.split()[1:] for line in f
                       if line.startswith(("Uid:", "Gid:"))}
            check(all(int(x) != 0 for x in ids["Uid"]), "%s process %d runs as uid %r" % (
                name, p, ids["Uid"]))
            check(all(int(x) != 0 for x in ids["Gid"]), "%s process %d runs as gid %r" % (
                name, p, ids["Gid"]))


def test_settings_file_is_not_world_readable():
    mode = os.stat(box.CONF).st_mode
    check(not mode & (stat.S_IROTH | stat.S_IWOTH), "%s is mode %o" % (box.CONF, mode & 0o777))


def watch_modes(directory, name, action):
    """Runs action() while inotify watches directory; stats `name` (a file
    there) or any `name.*` (its temporary files) at every event about it.
    Returns the set of modes seen."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.inotify_init1(os.O_NONBLOCK)
    check(fd >= 0, "inotify_init1")
    # IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_OPEN | IN_MOVED_TO | IN_CREATE
    check(libc.inotify_add_watch(fd, directory.encode(), 0x2 | 0x4 | 0x8 | 0x20 | 0x80 |
                                 0x100) >= 0, "inotify_add_watch")
    modes, done = set(), threading.Event()

    def look():
        while not done.is_set():
            if not select.select([fd], [], [], 0.1)[0]:
                continue
            buf = os.read(fd, 65536)
            off, hits = 0, set()
            while off < len(buf):
                _, _, _, ln = struct.unpack_from("iIII", buf, off)
                n = buf[off + 16:off + 16 + ln].rstrip(b"\0").decode()
                if n == name or n.startswith(name + "."):
                    hits.add(n)
                off += 16 + ln
            for n in hits:
                try:
                    modes.add(os.stat(os.path.join(directory, n)).st_mode & 0o777)
                except OSError:
                    pass
    t = threading.Thread(target=look)
    t.start()
    try:
        action()
    finally:
        time.sleep(0.3)
        done.set()
        t.join()
        os.close(fd)
    return modes


def test_settings_file_is_never_readable_by_others_while_written():
    """scripts/stack renders the settings (with the passwords) under a umask
    of 000: no moment in which the file it writes is readable by others."""
    d = os.path.dirname(box.CONF)
    modes = set()

    def render():
        for _ in range(5):
            subprocess.run([os.path.join(box.ROOT, "scripts", "stack"), "conf"], check=True,
                           capture_output=True, preexec_fn=lambda: os.umask(0))
    modes |= watch_modes(d, os.path.basename(box.CONF), render)
    print("modes seen: %s" % ", ".join("%o" % m for m in sorted(modes)))
    check(modes, "no mode seen")
    eq([("%o" % m) for m in sorted(modes) if m & 0o007], [], "modes readable by others")


def test_settings_rendered_by_two_commands_at_once():
    """Every scripts/stack command renders the settings first: two at once
    (a test's lock session beside its queries) must both work (they once
    shared one temporary file, and one of them died on its chmod)."""
    def sql(_):
        return subprocess.run([os.path.join(box.ROOT, "scripts", "stack"), "sql", "-N", "-e",
                               "SELECT 1"], capture_output=True, text=True, timeout=120)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        runs = list(pool.map(sql, range(24)))
    bad = [(r.returncode, r.stderr.strip()) for r in runs if (r.returncode, r.stdout) != (0, "1\n")]
    eq(bad[:3], [], "commands that failed (%d of %d)" % (len(bad), len(runs)))
    eq([f for f in os.listdir(os.path.dirname(box.CONF)) if ".tmp" in f], [],
       "temporary files left")


def stack_with(env, *args):
    return subprocess.run([os.path.join(box.ROOT, "scripts", "stack")] + list(args),
                          env=dict(os.environ, **env), capture_output=True, text=True,
                          timeout=300)


def test_passwords_are_quoted_and_a_changed_one_takes_effect():
    """A password with quotes, a backslash and SQL after it is the account's
    password, byte for byte; changing it in the settings changes it in
    MySQL (not only for new accounts); the old one stops working."""
    hostile = "it's \\\"pw\\\"\\\\'; DROP USER 'bo_query'@'localhost'; --"
    try:
        r = stack_with({"BOX_MYSQL_QUERY_PASSWORD": hostile}, "start", "mysql")
        eq(r.returncode, 0, "scripts/stack start mysql with a hostile password: " +
           (r.stdout + r.stderr)[-400:])
        rc, out, err = mysql_as("bo_query", hostile, "SELECT COUNT(*) FROM venue")
        eq(rc, 0, "bo_query logs in with the new password: " + err)
        rc, out, err = mysql_as("bo_query", QUERY_PW, "SELECT 1")
        check(rc != 0, "the old password still works after a change")
        eq(box.sql_count("SELECT COUNT(*) FROM mysql.user WHERE user = 'bo_query'"), 2,
           "bo_query accounts")
    finally:
        r = stack_with({"BOX_MYSQL_QUERY_PASSWORD": QUERY_PW}, "start", "mysql")
    eq(r.returncode, 0, "scripts/stack start mysql back to the old password")
    eq(mysql_as("bo_query", QUERY_PW, "SELECT 1")[0], 0, "the old password is back")


INTERNALS = ("bo_query", "bo_consumer", "127.0.0.1", "localhost", "Can't", "Connection",
             "refused", "denied", "errno", "socket")


def health_down(path, what):
    """GET path (503) through both web servers; returns the answers."""
    out = []
    for port in box.WEB_PORTS:
        r = box.wait_until(lambda: (lambda x: x if x.status == 503 else None)(
            box.http("GET", path, port=port)), timeout=30, what="%s 503 with %s down" % (
                path, what))
        body = r.json()
        print("%s (%d) with %s down: %s" % (path, port, what, r.body))
        for word in INTERNALS + tuple(str(p) for p in box.REDIS_PORTS) + (str(MYSQL_PORT),):
            check(word.lower() not in r.body.lower(), "%s answers %r (internal: %r)" % (
                path, r.body, word))
        eq(body.get(what), "down", "%s of %s" % (what, path))
        out.append(body)
    return out


def test_health_says_what_is_down_without_internals():
    """With MySQL down, /get/health answers mysql "down" and nothing of the
    account, host or server message; with Redis down, both health answers
    say redis "down" and no address.  The details are in the log."""
    box.stack("stop", "mysql")
    try:
        health_down("/get/health", "mysql")
    finally:
        box.stack("start", "mysql")
    box.wait_until(lambda: box.http("GET", "/get/health").status == 200, timeout=60,
                   what="/get/health back to 200")
    box.stack("stop", "redis")
    try:
        health_down("/get/health", "redis")
        health_down("/tickets/health", "redis")
    finally:
        box.stack("start", "redis")
    for path in ("/get/health", "/tickets/health"):
        box.wait_until(lambda: box.http("GET", path).status == 200, timeout=60,
                       what="%s back to 200" % path)
    with open(os.path.join(LOG, "query.log"), errors="replace") as f:
        text = f.read()
    check(re.search(r"health.*mysql", text), "the query log does not say why MySQL was down")


SECRETS = {"mysql query": QUERY_PW, "mysql consumer": CONSUMER_PW}
WRONG = {"BOXOFFICE_MYSQL_QUERY_PASSWORD": "Wr0ng-Query-S3cret",
         "BOXOFFICE_MYSQL_CONSUMER_PASSWORD": "Wr0ng-Consumer-S3cret",
         "BOXOFFICE_AMQP_PASSWORD": "Wr0ng-Amqp-S3cret",
         "BOXOFFICE_AWS_SECRET_ACCESS_KEY": "Wr0ng-Aws-S3cret",
         "AWS_SECRET_ACCESS_KEY": "Wr0ng-Aws-S3cret"}


def leaks(text, secrets):
    return [name for name, s in secrets.items() if s and s in text]


def test_passwords_never_logged_nor_on_command_lines():
    """The configured passwords are in no log of the stack and in no
    process's command line or environment shown by ps."""
    found = []
    for path in glob.glob(os.path.join(LOG, "**", "*"), recursive=True):
        if os.path.isfile(path):
            with open(path, errors="replace") as f:
                for name in leaks(f.read(), SECRETS):
                    found.append((path, name))
    eq(found, [], "passwords in logs")
    for p in stack_pids():
        try:
            with open("/proc/%d/cmdline" % p) as f:
                cmd = f.read().replace("\0", " ")
        except OSError:
            continue
        eq(leaks(cmd, SECRETS), [], "passwords on the command line of %d: %s" % (p, cmd[:200]))


def test_failed_logins_do_not_log_the_password():
    """Wrong passwords (distinctive strings) make every program fail to log
    in; what it prints or logs names the failure, never the password."""
    wrong = {k: v for k, v in WRONG.items()}
    env = dict(os.environ, **wrong)
    secrets = {k: v for k, v in wrong.items()}
    out = []
    # ticketctl talks to every store
    for args in (("status",), ("check",)):
        r = subprocess.run([os.path.join(box.BIN, "ticketctl"), "-c", box.CONF] + list(args),
                           capture_output=True, text=True, env=env, timeout=120)
        check(r.returncode != 0, "ticketctl %s logged in with wrong passwords" % args[0])
        out.append(r.stdout + r.stderr)
    # the responders' settings dump masks secrets
    for prog in ("ticket.fcgi", "query.fcgi", "consumer"):
        r = subprocess.run([os.path.join(box.BIN, prog), "-n", "-c", box.CONF],
                           capture_output=True, text=True, env=env, timeout=60)
        out.append(r.stdout + r.stderr)
    # the consumer, trying to log in for a few seconds
    with tempfile.TemporaryDirectory() as d:
        logf = os.path.join(d, "consumer.log")
        cenv = dict(env, BOXOFFICE_LOG_FILE=logf, BOXOFFICE_METRICS_DIR=d)
        p = subprocess.Popen([os.path.join(box.BIN, "consumer"), "-c", box.CONF], env=cenv,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        time.sleep(4)
        p.send_signal(signal.SIGTERM)
        try:
            so, _ = p.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
            so, _ = p.communicate()
        with open(logf, errors="replace") as f:
            text = f.read()
        check(re.search(r"denied|refused|ACCESS_REFUSED|login|auth|403|signature", text, re.I),
              "the consumer logged no login failure: %s" % text[-600:])
        out.append(text + so)
    joined = "\n".join(out)
    eq(leaks(joined, secrets), [], "wrong passwords printed or logged:\n" + joined[-1500:])


if __name__ == "__main__":
    raise SystemExit(box.main(globals()))
