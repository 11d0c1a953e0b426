/* SPDX-License-Identifier: ISC */
/*
 * server.c - command line, signals and the accept loop (see server.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http.h"
#include "log.h"
#include "metrics.h"
#include "server.h"
#include "start.h"

static volatile sig_atomic_t	stopping;
static sigset_t			stop_sigs;	/* SIGTERM, SIGINT */
static int			null_fd = -1;	/* /dev/null */

/*
 * SIGTERM, SIGINT: stop after the request in hand.  The handler runs with
 * SA_RESTART, because until the request is in hand (hold_stop()) the
 * process may be inside libfcgi's accept reading the request's parameters,
 * and libfcgi takes a read interrupted there (EINTR) for the end of them:
 * the request was handled without the parameters still to come (its path,
 * its Idempotency-Key...).  An idle process blocked in accept() must still
 * stop at once: the handler puts /dev/null in place of the listening
 * socket (descriptor 0), so the accept() the kernel restarts fails
 * (ENOTSOCK) and FCGX_Accept_r returns; a read of parameters under way is
 * on the connection's own descriptor, restarted, and goes on.
 */
static void
on_term(int sig)
{
	int saved = errno;

	(void)sig;
	stopping = 1;
	if (null_fd >= 0)
		(void)dup2(null_fd, 0);
	errno = saved;
}

static void
stop_signals(void)
{
	struct sigaction sa;

	sigemptyset(&stop_sigs);
	sigaddset(&stop_sigs, SIGTERM);
	sigaddset(&stop_sigs, SIGINT);
	if ((null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0)
		log_warn("/dev/null (an idle process will stop only after "
		    "its next request)");
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGINT, &sa, NULL);
}

static void
usage(FILE *f, const void *ctx)
{
	const struct server_ops *ops = ctx;

	fprintf(f, "usage: %s [-n] [-c config]\n"
	    "%s\n\n"
	    START_HELP_CN
	    START_HELP_H "\n"
	    "Settings may be overridden by BOXOFFICE_<NAME> environment\n"
	    "variables; see docs/config.md.  The process serves FastCGI on\n"
	    "file descriptor 0, as spawn-fcgi provides it (exit 1 if that is\n"
	    "no listening socket).  SIGTERM/SIGINT: exit 0 after the request\n"
	    "in hand.\n",
	    ops->prog, ops->summary);
}

/* Answers GET metrics_path itself; returns 1 if it did. */
static int
serve_metrics(FCGX_Request *req, const struct server_ops *ops)
{
	const char	*method;
	char		 path[128], *text;
	size_t		 len;

	if (ops->metrics_path == NULL ||
	    http_path(req, path, sizeof(path)) < 0 ||
	    strcmp(path, ops->metrics_path) != 0)
		return 0;
	method = http_param(req, "REQUEST_METHOD");
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		http_error(req, 405, "METHOD_NOT_ALLOWED", "use GET",
		    "Allow: GET, HEAD\r\n");
	else if ((text = metrics_render(&len)) == NULL)
		http_error(req, 503, "UNAVAILABLE", "metrics are off: "
		    "metrics_dir is empty or not writable", "Retry-After: 1\r\n");
	else {
		http_reply_type(req, 200, METRICS_CONTENT_TYPE, NULL, text,
		    len);
		free(text);
	}
	return 1;
}

/*
 * Ends a request whose answer is written.  On a connection the web server
 * does not keep, libfcgi closes by shutting its side down and waiting for
 * the server to close first (OS_Close's lingering close: three more system
 * calls, and the process sleeps until the server has read the answer
 * instead of taking the next request).  The wait guards against one thing:
 * closing a socket that still holds unread input resets the connection,
 * and the server may lose the answer.  Once the end of stdin has been read
 * the server sends nothing more, so a plain close is safe (FCGX_Detach asks
 * libfcgi for it); a request whose body was left unread keeps the lingering
 * close, for at most the read deadline (http_deadline(): a client that
 * trickles its body through a web server that passes it on would keep it
 * going).
 */
static void
finish(FCGX_Request *req)
{
	if (!req->keepConnection && req->in != NULL &&
	    FCGX_HasSeenEOF(req->in)) {
		FCGX_Detach(req);
		FCGX_Finish_r(req);
		return;
	}
	http_deadline(1);
	FCGX_Finish_r(req);
	http_deadline(0);
}

/*
 * Holds (hold 1) or lets through (hold 0) SIGTERM and SIGINT.  Held while a
 * request is in hand: SA_RESTART restarts reads, but not every wait (poll()
 * and the waits with a timeout end with EINTR whatever the flag), and the
 * handler must not cut short any wait of the request, above all the read
 * of a body that has not fully arrived (Apache passes a body on as the
 * client sends it: libfcgi marks the stream failed on EINTR and a valid
 * purchase was answered 400).  A signal that came meanwhile is delivered
 * when it is let through, before the next accept: the process stops after
 * the answer.  SIGALRM (http_deadline) is never held.
 */
static void
hold_stop(int hold)
{
	(void)sigprocmask(hold ? SIG_BLOCK : SIG_UNBLOCK, &stop_sigs, NULL);
}

/*
 * FCGX_Accept_r gave up with r (minus an errno, or libfcgi's own code
 * below -9000).  After SIGTERM that is the stop: returns 0.  Otherwise
 * descriptor 0 is no listening socket (started without spawn-fcgi), or
 * accepting failed for good: logs why and returns 1, so that a supervisor
 * sees a failure, not a clean stop it would restart for ever.
 */
static int
accept_failed(int r)
{
	if (stopping)
		return 0;
	if (r > -9000)
		log_error("fastcgi: accept on descriptor 0 failed: %s (is it "
		    "the listening socket of spawn-fcgi?)", strerror(-r));
	else
		log_error("fastcgi: accept on descriptor 0 failed (libfcgi "
		    "error %d)", r);
	return 1;
}

int
server_main(int argc, char **argv, const struct server_ops *ops)
{
	struct conf		c;
	struct start_args	a = { .usage = usage, .ctx = (void *)ops };
	FCGX_Request		req;
	int			rc;

	if ((rc = start_args(&a, argc, argv)) >= 0)
		return rc;
	if (start_conf(ops->prog, a.path, &c) != 0)
		return 1;
	if (a.check)
		return ops->init(&c, 1) != 0 ? 1 : start_check_done(&c);
	start_log(ops->prog, &c);
	start_signals(on_term);		/* and SIGPIPE ignored */
	stop_signals();

	if (FCGX_Init() != 0 || FCGX_InitRequest(&req, 0, 0) != 0) {
		log_error("fastcgi: cannot initialise the library");
		return 1;
	}
	if (ops->metrics_path != NULL &&
	    metrics_open(c.metrics_dir, ops->prog) != 0)
		log_warn("metrics: %s file in %s (metrics off)", ops->prog,
		    c.metrics_dir);
	if (ops->init(&c, 0) != 0)
		return 1;
	if (http_deadline_init(c.fcgi_read_timeout_ms) != 0)
		log_warn("sigaction: no deadline on reading a request");
	log_info("started");
	rc = 0;
	while (!stopping) {
		/* idle in accept, a stop signal ends the wait at once */
		if ((rc = FCGX_Accept_r(&req)) < 0) {
			rc = accept_failed(rc);
			break;
		}
		hold_stop(1);
		if (!serve_metrics(&req, ops))
			ops->handle(&req);
		finish(&req);
		hold_stop(0);	/* one held meanwhile sets stopping here */
	}
	if (ops->fini != NULL)
		ops->fini();
	FCGX_Free(&req, 1);
	metrics_close();
	log_info("stopped");
	return rc;
}
