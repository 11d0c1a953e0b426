/* SPDX-License-Identifier: ISC */
/*
 * rebuild_orders.c - the orders of a zone back into Redis from MySQL (see
 * rebuild_orders.h).  The message is the one lua/order.lua writes, field
 * for field, its tickets in seat order (MySQL does not keep the order of
 * the request): lua/cancel.lua reads the token's hash and the tickets out
 * of it, and builds its answer and the cancel message from it.  A whole
 * order's cancellation stamp (x:<orderId>) is not put back: MySQL cannot
 * tell it from the last of its tickets cancelled one by one, and each
 * ticket's own stamp (c:<ticketId>) is what the stores keep.
 *
 * An order bought with an Idempotency-Key gets its key's record back too,
 * "<hash> P <orderId> <kind>" as lua/order.lua writes it, for what is left
 * of its 24 h: a retry then answers that order again instead of buying
 * another.  MySQL keeps only the key's HMAC (orders.idem_key_hash,
 * migration 006), so the record goes under bo:idem:{E:Z}:#<that hash>,
 * which lua/order.lua and lua/cancel.lua read before the record under the
 * key (a refusal recorded there between the loss and the rebuild must not
 * hide the sale).
 *
 * An order made by a hold's confirm (orders.hold_hash, migration 006)
 * gets its hold back as confirmed, under the SHA-256 of the holdId (MySQL
 * keeps no holdId: whoever has one may confirm, and a confirm again
 * answers the order's cancel token): bo:holds:{E:Z} "#<hash>" -> "C
 * <orderId>" and its index bo:hix:{st}#<hash> -> "E:Z" for what is left of
 * 24 h, so that a confirm again answers that order instead of 404; the
 * field is scored in bo:hend:{E:Z} for the sweeper to remove a minute
 * after its index is gone (lua/lib/hold_end.lua).  The responder reads the
 * hashed index only when the id's is not found; lua/order.lua and
 * lua/hold_expire.lua read the hashed field before any but a "C" record
 * under the id (an AOF that lost the confirm keeps the hold active there).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mysql.h>

#include "clock.h"
#include "ctl.h"
#include "fmt.h"
#include "keys.h"
#include "msg.h"
#include "rebuild_orders.h"
#include "valid.h"
#include "when.h"

/* RFC 3339 UTC with milliseconds of a DATETIME(3) column ("" if NULL) */
#define STAMP(c)	"IFNULL(CONCAT(LEFT(DATE_FORMAT(" c ", " \
			"'%%Y-%%m-%%dT%%H:%%i:%%s.%%f'), 23), 'Z'), '')"
#define ORDER_SQL \
	"SELECT o.order_id, o.venue_id, o.total, o.cancel_hash, " \
	STAMP("o.created_on") ", t.ticket_id, t.row_no, t.col_no, " \
	"t.price, IF(t.status = 'CANCELLED', " STAMP("t.cancelled_on") \
	", ''), IFNULL(o.idem_key_hash, ''), IFNULL(o.idem_hash, ''), " \
	"IFNULL(o.idem_kind, ''), IFNULL(o.hold_hash, '') " \
	"FROM orders o JOIN ticket t ON t.order_id = o.order_id " \
	"WHERE o.event_id = '%s' AND o.zone_id = %ld " \
	"ORDER BY o.order_id, t.row_no, t.col_no"
#define MSG_MAX		(ORDER_TICKETS_MAX * 512 + 1024)
#define DAY_SECS	86400	/* a key's record lives 24 h (lua/order.lua),
				   a confirmed hold's index at least */
#define HOLD_KEEP_MS	60000	/* an ended hold's field outlives its index
				   (lua/lib/hold_end.lua) */

enum { C_OID, C_VENUE, C_TOTAL, C_HASH, C_CREATED, C_TID, C_ROW, C_COL,
	C_PRICE, C_TCANCEL, C_IKEY, C_IHASH, C_IKIND, C_HOLD, C__MAX };

struct one {
	const char	*event;
	long		 zone;
	char		 tag[TAG_MAX];
	char		 ords[KEY_MAX];
	char		 oid[UUID_LEN + 1];
	char		 created[STAMP_LEN + 1];
	char		 ikey_hash[HASH_LEN + 1];	/* the key's HMAC, "" if none */
	char		 ihash[HASH_LEN + 1];
	char		 ikind[2];
	char		 hold_hash[HASH_LEN + 1];	/* "" not a confirm */
	char		 msg[MSG_MAX];
	size_t		 len;
	size_t		 n;
	int		 bad;
	struct {
		char	id[UUID_LEN + 1];
		char	cancelled[STAMP_LEN + 1];
	}		 t[ORDER_TICKETS_MAX];
};

static int
is_stamp(const char *s, int may_be_empty)
{
	size_t n = strlen(s);

	return (n == 0 && may_be_empty) || (n == STAMP_LEN && s[n - 1] == 'Z');
}

/* "123.45" as MySQL writes a DECIMAL(10,2) */
static int
is_money(const char *s)
{
	const char *dot = strchr(s, '.');

	return dot != NULL && dot > s && strlen(dot) == 3 &&
	    strspn(s, "0123456789") == (size_t)(dot - s) &&
	    strspn(dot + 1, "0123456789") == 2 && strlen(s) < 16;
}

static int
row_ok(MYSQL_ROW row)
{
	long n;
	int i;

	for (i = 0; i < C__MAX; i++)
		if (row[i] == NULL)
			return 0;
	return valid_uuid(row[C_OID]) && valid_uuid(row[C_TID]) &&
	    valid_id(row[C_VENUE]) && is_money(row[C_TOTAL]) &&
	    is_money(row[C_PRICE]) && msg_hash_ok(row[C_HASH]) &&
	    is_stamp(row[C_CREATED], 0) && is_stamp(row[C_TCANCEL], 1) &&
	    valid_digits(row[C_ROW], &n) == 0 && n >= 1 &&
	    valid_digits(row[C_COL], &n) == 0 && n >= 1;
}

/* The first row of an order: the message up to its tickets.  Its key (a
 * key comes whole, as the consumer writes it) and its hold's hash are
 * left out, and printed, when they are not what the consumer writes:
 * the order is put back, its key's record or its hold not. */
static void
begin(struct one *o, MYSQL_ROW row)
{
	memcpy(o->oid, row[C_OID], UUID_LEN + 1);
	memcpy(o->created, row[C_CREATED], STAMP_LEN + 1);
	o->ikey_hash[0] = o->ihash[0] = o->ikind[0] = o->hold_hash[0] = '\0';
	if (strlen(row[C_IKIND]) == 1 && msg_idem_ok(row[C_IKEY], "",
	    row[C_IHASH], row[C_IKIND][0])) {
		memcpy(o->ikey_hash, row[C_IKEY], HASH_LEN + 1);
		memcpy(o->ihash, row[C_IHASH], HASH_LEN + 1);
		memcpy(o->ikind, row[C_IKIND], 2);
	} else if (row[C_IKEY][0] != '\0' || row[C_IHASH][0] != '\0' ||
	    row[C_IKIND][0] != '\0')
		ctl_err("%s zone %ld: order %s: its Idempotency-Key columns "
		    "are not what the consumer writes: its key's record is not "
		    "put back", o->event, o->zone, o->oid);
	if (msg_hash_ok(row[C_HOLD]))
		memcpy(o->hold_hash, row[C_HOLD], HASH_LEN + 1);
	else if (row[C_HOLD][0] != '\0')
		ctl_err("%s zone %ld: order %s: its hold_hash is not 64 "
		    "lowercase hex digits: its hold is not put back", o->event,
		    o->zone, o->oid);
	o->n = 0;
	o->len = 0;
	o->bad = fmt_add(o->msg, sizeof(o->msg), &o->len, "{\"type\":\"order\","
	    "\"orderId\":\"%s\",\"venueId\":\"%s\",\"eventId\":\"%s\","
	    "\"zoneId\":%ld,\"status\":\"CONFIRMED\",\"total\":%s,"
	    "\"createdOn\":\"%s\",\"cancelHash\":\"%s\",",
	    row[C_OID], row[C_VENUE], o->event, o->zone, row[C_TOTAL],
	    row[C_CREATED], row[C_HASH]) != 0;
	if (o->ikey_hash[0] != '\0' && fmt_add(o->msg, sizeof(o->msg), &o->len,
	    "\"idempotency\":{\"keyHash\":\"%s\",\"hash\":\"%s\",\"kind\":"
	    "\"%s\"},", o->ikey_hash, o->ihash, o->ikind) != 0)
		o->bad = 1;
	if (o->hold_hash[0] != '\0' && fmt_add(o->msg, sizeof(o->msg),
	    &o->len, "\"holdHash\":\"%s\",", o->hold_hash) != 0)
		o->bad = 1;
	if (fmt_add(o->msg, sizeof(o->msg), &o->len, "\"tickets\":[") != 0)
		o->bad = 1;
}

/* One ticket of the order, as the order script writes it. */
static void
ticket(struct one *o, MYSQL_ROW row)
{
	if (o->n == ORDER_TICKETS_MAX) {
		o->bad = 1;
		return;
	}
	memcpy(o->t[o->n].id, row[C_TID], UUID_LEN + 1);
	snprintf(o->t[o->n].cancelled, sizeof(o->t[0].cancelled), "%s",
	    row[C_TCANCEL]);
	if (fmt_add(o->msg, sizeof(o->msg), &o->len, "%s{\"ticketId\":\"%s\","
	    "\"venueId\":\"%s\",\"eventId\":\"%s\",\"zoneId\":%ld,\"row\":%s,"
	    "\"column\":%s,\"price\":%s,\"status\":\"CREATED\","
	    "\"createdOn\":\"%s\",\"orderId\":\"%s\"}", o->n > 0 ? "," : "",
	    row[C_TID], row[C_VENUE], o->event, o->zone, row[C_ROW],
	    row[C_COL], row[C_PRICE], row[C_CREATED], o->oid) != 0)
		o->bad = 1;
	o->n++;
}

/* SET bo:oix:{st}<id> "E:Z orderId" NX (the id carries the zone's slot:
 * the caller checked). */
static int
index_id(struct rds *r, unsigned slot, const char *id, const char *value)
{
	char		 key[KEY_MAX];
	const char	*argv[] = { "SET", key, value, "NX" };

	if (keys_id(KEY_OIX, slot, id, key, sizeof(key)) < 0)
		return -1;
	return rds_do(r, slot, 4, argv, NULL);
}

/* Whether the order's ids all carry the zone's slot: ids made before they
 * did (round 1, the first orders build) have their index keys elsewhere,
 * untagged, outside the zone's slot and its transaction (a Redis Cluster
 * refuses such a transaction whole).  Those orders are left out. */
static int
same_slot(const struct one *o, unsigned slot)
{
	size_t i;

	if (keys_id_slot(o->oid) != (int)slot)
		return 0;
	for (i = 0; i < o->n; i++)
		if (keys_id_slot(o->t[i].id) != (int)slot)
			return 0;
	return 1;
}

/* The seconds left of the 24 h a key's record and a confirmed hold's
 * index live after the sale, 0 if none. */
static long long
day_left(const struct one *o, long long now)
{
	long long created, left;

	if (when_parse(o->created, &created) != 0)
		return 0;
	/* the sale's stamp is its responder's clock, now this host's: a
	 * stamp ahead of this clock gets no more than 24 h */
	left = DAY_SECS - (now - created) / 1000;
	return left <= 0 ? 0 : left > DAY_SECS ? DAY_SECS : left;
}

/* SET bo:idem:{E:Z}:#<HMAC of the key> "<hash> P <orderId> <kind>" EX
 * <left> NX: the record lua/order.lua wrote with the sale (under the
 * key); under the key itself when only that is known (idem_key: a
 * queued message of 2026-12-06's shape). */
static int
index_key(struct rds *r, unsigned slot, const struct one *o,
    const char *idem_key, long long left)
{
	char		 key[KEY_MAX], value[HASH_LEN + UUID_LEN + 8], ex[24];
	const char	*argv[] = { "SET", key, value, "EX", ex, "NX" };

	if ((o->ikey_hash[0] != '\0' ? keys_idem_hashed(o->tag, o->ikey_hash,
	    key, sizeof(key)) : keys_idem(o->tag, idem_key, key,
	    sizeof(key))) < 0)
		return -1;
	snprintf(value, sizeof(value), "%s P %s %s", o->ihash, o->oid,
	    o->ikind);
	snprintf(ex, sizeof(ex), "%lld", left);
	return rds_do(r, slot, 6, argv, NULL);
}

/* HSETNX bo:holds:{E:Z} "#<SHA-256 of the holdId>" "C <orderId>" and SET
 * bo:hix:{st}#<that hash> "E:Z" EX <left> NX: the hold the order
 * confirmed, as lua/order.lua leaves it, under the hash of its id; ZADD
 * bo:hend:{E:Z} of the field for when the sweeper removes it. */
static int
index_hold(struct rds *r, unsigned slot, const struct one *o,
    long long now, long long left)
{
	char		 holds[KEY_MAX], hend[KEY_MAX], key[KEY_MAX];
	char		 field[HASH_LEN + 2], value[UUID_LEN + 3], ex[24];
	char		 gone[24];
	const char	*hsetnx[] = { "HSETNX", holds, field, value };
	const char	*set[] = { "SET", key, o->tag, "EX", ex, "NX" };
	const char	*zadd[] = { "ZADD", hend, gone, field };

	snprintf(field, sizeof(field), "#%s", o->hold_hash);
	snprintf(value, sizeof(value), "C %s", o->oid);
	snprintf(ex, sizeof(ex), "%lld", left);
	snprintf(gone, sizeof(gone), "%lld", now + left * 1000 + HOLD_KEEP_MS);
	if (keys_build(KEY_HOLDS, o->tag, holds, sizeof(holds)) < 0 ||
	    keys_build(KEY_HEND, o->tag, hend, sizeof(hend)) < 0 ||
	    keys_id(KEY_HIX, slot, field, key, sizeof(key)) < 0)
		return -1;
	if (rds_do(r, slot, 4, hsetnx, NULL) != 0 ||
	    rds_do(r, slot, 4, zadd, NULL) != 0)
		return -1;
	return rds_do(r, slot, 6, set, NULL);
}

/* The order's writes: message, index, recorded cancellations, its key's
 * record (under its HMAC, or a message's key itself) and its confirmed
 * hold (orders of the last 24 h).  Each only where missing. */
static int
put_back(struct rds *r, unsigned slot, struct one *o, const char *idem_key,
    long long now, struct rebuild_count *c)
{
	char		 value[TAG_MAX + UUID_LEN + 2], field[UUID_LEN + 3];
	const char	*hsetnx[] = { "HSETNX", o->ords, o->oid, o->msg };
	long long	 left;
	size_t		 i;

	if (!same_slot(o, slot))
		return 0;
	snprintf(value, sizeof(value), "%s %s", o->tag, o->oid);
	if (rds_do(r, slot, 4, hsetnx, NULL) != 0 ||
	    index_id(r, slot, o->oid, value) != 0)
		return -1;
	for (i = 0; i < o->n; i++) {
		if (index_id(r, slot, o->t[i].id, value) != 0)
			return -1;
		if (o->t[i].cancelled[0] == '\0')
			continue;
		snprintf(field, sizeof(field), "c:%s", o->t[i].id);
		hsetnx[2] = field;
		hsetnx[3] = o->t[i].cancelled;
		if (rds_do(r, slot, 4, hsetnx, NULL) != 0)
			return -1;
	}
	c->orders++;
	if ((left = day_left(o, now)) == 0)
		return 0;
	if (o->ikey_hash[0] != '\0' || (idem_key[0] != '\0' &&
	    o->ihash[0] != '\0')) {
		if (index_key(r, slot, o, idem_key, left) != 0)
			return -1;
		c->keys++;
	}
	if (o->hold_hash[0] != '\0') {
		if (index_hold(r, slot, o, now, left) != 0)
			return -1;
		c->holds++;
	}
	return 0;
}

/* The end of an order of MySQL: its message closed, then put back. */
static int
finish(struct rds *r, unsigned slot, struct one *o, long long now,
    struct rebuild_count *c)
{
	if (o->bad || fmt_add(o->msg, sizeof(o->msg), &o->len, "]}") != 0) {
		ctl_err("%s zone %ld: order %s in MySQL is not what the "
		    "consumer writes: not indexed (its cancellation answers "
		    "404)", o->event, o->zone, o->oid);
		return 0;
	}
	return put_back(r, slot, o, "", now, c);
}

int
rebuild_queued_order(struct rds *r, unsigned slot, const struct order *m,
    const char *body, size_t len, struct rebuild_count *c)
{
	struct one	*o;
	size_t		 i;
	int		 ret;

	if (len >= sizeof(o->msg) || m->n > ORDER_TICKETS_MAX ||
	    (o = calloc(1, sizeof(*o))) == NULL)
		return 0;
	o->event = m->event;
	o->zone = m->zone;
	if (keys_tag(m->event, m->zone, o->tag, sizeof(o->tag)) < 0 ||
	    keys_build(KEY_ORDS, o->tag, o->ords, sizeof(o->ords)) < 0) {
		free(o);
		return 0;
	}
	memcpy(o->oid, m->id, sizeof(o->oid));
	memcpy(o->created, m->created, sizeof(o->created));
	if (m->idem_kind != 0) {
		memcpy(o->ikey_hash, m->idem_key_hash, sizeof(o->ikey_hash));
		memcpy(o->ihash, m->idem_hash, sizeof(o->ihash));
		o->ikind[0] = m->idem_kind;
	}
	memcpy(o->hold_hash, m->hold_hash, sizeof(o->hold_hash));
	/* the message as lua/order.lua stored it: the consumer's copy */
	memcpy(o->msg, body, len);
	o->msg[len] = '\0';
	o->len = len;
	o->n = m->n;
	for (i = 0; i < m->n; i++)
		memcpy(o->t[i].id, m->t[i].id, sizeof(o->t[i].id));
	ret = put_back(r, slot, o, m->idem_kind != 0 ? m->idem_key : "",
	    wall_ms(), c);
	free(o);
	return ret;
}

int
rebuild_orders(struct rds *r, unsigned slot, struct db *d, const char *event,
    long zone, struct rebuild_count *c)
{
	long long	 now = wall_ms();
	char		 sql[2048], skip[UUID_LEN + 1] = "";
	struct one	*o;
	MYSQL		*my;
	MYSQL_RES	*res;
	MYSQL_ROW	 row;
	int		 ret = 0, open = 0;

	memset(c, 0, sizeof(*c));
	if (!valid_id(event)) {
		err_set(&d->err, d->errstr, ERR_OTHER, "bad event id");
		return -1;
	}
	if ((o = calloc(1, sizeof(*o))) == NULL) {
		err_set(&d->err, d->errstr, ERR_OTHER, "out of memory");
		return -1;
	}
	o->event = event;
	o->zone = zone;
	if (keys_tag(event, zone, o->tag, sizeof(o->tag)) < 0 ||
	    keys_build(KEY_ORDS, o->tag, o->ords, sizeof(o->ords)) < 0) {
		err_set(&d->err, d->errstr, ERR_OTHER, "bad zone key");
		free(o);
		return -1;
	}
	snprintf(sql, sizeof(sql), ORDER_SQL, event, zone);
	if ((my = db_conn(d)) == NULL || mysql_query(my, sql) != 0 ||
	    (res = mysql_store_result(my)) == NULL) {
		if (my != NULL)
			db_fail(d, "orders");
		free(o);
		return -1;
	}
	while (ret == 0 && (row = mysql_fetch_row(res)) != NULL) {
		if (!row_ok(row)) {
			/* the whole order is left out, not a part of it */
			ctl_err("%s zone %ld: a malformed order row (order %s) "
			    "in MySQL: not indexed", event, zone,
			    row[C_OID] != NULL ? row[C_OID] : "?");
			if (row[C_OID] != NULL)
				snprintf(skip, sizeof(skip), "%s", row[C_OID]);
			if (open && strcmp(skip, o->oid) == 0)
				o->bad = 1;
			continue;
		}
		if (open && strcmp(row[C_OID], o->oid) != 0) {
			ret = finish(r, slot, o, now, c);
			open = 0;
		}
		if (strcmp(row[C_OID], skip) == 0)
			continue;
		if (!open) {
			begin(o, row);
			open = 1;
		}
		ticket(o, row);
	}
	if (ret == 0 && open)
		ret = finish(r, slot, o, now, c);
	mysql_free_result(res);
	free(o);
	return ret;
}
