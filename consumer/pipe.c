/* SPDX-License-Identifier: ISC */
/*
 * pipe.c - one consumer pipeline: queue -> batch -> sink -> ack (see pipe.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <amqp.h>

#include "backoff.h"
#include "clock.h"
#include "log.h"
#include "mq.h"
#include "pipe.h"
#include "when.h"

#define CHANNEL		1	/* the channel mq_connect() opens */
#define IDLE_WAIT_MS	250	/* longest wait for a first delivery */

int
pipe_sleep(long ms, const atomic_int *stop)
{
	long long	 end = mono_ms() + ms;
	long long	 left;
	struct timespec	 ts;

	while (!atomic_load(stop) && (left = end - mono_ms()) > 0) {
		if (left > 50)
			left = 50;
		ts.tv_sec = 0;
		ts.tv_nsec = (long)left * 1000000;
		nanosleep(&ts, NULL);
	}
	return atomic_load(stop) ? 1 : 0;
}

/* Drops the connection without talking to the peer (it failed), as
 * mq_drop() does: the next connect starts with the next node.  err and
 * errstr stay those of the failure. */
static void
lose(struct mq *m)
{
	char	why[sizeof(m->errstr)];
	int	err = m->err;

	memcpy(why, m->errstr, sizeof(why));
	mq_drop(m, "consume", "connection lost");
	m->err = err;
	memcpy(m->errstr, why, sizeof(why));
}

/* Connects, sets the prefetch window and subscribes with manual acks.
 * Returns 0, or -1 with m->errstr set (the connection is closed). */
static int
subscribe(struct pipe *p, struct mq *m)
{
	if (mq_connect(m, 0) != 0)
		return -1;
	amqp_basic_qos(m->conn, CHANNEL, 0, (uint16_t)p->c->consumer_prefetch,
	    0);
	if (mq_rpc_check(m, amqp_get_rpc_reply(m->conn), "basic.qos") != 0) {
		lose(m);
		return -1;
	}
	amqp_basic_consume(m->conn, CHANNEL, amqp_cstring_bytes(p->queue),
	    amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
	if (mq_rpc_check(m, amqp_get_rpc_reply(m->conn), p->queue) != 0) {
		lose(m);
		return -1;
	}
	return 0;
}

/* Reads the frame that made amqp_consume_message() stop.  Returns 0 if
 * the subscription goes on, -1 if it ended (errstr set). */
static int
other_frame(struct mq *m)
{
	amqp_frame_t	f;
	int		rc;

	if ((rc = amqp_simple_wait_frame(m->conn, &f)) != AMQP_STATUS_OK) {
		err_set(&m->err, m->errstr, ERR_IO, "amqp %s:%d: %s",
		    m->host, m->port, amqp_error_string2(rc));
		return -1;
	}
	if (f.frame_type != AMQP_FRAME_METHOD)
		return 0;
	switch (f.payload.method.id) {
	case AMQP_CONNECTION_CLOSE_METHOD: {
		amqp_connection_close_t *c = f.payload.method.decoded;
		amqp_connection_close_ok_t ok;

		err_set(&m->err, m->errstr, ERR_IO, "amqp %s:%d: broker "
		    "closed the connection: %u %.*s", m->host, m->port,
		    c->reply_code, (int)c->reply_text.len,
		    (char *)c->reply_text.bytes);
		(void)amqp_send_method(m->conn, 0,
		    AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
		return -1;
	}
	case AMQP_CHANNEL_CLOSE_METHOD: {
		amqp_channel_close_t *c = f.payload.method.decoded;

		err_set(&m->err, m->errstr, ERR_IO, "amqp %s:%d: broker "
		    "closed the channel: %u %.*s", m->host, m->port,
		    c->reply_code, (int)c->reply_text.len,
		    (char *)c->reply_text.bytes);
		return -1;
	}
	case AMQP_BASIC_CANCEL_METHOD:
		err_set(&m->err, m->errstr, ERR_SERVER, "amqp %s:%d: broker "
		    "cancelled the subscription (queue deleted?)", m->host,
		    m->port);
		return -1;
	default:
		return 0;	/* blocked/unblocked and the like */
	}
}

/* 1 if the properties p carry MQ_REQUEUED_HEADER, true. */
static int
requeued(const amqp_basic_properties_t *p)
{
	const amqp_table_entry_t	*e;
	int				 i;

	if (!(p->_flags & AMQP_BASIC_HEADERS_FLAG))
		return 0;
	for (i = 0; i < p->headers.num_entries; i++) {
		e = &p->headers.entries[i];
		if (e->key.len == strlen(MQ_REQUEUED_HEADER) &&
		    memcmp(e->key.bytes, MQ_REQUEUED_HEADER, e->key.len) == 0)
			return e->value.kind == AMQP_FIELD_KIND_BOOLEAN &&
			    e->value.value.boolean;
	}
	return 0;
}

/* Waits up to ms for one delivery and copies it into it.  Returns 1 got
 * one, 0 none in time, -1 the connection is gone (errstr set). */
static int
next_delivery(struct mq *m, long ms, struct item *it)
{
	amqp_envelope_t	 env;
	amqp_rpc_reply_t r;
	struct timeval	 tv;
	size_t		 len;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	amqp_maybe_release_buffers(m->conn);
	r = amqp_consume_message(m->conn, &env, &tv, 0);
	if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION) {
		if (r.library_error == AMQP_STATUS_TIMEOUT)
			return 0;
		if (r.library_error == AMQP_STATUS_UNEXPECTED_STATE)
			return other_frame(m) == 0 ? 0 : -1;
		return mq_rpc_check(m, r, "consume");
	}
	if (r.reply_type != AMQP_RESPONSE_NORMAL)
		return mq_rpc_check(m, r, "consume");
	memset(it, 0, sizeof(*it));
	it->tag = env.delivery_tag;
	it->requeued = requeued(&env.message.properties);
	len = env.message.body.len;
	if (len > PIPE_BODY_MAX) {
		it->state = PIPE_DEAD;
		it->why = "message larger than the cap";
		len = PIPE_BODY_MAX;	/* kept for the log only */
	}
	if ((it->body = malloc(len + 1)) == NULL) {
		amqp_destroy_envelope(&env);
		err_set(&m->err, m->errstr, ERR_OTHER, "out of memory");
		return -1;	/* the message comes back on reconnect */
	}
	if (len > 0)
		memcpy(it->body, env.message.body.bytes, len);
	it->body[len] = '\0';
	it->len = len;
	amqp_destroy_envelope(&env);
	return 1;
}

static void
free_items(struct item *items, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(items[i].body);
		items[i].body = NULL;
	}
}

/* Collects a batch: waits up to IDLE_WAIT_MS for a first delivery, then up
 * to consumer_batch_wait_ms for more, up to max.  Returns the number
 * collected (0 if none), or -1 if the connection is gone (nothing kept). */
static long
collect(struct pipe *p, struct mq *m, struct item *items, size_t max)
{
	long long	deadline = 0;
	long		left;
	size_t		n = 0;
	int		rc;

	while (n < max) {
		if (n == 0)
			left = IDLE_WAIT_MS;
		else if ((left = (long)(deadline - mono_ms())) < 0)
			left = 0;
		rc = next_delivery(m, left, &items[n]);
		if (rc < 0) {
			free_items(items, n);
			return -1;
		}
		if (rc == 0) {
			if (n > 0 && left > 0)
				continue;	/* another frame: keep waiting */
			break;
		}
		if (n++ == 0)
			deadline = mono_ms() + p->c->consumer_batch_wait_ms;
	}
	return (long)n;
}

/* Shortens a body for a log line: printable ASCII, at most 160 chars. */
static void
body_excerpt(const struct item *it, char *out, size_t size)
{
	size_t i, o = 0;

	for (i = 0; i < it->len && o + 4 < size && i < 160; i++)
		out[o++] = it->body[i] >= 0x20 && it->body[i] < 0x7f ?
		    it->body[i] : '?';
	if (i < it->len && o + 4 < size) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

/* Dead-letters every DEAD item not yet settled.  Returns 0 or -1 if the
 * connection failed (the messages come back on the next connection). */
static int
reject_dead(struct pipe *p, struct mq *m, struct item *items, size_t n)
{
	char	excerpt[192];
	size_t	i;

	for (i = 0; i < n; i++) {
		if (items[i].state != PIPE_DEAD || items[i].settled)
			continue;
		if (amqp_basic_reject(m->conn, CHANNEL, items[i].tag, 0) !=
		    AMQP_STATUS_OK) {
			err_set(&m->err, m->errstr, ERR_IO, "amqp %s:%d: "
			    "basic.reject failed", m->host, m->port);
			return -1;
		}
		items[i].settled = 1;
		atomic_fetch_add(&p->stats.dead, 1);
		body_excerpt(&items[i], excerpt, sizeof(excerpt));
		log_warnx("%s: dead-lettered a message to %s" MQ_DEAD_SUFFIX
		    ": %s: %s", p->name, p->queue, items[i].why ?
		    items[i].why : "refused", excerpt);
	}
	return 0;
}

/* Acks every DONE item: one multiple ack when the whole batch is settled,
 * else one ack each.  Returns 0 or -1 if the connection failed. */
static int
ack_done(struct pipe *p, struct mq *m, struct item *items, size_t n)
{
	uint64_t	 max = 0;
	size_t		 i, done = 0, open = 0;
	long long	 newest = 0, ms;

	for (i = 0; i < n; i++) {
		if (items[i].state == PIPE_DONE) {
			done++;
			if (items[i].tag > max)
				max = items[i].tag;
			if (when_parse(items[i].t.created, &ms) == 0 &&
			    ms > newest)
				newest = ms;
		} else if (!items[i].settled)
			open++;
	}
	if (done == 0)
		return 0;
	if (open == 0) {
		if (amqp_basic_ack(m->conn, CHANNEL, max, 1) != AMQP_STATUS_OK)
			goto fail;
	} else {
		for (i = 0; i < n; i++)
			if (items[i].state == PIPE_DONE &&
			    amqp_basic_ack(m->conn, CHANNEL, items[i].tag, 0) !=
			    AMQP_STATUS_OK)
				goto fail;
	}
	for (i = 0; i < n; i++)
		if (items[i].state == PIPE_DONE)
			items[i].settled = 1;
	atomic_fetch_add(&p->stats.done, done);
	atomic_fetch_add(&p->stats.batches, 1);
	if (newest > 0)
		atomic_store(&p->stats.lag_ms, wall_ms() - newest);
	return 0;
fail:
	err_set(&m->err, m->errstr, ERR_IO, "amqp %s:%d: basic.ack failed",
	    m->host, m->port);
	return -1;
}

/* Sleeps ms like pipe_sleep(), sending a heartbeat at least every half
 * interval: a sink that fails for minutes must not make the broker drop
 * the subscription (and requeue the batch in hand) for silence.  Returns 1
 * once stop is set, else 0. */
static int
pause_alive(struct pipe *p, struct mq *m, long ms)
{
	long	slice, hb = m->open ? amqp_get_heartbeat(m->conn) : 0;

	while (ms > 0) {
		slice = hb > 0 && ms > hb * 500 ? hb * 500 : ms;
		if (hb > 0)
			(void)mq_heartbeat_send(m);	/* failure: seen at ack */
		if (pipe_sleep(slice, p->stop))
			return 1;
		ms -= slice;
	}
	return 0;
}

/* Writes the parsed items through the sink until none is left to retry or
 * stop is set.  Logs the first failure and the recovery, not each try. */
static void
write_batch(struct pipe *p, struct mq *m, struct item *items, size_t n)
{
	const char	*err = p->sink->errstr;
	unsigned	 attempt = 0;
	long long	 since = 0;
	long		 ms;

	for (;;) {
		p->sink->err = ERR_NONE;
		p->sink->errstr[0] = '\0';
		if (p->sink->write(p->sink, items, n) == 0)
			break;
		if (attempt == 0) {
			since = mono_ms();
			if (!atomic_load(&p->stats.failing))
				log_warnx("%s: %s write failed: %s; retrying "
				    "with backoff", p->name, p->sink->name, err);
			atomic_store(&p->stats.failing, 1);
		} else
			log_debug("%s: %s write failed again: %s", p->name,
			    p->sink->name, err);
		if (atomic_load(p->stop))
			return;	/* left unacked: the broker redelivers */
		ms = backoff_ms(attempt, BACKOFF_BASE_MS,
		    p->c->consumer_retry_max_ms, backoff_rand());
		if (attempt < 64)
			attempt++;
		if (pause_alive(p, m, ms))
			return;
	}
	if (atomic_load(&p->stats.failing)) {
		atomic_store(&p->stats.failing, 0);
		log_info("%s: %s writes work again (after %u retries, %.1f s)",
		    p->name, p->sink->name, attempt,
		    since ? (mono_ms() - since) / 1000.0 : 0.0);
	}
}

/* Parses the body of it into it->t, kind and u (msg.h).  Returns 0, or
 * -1 with *why set (poison). */
static int
parse_item(struct item *it, const char **why)
{
	static _Thread_local struct msg m;

	if (msg_parse(it->body, it->len, &m, why) != 0)
		return -1;
	it->t = m.t;
	it->kind = m.kind;
	it->u = m.u;
	return 0;
}

/* Handles one batch: parse, dead-letter poison, write, ack.  Returns 0, or
 * -1 if the connection failed (what was not acked comes back). */
static int
handle_batch(struct pipe *p, struct mq *m, struct item *items, size_t n)
{
	const char	*why;
	size_t		 i;

	for (i = 0; i < n; i++) {
		if (items[i].state == PIPE_DEAD)
			continue;
		if (parse_item(&items[i], &why) != 0) {
			items[i].state = PIPE_DEAD;
			items[i].why = why;
		}
	}
	if (reject_dead(p, m, items, n) != 0)
		return -1;
	write_batch(p, m, items, n);
	if (reject_dead(p, m, items, n) != 0 || ack_done(p, m, items, n) != 0)
		return -1;
	return 0;
}

void *
pipe_run(void *arg)
{
	struct pipe	*p = arg;
	struct mq	 m;
	struct item	*items;
	size_t		 max;
	unsigned	 attempt = 0;
	int		 warned = 0, rc;
	long		 n;
	char		 name[64];

	max = (size_t)p->c->consumer_batch;
	if (max > (size_t)p->c->consumer_prefetch)
		max = (size_t)p->c->consumer_prefetch;
	if ((items = calloc(max, sizeof(*items))) == NULL) {
		log_error("%s: out of memory", p->name);
		return NULL;
	}
	snprintf(name, sizeof(name), "consumer %s", p->queue);
	(void)mq_init_conf(&m, p->c, name);
	while (!atomic_load(p->stop)) {
		if (!m.open) {
			if (subscribe(p, &m) != 0) {
				if (!warned)
					log_warnx("%s: cannot consume %s: %s; "
					    "retrying with backoff", p->name,
					    p->queue, m.errstr);
				warned = 1;
				pipe_sleep(backoff_ms(attempt, BACKOFF_BASE_MS,
				    p->c->consumer_retry_max_ms,
				    backoff_rand()), p->stop);
				if (attempt < 64)
					attempt++;
				continue;
			}
			log_info("%s: consuming %s (prefetch %d, batch %zu)",
			    p->name, p->queue, p->c->consumer_prefetch, max);
			atomic_store(&p->stats.consuming, 1);
			attempt = 0;
			warned = 0;
		}
		n = collect(p, &m, items, max);
		if (n > 0) {
			rc = handle_batch(p, &m, items, (size_t)n);
			free_items(items, (size_t)n);
			if (rc != 0)
				n = -1;
		}
		if (n < 0) {
			log_warnx("%s: lost %s: %s; reconnecting", p->name,
			    p->queue, m.errstr);
			atomic_store(&p->stats.consuming, 0);
			lose(&m);
		}
	}
	/* unacked deliveries still in flight go back to the queue on close */
	mq_close(&m);
	atomic_store(&p->stats.consuming, 0);
	free(items);
	return NULL;
}
