/* SPDX-License-Identifier: ISC */
/*
 * pubc.c - hands a message to the local publisher (see pubc.h).
 */
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "err.h"
#include "metrics.h"
#include "pubc.h"
#include "pubframe.h"

void
pubc_init(struct pubc *p, const char *path)
{
	memset(p, 0, sizeof(*p));
	p->fd = -1;
	snprintf(p->path, sizeof(p->path), "%s", path);
}

void
pubc_close(struct pubc *p)
{
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
}

int
pubc_check(struct pubc *p)
{
	struct sockaddr_un	sun;
	struct pollfd		pfd;
	struct timeval		tv;

	if (p->fd >= 0) {
		/* idle between requests: anything readable now is EOF or
		 * junk of a pubd gone (restarted): start afresh */
		pfd.fd = p->fd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		if (poll(&pfd, 1, 0) == 0)
			return 0;
		pubc_close(p);
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", p->path);
	/* a pubd that accepts nothing (stopped, hung) and whose backlog is
	 * full would hold connect() without a limit: refused after
	 * PUBC_CONNECT_MS instead (nothing handed over: not published);
	 * later writes and reads do not wait on the socket */
	tv.tv_sec = PUBC_CONNECT_MS / 1000;
	tv.tv_usec = (PUBC_CONNECT_MS % 1000) * 1000;
	if ((p->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    setsockopt(p->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0 ||
	    connect(p->fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		err_set(&p->err, p->errstr, ERR_IO, "pubd %s: connect: %s",
		    p->path, errno == EAGAIN ? "its backlog is full (pubd "
		    "accepts nothing)" : strerror(errno));
		pubc_close(p);
		return -1;
	}
	return 0;
}

/* Writes n bytes of buf before deadline (monotonic ms).  Returns the bytes
 * written (n on success; fewer: failed, errstr set, *gone 1 if the peer
 * had closed its end, EPIPE or ECONNRESET). */
static size_t
write_all(struct pubc *p, const uint8_t *buf, size_t n, long long deadline,
    int *gone)
{
	struct pollfd	pfd;
	size_t		off = 0;
	ssize_t		w;
	long long	left;

	*gone = 0;
	while (off < n) {
		w = send(p->fd, buf + off, n - off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w > 0) {
			off += (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
		    (left = deadline - mono_ms()) > 0) {
			pfd.fd = p->fd;
			pfd.events = POLLOUT;
			(void)poll(&pfd, 1, (int)left);
			continue;
		}
		*gone = w < 0 && (errno == EPIPE || errno == ECONNRESET);
		err_set(&p->err, p->errstr, ERR_IO, "pubd %s: write: %s",
		    p->path, w < 0 && errno != EAGAIN ? strerror(errno) :
		    "timed out");
		break;
	}
	return off;
}

/* Reads pubd's answer to msgid before deadline.  Returns the outcome;
 * *untaken 1 (with MQ_UNKNOWN) if pubd closed the socket with bytes of the
 * frame still unread in it (the kernel reports ECONNRESET for that, a
 * plain EOF for a socket read to its end): it never had the whole frame,
 * so it published nothing. */
static enum mq_result
read_answer(struct pubc *p, const char *msgid, long long deadline,
    int *untaken)
{
	uint8_t			 buf[PUBFRAME_ANS_MAX];
	struct pubframe_ans	 a;
	struct pollfd		 pfd;
	const char		*why = "";
	size_t			 have = 0;
	ssize_t			 r;
	long			 n;
	long long		 left;

	*untaken = 0;
	for (;;) {
		n = pubframe_ans_parse(buf, have, &a, &why);
		if (n > 0 && strcmp(a.id, msgid) == 0) {
			if (a.result != MQ_OK)
				err_set(&p->err, p->errstr, ERR_SERVER,
				    "pubd: %s", a.why);
			return (enum mq_result)a.result;
		}
		if (n != PUBFRAME_MORE) {
			err_set(&p->err, p->errstr, ERR_OTHER, "pubd %s: %s",
			    p->path, n > 0 ? "answer for another message" :
			    why);
			return MQ_UNKNOWN;
		}
		if ((left = deadline - mono_ms()) <= 0) {
			err_set(&p->err, p->errstr, ERR_IO, "pubd %s: no "
			    "answer in time", p->path);
			return MQ_UNKNOWN;
		}
		pfd.fd = p->fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		r = recv(p->fd, buf + have, sizeof(buf) - have, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == ECONNRESET && have == 0) {
			/* one frame at a time: what it left unread is ours */
			err_set(&p->err, p->errstr, ERR_IO, "pubd %s: closed "
			    "the socket with the message unread (stopping?): "
			    "not sent", p->path);
			*untaken = 1;
			return MQ_UNKNOWN;
		}
		if (r <= 0) {
			err_set(&p->err, p->errstr, ERR_IO, "pubd %s: %s",
			    p->path, r == 0 ? "connection closed (pubd gone)" :
			    strerror(errno));
			return MQ_UNKNOWN;
		}
		have += (size_t)r;
	}
}

/*
 * One attempt: writes the frame on the kept or a new socket and reads the
 * answer.  Returns the outcome; *untaken 1 if pubd took no whole frame and
 * went away (a kept socket closed after the idle check: the write fails
 * EPIPE; or closed with the frame unread): nothing was published.
 */
static enum mq_result
attempt(struct pubc *p, const uint8_t *buf, size_t n, const char *msgid,
    long long deadline, int *untaken)
{
	enum mq_result	r;
	size_t		sent;
	int		gone;

	*untaken = 0;
	if (pubc_check(p) != 0)
		return MQ_FAILED;
	sent = write_all(p, buf, n, deadline, &gone);
	/* pubd takes only whole frames: a part of one is dropped with us */
	if (sent < n) {
		pubc_close(p);
		*untaken = gone;
		return MQ_FAILED;
	}
	r = read_answer(p, msgid, deadline, untaken);
	if (r == MQ_UNKNOWN)
		pubc_close(p);
	return r;
}

static enum mq_result
hand_over(struct pubc *p, const char *exchange, const char *key,
    const char *body, size_t len, const char *msgid, int timeout_ms)
{
	uint8_t		*buf;
	long		 n;
	long long	 deadline = mono_ms() + timeout_ms + PUBC_GRACE_MS;
	enum mq_result	 r;
	int		 untaken;

	if (len > PUBFRAME_BODY_MAX || (buf = malloc(PUBFRAME_HDR +
	    PUBFRAME_ID_MAX + 2 * PUBFRAME_NAME_MAX + len)) == NULL) {
		err_set(&p->err, p->errstr, ERR_OTHER, "pubd: message too long "
		    "or out of memory");
		return MQ_FAILED;
	}
	n = pubframe_req_encode(buf, PUBFRAME_HDR + PUBFRAME_ID_MAX +
	    2 * PUBFRAME_NAME_MAX + len, msgid, exchange, key, 1, timeout_ms,
	    body, len);
	if (n < 0) {
		free(buf);
		err_set(&p->err, p->errstr, ERR_OTHER, "pubd: message id, "
		    "key or timeout out of range");
		return MQ_FAILED;
	}
	/* a pubd that went away without the whole frame (stopping,
	 * restarted): once more on a fresh socket, to the pubd listening
	 * now; if that one does the same, nothing was sent */
	r = attempt(p, buf, (size_t)n, msgid, deadline, &untaken);
	if (r != MQ_OK && untaken)
		r = attempt(p, buf, (size_t)n, msgid, deadline, &untaken);
	if (r != MQ_OK && untaken)
		r = MQ_FAILED;
	free(buf);
	return r;
}

/* Times and counts each hand-over like mq_publish_key(). */
enum mq_result
pubc_publish(struct pubc *p, const char *exchange, const char *key,
    const char *body, size_t len, const char *msgid, int timeout_ms)
{
	long long	start = mono_us();
	enum mq_result	r;

	r = hand_over(p, exchange, key, body, len, msgid, timeout_ms);
	metrics_observe(METRICS_PUBLISH, start);
	metrics_count(r == MQ_OK ? METRICS_PUBLISH_CONFIRMED :
	    r == MQ_FAILED ? METRICS_PUBLISH_FAILED : METRICS_PUBLISH_UNKNOWN);
	return r;
}
