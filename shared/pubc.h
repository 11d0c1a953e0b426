/* SPDX-License-Identifier: ISC */
/*
 * pubc.h - a responder's side of the local publisher (pubd/): hands one
 * message over pubd's unix socket (pubframe.h) and waits for its answer.
 *
 * Outcomes as mq_publish()'s (mq.h): MQ_OK only on pubd's answer that the
 * broker confirmed this message; MQ_FAILED if nothing was handed over (no
 * pubd listening) or pubd says it was refused before sending or returned;
 * MQ_UNKNOWN once the message may have left: pubd's answer unknown, pubd
 * gone (EOF) or silent past the deadline.  After an unknown outcome the
 * socket is closed, so that a late answer never meets the next message.
 * A socket that pubd closed without taking the whole frame (stopping, after
 * the idle check: the write fails EPIPE, or the read ECONNRESET, which the
 * kernel reports for a socket closed with bytes unread, where a socket
 * read to its end gives EOF) is replaced once and the frame sent again, so
 * a pubd restart costs no request; if the new socket goes the same way
 * (or none can be had), MQ_FAILED: nothing was sent.
 */
#ifndef BOX_PUBC_H
#define BOX_PUBC_H

#include <stddef.h>

#include "err.h"
#include "mq.h"

/* ms a responder waits beyond amqp_confirm_timeout_ms for pubd's answer
 * (pubd applies the deadline itself; this is for a pubd that hangs) */
#define PUBC_GRACE_MS	1000

/* ms a connect to pubd may wait (a full backlog: pubd accepts nothing) */
#define PUBC_CONNECT_MS	1000

struct pubc {
	int	fd;			/* -1: not connected */
	char	path[108];		/* sun_path of pubd_socket */
	int	err;			/* enum err_kind, err.h */
	char	errstr[ERRSTR_MAX];
};

/* Copies the socket path; connects nothing. */
void	pubc_init(struct pubc *p, const char *path);
void	pubc_close(struct pubc *p);
/* Connects to pubd unless connected (a socket pubd closed is replaced):
 * whether it takes messages.  Returns 0, or -1 with errstr set. */
int	pubc_check(struct pubc *p);
/* Hands the message to pubd (mandatory, persistent, to exchange/key) and
 * waits up to timeout_ms + PUBC_GRACE_MS for its outcome (see above);
 * errstr says why when not MQ_OK. */
enum mq_result pubc_publish(struct pubc *p, const char *exchange,
	    const char *key, const char *body, size_t len, const char *msgid,
	    int timeout_ms);

#endif
