# SPDX-License-Identifier: ISC
"""The systemd units of conf/systemd: `systemd-analyze verify` accepts every
one (in a scratch root, when systemd-analyze is installed), they name the
paths `make install` uses, and the responder unit's own ExecStart command
line (spawn-fcgi -n, paths moved to the test stack) really serves FastCGI
as an unprivileged user and stops on SIGTERM; the same line restarted
after SIGKILL serves again, which is what Restart=always does."""

import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile

import box
import fcgi
from box import check, eq

UNITS = os.path.join(box.ROOT, "conf", "systemd")
NAMES = ["boxoffice.target", "boxoffice-init.service", "boxoffice-ticket@.service",
         "boxoffice-query@.service", "boxoffice-consumer.service"]


def unit_text(name):
    with open(os.path.join(UNITS, name)) as f:
        return f.read()


def exec_start(name):
    """The ExecStart line of a unit, continuation lines joined, as argv."""
    text = re.sub(r"\\\n\s*", " ", unit_text(name))
    line = next(l for l in text.splitlines() if l.startswith("ExecStart="))
    return line[len("ExecStart="):].split()


def test_units_verify():
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        print("systemd-analyze not installed: only the static checks run")
        return
    with tempfile.TemporaryDirectory() as root:
        os.makedirs(os.path.join(root, "etc/systemd/system"))
        os.makedirs(os.path.join(root, "usr/lib/systemd/system"))
        for d in ("/lib/systemd/system", "/usr/lib/systemd/system"):
            if os.path.isdir(d):
                for f in os.listdir(d):
                    if f.endswith((".target", ".slice")):
                        shutil.copy(os.path.join(d, f), os.path.join(root, "usr/lib/systemd/system"))
        for n in NAMES:
            shutil.copy(os.path.join(UNITS, n), os.path.join(root, "etc/systemd/system"))
        # the commands the units run, as `make install PREFIX=/usr/local` puts them
        for n in NAMES:
            if n.endswith(".service"):
                for cmd in [exec_start(n)[0]] + [l.split("=", 1)[1].lstrip("-+").split()[0]
                                                 for l in unit_text(n).splitlines()
                                                 if re.match(r"Exec(StartPre|StopPost)=", l)]:
                    p = os.path.join(root, cmd.lstrip("/"))
                    os.makedirs(os.path.dirname(p), exist_ok=True)
                    with open(p, "w") as f:
                        f.write("#!/bin/sh\n")
                    os.chmod(p, 0o755)
        for u in ("boxoffice.target", "boxoffice-init.service", "boxoffice-ticket@1.service",
                  "boxoffice-query@1.service", "boxoffice-consumer.service"):
            r = subprocess.run([analyze, "verify", "--man=no", "--root=" + root, u],
                               capture_output=True, text=True)
            eq((r.returncode, r.stderr.strip()), (0, ""), "systemd-analyze verify " + u)


def test_units_name_the_installed_paths():
    with open(os.path.join(box.ROOT, "Makefile")) as f:
        mk = f.read()
    check("$(DESTDIR)$(PREFIX)/libexec/boxoffice/" in mk and "$(BUILD)/bin/ticket.fcgi" in mk,
          "Makefile install changed")
    eq(exec_start("boxoffice-ticket@.service")[-3:],
       ["/usr/local/libexec/boxoffice/ticket.fcgi", "-c", "/etc/boxoffice/boxoffice.conf"],
       "ticket responder command")
    eq(exec_start("boxoffice-query@.service")[-3:],
       ["/usr/local/libexec/boxoffice/query.fcgi", "-c", "/etc/boxoffice/boxoffice.conf"],
       "query responder command")
    eq(exec_start("boxoffice-consumer.service"),
       ["/usr/local/bin/consumer", "-c", "/etc/boxoffice/boxoffice.conf"], "consumer command")
    eq(exec_start("boxoffice-init.service"),
       ["/usr/local/bin/ticketctl", "-c", "/etc/boxoffice/boxoffice.conf", "init"], "init")
    for n in ("boxoffice-ticket@.service", "boxoffice-query@.service",
              "boxoffice-consumer.service"):
        t = unit_text(n)
        check("Restart=always" in t and "KillSignal=SIGTERM" in t, n + ": restart / stop")
        check("-n" in exec_start(n) or not n.endswith("@.service"), n + ": spawn-fcgi -n")


def test_responder_unit_command_serves_and_restarts():
    """ExecStart of boxoffice-ticket@.service with the paths of the test
    stack: a responder as an unprivileged user on its own socket."""
    user = "nobody" if os.getuid() == 0 else pwd.getpwuid(os.getuid()).pw_name
    group = "nogroup" if os.getuid() == 0 else None
    with tempfile.TemporaryDirectory() as run:
        os.chmod(run, 0o755)
        sock = os.path.join(run, "ticket-1.sock")
        argv = []
        for a in exec_start("boxoffice-ticket@.service"):
            a = a.replace("/run/boxoffice/ticket-%i.sock", sock)
            a = a.replace("/usr/local/libexec/boxoffice", box.BIN)
            a = a.replace("/etc/boxoffice/boxoffice.conf", box.CONF)
            argv.append(a)
        if os.getuid() == 0:   # the unit's user and group: ours here
            for i in range(1, len(argv)):
                if argv[i] == "boxoffice":
                    argv[i] = group if argv[i - 1] in ("-g", "-G") else user
        else:   # not root: spawn-fcgi cannot switch users
            drop = {"-U", "-G", "-u", "-g"}
            argv = [a for i, a in enumerate(argv) if a not in drop and argv[i - 1] not in drop]
        env = dict(os.environ, BOXOFFICE_METRICS_DIR="")
        for attempt in (1, 2):
            p = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            try:
                box.wait_until(lambda: os.path.exists(sock), timeout=10, what="the socket")
                out = box.wait_until(lambda: fcgi.call(sock, "GET", "/tickets/health"), timeout=10,
                                     what="an answer on the socket")
                check(out.startswith("Status: 200"), "health answer: %r" % out[:200])
                with open("/proc/%d/status" % p.pid) as f:
                    uid = int(re.search(r"^Uid:\s+(\d+)", f.read(), re.M).group(1))
                eq(pwd.getpwuid(uid).pw_name, user, "the responder's user")
                if attempt == 1:
                    p.kill()        # a crash: systemd would start the same line again
                    p.wait(timeout=10)
                    os.unlink(sock)  # ExecStopPost
                else:
                    p.send_signal(signal.SIGTERM)
                    eq(p.wait(timeout=10), 0, "exit status after SIGTERM")
            finally:
                if p.poll() is None:
                    p.kill()
                    p.wait()


if __name__ == "__main__":
    raise SystemExit(box.main(globals()))
