/* SPDX-License-Identifier: ISC */
/*
 * osql.c - SQL text of orders and cancellations (see osql.h).
 */
#include <stdio.h>
#include <string.h>

#include "osql.h"
#include "tsql.h"
#include "fmt.h"
#include "valid.h"

/* 1 if s is a DATETIME(3) text "YYYY-MM-DD HH:MM:SS.mmm", else 0. */
static int
dt_ok(const char *s)
{
	static const char shape[] = "dddd-dd-dd dd:dd:dd.ddd";
	size_t i;

	if (strlen(s) != sizeof(shape) - 1)
		return 0;
	for (i = 0; shape[i] != '\0'; i++)
		if (shape[i] == 'd' ? !(s[i] >= '0' && s[i] <= '9') :
		    s[i] != shape[i])
			return 0;
	return 1;
}

static int
order_ok(const struct order *o)
{
	size_t i;

	if (!valid_uuid(o->id) || !valid_id(o->venue) || !valid_id(o->event) ||
	    o->zone < 1 || o->zone > SEAT_MAX || !ticket_price_ok(o->total) ||
	    !ticket_stamp_ok(o->created) || !msg_hash_ok(o->hash) ||
	    o->n < 1 || o->n > ORDER_TICKETS_MAX)
		return 0;
	if ((o->idem_kind != '\0' && !msg_idem_ok(o->idem_key_hash,
	    o->idem_key, o->idem_hash, o->idem_kind)) ||
	    (o->hold_hash[0] != '\0' && !msg_hash_ok(o->hold_hash)))
		return 0;
	for (i = 0; i < o->n; i++)
		if (!ticket_ok(&o->t[i]))
			return 0;
	return 1;
}

static int
cancel_ok(const struct cancel *c)
{
	size_t i;

	if (!valid_uuid(c->order) || !valid_id(c->event) ||
	    !ticket_stamp_ok(c->on) || c->n < 1 || c->n > ORDER_TICKETS_MAX)
		return 0;
	for (i = 0; i < c->n; i++)
		if (!valid_uuid(c->ids[i]) || !ticket_stamp_ok(cancel_on(c, i)))
			return 0;
	return 1;
}

int
osql_cancel_lookup(const struct osql_order *v, size_t n, char *buf,
    size_t size)
{
	size_t	off = 0, k, i, first = 1;

	if (n < 1 || fmt_add(buf, size, &off, "SELECT ticket_id, cancelled_on "
	    "FROM ticket_cancel WHERE ticket_id IN (") != 0)
		return -1;
	for (k = 0; k < n; k++) {
		if (!order_ok(v[k].o))
			return -1;
		for (i = 0; i < v[k].o->n; i++, first = 0)
			if (fmt_add(buf, size, &off, "%s'%s'", first ? "" : ",",
			    v[k].o->t[i].id) != 0)
				return -1;
	}
	if (fmt_add(buf, size, &off, ") LOCK IN SHARE MODE") != 0)
		return -1;
	return (int)off;
}

int
osql_cancel_row(struct osql_order *v, size_t n, const char *id,
    const char *dt)
{
	size_t k, i;

	if (id == NULL || dt == NULL || !dt_ok(dt))
		return -1;
	for (k = 0; k < n; k++)
		for (i = 0; i < v[k].o->n; i++)
			if (strcmp(v[k].o->t[i].id, id) == 0) {
				memcpy(v[k].cancelled[i], dt, OSQL_DT_LEN);
				return 0;
			}
	return -1;
}

/* The latest cancellation of v's tickets into out if all are cancelled
 * (returns 1), else 0. */
static int
all_cancelled(const struct osql_order *v, char out[OSQL_DT_LEN])
{
	size_t i;

	out[0] = '\0';
	for (i = 0; i < v->o->n; i++) {
		if (v->cancelled[i][0] == '\0')
			return 0;
		if (strcmp(v->cancelled[i], out) > 0)
			memcpy(out, v->cancelled[i], OSQL_DT_LEN);
	}
	return 1;
}

int
osql_orders_insert(const struct osql_order *v, size_t n, char *buf,
    size_t size)
{
	char	dt[OSQL_DT_LEN], last[OSQL_DT_LEN];
	size_t	off = 0, k;
	int	gone;

	if (n < 1 || fmt_add(buf, size, &off, "INSERT INTO orders (order_id, "
	    "venue_id, event_id, zone_id, total, status, cancel_hash, "
	    "created_on, cancelled_on, idem_key_hash, idem_hash, idem_kind, "
	    "hold_hash) VALUES ") != 0)
		return -1;
	for (k = 0; k < n; k++) {
		const struct order *o = v[k].o;

		if (!order_ok(o) || tsql_datetime(o->created, dt) != 0)
			return -1;
		gone = all_cancelled(&v[k], last);
		if (fmt_add(buf, size, &off, "%s('%s','%s','%s',%ld,%s,'%s','%s',"
		    "'%s',%s%s%s,", k ? "," : "", o->id, o->venue, o->event,
		    o->zone, o->total, gone ? "CANCELLED" : "CONFIRMED",
		    o->hash, dt, gone ? "'" : "", gone ? last : "NULL",
		    gone ? "'" : "") != 0)
			return -1;
		/* only the key's HMAC is kept (migration 006); of a message of
		 * 2026-12-06, which carries the key, nothing: the secret of
		 * its HMAC is the responders' */
		if ((o->idem_kind == '\0' || o->idem_key_hash[0] == '\0' ?
		    fmt_add(buf, size, &off, "NULL,NULL,NULL,") :
		    fmt_add(buf, size, &off, "'%s','%s','%c',",
		    o->idem_key_hash, o->idem_hash, o->idem_kind)) != 0 ||
		    (o->hold_hash[0] == '\0' ? fmt_add(buf, size, &off,
		    "NULL)") : fmt_add(buf, size, &off, "'%s')",
		    o->hold_hash)) != 0)
			return -1;
	}
	return (int)off;
}

int
osql_tickets_insert(const struct osql_order *v, size_t n, char *buf,
    size_t size)
{
	char	dt[OSQL_DT_LEN];
	size_t	off = 0, k, i, first = 1;

	if (n < 1 || fmt_add(buf, size, &off, "INSERT INTO ticket (ticket_id, "
	    "venue_id, event_id, zone_id, row_no, col_no, price, status, "
	    "created_on, order_id, cancelled_on) VALUES ") != 0)
		return -1;
	for (k = 0; k < n; k++) {
		const struct order *o = v[k].o;

		if (!order_ok(o))
			return -1;
		for (i = 0; i < o->n; i++, first = 0) {
			const struct ticket	*t = &o->t[i];
			const char		*c = v[k].cancelled[i];

			if (tsql_datetime(t->created, dt) != 0 ||
			    (c[0] != '\0' && !dt_ok(c)))
				return -1;
			if (fmt_add(buf, size, &off, "%s('%s','%s','%s',%ld,%ld,"
			    "%ld,%s,'%s','%s','%s',%s%s%s)", first ? "" : ",",
			    t->id, t->venue, t->event, t->zone, t->row, t->col,
			    t->price, c[0] ? "CANCELLED" : TICKET_STATUS, dt,
			    o->id, c[0] ? "'" : "", c[0] ? c : "NULL",
			    c[0] ? "'" : "") != 0)
				return -1;
		}
	}
	return (int)off;
}

int
osql_cancel_log(const struct cancel *const *c, size_t n, char *buf,
    size_t size)
{
	char	dt[OSQL_DT_LEN];
	size_t	off = 0, k, i, first = 1;

	if (n < 1 || fmt_add(buf, size, &off, "INSERT IGNORE INTO ticket_cancel "
	    "(ticket_id, order_id, cancelled_on) VALUES ") != 0)
		return -1;
	for (k = 0; k < n; k++) {
		if (!cancel_ok(c[k]))
			return -1;
		for (i = 0; i < c[k]->n; i++, first = 0)
			if (tsql_datetime(cancel_on(c[k], i), dt) != 0 ||
			    fmt_add(buf, size, &off, "%s('%s','%s','%s')",
			    first ? "" : ",", c[k]->ids[i], c[k]->order,
			    dt) != 0)
				return -1;
	}
	return (int)off;
}

int
osql_cancel_tickets(const struct cancel *c, char *buf, size_t size)
{
	char	dt[OSQL_DT_LEN];
	size_t	off = 0, i;

	if (!cancel_ok(c) || fmt_add(buf, size, &off, "UPDATE ticket SET "
	    "status = 'CANCELLED', cancelled_on = CASE ticket_id") != 0)
		return -1;
	/* each ticket its own stamp (cancel_on()) */
	for (i = 0; i < c->n; i++)
		if (tsql_datetime(cancel_on(c, i), dt) != 0 ||
		    fmt_add(buf, size, &off, " WHEN '%s' THEN '%s'", c->ids[i],
		    dt) != 0)
			return -1;
	if (fmt_add(buf, size, &off, " END WHERE ticket_id IN (") != 0)
		return -1;
	for (i = 0; i < c->n; i++)
		if (fmt_add(buf, size, &off, "%s'%s'", i ? "," : "", c->ids[i]) != 0)
			return -1;
	if (fmt_add(buf, size, &off, ") AND order_id = '%s' AND status <> "
	    "'CANCELLED'", c->order) != 0)
		return -1;
	return (int)off;
}

int
osql_cancel_order(const struct cancel *c, char *buf, size_t size)
{
	char	dt[OSQL_DT_LEN];
	size_t	off = 0;

	/* the order's stamp is its last ticket's, whichever cancellation's
	 * message came last (as osql_orders_insert() writes it) */
	if (!cancel_ok(c) || tsql_datetime(c->on, dt) != 0 ||
	    fmt_add(buf, size, &off, "UPDATE orders o SET o.status = 'CANCELLED', "
	    "o.cancelled_on = (SELECT MAX(t.cancelled_on) FROM ticket t WHERE "
	    "t.order_id = o.order_id) WHERE o.order_id = '%s' AND o.status <> "
	    "'CANCELLED' AND NOT EXISTS (SELECT 1 FROM ticket t WHERE "
	    "t.order_id = o.order_id AND t.status <> 'CANCELLED')",
	    c->order) != 0)
		return -1;
	return (int)off;
}

int
osql_order_present(const struct order *o, char *buf, size_t size)
{
	size_t off = 0;

	if (!valid_uuid(o->id) || fmt_add(buf, size, &off, "SELECT order_id FROM "
	    "orders WHERE order_id = '%s'", o->id) != 0)
		return -1;
	return (int)off;
}
