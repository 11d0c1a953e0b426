/* SPDX-License-Identifier: ISC */
/*
 * sold.c - sold seats read from MySQL, a queue and DynamoDB (see sold.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <amqp.h>
#include <json-c/json.h>

#include "err.h"
#include "msg.h"
#include "sold.h"
#include "valid.h"

#define SQL_MAX		(256 + CTL_EVENTS_MAX * (ID_MAX + 4))

int
soldv_add(struct soldv *s, const char *event, long zone, long row, long col,
    const char *id, const char *json)
{
	struct sold	*p;
	size_t		 cap;

	if (s->n == s->cap) {
		cap = s->cap ? s->cap * 2 : 1024;
		if ((p = reallocarray(s->v, cap, sizeof(*p))) == NULL)
			return -1;
		s->v = p;
		s->cap = cap;
	}
	p = &s->v[s->n];
	memset(p, 0, sizeof(*p));
	snprintf(p->event, sizeof(p->event), "%s", event);
	snprintf(p->id, sizeof(p->id), "%s", id);
	p->zone = zone;
	p->row = row;
	p->col = col;
	if (json != NULL && (p->json = strdup(json)) == NULL)
		return -1;
	s->n++;
	return 0;
}

/* Appends each ticket of an order message with the JSON lua/order.lua
 * caches for it (bo:tkt): the ticket, then its orderId. */
static int
soldv_add_order(struct soldv *s, const struct order *o)
{
	char	json[TICKET_JSON_MAX + UUID_LEN + 16];
	size_t	i;
	int	n;

	for (i = 0; i < o->n; i++) {
		if ((n = ticket_json(&o->t[i], json, TICKET_JSON_MAX)) < 1)
			return 0;
		/* in place of its closing brace: room for this is reserved */
		snprintf(json + n - 1, sizeof(json) - (size_t)n + 1,
		    ",\"orderId\":\"%s\"}", o->id);
		if (soldv_add(s, o->t[i].event, o->t[i].zone, o->t[i].row,
		    o->t[i].col, o->t[i].id, json) != 0)
			return -1;
	}
	return 1;
}

int
soldv_add_json(struct soldv *s, const char *json, size_t len, int *added)
{
	static struct msg	 m;	/* ticketctl is single-threaded */
	const char		*why;
	char			*copy;
	int			 r;

	*added = 0;
	if (msg_parse(json, len, &m, &why) != 0)
		return 0;
	if (m.kind == MSG_CANCEL) {
		*added = -1;
		return 0;
	}
	if (m.kind == MSG_ORDER) {
		if ((r = soldv_add_order(s, &m.u.o)) < 0)
			return -1;
		*added = r > 0;
		return 0;
	}
	if ((copy = strndup(json, len)) == NULL)
		return -1;
	r = soldv_add(s, m.t.event, m.t.zone, m.t.row, m.t.col, m.t.id, copy);
	free(copy);
	*added = r == 0;
	return r;
}

static int
cmp_sold(const void *a, const void *b)
{
	const struct sold *x = a, *y = b;
	int c;

	if ((c = strcmp(x->event, y->event)) != 0)
		return c;
	if (x->zone != y->zone)
		return x->zone < y->zone ? -1 : 1;
	if (x->row != y->row)
		return x->row < y->row ? -1 : 1;
	if (x->col != y->col)
		return x->col < y->col ? -1 : 1;
	return strcmp(x->id, y->id);
}

void
soldv_sort(struct soldv *s)
{
	if (s->n > 1)
		qsort(s->v, s->n, sizeof(s->v[0]), cmp_sold);
}

/* Compares an entry with an event zone only. */
static int
cmp_zone(const struct sold *x, const char *event, long zone)
{
	int c;

	if ((c = strcmp(x->event, event)) != 0)
		return c;
	return x->zone < zone ? -1 : x->zone > zone;
}

size_t
soldv_zone(const struct soldv *s, const char *event, long zone, size_t *first)
{
	size_t lo = 0, hi = s->n, mid, end;

	/* lower bound, then walk: zones hold at most a few thousand seats */
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (cmp_zone(&s->v[mid], event, zone) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*first = lo;
	for (end = lo; end < s->n && cmp_zone(&s->v[end], event, zone) == 0;
	    end++)
		;
	return end - lo;
}

const struct sold *
soldv_find_id(const struct soldv *s, size_t first, size_t n, const char *id)
{
	size_t i;

	for (i = first; i < first + n; i++)
		if (strcmp(s->v[i].id, id) == 0)
			return &s->v[i];
	return NULL;
}

void
soldv_per_event(const struct soldv *s, void (*fn)(const char *, long, void *),
    void *arg)
{
	size_t i = 0, j;

	while (i < s->n) {
		for (j = i; j < s->n && strcmp(s->v[j].event, s->v[i].event) ==
		    0; j++)
			;
		fn(s->v[i].event, (long)(j - i), arg);
		i = j;
	}
}

void
soldv_free(struct soldv *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->v[i].json);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/* ---------------------------------------------------------------- MySQL */

/* " WHERE event_id IN ('E1','E2')" for the selected events (ids are
 * validated: [A-Za-z0-9_-] needs no escaping), or "" for every event. */
static void
event_filter(const struct events *ev, char *buf, size_t size)
{
	size_t	off;
	int	i, n;

	buf[0] = '\0';
	if (ev->n == 0)
		return;
	off = (size_t)snprintf(buf, size, " WHERE event_id IN (");
	for (i = 0; i < ev->n && off < size; i++) {
		n = snprintf(buf + off, size - off, "%s'%s'", i ? "," : "",
		    ev->id[i]);
		off += n > 0 ? (size_t)n : 0;
	}
	if (off < size)
		snprintf(buf + off, size - off, ")");
}

int
sold_from_mysql(struct soldv *s, struct db *d, const struct events *ev)
{
	char		 sql[SQL_MAX], where[SQL_MAX - 128];
	MYSQL		*my;
	MYSQL_RES	*res;
	MYSQL_ROW	 row;
	long		 zone, r, c;

	event_filter(ev, where, sizeof(where));
	/* live tickets only: a cancelled one holds no seat */
	snprintf(sql, sizeof(sql), "SELECT event_id, zone_id, row_no, col_no, "
	    "ticket_id FROM ticket WHERE live_seat = 1%s%s", where[0] ?
	    " AND " : "", where[0] ? where + strlen(" WHERE ") : "");
	if ((my = db_conn(d)) == NULL)
		return -1;
	if (mysql_query(my, sql) != 0 || (res = mysql_store_result(my)) ==
	    NULL) {
		db_fail(d, "tickets");
		return -1;
	}
	while ((row = mysql_fetch_row(res)) != NULL) {
		if (row[0] == NULL || row[4] == NULL ||
		    valid_digits(row[1], &zone) != 0 ||
		    valid_digits(row[2], &r) != 0 ||
		    valid_digits(row[3], &c) != 0) {
			err_set(&d->err, d->errstr, ERR_OTHER,
			    "mysql: malformed ticket row %s",
			    row[4] != NULL ? row[4] : "?");
			mysql_free_result(res);
			return -1;
		}
		if (soldv_add(s, row[0], zone, r, c, row[4], NULL) != 0) {
			err_set(&d->err, d->errstr, ERR_OTHER, "out of memory");
			mysql_free_result(res);
			return -1;
		}
	}
	mysql_free_result(res);
	return 0;
}

/* Copies a column that must be there into buf; returns 0 or -1. */
static int
col_copy(char *buf, size_t size, const char *v)
{
	if (v == NULL || strlen(v) >= size)
		return -1;
	memcpy(buf, v, strlen(v) + 1);
	return 0;
}

int
sold_summary_diffs(struct db *d, const struct events *ev,
    void (*fn)(const struct summary_diff *, void *), void *arg)
{
	char			 sql[2 * SQL_MAX + 512], where[SQL_MAX - 128];
	struct summary_diff	 z;
	MYSQL			*my;
	MYSQL_RES		*res;
	MYSQL_ROW		 row;

	event_filter(ev, where, sizeof(where));
	/* no FULL JOIN in MariaDB: both sides as rows, summed per zone */
	snprintf(sql, sizeof(sql), "SELECT event_id, zone_id, SUM(ss), "
	    "SUM(sr), SUM(ts), SUM(tr) FROM (SELECT event_id, zone_id, sold ss, "
	    "revenue sr, 0 ts, 0 tr FROM zone_sales%s UNION ALL SELECT "
	    "event_id, zone_id, 0, 0, COUNT(*), SUM(price) FROM ticket WHERE "
	    "live_seat = 1%s%s GROUP BY event_id, zone_id) x GROUP BY "
	    "event_id, zone_id HAVING SUM(ss) <> SUM(ts) OR SUM(sr) <> SUM(tr) "
	    "ORDER BY event_id, zone_id", where, where[0] ? " AND " : "",
	    where[0] ? where + strlen(" WHERE ") : "");
	if ((my = db_conn(d)) == NULL)
		return -1;
	if (mysql_query(my, sql) != 0 || (res = mysql_store_result(my)) ==
	    NULL) {
		db_fail(d, "sales summary");
		return -1;
	}
	while ((row = mysql_fetch_row(res)) != NULL) {
		memset(&z, 0, sizeof(z));
		if (col_copy(z.event, sizeof(z.event), row[0]) != 0 ||
		    valid_digits(row[1], &z.zone) != 0 ||
		    col_copy(z.sold, sizeof(z.sold), row[2]) != 0 ||
		    col_copy(z.revenue, sizeof(z.revenue), row[3]) != 0 ||
		    col_copy(z.count, sizeof(z.count), row[4]) != 0 ||
		    col_copy(z.total, sizeof(z.total), row[5]) != 0) {
			err_set(&d->err, d->errstr, ERR_OTHER,
			    "mysql: malformed sales summary row");
			mysql_free_result(res);
			return -1;
		}
		fn(&z, arg);
	}
	mysql_free_result(res);
	return 0;
}

static int
cmp_zcount(const void *a, const void *b)
{
	const struct zcount *x = a, *y = b;
	int c;

	if ((c = strcmp(x->event, y->event)) != 0)
		return c;
	return x->zone < y->zone ? -1 : x->zone > y->zone;
}

int
sold_counts_from_mysql(struct zcounts *c, struct db *d)
{
	MYSQL		*my;
	MYSQL_RES	*res;
	MYSQL_ROW	 row;
	struct zcount	*z;
	size_t		 cap;

	memset(c, 0, sizeof(*c));
	if ((my = db_conn(d)) == NULL)
		return -1;
	if (mysql_query(my, "SELECT event_id, zone_id, COUNT(*) FROM ticket "
	    "WHERE live_seat = 1 GROUP BY event_id, zone_id") != 0 ||
	    (res = mysql_store_result(my)) == NULL) {
		db_fail(d, "tickets per zone");
		return -1;
	}
	cap = (size_t)mysql_num_rows(res);
	if (cap > 0 && (c->v = calloc(cap, sizeof(*c->v))) == NULL) {
		mysql_free_result(res);
		err_set(&d->err, d->errstr, ERR_OTHER, "out of memory");
		return -1;
	}
	while ((row = mysql_fetch_row(res)) != NULL && c->n < cap) {
		z = &c->v[c->n];
		if (row[0] == NULL || valid_digits(row[1], &z->zone) != 0 ||
		    valid_digits(row[2], &z->n) != 0) {
			err_set(&d->err, d->errstr, ERR_OTHER,
			    "mysql: malformed count row");
			mysql_free_result(res);
			zcounts_free(c);
			return -1;
		}
		snprintf(z->event, sizeof(z->event), "%s", row[0]);
		c->n++;
	}
	mysql_free_result(res);
	if (c->n > 1)
		qsort(c->v, c->n, sizeof(*c->v), cmp_zcount);
	return 0;
}

long
zcounts_get(const struct zcounts *c, const char *event, long zone)
{
	struct zcount key, *z;

	if (c->n == 0)
		return 0;
	memset(&key, 0, sizeof(key));
	snprintf(key.event, sizeof(key.event), "%s", event);
	key.zone = zone;
	z = bsearch(&key, c->v, c->n, sizeof(key), cmp_zcount);
	return z != NULL ? z->n : 0;
}

void
zcounts_free(struct zcounts *c)
{
	free(c->v);
	memset(c, 0, sizeof(*c));
}

/* ---------------------------------------------------------------- queue */

#define COPY_CHANNEL	2	/* the ctl connection uses channel 1 */
#define ROTATE_BATCH	256	/* messages taken before their copies are
				   confirmed and the originals acked */
#define CONFIRM_WAIT_MS	30000

/* Channel COPY_CHANNEL in confirm mode; returns 0 or -1. */
static int
copy_channel(struct mq *m)
{
	amqp_channel_open(m->conn, COPY_CHANNEL);
	if (amqp_get_rpc_reply(m->conn).reply_type == AMQP_RESPONSE_NORMAL) {
		amqp_confirm_select(m->conn, COPY_CHANNEL);
		if (amqp_get_rpc_reply(m->conn).reply_type ==
		    AMQP_RESPONSE_NORMAL)
			return 0;
	}
	err_set(&m->err, m->errstr, ERR_IO,
	    "amqp: cannot open a channel in confirm mode");
	return -1;
}

/* Takes one message with basic.get (not acked): *got 1 with the body in
 * *msg (to be destroyed) and *tag set, or *got 0 if the queue is empty.
 * Returns 0, or -1 with err set. */
static int
get_one(struct mq *m, const char *queue, amqp_message_t *msg, uint64_t *tag,
    int *got)
{
	amqp_rpc_reply_t r;

	*got = 0;
	amqp_maybe_release_buffers_on_channel(m->conn, 1);
	r = amqp_basic_get(m->conn, 1, amqp_cstring_bytes(queue), 0);
	if (r.reply_type != AMQP_RESPONSE_NORMAL) {
		err_set(&m->err, m->errstr, ERR_SERVER, "amqp: basic.get %s "
		    "failed (does the queue exist? run ticketctl init)", queue);
		return -1;
	}
	if (r.reply.id == AMQP_BASIC_GET_EMPTY_METHOD)
		return 0;
	*tag = ((amqp_basic_get_ok_t *)r.reply.decoded)->delivery_tag;
	if (amqp_read_message(m->conn, 1, msg, 0).reply_type !=
	    AMQP_RESPONSE_NORMAL) {
		err_set(&m->err, m->errstr, ERR_IO,
		    "amqp: reading a message of %s failed", queue);
		return -1;
	}
	*got = 1;
	return 0;
}

/* Publishes a copy of msg to queue (default exchange, mandatory), with
 * the original's properties but the broker's x-delivery-count.  Returns 0
 * or -1. */
static int
publish_copy(struct mq *m, const char *queue, const amqp_message_t *msg)
{
	amqp_basic_properties_t	 p = msg->properties;
	amqp_table_entry_t	*e = NULL;
	const amqp_table_t	*h = &msg->properties.headers;
	int			 i, n = 0, rc;

	if ((p._flags & AMQP_BASIC_HEADERS_FLAG) && h->num_entries > 0) {
		if ((e = calloc((size_t)h->num_entries, sizeof(*e))) == NULL) {
			err_set(&m->err, m->errstr, ERR_OTHER, "out of memory");
			return -1;
		}
		for (i = 0; i < h->num_entries; i++)
			if (h->entries[i].key.len != 16 || memcmp(
			    h->entries[i].key.bytes, "x-delivery-count", 16))
				e[n++] = h->entries[i];
		p.headers.entries = e;
		p.headers.num_entries = n;
	}
	rc = amqp_basic_publish(m->conn, COPY_CHANNEL, amqp_empty_bytes,
	    amqp_cstring_bytes(queue), 1, 0, &p, msg->body);
	free(e);
	if (rc != AMQP_STATUS_OK) {
		err_set(&m->err, m->errstr, ERR_IO,
		    "amqp: publishing a copy to %s: %s", queue,
		    amqp_error_string2(rc));
		return -1;
	}
	return 0;
}

/* Waits until the broker confirmed the n copies published on the copy
 * channel after the first `base` ones.  Returns 0, or -1 (nack, return,
 * close, timeout). */
static int
wait_copies(struct mq *m, uint64_t base, size_t n)
{
	unsigned char	 done[ROTATE_BATCH];
	amqp_frame_t	 f;
	amqp_message_t	 ret;
	struct timeval	 tv;
	uint64_t	 t, lo;
	size_t		 left = n;
	int		 rc;

	memset(done, 0, sizeof(done));
	while (left > 0) {
		tv.tv_sec = CONFIRM_WAIT_MS / 1000;
		tv.tv_usec = 0;
		rc = amqp_simple_wait_frame_noblock(m->conn, &f, &tv);
		if (rc != AMQP_STATUS_OK) {
			err_set(&m->err, m->errstr, ERR_IO, "amqp: waiting for "
			    "the confirms of the copies: %s",
			    amqp_error_string2(rc));
			return -1;
		}
		if (f.frame_type != AMQP_FRAME_METHOD)
			continue;
		switch (f.payload.method.id) {
		case AMQP_BASIC_ACK_METHOD: {
			amqp_basic_ack_t *a = f.payload.method.decoded;

			lo = a->multiple ? base + 1 : a->delivery_tag;
			for (t = lo; t <= a->delivery_tag && t <= base + n;
			    t++)
				if (t > base && !done[t - base - 1]) {
					done[t - base - 1] = 1;
					left--;
				}
			break;
		}
		case AMQP_BASIC_RETURN_METHOD:
			if (amqp_read_message(m->conn, f.channel, &ret, 0).
			    reply_type == AMQP_RESPONSE_NORMAL)
				amqp_destroy_message(&ret);
			err_set(&m->err, m->errstr, ERR_SERVER,
			    "amqp: a copy was returned (unroutable)");
			return -1;
		case AMQP_BASIC_NACK_METHOD:
			err_set(&m->err, m->errstr, ERR_SERVER, "amqp: the "
			    "broker refused a copy (queue full? x-max-length)");
			return -1;
		case AMQP_CHANNEL_CLOSE_METHOD:
		case AMQP_CONNECTION_CLOSE_METHOD:
			err_set(&m->err, m->errstr, ERR_IO, "amqp: the broker "
			    "closed the channel while copies were confirmed");
			return -1;
		default:
			break;
		}
	}
	return 0;
}

/* Adds a message's ticket (an order's tickets) to s if it is of one of
 * the selected events; a cancellation adds nothing.  Returns 0 or -1 (no
 * memory). */
static int
add_message(struct soldv *s, const amqp_message_t *msg,
    const struct events *ev, long *other)
{
	static struct msg	 m;	/* ticketctl is single-threaded */
	const char		*why;
	int			 added;

	if (msg_parse(msg->body.bytes, msg->body.len, &m, &why) != 0) {
		(*other)++;
		return 0;
	}
	if (m.kind == MSG_CANCEL || !ctl_event_selected(ev, m.t.event))
		return 0;
	return soldv_add_json(s, msg->body.bytes, msg->body.len, &added);
}

static int	read_queue(struct soldv *, struct mq *, const char *,
		    const struct events *, long, long *, long *, int *,
		    sold_msg_fn, void *, int *);

/* Reads the queue on COPY_CHANNEL and closes that channel again: a second
 * queue read on the same connection (rebuild reads ticketSQL, then the
 * dead-letter queues) opens it anew, which a channel left open refuses. */
int
sold_read_queue(struct soldv *s, struct mq *m, const char *queue,
    const struct events *ev, long max, long *msgs, long *other, int *more,
    sold_msg_fn fn, void *arg)
{
	int opened = 0, r;

	r = read_queue(s, m, queue, ev, max, msgs, other, more, fn, arg,
	    &opened);
	if (opened)
		(void)amqp_channel_close(m->conn, COPY_CHANNEL,
		    AMQP_REPLY_SUCCESS);
	return r;
}

static int
read_queue(struct soldv *s, struct mq *m, const char *queue,
    const struct events *ev, long max, long *msgs, long *other, int *more,
    sold_msg_fn fn, void *arg, int *opened)
{
	amqp_message_t	msg;
	uint64_t	tag = 0, copies = 0;
	size_t		k, pub;
	long		ready;
	enum sold_msg	what;
	int		got = 1, stop = 0;

	*msgs = *other = 0;
	*more = 0;
	if ((ready = mq_queue_depth(m, queue, NULL)) < 0)
		return -1;
	if (ready == 0)
		return 0;
	if (copy_channel(m) != 0)
		return -1;
	*opened = 1;
	while (got && !stop && *msgs < ready) {
		if (*msgs >= max) {
			*more = 1;
			break;
		}
		for (k = pub = 0; k < ROTATE_BATCH && !stop && *msgs < ready &&
		    *msgs < max; k++) {
			if (get_one(m, queue, &msg, &tag, &got) != 0)
				return -1;
			if (!got)
				break;
			(*msgs)++;
			what = fn != NULL ? fn(&msg, arg) : SOLD_MSG_KEEP;
			stop = what == SOLD_MSG_STOP;
			if (add_message(s, &msg, ev, other) != 0) {
				amqp_destroy_message(&msg);
				err_set(&m->err, m->errstr, ERR_OTHER,
				    "out of memory");
				return -1;
			}
			if (what != SOLD_MSG_TAKEN &&
			    publish_copy(m, queue, &msg) != 0) {
				amqp_destroy_message(&msg);
				return -1;
			}
			pub += what != SOLD_MSG_TAKEN;
			amqp_destroy_message(&msg);
		}
		if (pub > 0 && wait_copies(m, copies, pub) != 0)
			return -1;
		copies += pub;
		/* every copy is safe: the originals go */
		if (k > 0 && amqp_basic_ack(m->conn, 1, tag, 1) != 0) {
			err_set(&m->err, m->errstr, ERR_IO,
			    "amqp: ack of %s failed", queue);
			return -1;
		}
	}
	return stop ? -1 : 0;
}

/* ---------------------------------------------------------- statistics */

int
sold_inflight(struct inflight *f, struct mq *m)
{
	memset(f, 0, sizeof(*f));
	if ((f->sql_ready = mq_queue_depth(m, MQ_QUEUE_SQL,
	    &f->sql_consumers)) < 0 ||
	    (f->dead_sql = mq_queue_depth(m, MQ_QUEUE_SQL MQ_DEAD_SUFFIX,
	    NULL)) < 0 ||
	    (f->dead_nosql = mq_queue_depth(m, MQ_QUEUE_NOSQL MQ_DEAD_SUFFIX,
	    NULL)) < 0)
		return -1;
	return 0;
}

int
sold_inflight_none(const struct inflight *f, char *why, size_t len)
{
	if (f->sql_consumers > 0)
		snprintf(why, len, "%ld consumer(s) attached to %s (the "
		    "tickets a consumer holds unacked cannot be seen)",
		    f->sql_consumers, MQ_QUEUE_SQL);
	else if (f->sql_ready > 0)
		snprintf(why, len, "%s holds %ld message(s)", MQ_QUEUE_SQL,
		    f->sql_ready);
	else if (f->dead_sql > 0)
		snprintf(why, len, "%s holds %ld message(s)", MQ_QUEUE_SQL
		    MQ_DEAD_SUFFIX, f->dead_sql);
	else if (f->dead_nosql > 0)
		snprintf(why, len, "%s holds %ld message(s)", MQ_QUEUE_NOSQL
		    MQ_DEAD_SUFFIX, f->dead_nosql);
	else
		return 1;
	return 0;
}

/* ------------------------------------------------------------- DynamoDB */

static const char *
attr(struct json_object *item, const char *name, const char *type)
{
	struct json_object *a, *v;

	if (!json_object_object_get_ex(item, name, &a) ||
	    !json_object_object_get_ex(a, type, &v))
		return NULL;
	return json_object_get_string(v);
}

/* Adds the items of one Scan page to s, those marked as double sales to
 * conflicts (if not NULL); returns 0 or -1 (no memory). */
static int
add_items(struct soldv *s, struct soldv *conflicts, struct json_object *items,
    const struct events *ev, long *bad)
{
	struct json_object	*it;
	struct soldv		*to;
	const char		*id, *event, *z, *r, *c, *st;
	long			 zone, row, col;
	size_t			 i, n = json_object_array_length(items);

	for (i = 0; i < n; i++) {
		it = json_object_array_get_idx(items, i);
		/* a cancelled ticket (or a cancellation kept for a ticket not
		 * written yet, which has no seat) holds no seat */
		if ((st = attr(it, "status", "S")) != NULL &&
		    strcmp(st, "CANCELLED") == 0)
			continue;
		id = attr(it, "ticketId", "S");
		event = attr(it, "eventId", "S");
		z = attr(it, "zoneId", "N");
		r = attr(it, "row", "N");
		c = attr(it, "column", "N");
		if (id == NULL || event == NULL || z == NULL || r == NULL ||
		    c == NULL || !valid_uuid(id) || !valid_id(event) ||
		    valid_digits(z, &zone) != 0 || valid_digits(r, &row) != 0 ||
		    valid_digits(c, &col) != 0) {
			(*bad)++;
			continue;
		}
		/* a double sale the consumer caught: a record, not a sale */
		st = attr(it, "status", "S");
		to = st != NULL && strcmp(st, SOLD_DOUBLE_SALE) == 0 ?
		    conflicts : s;
		if (to != NULL && ctl_event_selected(ev, event) &&
		    soldv_add(to, event, zone, row, col, id, attr(it,
		    "doubleSaleOf", "S")) != 0)
			return -1;
	}
	return 0;
}

int
sold_from_ddb(struct soldv *s, struct soldv *conflicts, struct ddb *d,
    const struct events *ev, long *bad)
{
	struct json_object	*o, *items;
	struct ddb_scan		 sc;
	int			 rc;

	*bad = 0;
	ddb_scan_init(&sc, d, NULL);
	while ((rc = ddb_scan_next(&sc, &o)) == 0 && o != NULL) {
		if (json_object_object_get_ex(o, "Items", &items) &&
		    add_items(s, conflicts, items, ev, bad) != 0) {
			json_object_put(o);
			err_set(&d->err, d->errstr, ERR_OTHER, "out of memory");
			return -1;
		}
		json_object_put(o);
	}
	if (rc < 0)
		return -1;
	return 0;
}

/* -------------------------------------------------------------- catalog */

struct catalog_fill {
	struct catalog		*cat;
	const struct events	*ev;
	size_t			 cap;
	int			 nomem;
};

static int
catalog_add(const struct catalog_zone *cz, void *arg)
{
	struct catalog_fill	*f = arg;
	struct catalog_zone	*p;
	size_t			 cap;

	if (!ctl_event_selected(f->ev, cz->event))
		return 0;
	if (f->cat->n == f->cap) {
		cap = f->cap ? f->cap * 2 : 128;
		if ((p = reallocarray(f->cat->z, cap, sizeof(*p))) == NULL) {
			f->nomem = 1;
			return -1;
		}
		f->cat->z = p;
		f->cap = cap;
	}
	f->cat->z[f->cat->n++] = *cz;
	return 0;
}

int
catalog_read(struct catalog *cat, struct db *d, const struct events *ev)
{
	struct catalog_fill f;

	memset(cat, 0, sizeof(*cat));
	memset(&f, 0, sizeof(f));
	f.cat = cat;
	f.ev = ev;
	if (db_catalog_each(d, catalog_add, &f) < 0 || f.nomem) {
		if (f.nomem)
			err_set(&d->err, d->errstr, ERR_OTHER, "out of memory");
		catalog_free(cat);
		return -1;
	}
	return 0;
}

int
catalog_has(const struct catalog *cat, const char *event, long zone)
{
	size_t i;

	for (i = 0; i < cat->n; i++)
		if (cat->z[i].zone == zone && strcmp(cat->z[i].event,
		    event) == 0)
			return 1;
	return 0;
}

void
catalog_free(struct catalog *cat)
{
	free(cat->z);
	memset(cat, 0, sizeof(*cat));
}
