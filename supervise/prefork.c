/* SPDX-License-Identifier: ISC */
/*
 * prefork - keeps N copies of a program running, respawning any that dies.
 *
 *   spawn-fcgi -n -s /run/boxoffice/ticket.sock ... -- \
 *       prefork -n 16 -p /run/boxoffice/ticket.pid -- ticket.fcgi -c FILE
 *
 * spawn-fcgi -F forks its children and exits, so nobody replaces a child
 * that dies.  Under prefork (spawn-fcgi -n binds the socket and execs us)
 * every child inherits the listening socket as file descriptor 0, exactly
 * as from spawn-fcgi -F, and a dead child is replaced within milliseconds:
 * the other children go on accepting meanwhile, so only the request the
 * dead one had in hand is lost.  The local stack also runs the consumer
 * under prefork -n 1.
 *
 * Signals: SIGTERM/SIGINT are passed to the children; prefork waits for
 * them (at most -t seconds, then SIGKILL) and exits 0.  SIGHUP restarts the
 * children (SIGTERM each; they finish the request in hand and are
 * replaced), e.g. after installing a new binary.
 *
 * A child that dies less than a second after it started is replaced after
 * a growing delay (up to 10 s).  If a child exits with an error that fast
 * before any has ever run for a second (a bad setting, a missing file),
 * prefork stops and exits 1 instead of looping.
 *
 * If prefork itself dies (kill -9, a crash), its children go on serving,
 * as nginx's and Apache's workers do when their master dies; nothing
 * replaces a child that dies meanwhile.  A new prefork started with the
 * same -p PIDFILE replaces them: it reads the pids of the previous
 * generation from the file (those still running the same command line;
 * a pidfd of each, so that a pid taken over meanwhile is not signalled),
 * starts its own children, and once they have all run for a second sends
 * the old ones SIGTERM (they finish the request in hand and exit).  Until
 * then the pid file lists the old ones beside the new, so that a prefork
 * started after this one died too retires both generations.  Under
 * spawn-fcgi -n the new generation listens on a new socket at the same
 * path, so the old one only drains what it had already accepted.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "valid.h"

#define CHILDREN_MAX	1024
#define QUICK_MS	1000		/* a child dying sooner "failed to start" */
#define DELAY_MAX_MS	10000
#define OLDS_MAX	(2 * CHILDREN_MAX)	/* of earlier generations */
#define PIDFILE_MAX	((CHILDREN_MAX + OLDS_MAX) * 12)

struct child {
	pid_t		pid;		/* 0: slot empty */
	long long	started;	/* ms */
	long long	due;		/* empty slot: start at this time (ms) */
	int		quick;		/* consecutive quick deaths */
};

static struct child	 kids[CHILDREN_MAX];
static int		 nkids = 1;
static const char	*pidfile;
static char *const	*prog;
static int		 settled;	/* a child has run for QUICK_MS */
/* children of a previous prefork (from the pid file), to be retired; the
 * pid file lists them beside ours until then, so that a prefork started
 * after this one died still finds them */
static pid_t		 olds[OLDS_MAX];
static int		 oldfds[OLDS_MAX];	/* their pidfds, or -1 */
static int		 nolds;
static int		 keep_olds;	/* ours cannot start: they serve on */

static void
usage(FILE *f)
{
	fprintf(f, "usage: prefork [-n N] [-p PIDFILE] [-t SECONDS] -- PROGRAM "
	    "[ARG...]\n"
	    "Keeps N (default 1) copies of PROGRAM running, replacing any that\n"
	    "dies; each inherits prefork's file descriptors (the FastCGI socket\n"
	    "of spawn-fcgi -n on descriptor 0).\n\n"
	    "  -n N        children to keep (1..%d)\n"
	    "  -p PIDFILE  write the children's pids there, one per line, on\n"
	    "              every change (the file must be writable); children\n"
	    "              of a previous prefork listed there are replaced\n"
	    "  -t SECONDS  on SIGTERM, wait this long for the children before\n"
	    "              SIGKILL (default 30)\n\n"
	    "SIGTERM/SIGINT: stop the children, exit 0.  SIGHUP: restart them.\n"
	    "Exit 1 if children die at once before any ran for a second.\n",
	    CHILDREN_MAX);
}

/* Rewrites the pid file in place (its directory need not be writable). */
static void
write_pidfile(void)
{
	char	buf[PIDFILE_MAX];
	size_t	len = 0;
	int	fd, i, n;

	if (pidfile == NULL)
		return;
	for (i = 0; i < nkids + nolds; i++) {
		pid_t pid = i < nkids ? kids[i].pid : olds[i - nkids];

		if (pid == 0)
			continue;
		n = snprintf(buf + len, sizeof(buf) - len, "%ld\n", (long)pid);
		if (n < 0 || (size_t)n >= sizeof(buf) - len)
			break;
		len += (size_t)n;
	}
	if ((fd = open(pidfile, O_WRONLY | O_CREAT | O_CLOEXEC, 0644)) < 0) {
		log_warn("pid file %s", pidfile);
		return;
	}
	if (pwrite(fd, buf, len, 0) != (ssize_t)len ||
	    ftruncate(fd, (off_t)len) != 0)
		log_warn("pid file %s", pidfile);
	close(fd);
}

/* Reads /proc/PID/cmdline into buf (NUL separated); returns its length,
 * or -1. */
static ssize_t
cmdline(pid_t pid, char *buf, size_t size)
{
	char	path[64];
	ssize_t	n;
	int	fd;

	snprintf(path, sizeof(path), "/proc/%ld/cmdline", (long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	n = read(fd, buf, size);
	close(fd);
	return n;
}

/* Before the first start: the pids in the pid file that still run our
 * command line are children of a previous prefork that died; they are
 * retired (retire_olds) once ours are up. */
static void
read_olds(void)
{
	char	 buf[PIDFILE_MAX + 1], want[4096], got[4096], *p, *end;
	size_t	 wlen = 0, len;
	ssize_t	 n;
	long	 v;
	int	 fd, i;

	if (pidfile == NULL || (fd = open(pidfile, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	for (i = 0; prog[i] != NULL; i++) {
		len = strlen(prog[i]) + 1;
		if (len > sizeof(want) - wlen)
			return;
		memcpy(want + wlen, prog[i], len);
		wlen += len;
	}
	for (p = buf; *p != '\0' && nolds < OLDS_MAX; p = end) {
		errno = 0;
		v = strtol(p, &end, 10);
		if (end == p)
			break;
		if (errno != 0 || v <= 1 || (pid_t)v == getpid())
			continue;
		/* a pidfd names this process, not whatever has its pid when
		 * retire_olds() signals it: the old one may exit meanwhile
		 * and its pid be taken by another (-1: no pidfd, the pid) */
		fd = pidfd_open((pid_t)v, 0);
		/* not a recycled pid: the same command line, not a zombie,
		 * read while the process the pidfd names was alive */
		if (cmdline((pid_t)v, got, sizeof(got)) != (ssize_t)wlen ||
		    memcmp(got, want, wlen) != 0 ||
		    (fd >= 0 && pidfd_send_signal(fd, 0, NULL, 0) != 0)) {
			if (fd >= 0)
				close(fd);
			continue;
		}
		oldfds[nolds] = fd;
		olds[nolds++] = (pid_t)v;
	}
	if (nolds > 0)
		log_warnx("%d %s process(es) of a previous supervisor still "
		    "running: replacing them once %d new one(s) run", nolds,
		    prog[0], nkids);
}

/* SIGTERM to the previous generation (not our children: init reaps them);
 * none if ours could not start (keep_olds). */
static void
retire_olds(void)
{
	int i;

	if (keep_olds)
		return;
	for (i = 0; i < nolds; i++) {
		if ((oldfds[i] >= 0 ?
		    pidfd_send_signal(oldfds[i], SIGTERM, NULL, 0) :
		    kill(olds[i], SIGTERM)) != 0 && errno != ESRCH)
			log_warn("kill %ld", (long)olds[i]);
		if (oldfds[i] >= 0)
			close(oldfds[i]);
	}
	if (nolds > 0)
		log_info("sent SIGTERM to %d %s process(es) of the previous "
		    "supervisor", nolds, prog[0]);
	nolds = 0;
}

/* In the child: default signal state, then exec.  Never returns. */
static void
exec_child(const sigset_t *old)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGCHLD, &sa, NULL);
	sigprocmask(SIG_SETMASK, old, NULL);
	/* no PR_SET_PDEATHSIG: a child outlives a prefork that dies */
	execvp(prog[0], prog);
	log_warn("exec %s", prog[0]);
	_exit(127);
}

static void
spawn(int i, const sigset_t *old)
{
	pid_t pid;

	if ((pid = fork()) < 0) {
		log_warn("fork");
		kids[i].due = mono_ms() + 1000;
		return;
	}
	if (pid == 0)
		exec_child(old);
	kids[i].pid = pid;
	kids[i].started = mono_ms();
}

static void
describe(int status, char *buf, size_t size)
{
	if (WIFSIGNALED(status))
		snprintf(buf, size, "killed by signal %d", WTERMSIG(status));
	else
		snprintf(buf, size, "exited with status %d",
		    WEXITSTATUS(status));
}

/* Reaps dead children; returns -1 if prefork should give up (children
 * fail at once and none ever ran), else the number reaped. */
static int
reap(int stopping)
{
	char		why[64];
	long long	now = mono_ms(), lived;
	pid_t		pid;
	int		status, i, n = 0, delay;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0; i < nkids && kids[i].pid != pid; i++)
			;
		if (i == nkids)
			continue;
		n++;
		kids[i].pid = 0;
		lived = now - kids[i].started;
		describe(status, why, sizeof(why));
		if (stopping)
			continue;
		if (lived < QUICK_MS) {
			/* exited by itself (not killed): cannot start */
			if (!settled && WIFEXITED(status) &&
			    WEXITSTATUS(status) != 0) {
				log_error("%s (pid %ld) %s %lld ms after it "
				    "started; giving up", prog[0], (long)pid,
				    why, lived);
				return -1;
			}
			kids[i].quick++;
		} else
			kids[i].quick = 0;
		delay = kids[i].quick == 0 ? 0 : 100 << (kids[i].quick < 7 ?
		    kids[i].quick : 7);
		if (delay > DELAY_MAX_MS)
			delay = DELAY_MAX_MS;
		kids[i].due = now + delay;
		log_warnx("%s (pid %ld) %s after %lld ms; replacing it%s",
		    prog[0], (long)pid, why, lived, delay ? " after a delay" :
		    "");
	}
	return n;
}

static void
signal_all(int sig)
{
	int i;

	for (i = 0; i < nkids; i++)
		if (kids[i].pid > 0)
			kill(kids[i].pid, sig);
}

static int
alive_count(void)
{
	int i, n = 0;

	for (i = 0; i < nkids; i++)
		n += kids[i].pid > 0;
	return n;
}

/* Starts what is due; returns ms until the next start is due (or 1000). */
static long long
start_due(const sigset_t *old, int *changed)
{
	long long	now = mono_ms(), next = 1000;
	int		i, up = 1;

	for (i = 0; i < nkids; i++) {
		if (kids[i].pid > 0) {
			if (now - kids[i].started >= QUICK_MS)
				settled = 1;
			else
				up = 0;
			continue;
		}
		up = 0;
		if (kids[i].due <= now) {
			spawn(i, old);
			*changed = 1;
		} else if (kids[i].due - now < next)
			next = kids[i].due - now;
	}
	if (nolds > 0) {
		if (up) {
			retire_olds();
			*changed = 1;	/* the pid file: ours only */
		}
		else if (next > 100)
			next = 100;	/* look again soon */
	}
	return next;
}

static int
supervise(long stop_s)
{
	struct timespec	 tv;
	sigset_t	 set, old;
	long long	 wait, deadline = 0;
	int		 sig, stopping = 0, changed, r;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, &old);
	log_info("keeping %d x %s", nkids, prog[0]);
	read_olds();
	for (;;) {
		changed = 0;
		if ((r = reap(stopping)) < 0) {
			signal_all(SIGTERM);
			keep_olds = 1;	/* they serve: better than nothing */
			stopping = 2;
			deadline = mono_ms() + stop_s * 1000;
		}
		changed |= r != 0;
		wait = 1000;
		if (stopping) {
			if (alive_count() == 0)
				break;
			if (mono_ms() >= deadline) {
				log_warnx("children still running after %ld s: "
				    "SIGKILL", stop_s);
				signal_all(SIGKILL);
				deadline = mono_ms() + 60000;
			}
		} else
			wait = start_due(&old, &changed);
		if (changed)
			write_pidfile();
		tv.tv_sec = wait / 1000;
		tv.tv_nsec = (wait % 1000) * 1000000;
		sig = sigtimedwait(&set, NULL, &tv);
		if ((sig == SIGTERM || sig == SIGINT) && !stopping) {
			log_info("%s: stopping %d children",
			    sig == SIGTERM ? "SIGTERM" : "SIGINT", alive_count());
			stopping = 1;
			deadline = mono_ms() + stop_s * 1000;
			signal_all(SIGTERM);
			retire_olds();
		} else if (sig == SIGHUP && !stopping) {
			log_info("SIGHUP: restarting %d children", alive_count());
			signal_all(SIGTERM);
		}
	}
	write_pidfile();
	log_info("stopped");
	return stopping == 2 ? 1 : 0;
}

int
main(int argc, char **argv)
{
	long	n, stop_s = 30;
	int	ch;

	if (argc > 1 && strcmp(argv[1], "--help") == 0) {
		usage(stdout);
		return 0;
	}
	while ((ch = getopt(argc, argv, "+n:p:t:h")) != -1) {
		switch (ch) {
		case 'n':
			if (valid_long(optarg, 1, CHILDREN_MAX, &n) != 0) {
				fprintf(stderr, "prefork: -n: 1..%d\n",
				    CHILDREN_MAX);
				return 2;
			}
			nkids = (int)n;
			break;
		case 'p':
			pidfile = optarg;
			break;
		case 't':
			if (valid_long(optarg, 1, 86400, &stop_s) != 0) {
				fprintf(stderr, "prefork: -t: 1..86400\n");
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	prog = argv + optind;
	log_open("prefork", NULL, LOG_LEVEL_INFO);
	return supervise(stop_s);
}
