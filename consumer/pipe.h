/* SPDX-License-Identifier: ISC */
/*
 * pipe.h - one pipeline of the consumer: drains a queue into a sink.
 *
 * A pipeline owns its AMQP connection and channel (manual acks, basic.qos
 * prefetch), collects up to consumer_batch deliveries (waiting at most
 * consumer_batch_wait_ms for a batch to fill), dead-letters what does not
 * parse as a ticket (basic.reject, requeue=false: the queue's dead-letter
 * exchange routes it to <queue>.dead), hands the rest to its sink and acks
 * each message only after the sink reports it durably written.  Transient
 * failures are retried with exponential backoff and full jitter; nothing is
 * dead-lettered for a transient cause.  The sink decides per message:
 * written, dead (poison or double sale), or retry.
 */
#ifndef BOX_PIPE_H
#define BOX_PIPE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "err.h"
#include "msg.h"
#include "ticket.h"

#define PIPE_BODY_MAX	MSG_JSON_MAX	/* larger bodies are poison */

enum pipe_state {
	PIPE_NEW,	/* not written yet */
	PIPE_DONE,	/* durably written (or was already): ack */
	PIPE_DEAD,	/* never writable: dead-letter */
	PIPE_RETRY	/* transient failure: write again later */
};

/* One delivery of a batch. */
struct item {
	uint64_t	 tag;		/* delivery tag */
	char		*body;		/* NUL-terminated copy, malloc'd */
	size_t		 len;
	struct ticket	 t;		/* parsed body (if not DEAD at parse) */
	enum msg_kind	 kind;		/* and the rest of it (msg.h) */
	union msg_body	 u;
	enum pipe_state	 state;
	const char	*why;		/* DEAD: static reason for the log */
	int		 settled;	/* acked or rejected already */
	int		 requeued;	/* MQ_REQUEUED_HEADER: ticketctl dlq
					   requeue put it back */
};

/* A destination.  write() writes every item in state PIPE_NEW or PIPE_RETRY
 * and sets each of them to PIPE_DONE, PIPE_DEAD (why set) or PIPE_RETRY.
 * It returns 0 if no item is left in PIPE_RETRY, else -1 with err and
 * errstr set to the cause (for the log).  It must not block longer than
 * its timeouts. */
struct sink {
	const char	*name;		/* "mysql", "dynamodb" */
	void		*ctx;		/* the sink's own state */
	int		 err;		/* enum err_kind (err.h) */
	char		 errstr[ERRSTR_MAX];
	int		(*write)(struct sink *sk, struct item *items, size_t n);
	void		(*free)(void *ctx);
};

/* Counters read by the main thread for the periodic log line. */
struct pipe_stats {
	atomic_ulong	 done;		/* messages acked as written */
	atomic_ulong	 dead;		/* messages dead-lettered */
	atomic_ulong	 batches;
	atomic_llong	 lag_ms;	/* sale to persistence, last batch */
	atomic_int	 consuming;	/* 1 while subscribed to the queue */
	atomic_int	 failing;	/* 1 while the sink fails */
};

struct pipe {
	const char		*name;		/* "sql", "nosql" (logs) */
	const char		*queue;
	const struct conf	*c;
	struct sink		*sink;
	const atomic_int	*stop;		/* set by the main thread */
	struct pipe_stats	 stats;
};

/* Thread entry: runs pipe (a struct pipe *) until *stop is set, then
 * finishes the batch in hand, acks it and returns NULL. */
void	*pipe_run(void *pipe);

/* Sleeps ms milliseconds in short slices; returns early (1) once *stop is
 * set, else 0. */
int	pipe_sleep(long ms, const atomic_int *stop);

#endif
