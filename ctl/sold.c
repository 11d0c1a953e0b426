/*
 * sold.c - sold seats read from MySQL, a queue and DynamoDB (see sold.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <amqp.h>
#include <json-c/json.h>

#include "sold.h"
#include "valid.h"

#define SQL_MAX		(256 + CTL_EVENTS_MAX * (ID_MAX + 4))
#define SCAN_REQ_MAX	2048

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

int
soldv_add_json(struct soldv *s, const char *json, size_t len)
{
	struct ticket	 t;
	const char	*why;
	char		*copy;
	int		 r;

	if (ticket_parse(json, len, &t, &why) != 0)
		return 0;
	if ((copy = strndup(json, len)) == NULL)
		return -1;
	r = soldv_add(s, t.event, t.zone, t.row, t.col, t.id, copy);
	free(copy);
	return r == 0 ? 1 : -1;
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
sold_from_mysql(struct soldv *s, struct db *d, const struct events *ev,
    char *err, size_t errlen)
{
	char		 sql[SQL_MAX], where[SQL_MAX - 128];
	MYSQL		*my;
	MYSQL_RES	*res;
	MYSQL_ROW	 row;
	long		 zone, r, c;

	event_filter(ev, where, sizeof(where));
	snprintf(sql, sizeof(sql), "SELECT event_id, zone_id, row_no, col_no, "
	    "ticket_id FROM ticket%s", where);
	if ((my = db_conn(d)) == NULL) {
		snprintf(err, errlen, "%s", d->errstr);
		return -1;
	}
	if (mysql_query(my, sql) != 0 || (res = mysql_store_result(my)) ==
	    NULL) {
		db_fail(d, "tickets");
		snprintf(err, errlen, "%s", d->errstr);
		return -1;
	}
	while ((row = mysql_fetch_row(res)) != NULL) {
		if (row[0] == NULL || row[4] == NULL ||
		    valid_digits(row[1], &zone) != 0 ||
		    valid_digits(row[2], &r) != 0 ||
		    valid_digits(row[3], &c) != 0) {
			snprintf(err, errlen, "mysql: malformed ticket row %s",
			    row[4] != NULL ? row[4] : "?");
			mysql_free_result(res);
			return -1;
		}
		if (soldv_add(s, row[0], zone, r, c, row[4], NULL) != 0) {
			snprintf(err, errlen, "out of memory");
			mysql_free_result(res);
			return -1;
		}
	}
	mysql_free_result(res);
	return 0;
}

/* ---------------------------------------------------------------- queue */

/* Reads one message with basic.get (no ack).  Returns 1 read (body in
 * *msg, to be destroyed), 0 queue empty, -1 error. */
static int
get_one(struct mq *m, const char *queue, amqp_message_t *msg, char *err,
    size_t errlen)
{
	amqp_rpc_reply_t r;

	amqp_maybe_release_buffers(m->conn);
	r = amqp_basic_get(m->conn, 1, amqp_cstring_bytes(queue), 0);
	if (r.reply_type != AMQP_RESPONSE_NORMAL) {
		snprintf(err, errlen, "amqp: basic.get %s failed (does the "
		    "queue exist? run ticketctl init)", queue);
		return -1;
	}
	if (r.reply.id == AMQP_BASIC_GET_EMPTY_METHOD)
		return 0;
	if (amqp_read_message(m->conn, 1, msg, 0).reply_type !=
	    AMQP_RESPONSE_NORMAL) {
		snprintf(err, errlen, "amqp: reading a message of %s failed",
		    queue);
		return -1;
	}
	return 1;
}

int
sold_from_queue(struct soldv *s, struct mq *m, const char *queue,
    const struct events *ev, long max, long *msgs, long *other, int *more,
    char *err, size_t errlen)
{
	amqp_message_t	msg;
	struct ticket	t;
	const char	*why;
	int		r, added;

	*msgs = *other = 0;
	*more = 0;
	for (;;) {
		if (*msgs >= max) {
			*more = 1;
			return 0;
		}
		if ((r = get_one(m, queue, &msg, err, errlen)) <= 0)
			return r;
		(*msgs)++;
		added = 0;
		if (ticket_parse(msg.body.bytes, msg.body.len, &t, &why) != 0)
			(*other)++;
		else if (ctl_event_selected(ev, t.event))
			added = soldv_add_json(s, msg.body.bytes, msg.body.len);
		amqp_destroy_message(&msg);
		if (added < 0) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
	}
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
    const struct events *ev, long *bad, char *err, size_t errlen)
{
	struct json_object	*o, *items, *lek;
	struct ddb_resp		 r;
	char			 req[SCAN_REQ_MAX], start[SCAN_REQ_MAX - 256];
	int			 more = 0, n;

	*bad = 0;
	do {
		if (more)
			n = snprintf(req, sizeof(req), "{\"TableName\":\"%s\","
			    "\"ExclusiveStartKey\":%s}", d->table, start);
		else
			n = snprintf(req, sizeof(req), "{\"TableName\":\"%s\"}",
			    d->table);
		if (n < 0 || (size_t)n >= sizeof(req)) {
			snprintf(err, errlen, "dynamodb: scan key too long");
			return -1;
		}
		if (ddb_call(d, "Scan", req, &r) != 0) {
			snprintf(err, errlen, "%s", d->errstr);
			return -1;
		}
		if (r.status != 200 || (o = json_tokener_parse(r.body)) ==
		    NULL) {
			snprintf(err, errlen, "dynamodb: Scan %s: HTTP %ld %s",
			    d->table, r.status, r.type);
			ddb_resp_free(&r);
			return -1;
		}
		ddb_resp_free(&r);
		if (json_object_object_get_ex(o, "Items", &items) &&
		    add_items(s, conflicts, items, ev, bad) != 0) {
			json_object_put(o);
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		more = json_object_object_get_ex(o, "LastEvaluatedKey", &lek);
		if (more)
			snprintf(start, sizeof(start), "%s",
			    json_object_to_json_string_ext(lek,
			    JSON_C_TO_STRING_PLAIN));
		json_object_put(o);
	} while (more);
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
catalog_read(struct catalog *cat, struct db *d, const struct events *ev,
    char *err, size_t errlen)
{
	struct catalog_fill f;

	memset(cat, 0, sizeof(*cat));
	memset(&f, 0, sizeof(f));
	f.cat = cat;
	f.ev = ev;
	if (db_catalog_each(d, catalog_add, &f) < 0 || f.nomem) {
		snprintf(err, errlen, "%s", f.nomem ? "out of memory" :
		    d->errstr);
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
