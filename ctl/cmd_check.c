/* SPDX-License-Identifier: ISC */
/*
 * cmd_check.c - ticketctl check: reconciles Redis, MySQL and DynamoDB per
 * event and zone and prints every difference (exit 1 if there is one).
 *
 * Per zone: the Redis catalog against MySQL's; counters against the seat
 * bits; bits against owner tokens; every MySQL ticket against its seat's
 * bit and owner; every Redis owner against MySQL; MySQL against DynamoDB
 * (ids and seats).  Tickets still on their way are not differences: a
 * ticket pending or claimed in Redis counts as in flight, and so do as
 * many tickets missing from MySQL (DynamoDB) as ticketSQL (ticketNoSQL)
 * holds messages.  The queues are counted from their statistics, never
 * read: reading a message and putting it back would spend one of its
 * delivery attempts (x-delivery-limit).  A running consumer holds a few
 * messages where nobody can see them: --wait S checks again until no
 * difference is left or S seconds have passed.
 *
 * Seats held by a hold (owner "h:<holdId>", lua/order.lua) are neither
 * sold nor lost: they are counted apart ("held"), and a hold still active
 * HOLD_LATE_S seconds past its expiry (Redis clock) is a difference: the
 * consumer's sweeper, which releases expired holds, is not running.  A
 * seat held by a hold that is not active (deleted, expired, confirmed) is
 * a difference too.  A ticket cancelled in Redis (bo:ords "c:<ticketId>",
 * lua/cancel.lua) whose seat is free or sold again is not live: while
 * MySQL still has it live, its cancellation is on its way if a cancel is
 * pending in the zone or ticketSQL holds messages (counted "cancelling"),
 * else a difference.  The same for DynamoDB: a ticket cancelled in Redis
 * that only one of MySQL and DynamoDB has live is on its way to the other
 * (the consumer's two pipelines go at their own pace), against ticketSQL
 * or ticketNoSQL.
 *
 * A double sale the consumer caught (MySQL refused the second ticket of a
 * seat, the consumer marked its DynamoDB item DOUBLE_SALE) is not a
 * difference between the stores: it is listed apart, with both tickets,
 * for the operator to settle with the second buyer.
 *
 * MySQL's sales summary (zone_sales: what stats, count and money answer)
 * is compared with a full count of the live tickets per zone in one
 * statement, so one snapshot; a difference names the repair script.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "keys.h"
#include "msg.h"
#include "sold.h"
#include "zone.h"

#define DIFFS_SHOWN_MAX	200		/* lines printed; all are counted */
#define ROW_DIFFS_MAX	3		/* row counter lines per zone */
#define RETRY_S		2
#define HOLD_LATE_S	10		/* expired holds the sweeper may still owe */

/* Totals of one event. */
struct evtotal {
	char	event[ID_MAX + 1];
	long	zones, capacity, redis, mysql, ddb, pending, queued;
	long	held, cancelling;
};

struct check {
	struct ctl	*ctl;
	struct soldv	 mysql, ddb;
	/* messages in the queues (statistics), and how many of them may
	 * still explain a ticket missing from MySQL / DynamoDB */
	long		 qsql_msgs, qnosql_msgs, dsql_msgs, dnosql_msgs;
	long		 sql_budget, nosql_budget, ddb_bad;
	struct soldv	 doubles;		/* double sales recorded */
	struct evtotal	*ev;
	size_t		 nev;
	FILE		*diffs;
	long		 ndiffs;
};

/* Records one difference. */
static void __attribute__((format(printf, 4, 5)))
diff(struct check *ck, const char *event, long zone, const char *fmt, ...)
{
	va_list ap;

	if (ck->ndiffs++ >= DIFFS_SHOWN_MAX)
		return;
	if (zone > 0)
		fprintf(ck->diffs, "  %s zone %ld: ", event, zone);
	else
		fprintf(ck->diffs, "  %s: ", event);
	va_start(ap, fmt);
	vfprintf(ck->diffs, fmt, ap);
	va_end(ap);
	fputc('\n', ck->diffs);
}

static struct evtotal *
total(struct check *ck, const char *event)
{
	if (ck->nev == 0 || strcmp(ck->ev[ck->nev - 1].event, event) != 0) {
		struct evtotal *t = &ck->ev[ck->nev++];

		memset(t, 0, sizeof(*t));
		snprintf(t->event, sizeof(t->event), "%s", event);
	}
	return &ck->ev[ck->nev - 1];
}

/* 1 if a ticket missing from MySQL (nosql: DynamoDB) may be in one of
 * the messages still waiting in its queue; each message explains up to
 * ORDER_TICKETS_MAX tickets (an order's: the queues are counted, not
 * read). */
static int
maybe_queued(struct check *ck, int nosql, const char *event)
{
	long *budget = nosql ? &ck->nosql_budget : &ck->sql_budget;

	if (*budget <= 0)
		return 0;
	(*budget)--;
	if (!nosql)
		total(ck, event)->queued++;
	return 1;
}

/* Where a missing ticket may be: a hint for the operator. */
static const char *
dead_hint(const struct check *ck)
{
	if (ck->dsql_msgs > 0 && ck->dnosql_msgs > 0)
		return " (the dead-letter queues hold messages: ticketctl dlq)";
	if (ck->dsql_msgs > 0)
		return " (" MQ_QUEUE_SQL MQ_DEAD_SUFFIX " holds messages: "
		    "ticketctl dlq)";
	if (ck->dnosql_msgs > 0)
		return " (" MQ_QUEUE_NOSQL MQ_DEAD_SUFFIX " holds messages: "
		    "ticketctl dlq)";
	return "";
}

/* A field of the sale state as printed: "-" when absent. */
static const char *
show(const char *v)
{
	return v[0] != '\0' ? v : "-";
}

/* The catalog hash and the counters against the seat bits. */
static void
check_counters(struct check *ck, const struct catalog_zone *cz,
    const struct zstate *z, long taken)
{
	struct zone_sale sale;
	long row, col, left, shown = 0;

	if (!z->has_zone) {
		diff(ck, cz->event, cz->zone, "not loaded in Redis node %u "
		    "(run ticketctl init)", z->node);
		return;
	}
	if (strcmp(z->venue, cz->venue) != 0 || z->rows != cz->rows ||
	    z->cols != cz->cols || strcmp(z->price, cz->price) != 0)
		diff(ck, cz->event, cz->zone, "Redis catalog %s %ldx%ld at %s, "
		    "MySQL catalog %s %ldx%ld at %s (run ticketctl init)",
		    z->venue, z->rows, z->cols, z->price, cz->venue, cz->rows,
		    cz->cols, cz->price);
	zone_sale_of(cz, &sale);
	if (strcmp(z->sale.status, sale.status) != 0 ||
	    strcmp(z->sale.opens, sale.opens) != 0 ||
	    strcmp(z->sale.closes, sale.closes) != 0)
		diff(ck, cz->event, cz->zone, "Redis sale state status=%s "
		    "opens=%s closes=%s, MySQL catalog status=%s opens=%s "
		    "closes=%s (run ticketctl init, or rebuild if the zone has "
		    "no counters)", show(z->sale.status), show(z->sale.opens),
		    show(z->sale.closes), show(sale.status), show(sale.opens),
		    show(sale.closes));
	if (!z->has_left) {
		diff(ck, cz->event, cz->zone, "no counters in Redis: nothing "
		    "can be sold (run ticketctl rebuild)");
		return;
	}
	if (z->left_zone != cz->rows * cz->cols - taken)
		diff(ck, cz->event, cz->zone, "zone counter says %ld left, the "
		    "seat bits %ld (%ld of %ld taken)", z->left_zone,
		    cz->rows * cz->cols - taken, taken, cz->rows * cz->cols);
	for (row = 1; row <= cz->rows; row++) {
		left = cz->cols;
		for (col = 1; col <= cz->cols; col++)
			left -= zone_bit(z->bits, z->nbytes,
			    keys_seat_bit(row, col, cz->cols));
		if (z->left_row[row] == left)
			continue;
		if (shown++ < ROW_DIFFS_MAX)
			diff(ck, cz->event, cz->zone, "row %ld counter says %ld "
			    "left, the seat bits %ld", row, z->left_row[row],
			    left);
		else
			ck->ndiffs++;
	}
}

/* Seat bits against owner tokens. */
static void
check_owners(struct check *ck, const struct catalog_zone *cz,
    const struct zstate *z)
{
	long	bit, nbits = cz->rows * cz->cols;
	size_t	i;

	for (bit = 0; bit < nbits; bit++)
		if (zone_bit(z->bits, z->nbytes, bit) &&
		    zone_owner_of(z, bit) == NULL)
			diff(ck, cz->event, cz->zone, "row %ld column %ld is "
			    "taken but has no owner token", bit / cz->cols + 1,
			    bit % cz->cols + 1);
	for (i = 0; i < z->nown; i++)
		if (!zone_bit(z->bits, z->nbytes, z->own[i].bit))
			diff(ck, cz->event, cz->zone, "owner token %s on free "
			    "seat bit %ld", z->own[i].id, z->own[i].bit);
}

/* The Redis clock of node (ms), or -1. */
static long long
redis_now_ms(struct rds *r, unsigned node)
{
	redisReply	*rep;
	long long	 ms = -1;

	if ((rep = rds_cmd(r, node, "TIME")) == NULL)
		return -1;
	if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
	    rep->element[0]->str != NULL && rep->element[1]->str != NULL)
		ms = atoll(rep->element[0]->str) * 1000 +
		    atoll(rep->element[1]->str) / 1000;
	freeReplyObject(rep);
	return ms;
}

/* A seat held by hold hid (its owner "h:<hid>"): counted held if the hold
 * is active and not long past its expiry.  *last caches the hold checked
 * last (its seats are owned together): "" none, else the id and its
 * answer in *last_ok.  Returns -1 if Redis failed. */
static int
check_held(struct check *ck, const struct catalog_zone *cz,
    const struct zstate *z, const struct zone_owner *o, char *last,
    int *last_ok, long long *now)
{
	char		 key[KEY_MAX];
	const char	*hid = o->id + 2;
	redisReply	*rep;
	long long	 exp = -1;

	if (strcmp(last, hid) != 0) {
		if (keys_build(KEY_HOLDS, z->tag, key, sizeof(key)) < 0 ||
		    (rep = rds_cmd(&ck->ctl->rds, z->node, "HGET %s %s", key,
		    hid)) == NULL) {
			ctl_err("%s zone %ld: %s", cz->event, cz->zone,
			    ck->ctl->rds.errstr);
			return -1;
		}
		if (rep->type == REDIS_REPLY_STRING && strncmp(rep->str, "A ",
		    2) == 0)
			exp = atoll(rep->str + 2);
		freeReplyObject(rep);
		if (exp > 0 && *now < 0 &&
		    (*now = redis_now_ms(&ck->ctl->rds, z->node)) < 0) {
			ctl_err("%s zone %ld: %s", cz->event, cz->zone,
			    ck->ctl->rds.errstr);
			return -1;
		}
		snprintf(last, UUID_LEN + 1, "%s", hid);
		*last_ok = exp < 0 ? 0 : *now <= exp + HOLD_LATE_S * 1000 ? 1 :
		    -(int)((*now - exp) / 1000);
		if (*last_ok == 0)
			diff(ck, cz->event, cz->zone, "row %ld column %ld is "
			    "held by hold %s, which is not active (deleted, "
			    "expired or confirmed)", o->bit / cz->cols + 1,
			    o->bit % cz->cols + 1, hid);
		else if (*last_ok < 0)
			diff(ck, cz->event, cz->zone, "hold %s expired %d s "
			    "ago and still holds its seats: is the consumer's "
			    "sweeper running?", hid, -*last_ok);
	}
	if (*last_ok != 0)
		total(ck, cz->event)->held++;
	return 0;
}

/* 1 if Redis recorded ticket id as cancelled (bo:ords "c:<id>"), 0 if not,
 * -1 if Redis failed. */
static int
cancelled_in_redis(struct check *ck, const struct zstate *z, const char *id)
{
	char		 key[KEY_MAX];
	redisReply	*rep;
	int		 r;

	if (keys_build(KEY_ORDS, z->tag, key, sizeof(key)) < 0 ||
	    (rep = rds_cmd(&ck->ctl->rds, z->node, "HEXISTS %s c:%s", key,
	    id)) == NULL)
		return -1;
	r = rep->type == REDIS_REPLY_INTEGER && rep->integer == 1;
	freeReplyObject(rep);
	return r;
}

/* A MySQL ticket whose seat Redis does not give it: cancelled in Redis and
 * on its way to MySQL (returns 1, counted), or not (0), or -1. */
static int
cancelling(struct check *ck, const struct catalog_zone *cz,
    const struct zstate *z, const struct sold *s)
{
	int c = cancelled_in_redis(ck, z, s->id);

	if (c < 0) {
		ctl_err("%s zone %ld: %s", cz->event, cz->zone,
		    ck->ctl->rds.errstr);
		return -1;
	}
	if (c == 0)
		return 0;
	if (z->cancels_pending == 0 && !maybe_queued(ck, 0, cz->event))
		diff(ck, cz->event, cz->zone, "row %ld column %ld: ticket %s "
		    "is cancelled in Redis, live in MySQL, its cancellation "
		    "not pending, not queued%s", s->row, s->col, s->id,
		    dead_hint(ck));
	else
		total(ck, cz->event)->cancelling++;
	return 1;
}

/* MySQL tickets against seat bits and owners, and Redis owners against
 * MySQL. */
static int
check_redis_mysql(struct check *ck, const struct catalog_zone *cz,
    const struct zstate *z)
{
	const struct zone_owner	*o;
	const struct sold	*s;
	char			 last[UUID_LEN + 1] = "";
	long long		 now = -1;
	size_t			 first, n, i;
	long			 bit;
	int			 last_ok = 0, c;

	n = soldv_zone(&ck->mysql, cz->event, cz->zone, &first);
	for (i = first; i < first + n; i++) {
		s = &ck->mysql.v[i];
		if (s->row < 1 || s->row > cz->rows || s->col < 1 ||
		    s->col > cz->cols) {
			diff(ck, cz->event, cz->zone, "MySQL ticket %s is for "
			    "row %ld column %ld, outside the zone", s->id,
			    s->row, s->col);
			continue;
		}
		bit = keys_seat_bit(s->row, s->col, cz->cols);
		o = zone_owner_of(z, bit);
		if ((!zone_bit(z->bits, z->nbytes, bit) || o == NULL ||
		    strcmp(o->id, s->id) != 0) &&
		    (c = cancelling(ck, cz, z, s)) != 0) {
			if (c < 0)
				return -1;
		} else if (!zone_bit(z->bits, z->nbytes, bit))
			diff(ck, cz->event, cz->zone, "row %ld column %ld: "
			    "sold in MySQL (ticket %s) but free in Redis: it "
			    "could be sold again (stop sales, ticketctl rebuild "
			    "--all)", s->row, s->col, s->id);
		else if (o == NULL || strcmp(o->id, s->id) != 0)
			diff(ck, cz->event, cz->zone, "row %ld column %ld: "
			    "MySQL ticket %s, Redis owner %s", s->row, s->col,
			    s->id, o != NULL ? o->id : "none");
	}
	for (i = 0; i < z->nown; i++) {
		o = &z->own[i];
		if (strncmp(o->id, "h:", 2) == 0) {
			if (check_held(ck, cz, z, o, last, &last_ok, &now) != 0)
				return -1;
			continue;
		}
		if (soldv_find_id(&ck->mysql, first, n, o->id) != NULL ||
		    soldv_find_id(&z->pending, 0, z->pending.n, o->id) !=
		    NULL || maybe_queued(ck, 0, cz->event))
			continue;
		diff(ck, cz->event, cz->zone, "row %ld column %ld sold in "
		    "Redis (ticket %s), not in MySQL, not pending, not "
		    "queued%s", o->bit / cz->cols + 1, o->bit % cz->cols + 1,
		    o->id, dead_hint(ck));
	}
	return 0;
}

/* Orders two entries of the same zone by seat, then id. */
static int
seat_cmp(const struct sold *a, const struct sold *b)
{
	if (a->row != b->row)
		return a->row < b->row ? -1 : 1;
	if (a->col != b->col)
		return a->col < b->col ? -1 : 1;
	return strcmp(a->id, b->id);
}

/* 1 if ticket s owns its seat in Redis. */
static int
redis_owned(const struct zstate *z, const struct catalog_zone *cz,
    const struct sold *s)
{
	const struct zone_owner *o;

	if (s->row < 1 || s->row > cz->rows || s->col < 1 || s->col > cz->cols)
		return 0;
	o = zone_owner_of(z, keys_seat_bit(s->row, s->col, cz->cols));
	return o != NULL && strcmp(o->id, s->id) == 0;
}

/*
 * A ticket live in one store of MySQL and DynamoDB and not the other, that
 * Redis records as cancelled: the store that has it live has not applied
 * its cancel yet (the two pipelines go at their own pace; a store down
 * holds its own).  Live in MySQL (ddb 0): check_redis_mysql() counted it
 * "cancelling" against ticketSQL.  Live in DynamoDB (ddb 1): counted here,
 * against ticketNoSQL.  Returns 1 if so, 0 if not (a difference), -1 if
 * Redis failed (printed).
 */
static int
ddb_behind(struct check *ck, const struct catalog_zone *cz,
    const struct zstate *z, const struct sold *s, int ddb)
{
	int c = cancelled_in_redis(ck, z, s->id);

	if (c < 0) {
		ctl_err("%s zone %ld: %s", cz->event, cz->zone,
		    ck->ctl->rds.errstr);
		return -1;
	}
	if (c == 0 || (ddb && !maybe_queued(ck, 1, cz->event)))
		return 0;
	if (ddb)
		total(ck, cz->event)->cancelling++;
	return 1;
}

/* MySQL against DynamoDB: a merge of the two zone ranges by seat.
 * Returns 0, or -1 if Redis failed. */
static int
check_mysql_ddb(struct check *ck, const struct catalog_zone *cz,
    const struct zstate *z)
{
	const struct sold	*m, *d;
	size_t			 mf, mn, df, dn, i = 0, j = 0;
	int			 c, k;

	mn = soldv_zone(&ck->mysql, cz->event, cz->zone, &mf);
	dn = soldv_zone(&ck->ddb, cz->event, cz->zone, &df);
	for (j = 1; j < dn; j++)
		if (ck->ddb.v[df + j].row == ck->ddb.v[df + j - 1].row &&
		    ck->ddb.v[df + j].col == ck->ddb.v[df + j - 1].col)
			diff(ck, cz->event, cz->zone, "row %ld column %ld sold "
			    "twice in DynamoDB: %s and %s", ck->ddb.v[df + j].row,
			    ck->ddb.v[df + j].col, ck->ddb.v[df + j - 1].id,
			    ck->ddb.v[df + j].id);
	j = 0;
	while (i < mn || j < dn) {
		m = i < mn ? &ck->mysql.v[mf + i] : NULL;
		d = j < dn ? &ck->ddb.v[df + j] : NULL;
		c = m == NULL ? 1 : d == NULL ? -1 : seat_cmp(m, d);
		if (c == 0) {
			i++;
			j++;
			continue;
		}
		if (m != NULL && d != NULL && m->row == d->row &&
		    m->col == d->col) {
			diff(ck, cz->event, cz->zone, "row %ld column %ld: "
			    "MySQL ticket %s, DynamoDB ticket %s", m->row,
			    m->col, m->id, d->id);
			i++;
			j++;
		} else if (c < 0) {
			/* live in MySQL, cancelled in DynamoDB (it has no
			 * live item): its cancel on the way to MySQL, which
			 * check_redis_mysql() counted "cancelling" */
			if ((k = ddb_behind(ck, cz, z, m, 0)) < 0)
				return -1;
			if (k == 0 && !maybe_queued(ck, 1, cz->event))
				diff(ck, cz->event, cz->zone, "ticket %s (row "
				    "%ld column %ld) in MySQL, not in DynamoDB, "
				    "not queued%s", m->id, m->row, m->col,
				    dead_hint(ck));
			i++;
		} else {
			/* counted against ticketSQL with its Redis owner;
			 * cancelled in MySQL and Redis, its cancel on the
			 * way to DynamoDB against ticketNoSQL */
			if ((k = ddb_behind(ck, cz, z, d, 1)) < 0)
				return -1;
			if (k == 0 && (ck->qsql_msgs == 0 ||
			    !redis_owned(z, cz, d)))
				diff(ck, cz->event, cz->zone, "ticket %s (row "
				    "%ld column %ld) in DynamoDB, not in MySQL, "
				    "not queued%s", d->id, d->row, d->col,
				    dead_hint(ck));
			j++;
		}
	}
	return 0;
}

/* Tickets of event zones the catalog does not have. */
static void
check_strays(struct check *ck, const struct catalog *cat,
    const struct soldv *v, const char *store)
{
	size_t i;

	for (i = 0; i < v->n; i++)
		if (!catalog_has(cat, v->v[i].event, v->v[i].zone))
			diff(ck, v->v[i].event, 0, "%s ticket %s is for zone "
			    "%ld, which the catalog does not have", store,
			    v->v[i].id, v->v[i].zone);
}

static int
check_zone(struct check *ck, const struct catalog_zone *cz)
{
	struct evtotal	*t = total(ck, cz->event);
	struct zstate	 z;
	long		 bit, taken = 0;
	size_t		 first;

	if (zstate_read(&ck->ctl->rds, cz, &z) != 0) {
		ctl_err("%s zone %ld: %s", cz->event, cz->zone,
		    ck->ctl->rds.errstr);
		zstate_free(&z);
		return -1;
	}
	for (bit = 0; bit < cz->rows * cz->cols; bit++)
		taken += zone_bit(z.bits, z.nbytes, bit);
	t->zones++;
	t->capacity += cz->rows * cz->cols;
	t->redis += taken;
	t->mysql += (long)soldv_zone(&ck->mysql, cz->event, cz->zone, &first);
	t->ddb += (long)soldv_zone(&ck->ddb, cz->event, cz->zone, &first);
	t->pending += (long)z.pending.n;
	if (z.pending_bad > 0)
		diff(ck, cz->event, cz->zone, "%ld pending entries are not "
		    "tickets", z.pending_bad);
	check_counters(ck, cz, &z, taken);
	check_owners(ck, cz, &z);
	if (check_redis_mysql(ck, cz, &z) != 0) {
		zstate_free(&z);
		return -1;
	}
	if (check_mysql_ddb(ck, cz, &z) != 0) {
		zstate_free(&z);
		return -1;
	}
	zstate_free(&z);
	return 0;
}

/* Counts the four queues (passive declares: nothing read). */
static int
count_queues(struct check *ck, struct mq *m)
{
	if ((ck->qsql_msgs = mq_queue_depth(m, MQ_QUEUE_SQL, NULL)) < 0 ||
	    (ck->qnosql_msgs = mq_queue_depth(m, MQ_QUEUE_NOSQL, NULL)) < 0 ||
	    (ck->dsql_msgs = mq_queue_depth(m, MQ_QUEUE_SQL MQ_DEAD_SUFFIX,
	    NULL)) < 0 ||
	    (ck->dnosql_msgs = mq_queue_depth(m, MQ_QUEUE_NOSQL MQ_DEAD_SUFFIX,
	    NULL)) < 0) {
		ctl_err("%s", m->errstr);
		return -1;
	}
	ck->sql_budget = ck->qsql_msgs * ORDER_TICKETS_MAX;
	ck->nosql_budget = ck->qnosql_msgs * ORDER_TICKETS_MAX;
	return 0;
}

/* Reads every store.  The queues first, so that what leaves them while
 * MySQL and DynamoDB are read is seen in the databases. */
static int
read_stores(struct check *ck, struct mq *m, struct db *d,
    const struct events *ev)
{
	struct ddb	dd;
	int		ret = -1;

	if (count_queues(ck, m) != 0)
		return -1;
	if (sold_from_mysql(&ck->mysql, d, ev) != 0) {
		ctl_err("%s", d->errstr);
		return -1;
	}
	soldv_sort(&ck->mysql);
	if (ddb_init(&dd, &ck->ctl->c) != 0)
		ctl_err("%s", dd.errstr);
	else if (sold_from_ddb(&ck->ddb, &ck->doubles, &dd, ev,
	    &ck->ddb_bad) != 0)
		ctl_err("%s", dd.errstr);
	else
		ret = 0;
	ddb_free(&dd);
	soldv_sort(&ck->ddb);
	soldv_sort(&ck->doubles);
	return ret;
}

static void
check_free(struct check *ck)
{
	soldv_free(&ck->mysql);
	soldv_free(&ck->ddb);
	soldv_free(&ck->doubles);
	free(ck->ev);
	ck->ev = NULL;
}

/* A zone whose sales summary differs from its tickets (sold.h). */
static void
summary_diff(const struct summary_diff *z, void *arg)
{
	struct check *ck = arg;

	diff(ck, z->event, z->zone, "sales summary: %s sold, revenue %s; the "
	    "tickets: %s, %s (repair: sql/zone_sales_repair.sql, "
	    "docs/reliability.md)", z->sold, z->revenue, z->count, z->total);
}

static void
report(const struct check *ck, FILE *out, const char *diffs, size_t len)
{
	size_t i;

	fprintf(out, "%-20s %7s %9s %8s %7s %8s %7s %6s %6s %10s\n", "event",
	    "zones", "capacity", "redis", "mysql", "dynamodb", "pending",
	    "queued", "held", "cancelling");
	for (i = 0; i < ck->nev; i++)
		fprintf(out, "%-20s %7ld %9ld %8ld %7ld %8ld %7ld %6ld %6ld "
		    "%10ld\n", ck->ev[i].event, ck->ev[i].zones,
		    ck->ev[i].capacity, ck->ev[i].redis, ck->ev[i].mysql,
		    ck->ev[i].ddb, ck->ev[i].pending, ck->ev[i].queued,
		    ck->ev[i].held, ck->ev[i].cancelling);
	fprintf(out, "queues: %s %ld, %s %ld message(s) waiting, %ld "
	    "dead-lettered (counted, not read)\n", MQ_QUEUE_SQL,
	    ck->qsql_msgs, MQ_QUEUE_NOSQL, ck->qnosql_msgs,
	    ck->dsql_msgs + ck->dnosql_msgs);
	if (ck->doubles.n > 0)
		fprintf(out, "double sales recorded (MySQL kept the seat's "
		    "first ticket; the second is marked in DynamoDB and its "
		    "message is in " MQ_QUEUE_SQL MQ_DEAD_SUFFIX ", see "
		    "ticketctl dlq): %zu\n", ck->doubles.n);
	for (i = 0; i < ck->doubles.n && i < DIFFS_SHOWN_MAX; i++)
		fprintf(out, "  %s zone %ld row %ld column %ld: ticket %s sold "
		    "twice, the seat is ticket %s's\n", ck->doubles.v[i].event,
		    ck->doubles.v[i].zone, ck->doubles.v[i].row,
		    ck->doubles.v[i].col, ck->doubles.v[i].id,
		    ck->doubles.v[i].json != NULL ? ck->doubles.v[i].json : "?");
	if (ck->ndiffs > 0) {
		fprintf(out, "differences:\n");
		fwrite(diffs, 1, len, out);
		if (ck->ndiffs > DIFFS_SHOWN_MAX)
			fprintf(out, "  ... and %ld more\n",
			    ck->ndiffs - DIFFS_SHOWN_MAX);
	}
	fprintf(out, "check: %ld difference(s)\n", ck->ndiffs);
}

/* One complete check; output into *text.  Returns the number of
 * differences, or -1 if a store failed. */
static long
check_once(struct ctl *ctl, const struct events *ev, char **text,
    size_t *textlen)
{
	struct check	 ck;
	struct catalog	 cat;
	struct db	 d;
	struct mq	 m;
	char		*dtext = NULL;
	size_t		 dlen = 0, i;
	FILE		*out;
	long		 ret = -1;

	memset(&ck, 0, sizeof(ck));
	ck.ctl = ctl;
	ctl_db_open(ctl, &d);
	if (catalog_read(&cat, &d, ev) != 0) {
		ctl_err("catalog: %s", d.errstr);
		db_close(&d);
		return -1;
	}
	if (cat.n == 0 || (ck.ev = calloc(cat.n, sizeof(*ck.ev))) == NULL ||
	    (ck.diffs = open_memstream(&dtext, &dlen)) == NULL) {
		ctl_err("%s", cat.n == 0 ? "no such event in the catalog" :
		    "out of memory");
		goto out;
	}
	if (ctl_mq_open(ctl, &m, "ticketctl check") != 0)
		goto out;
	if (read_stores(&ck, &m, &d, ev) == 0) {
		ret = 0;
		for (i = 0; i < cat.n && ret == 0; i++)
			if (check_zone(&ck, &cat.z[i]) != 0)
				ret = -1;
	}
	mq_close(&m);
	if (ret == 0) {
		check_strays(&ck, &cat, &ck.mysql, "MySQL");
		check_strays(&ck, &cat, &ck.ddb, "DynamoDB");
		if (ck.ddb_bad > 0)
			diff(&ck, "DynamoDB", 0, "%ld item(s) are not tickets",
			    ck.ddb_bad);
		if (sold_summary_diffs(&d, ev, summary_diff, &ck) != 0) {
			ctl_err("%s", d.errstr);
			goto out;
		}
		fclose(ck.diffs);
		ck.diffs = NULL;
		if ((out = open_memstream(text, textlen)) != NULL) {
			report(&ck, out, dtext, dlen);
			fclose(out);
			ret = ck.ndiffs;
		} else
			ret = -1;
	}
out:
	if (ck.diffs != NULL)
		fclose(ck.diffs);
	free(dtext);
	check_free(&ck);
	catalog_free(&cat);
	db_close(&d);
	return ret;
}

static int
run_check(struct ctl *ctl, int argc, char **argv)
{
	struct events	 ev;
	time_t		 end;
	char		*text = NULL;
	size_t		 len = 0;
	long		 wait = 0, n;
	int		 a;

	for (a = 1; a < argc && argv[a][0] == '-'; a++) {
		if (strcmp(argv[a], "--wait") == 0 && a + 1 < argc &&
		    ctl_seconds(argv[a + 1], 3600, &wait) == 0)
			a++;
		else
			return ctl_usage(&cmd_check);
	}
	if (ctl_events(&ev, argc - a, argv + a) != 0)
		return CTL_USAGE;
	end = time(NULL) + wait;
	for (;;) {
		free(text);
		text = NULL;
		if ((n = check_once(ctl, &ev, &text, &len)) < 0) {
			free(text);
			return CTL_FAIL;
		}
		if (n == 0 || time(NULL) + RETRY_S > end)
			break;
		sleep(RETRY_S);
	}
	fwrite(text, 1, len, stdout);
	free(text);
	return n == 0 ? CTL_OK : CTL_FAIL;
}

const struct command cmd_check = {
	"check", run_check, "check [--wait SECONDS] [EVENT...]",
	"reconcile Redis, MySQL and DynamoDB per event and zone",
	"For every event zone of the named events (default: all): the Redis\n"
	"catalog against MySQL's, the counters against the seat bits, the bits\n"
	"against the owner tokens, each MySQL ticket against its seat's bit and\n"
	"owner, each Redis owner against MySQL, and MySQL against DynamoDB\n"
	"(ticket ids and seats); also tickets of zones the catalog lacks, and\n"
	"MySQL's sales summary (stats, count, money) against its tickets.\n"
	"Prints seats sold per event in each store, then every difference.\n"
	"Seats of holds are counted \"held\"; a hold active over 10 s past its\n"
	"expiry is a difference (the consumer's sweeper is not releasing it).\n"
	"A ticket cancelled in Redis is not live; while MySQL still has it, it\n"
	"is counted \"cancelling\" if a cancel is pending or queued.\n"
	"Tickets on their way are not differences: pending or claimed in Redis,\n"
	"or (up to 10 a message the queue holds: an order's seats) missing from\n"
	"MySQL while ticketSQL holds messages, from DynamoDB while ticketNoSQL\n"
	"does.  The queues are counted, never read (that would spend delivery\n"
	"attempts).\n"
	"A running consumer holds a few messages nobody can see: --wait S checks\n"
	"again every 2 s until there is no difference or S seconds have passed.\n"
	"Exit 0 if the stores agree, 1 if not (or a store failed).",
};
