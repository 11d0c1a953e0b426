/* SPDX-License-Identifier: ISC */
/*
 * cmd_rebuild.c - ticketctl rebuild: recomputes Redis seat bits, counters
 * and owner tokens of event zones from what was sold: MySQL tickets, the
 * tickets still queued in ticketSQL and those in the dead-letter queues
 * (read without spending delivery attempts, see sold_read_queue()) and the
 * pending / claimed tickets Redis still holds.  For after a Redis loss.
 *
 * A seat is never freed by a rebuild: seats Redis still marks as sold stay
 * sold (reported, so that `ticketctl check` can be used to look at them).
 * Each zone is read under WATCH and written in one MULTI/EXEC, which
 * aborts if a reservation, release, confirm or sweep changed the zone in
 * between; the zone is then read and computed again.  So a rebuild under
 * load never wipes a reservation nor resurrects a released seat.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog.h"
#include "ctl.h"
#include "fmt.h"
#include "keys.h"
#include "msg.h"
#include "rebuild_orders.h"
#include "sold.h"
#include "valid.h"
#include "zone.h"

#define QUEUE_PEEK_MAX	2000000L
#define HSET_PAIRS_MAX	1000		/* field/value pairs per HSET */
#define ZONE_TRIES_MAX	200		/* reads of a zone that keeps changing */

/* A cancellation read from ticketSQL, one ticket of it. */
struct queued_cancel {
	char	id[UUID_LEN + 1];
	char	event[ID_MAX + 1];
	long	zone;
	char	on[STAMP_LEN + 1];
};

/* An order message read from ticketSQL. */
struct queued_order {
	char	event[ID_MAX + 1];
	long	zone;
	char	*body;
	size_t	len;
};

/* What every zone's rebuild reads. */
struct rebuild {
	struct ctl	*ctl;
	struct db	*d;		/* MySQL: the orders (rebuild_orders) */
	struct soldv	 mysql;
	struct soldv	 queued;
	struct soldv	 dead;		/* in ticketSQL.dead, ticketNoSQL.dead */
	int		 all;		/* recompute zones that have counters */
	long		 rebuilt, kept, conflicts, outside;
	/* tickets whose cancellation is queued in ticketSQL (sorted by id):
	 * their seats were freed before the loss */
	struct queued_cancel	*cx;
	size_t		 ncx, capcx;
	int		 cx_nomem;
	/* the order messages read from ticketSQL: what Redis needs of them
	 * (message, index, key record, confirmed hold) MySQL does not have
	 * yet */
	struct queued_order	*qo;
	size_t		 nqo, capqo;
};

/* Where rebuild saw a sold seat (counted per zone in from[]). */
enum rebuild_src {
	REBUILD_MYSQL,
	REBUILD_QUEUE,
	REBUILD_DEAD,
	REBUILD_PENDING,
	REBUILD_REDIS,
	REBUILD__MAX
};

/* The new state of one zone. */
struct newzone {
	const struct catalog_zone *cz;
	long		 nbits;
	unsigned char	*bits;
	size_t		 nbytes;
	const char	**owner;	/* per bit: ticket id, or NULL */
	const char	**json;		/* per bit: ticket JSON to cache, or NULL */
	long		 from[REBUILD__MAX];	/* seats taken from each */
	struct rebuild_count put;	/* orders of MySQL indexed, their
					   keys' records, confirmed holds */
	struct rebuild_count putq;	/* the same of ticketSQL's orders */
	long		 cancelled;	/* tickets left out: cancel queued */
	long		 rcancelled;	/* and: cancel recorded in Redis */
	long		 mcancelled;	/* Redis owners MySQL has cancelled */
	long		 qcancelled;	/* queued, dead or pending tickets
					   MySQL has cancelled */
	/* tickets Redis records as cancelled (c:<id> in bo:ords; sorted),
	 * read with the zone: a cancel after MySQL was read, or whose message
	 * is still pending (the broker was down) */
	char		(*rcx)[UUID_LEN + 1];
	size_t		 nrcx, caprcx;
};

static int
cmp_cancel(const void *a, const void *b)
{
	return strcmp(((const struct queued_cancel *)a)->id,
	    ((const struct queued_cancel *)b)->id);
}

/* The queued cancellation of ticket id, or NULL. */
static const struct queued_cancel *
queued_cancel(const struct rebuild *rb, const char *id)
{
	struct queued_cancel key;

	if (rb->ncx == 0 || strlen(id) > UUID_LEN)
		return NULL;
	memcpy(key.id, id, strlen(id) + 1);
	return bsearch(&key, rb->cx, rb->ncx, sizeof(key), cmp_cancel);
}

/* Keeps a copy of order message m (body msg) for the zone's rebuild. */
static void
note_order(struct rebuild *rb, const amqp_message_t *msg, const struct msg *m)
{
	struct queued_order	*p;

	if (rb->nqo == rb->capqo) {
		p = reallocarray(rb->qo, rb->capqo ? 2 * rb->capqo : 64,
		    sizeof(*p));
		if (p == NULL) {
			rb->cx_nomem = 1;
			return;
		}
		rb->qo = p;
		rb->capqo = rb->capqo ? 2 * rb->capqo : 64;
	}
	p = &rb->qo[rb->nqo];
	if ((p->body = malloc(msg->body.len)) == NULL) {
		rb->cx_nomem = 1;
		return;
	}
	memcpy(p->body, msg->body.bytes, msg->body.len);
	p->len = msg->body.len;
	snprintf(p->event, sizeof(p->event), "%s", m->u.o.event);
	p->zone = m->u.o.zone;
	rb->nqo++;
}

/* sold_read_queue() of ticketSQL: notes every cancellation and keeps
 * every order message (the message stays in the queue). */
static enum sold_msg
note_cancel(const amqp_message_t *msg, void *arg)
{
	struct rebuild		*rb = arg;
	struct queued_cancel	*p;
	static struct msg	 m;	/* ticketctl is single-threaded */
	const char		*why;
	size_t			 i;

	if (msg->body.len > MSG_JSON_MAX || msg_parse(msg->body.bytes,
	    msg->body.len, &m, &why) != 0)
		return SOLD_MSG_KEEP;
	if (m.kind == MSG_ORDER)
		note_order(rb, msg, &m);
	if (m.kind != MSG_CANCEL)
		return SOLD_MSG_KEEP;
	for (i = 0; i < m.u.c.n; i++) {
		if (rb->ncx == rb->capcx) {
			p = reallocarray(rb->cx, rb->capcx ? 2 * rb->capcx : 64,
			    sizeof(*p));
			if (p == NULL) {
				rb->cx_nomem = 1;
				return SOLD_MSG_KEEP;
			}
			rb->cx = p;
			rb->capcx = rb->capcx ? 2 * rb->capcx : 64;
		}
		p = &rb->cx[rb->ncx++];
		memcpy(p->id, m.u.c.ids[i], sizeof(p->id));
		snprintf(p->event, sizeof(p->event), "%s", m.u.c.event);
		p->zone = m.u.c.zone;
		snprintf(p->on, sizeof(p->on), "%s", cancel_on(&m.u.c, i));
	}
	return SOLD_MSG_KEEP;
}

static int
cmp_id(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* 1 if Redis records ticket id as cancelled (read_redis_cancels()). */
static int
redis_cancelled(const struct newzone *nz, const char *id)
{
	return nz->nrcx > 0 && strlen(id) <= UUID_LEN &&
	    bsearch(id, nz->rcx, nz->nrcx, sizeof(nz->rcx[0]), cmp_id) != NULL;
}

/* HMGET ords c:<id> of ids[0..n-1]: those recorded go into nz->rcx.
 * Returns 0 or -1. */
static int
hmget_cancels(struct rds *r, unsigned node, const char *ords,
    const char *const *ids, size_t n, struct newzone *nz)
{
	static char	 field[HSET_PAIRS_MAX][UUID_LEN + 3];
	const char	*argv[2 + HSET_PAIRS_MAX];
	redisReply	*rep;
	size_t		 i;
	void		*p;

	argv[0] = "HMGET";
	argv[1] = ords;
	for (i = 0; i < n; i++) {
		snprintf(field[i], sizeof(field[i]), "c:%s", ids[i]);
		argv[2 + i] = field[i];
	}
	if ((rep = rds_argv(r, node, (int)(2 + n), argv, NULL)) == NULL)
		return -1;
	for (i = 0; rep->type == REDIS_REPLY_ARRAY && i < rep->elements &&
	    i < n; i++) {
		if (rep->element[i]->type != REDIS_REPLY_STRING)
			continue;
		if (nz->nrcx == nz->caprcx) {
			p = reallocarray(nz->rcx, nz->caprcx ? 2 * nz->caprcx :
			    64, sizeof(nz->rcx[0]));
			if (p == NULL) {
				freeReplyObject(rep);
				snprintf(r->errstr, sizeof(r->errstr),
				    "out of memory");
				return -1;
			}
			nz->rcx = p;
			nz->caprcx = nz->caprcx ? 2 * nz->caprcx : 64;
		}
		snprintf(nz->rcx[nz->nrcx++], UUID_LEN + 1, "%s", ids[i]);
	}
	freeReplyObject(rep);
	return 0;
}

/* Which tickets of the zone that MySQL and the queues hold Redis records
 * as cancelled (lua/cancel.lua's c:<ticketId> in bo:ords), read in the
 * zone's watched transaction: a cancel that came after MySQL was read
 * freed its seat, and one whose message is still pending (the broker was
 * down) is in no queue.  Returns 0 or -1. */
static int
read_redis_cancels(struct rebuild *rb, const struct zstate *z,
    struct newzone *nz)
{
	const struct soldv *const lists[] = { &rb->mysql, &rb->queued,
	    &rb->dead };
	const char	*ids[HSET_PAIRS_MAX];
	char		 ords[KEY_MAX];
	size_t		 l, first, n, i, k = 0;

	nz->nrcx = 0;
	if (keys_build(KEY_ORDS, z->tag, ords, sizeof(ords)) < 0)
		return -1;
	for (l = 0; l < 3; l++) {
		n = soldv_zone(lists[l], nz->cz->event, nz->cz->zone, &first);
		for (i = first; i < first + n; i++) {
			ids[k++] = lists[l]->v[i].id;
			if (k == HSET_PAIRS_MAX) {
				if (hmget_cancels(&rb->ctl->rds, z->node, ords,
				    ids, k, nz) != 0)
					return -1;
				k = 0;
			}
		}
	}
	if (k > 0 && hmget_cancels(&rb->ctl->rds, z->node, ords, ids, k,
	    nz) != 0)
		return -1;
	if (nz->nrcx > 1)
		qsort(nz->rcx, nz->nrcx, sizeof(nz->rcx[0]), cmp_id);
	return 0;
}

#define OWNERS_PER_QUERY	500

/* The id of entry i of a list mysql_cancelled() asks about, or NULL to
 * leave it out. */
typedef const char *(*id_at_fn)(const void *list, size_t i);

/* Marks in gone (one byte per entry of a list of n) the entries whose
 * ticket MySQL has cancelled: CANCELLED (live_seat NULL), or its
 * cancellation logged in ticket_cancel while the ticket is not there yet
 * (the consumer stored a cancel before its order, which is still queued or
 * dead-lettered: docs/consumer.md).  Asks about OWNERS_PER_QUERY of them
 * at a time.  Returns 0 or -1 (d's errstr). */
static int
mysql_cancelled(struct db *d, const void *list, size_t n, id_at_fn id_at,
    unsigned char *gone)
{
	/* "'<id>'" per id, a comma between two, and the NUL */
	char		 ids[OWNERS_PER_QUERY * (UUID_LEN + 3)];
	char		 sql[2 * sizeof(ids) + 160];
	const char	*id;
	MYSQL		*my;
	MYSQL_RES	*res;
	MYSQL_ROW	 row;
	size_t		 i, k, from, off, q;

	for (from = 0; from < n; from = i) {
		off = 0;
		for (i = from, q = 0; i < n && q < OWNERS_PER_QUERY; i++) {
			if ((id = id_at(list, i)) == NULL || !valid_uuid(id))
				continue;
			if (q++ > 0)
				ids[off++] = ',';
			ids[off++] = '\'';
			memcpy(ids + off, id, UUID_LEN);
			off += UUID_LEN;
			ids[off++] = '\'';
		}
		if (q == 0)
			continue;
		ids[off] = '\0';
		if (fmt_trunc(sql, sizeof(sql), "SELECT ticket_id FROM ticket "
		    "WHERE live_seat IS NULL AND ticket_id IN (%s) UNION "
		    "SELECT ticket_id FROM ticket_cancel WHERE ticket_id IN "
		    "(%s)", ids, ids) != 0) {
			err_set(&d->err, d->errstr, ERR_OTHER, "cancelled "
			    "tickets: query too long");
			return -1;
		}
		if ((my = db_conn(d)) == NULL)
			return -1;
		if (mysql_query(my, sql) != 0 ||
		    (res = mysql_store_result(my)) == NULL)
			return db_fail(d, "cancelled tickets");
		while ((row = mysql_fetch_row(res)) != NULL)
			for (k = from; row[0] != NULL && k < i; k++)
				if ((id = id_at(list, k)) != NULL &&
				    strcmp(id, row[0]) == 0)
					gone[k] = 1;
		mysql_free_result(res);
	}
	return 0;
}

/* Marks one sold seat; the first source to claim a seat owns it.  A ticket
 * whose cancellation is queued, or recorded in Redis, holds none: the
 * cancel freed its seat (the consumer will mark it CANCELLED). */
static void
take(struct rebuild *rb, struct newzone *nz, enum rebuild_src src,
    const struct sold *s)
{
	const struct catalog_zone *cz = nz->cz;
	long bit;

	if (queued_cancel(rb, s->id) != NULL) {
		nz->cancelled++;
		return;
	}
	if (redis_cancelled(nz, s->id)) {
		nz->rcancelled++;
		return;
	}

	if (s->row < 1 || s->row > cz->rows || s->col < 1 || s->col > cz->cols) {
		rb->outside++;
		ctl_err("%s zone %ld: ticket %s is for row %ld column %ld, "
		    "outside the zone; ignored", cz->event, cz->zone, s->id,
		    s->row, s->col);
		return;
	}
	bit = keys_seat_bit(s->row, s->col, cz->cols);
	if (nz->owner[bit] != NULL) {
		if (strcmp(nz->owner[bit], s->id) != 0 && src == REBUILD_DEAD)
			printf("%s zone %ld row %ld column %ld: ticket %s is "
			    "dead-lettered, the seat belongs to %s (ticketctl "
			    "dlq)\n", cz->event, cz->zone, s->row, s->col, s->id,
			    nz->owner[bit]);
		else if (strcmp(nz->owner[bit], s->id) != 0) {
			rb->conflicts++;
			ctl_err("%s zone %ld row %ld column %ld: ticket %s %s, "
			    "but the seat belongs to %s (kept)", cz->event,
			    cz->zone, s->row, s->col, s->id,
			    src == REBUILD_QUEUE ?
			    "is queued (the consumer will dead-letter it)" :
			    "is pending", nz->owner[bit]);
		}
		return;
	}
	nz->owner[bit] = s->id;
	nz->json[bit] = s->json;
	zone_bit_set(nz->bits, bit);
	nz->from[src]++;
}

static const char *
sold_id_at(const void *list, size_t i)
{
	return ((const struct sold *)list)[i].id;
}

/* The seats of v's tickets of the zone.  Of a queue, a dead-letter queue
 * or a pending set, not a ticket MySQL has CANCELLED: CANCELLED is final
 * (the consumer stored the cancel; the message is a copy another pipeline
 * gave up on, or a redelivery), and the seat taken would be the cancelled
 * ticket's for good (a repeated cancel finds the c: record the orders'
 * rebuild writes, and frees nothing).  Returns 0, or -1 (printed). */
static int
take_all(struct rebuild *rb, struct newzone *nz, enum rebuild_src src,
    const struct soldv *v)
{
	unsigned char	*gone = NULL;
	size_t		 first, n, i;

	n = soldv_zone(v, nz->cz->event, nz->cz->zone, &first);
	if (src != REBUILD_MYSQL && n > 0) {
		if ((gone = calloc(n, 1)) == NULL) {
			ctl_err("out of memory");
			return -1;
		}
		if (mysql_cancelled(rb->d, v->v + first, n, sold_id_at,
		    gone) != 0) {
			ctl_err("%s zone %ld: mysql: %s", nz->cz->event,
			    nz->cz->zone, rb->d->errstr);
			free(gone);
			return -1;
		}
	}
	for (i = 0; i < n; i++)
		if (gone != NULL && gone[i])
			nz->qcancelled++;
		else
			take(rb, nz, src, &v->v[first + i]);
	free(gone);
	return 0;
}

/* What mysql_cancelled() asks about the owners Redis holds: those no
 * other source gave a seat. */
struct owners {
	const struct newzone	*nz;
	const struct zstate	*z;
};

static const char *
owner_id_at(const void *list, size_t i)
{
	const struct owners	*o = list;
	long			 bit = o->z->own[i].bit;

	if (bit < 0 || bit >= o->nz->nbits || o->nz->owner[bit] != NULL)
		return NULL;
	return o->z->own[i].id;
}

/*
 * Seats Redis still holds: owners, then bits without an owner.  Not the
 * seat of an owner MySQL has CANCELLED: the consumer stored its cancel,
 * and Redis came back from an AOF that lost the cancel's last second (the
 * owner back, its c: record gone).  CANCELLED is final; kept, the seat
 * would stay the cancelled ticket's for good (a repeated cancel finds the
 * c: record the orders' rebuild writes, and frees nothing).  Returns 0,
 * or -1 (printed).
 */
static int
take_redis(struct rebuild *rb, struct newzone *nz, const struct zstate *z)
{
	struct owners	 o;
	unsigned char	*gone, *skip;
	size_t		 i;
	long		 bit;

	o.nz = nz;
	o.z = z;
	gone = calloc(z->nown + 1, 1);
	skip = calloc(nz->nbytes + 1, 1);
	if (gone == NULL || skip == NULL) {
		free(gone);
		free(skip);
		ctl_err("out of memory");
		return -1;
	}
	if (mysql_cancelled(rb->d, &o, z->nown, owner_id_at, gone) != 0) {
		ctl_err("%s zone %ld: mysql: %s", nz->cz->event, nz->cz->zone,
		    rb->d->errstr);
		free(gone);
		free(skip);
		return -1;
	}
	for (i = 0; i < z->nown; i++) {
		bit = z->own[i].bit;
		if (bit < 0 || bit >= nz->nbits || nz->owner[bit] != NULL)
			continue;
		if (gone[i]) {
			zone_bit_set(skip, bit);
			nz->mcancelled++;
			continue;
		}
		nz->owner[bit] = z->own[i].id;
		zone_bit_set(nz->bits, bit);
		nz->from[REBUILD_REDIS]++;
	}
	for (bit = 0; bit < nz->nbits; bit++)
		if (zone_bit(z->bits, z->nbytes, bit) &&
		    !zone_bit(nz->bits, nz->nbytes, bit) &&
		    !zone_bit(skip, nz->nbytes, bit)) {
			zone_bit_set(nz->bits, bit);
			nz->from[REBUILD_REDIS]++;
		}
	free(gone);
	free(skip);
	return 0;
}

/* HSET key f1 v1 f2 v2 ... in chunks; fields and values as text. */
static int
hset_chunks(struct rds *r, unsigned node, const char *key, long npairs,
    const char *const *fields, const char *const *values)
{
	const char	**argv;
	long		  i, k;
	int		  argc, ret = 0;

	if ((argv = calloc(2 + 2 * HSET_PAIRS_MAX, sizeof(*argv))) == NULL)
		return -1;
	for (i = 0; i < npairs && ret == 0; i += HSET_PAIRS_MAX) {
		argv[0] = "HSET";
		argv[1] = key;
		argc = 2;
		for (k = i; k < npairs && k < i + HSET_PAIRS_MAX; k++) {
			argv[argc++] = fields[k];
			argv[argc++] = values[k];
		}
		ret = rds_do(r, node, argc, argv, NULL);
	}
	free(argv);
	return ret;
}

/* Counters hash: z, then r1..rN, from the new bitmap. */
static int
write_counters(struct rds *r, unsigned node, const char *key,
    const struct newzone *nz)
{
	const struct catalog_zone *cz = nz->cz;
	const char	**f = NULL, **v = NULL;
	char		 (*text)[2][24] = NULL;
	long		 row, col, left, taken = 0;
	int		 ret = -1;

	if ((f = calloc((size_t)cz->rows + 1, sizeof(*f))) == NULL ||
	    (v = calloc((size_t)cz->rows + 1, sizeof(*v))) == NULL ||
	    (text = calloc((size_t)cz->rows + 1, sizeof(*text))) == NULL)
		goto out;
	for (row = 1; row <= cz->rows; row++) {
		left = cz->cols;
		for (col = 1; col <= cz->cols; col++)
			if (zone_bit(nz->bits, nz->nbytes,
			    keys_seat_bit(row, col, cz->cols)))
				left--;
		taken += cz->cols - left;
		snprintf(text[row][0], sizeof(text[row][0]), "r%ld", row);
		snprintf(text[row][1], sizeof(text[row][1]), "%ld", left);
		f[row] = text[row][0];
		v[row] = text[row][1];
	}
	snprintf(text[0][1], sizeof(text[0][1]), "%ld", nz->nbits - taken);
	f[0] = "z";
	v[0] = text[0][1];
	ret = hset_chunks(r, node, key, cz->rows + 1, f, v);
out:
	free(f);
	free(v);
	free(text);
	return ret;
}

/* Owner tokens: bit -> ticket id. */
static int
write_owners(struct rds *r, unsigned node, const char *key,
    const struct newzone *nz)
{
	const char	**f, **v;
	char		 (*text)[24];
	long		  bit, n = 0;
	int		  ret = -1;

	f = calloc((size_t)nz->nbits, sizeof(*f));
	v = calloc((size_t)nz->nbits, sizeof(*v));
	text = calloc((size_t)nz->nbits, sizeof(*text));
	if (f != NULL && v != NULL && text != NULL) {
		for (bit = 0; bit < nz->nbits; bit++) {
			if (nz->owner[bit] == NULL)
				continue;
			snprintf(text[n], sizeof(text[n]), "%ld", bit);
			f[n] = text[n];
			v[n++] = nz->owner[bit];
		}
		ret = n > 0 ? hset_chunks(r, node, key, n, f, v) : 0;
	}
	free(f);
	free(v);
	free(text);
	return ret;
}

/* Lookup cache of the tickets read from messages (not yet in MySQL). */
static int
write_cache(struct rds *r, unsigned node, const struct newzone *nz, int ttl)
{
	const char	*argv[5];
	char		 key[KEY_MAX], ttlbuf[16];
	long		 bit;

	snprintf(ttlbuf, sizeof(ttlbuf), "%d", ttl);
	for (bit = 0; bit < nz->nbits; bit++) {
		if (nz->json[bit] == NULL ||
		    keys_id(KEY_TKT, node, nz->owner[bit], key,
		    sizeof(key)) < 0)
			continue;
		argv[0] = "SET";
		argv[1] = key;
		argv[2] = nz->json[bit];
		argv[3] = "EX";
		argv[4] = ttlbuf;
		if (rds_do(r, node, 5, argv, NULL) != 0)
			return -1;
	}
	return 0;
}

/* Catalog hash (its sale state too: a zone whose hash was lost would
 * otherwise sell for a cancelled event or outside its window), then the
 * old state deleted and the new seat bitmap, all queued in the open
 * transaction (the zone set bo:zones, in another slot, is written after
 * it). */
static int
write_catalog_and_seats(struct rds *r, const struct zstate *z,
    const struct newzone *nz, char (*k)[KEY_MAX])
{
	const struct catalog_zone *cz = nz->cz;
	struct zone_sale sale;
	char		 rows[24], cols[24];
	const char	*hset[16] = { "HSET", k[KEY_ZONE], "venue", cz->venue,
			    "rows", rows, "cols", cols, "price", cz->price };
	const char	*hdel[5] = { "HDEL", k[KEY_ZONE] };
	const char	*name[] = { "status", "opens", "closes" }, *value[3];
	const char	*del[] = { "DEL", k[KEY_LEFT], k[KEY_SEAT], k[KEY_OWN] };
	const char	*set[] = { "SET", k[KEY_SEAT], (const char *)nz->bits };
	size_t		 setlen[] = { 3, strlen(k[KEY_SEAT]), nz->nbytes };
	int		 nhset = 10, nhdel = 2, i;

	snprintf(rows, sizeof(rows), "%ld", cz->rows);
	snprintf(cols, sizeof(cols), "%ld", cz->cols);
	zone_sale_of(cz, &sale);
	value[0] = sale.status;
	value[1] = sale.opens;
	value[2] = sale.closes;
	for (i = 0; i < 3; i++)
		if (value[i][0] != '\0') {
			hset[nhset++] = name[i];
			hset[nhset++] = value[i];
		} else
			hdel[nhdel++] = name[i];
	return rds_do(r, z->node, nhset, hset, NULL) != 0 ||
	    (nhdel > 2 && rds_do(r, z->node, nhdel, hdel, NULL) != 0) ||
	    rds_do(r, z->node, 4, del, NULL) != 0 ||
	    rds_do(r, z->node, 3, set, setlen) != 0 ? -1 : 0;
}

/* What Redis needs of the zone's orders still queued in ticketSQL, after
 * those of MySQL (each write only where missing): a ticket of one is
 * cancelled (404 before), a keyed retry answers it (a second sale
 * before), a confirm again answers it.  Returns 0 or -1. */
static int
write_queued_orders(struct rebuild *rb, unsigned node, struct newzone *nz)
{
	static struct msg	 m;	/* ticketctl is single-threaded */
	const char		*why;
	size_t			 i;

	memset(&nz->putq, 0, sizeof(nz->putq));
	for (i = 0; i < rb->nqo; i++) {
		if (rb->qo[i].zone != nz->cz->zone ||
		    strcmp(rb->qo[i].event, nz->cz->event) != 0 ||
		    msg_parse(rb->qo[i].body, rb->qo[i].len, &m, &why) != 0 ||
		    m.kind != MSG_ORDER)
			continue;
		if (rebuild_queued_order(&rb->ctl->rds, node, &m.u.o,
		    rb->qo[i].body, rb->qo[i].len, &nz->putq) != 0)
			return -1;
	}
	return 0;
}

/* Whether ticket id owns a seat of the new state. */
static int
owns_seat(const struct newzone *nz, const char *id)
{
	long bit;

	for (bit = 0; bit < nz->nbits; bit++)
		if (nz->owner[bit] != NULL && strcmp(nz->owner[bit], id) == 0)
			return 1;
	return 0;
}

/* The queued cancellations of the zone as lua/cancel.lua records them
 * (c:<ticketId> in bo:ords, where absent): the consumer then knows the
 * seat's next sale for what it is, and a repeated cancel answers the
 * same.  Not for a ticket Redis still gives its seat (an AOF that lost
 * the cancel, rebuild --all keeps the seat): its record would stop a
 * repeated cancel from freeing that seat. */
static int
write_cancels(struct rebuild *rb, unsigned node,
    const struct newzone *nz, const char *ords)
{
	const struct catalog_zone *cz = nz->cz;
	char		 field[UUID_LEN + 3];
	const char	*argv[] = { "HSETNX", ords, field, NULL };
	size_t		 i;

	for (i = 0; i < rb->ncx; i++) {
		if (rb->cx[i].zone != cz->zone || strcmp(rb->cx[i].event,
		    cz->event) != 0 || owns_seat(nz, rb->cx[i].id))
			continue;
		snprintf(field, sizeof(field), "c:%s", rb->cx[i].id);
		argv[3] = rb->cx[i].on;
		if (rds_do(&rb->ctl->rds, node, 4, argv, NULL) != 0)
			return -1;
	}
	return 0;
}

/* Writes the new state in one MULTI/EXEC (the zone's keys are watched).
 * Returns 0, 1 if the transaction was aborted (the zone changed since it
 * was read), or -1. */
static int
write_zone(struct rebuild *rb, const struct zstate *z, struct newzone *nz)
{
	struct ctl	*ctl = rb->ctl;
	struct rds	*r = &ctl->rds;
	char		 k[KEY__MAX][KEY_MAX];
	redisReply	*rep;
	size_t		 i;
	int		 kind, ret;

	for (kind = 0; kind < KEY__MAX; kind++)
		if (keys_build(kind, z->tag, k[kind], KEY_MAX) < 0)
			return -1;
	rb->d->errstr[0] = '\0';
	if ((rep = rds_cmd(r, z->node, "MULTI")) == NULL)
		return -1;
	freeReplyObject(rep);
	if (write_catalog_and_seats(r, z, nz, k) != 0 ||
	    write_owners(r, z->node, k[KEY_OWN], nz) != 0 ||
	    write_counters(r, z->node, k[KEY_LEFT], nz) != 0 ||
	    write_cache(r, z->node, nz, ctl->c.ticket_cache_ttl) != 0 ||
	    rebuild_orders(r, z->node, rb->d, nz->cz->event, nz->cz->zone,
	    &nz->put) != 0 ||
	    write_queued_orders(rb, z->node, nz) != 0 ||
	    write_cancels(rb, z->node, nz, k[KEY_ORDS]) != 0) {
		if (rb->d->errstr[0] != '\0')
			snprintf(r->errstr, sizeof(r->errstr), "%s",
			    rb->d->errstr);
		/* the connection may be gone (Redis then dropped the
		 * transaction itself) */
		if ((rep = rds_cmd(r, z->node, "DISCARD")) != NULL)
			freeReplyObject(rep);
		return -1;
	}
	if ((rep = rds_cmd(r, z->node, "EXEC")) == NULL)
		return -1;
	ret = rep->type == REDIS_REPLY_ARRAY ? 0 :
	    rep->type == REDIS_REPLY_NIL ? 1 : -1;
	for (i = 0; ret == 0 && i < rep->elements; i++)
		if (rep->element[i]->type == REDIS_REPLY_ERROR) {
			snprintf(r->errstr, sizeof(r->errstr), "EXEC: %s",
			    rep->element[i]->str);
			ret = -1;
		}
	freeReplyObject(rep);
	if (ret == 0) {
		if ((rep = rds_cmd(r, rcl_slot(KEY_ZONES, strlen(KEY_ZONES)),
		    "SADD %s %s", KEY_ZONES, z->tag)) == NULL)
			return -1;
		freeReplyObject(rep);
	}
	return ret;
}

/* WATCHes every key of the zone on its node; returns 0 or -1. */
static int
watch_zone(struct rds *r, const struct catalog_zone *cz)
{
	char		 tag[TAG_MAX], k[KEY__MAX][KEY_MAX];
	const char	*argv[1 + KEY__MAX];
	redisReply	*rep;
	int		 kind;

	if (keys_tag(cz->event, cz->zone, tag, sizeof(tag)) < 0)
		return -1;
	argv[0] = "WATCH";
	for (kind = 0; kind < KEY__MAX; kind++) {
		if (keys_build(kind, tag, k[kind], KEY_MAX) < 0)
			return -1;
		argv[kind + 1] = k[kind];
	}
	if ((rep = rds_argv(r, keys_slot(tag), 1 + KEY__MAX, argv,
	    NULL)) == NULL)
		return -1;
	freeReplyObject(rep);
	return 0;
}

/* Reads the zone (watched), computes its new state and writes it.
 * Returns 0 written, 1 kept (counters present, no --all), 2 aborted (the
 * zone changed meanwhile), -1 failed (printed). */
static int
rebuild_once(struct rebuild *rb, const struct catalog_zone *cz,
    struct newzone *nz)
{
	struct rds	*r = &rb->ctl->rds;
	struct zstate	 z;
	redisReply	*rep;
	int		 ret = -1, w;

	memset(&z, 0, sizeof(z));
	if (watch_zone(r, cz) != 0) {
		ctl_err("%s zone %ld: redis: %s", cz->event, cz->zone,
		    r->errstr);
		return -1;
	}
	if (zstate_read(r, cz, &z) != 0) {
		ctl_err("%s zone %ld: %s", cz->event, cz->zone, r->errstr);
		if ((rep = rds_cmd(r, keys_slot(z.tag), "UNWATCH")) != NULL)
			freeReplyObject(rep);
		zstate_free(&z);
		return -1;
	}
	if (z.has_left && !rb->all) {
		if ((rep = rds_cmd(r, z.node, "UNWATCH")) != NULL)
			freeReplyObject(rep);
		zstate_free(&z);
		return 1;
	}
	memset(nz->bits, 0, nz->nbytes);
	memset(nz->owner, 0, (size_t)nz->nbits * sizeof(*nz->owner));
	memset(nz->json, 0, (size_t)nz->nbits * sizeof(*nz->json));
	memset(nz->from, 0, sizeof(nz->from));
	nz->cancelled = nz->rcancelled = nz->mcancelled = nz->qcancelled = 0;
	if (read_redis_cancels(rb, &z, nz) != 0) {
		ctl_err("%s zone %ld: redis: %s", cz->event, cz->zone,
		    r->errstr);
		if ((rep = rds_cmd(r, z.node, "UNWATCH")) != NULL)
			freeReplyObject(rep);
		zstate_free(&z);
		return -1;
	}
	if (take_all(rb, nz, REBUILD_MYSQL, &rb->mysql) != 0 ||
	    take_all(rb, nz, REBUILD_QUEUE, &rb->queued) != 0 ||
	    take_all(rb, nz, REBUILD_DEAD, &rb->dead) != 0 ||
	    take_all(rb, nz, REBUILD_PENDING, &z.pending) != 0 ||
	    take_redis(rb, nz, &z) != 0) {
		if ((rep = rds_cmd(r, z.node, "UNWATCH")) != NULL)
			freeReplyObject(rep);
		zstate_free(&z);
		return -1;
	}
	if ((w = write_zone(rb, &z, nz)) < 0)
		ctl_err("%s zone %ld: redis: %s", cz->event, cz->zone,
		    r->errstr);
	else
		ret = w == 0 ? 0 : 2;
	zstate_free(&z);
	return ret;
}

static int
rebuild_zone(struct rebuild *rb, const struct catalog_zone *cz)
{
	struct newzone	nz;
	long		taken, conflicts = rb->conflicts, outside = rb->outside;
	int		tries, k, r = -1;

	memset(&nz, 0, sizeof(nz));
	nz.cz = cz;
	nz.nbits = cz->rows * cz->cols;
	nz.nbytes = ((size_t)nz.nbits + 7) / 8;
	nz.bits = calloc(nz.nbytes, 1);
	nz.owner = calloc((size_t)nz.nbits, sizeof(*nz.owner));
	nz.json = calloc((size_t)nz.nbits, sizeof(*nz.json));
	if (nz.bits == NULL || nz.owner == NULL || nz.json == NULL) {
		ctl_err("out of memory");
		goto out;
	}
	for (tries = 1; tries <= ZONE_TRIES_MAX; tries++) {
		/* what a try found is reported by the try that writes */
		rb->conflicts = conflicts;
		rb->outside = outside;
		if ((r = rebuild_once(rb, cz, &nz)) != 2)
			break;
		if (tries > 10)
			usleep(1000 * (useconds_t)(tries < 50 ? tries : 50));
	}
	if (r == 2) {
		ctl_err("%s zone %ld: changed under every one of %d reads (it "
		    "is selling fast): not rebuilt; stop its sales and run "
		    "rebuild again", cz->event, cz->zone, ZONE_TRIES_MAX);
		r = -1;
	}
	if (r == 1)
		rb->kept++;
	if (r != 0)
		goto out;
	for (taken = 0, k = 0; k < REBUILD__MAX; k++)
		taken += nz.from[k];
	printf("%s zone %ld: rebuilt: %ld seats, %ld sold (%ld in MySQL, %ld "
	    "queued, %ld dead-lettered, %ld pending, %ld only in Redis), %ld "
	    "left%s\n", cz->event, cz->zone, nz.nbits, taken,
	    nz.from[REBUILD_MYSQL], nz.from[REBUILD_QUEUE],
	    nz.from[REBUILD_DEAD], nz.from[REBUILD_PENDING],
	    nz.from[REBUILD_REDIS], nz.nbits - taken,
	    tries > 1 ? " (read again: it changed meanwhile)" : "");
	if (nz.cancelled > 0)
		printf("%s zone %ld: %ld ticket(s) whose cancellation is queued "
		    "in %s: their seats left free\n", cz->event, cz->zone,
		    nz.cancelled, MQ_QUEUE_SQL);
	if (nz.rcancelled > 0)
		printf("%s zone %ld: %ld ticket(s) cancelled in Redis, not yet "
		    "in MySQL nor %s (the cancel came after MySQL was read, or "
		    "its message is pending): their seats left free\n",
		    cz->event, cz->zone, nz.rcancelled, MQ_QUEUE_SQL);
	if (nz.qcancelled > 0)
		printf("%s zone %ld: %ld ticket(s) of a queue, a dead-letter "
		    "queue or a pending set that MySQL has cancelled: their "
		    "seats left free\n", cz->event, cz->zone, nz.qcancelled);
	if (nz.mcancelled > 0)
		printf("%s zone %ld: %ld seat(s) Redis gave to ticket(s) MySQL "
		    "has cancelled (Redis lost the cancel): left free\n",
		    cz->event, cz->zone, nz.mcancelled);
	if (nz.put.orders > 0)
		printf("%s zone %ld: %ld order(s) of MySQL: messages and index "
		    "for cancellation put back where missing\n", cz->event,
		    cz->zone, nz.put.orders);
	if (nz.putq.orders > 0)
		printf("%s zone %ld: %ld order(s) still queued in %s: messages "
		    "and index put back where missing; %ld Idempotency-Key "
		    "record(s), %ld confirmed hold(s)\n", cz->event, cz->zone,
		    nz.putq.orders, MQ_QUEUE_SQL, nz.putq.keys, nz.putq.holds);
	if (nz.put.keys > 0)
		printf("%s zone %ld: %ld Idempotency-Key record(s) of the last "
		    "24 h put back where missing\n", cz->event, cz->zone,
		    nz.put.keys);
	if (nz.put.holds > 0)
		printf("%s zone %ld: %ld confirmed hold(s) of the last 24 h put "
		    "back where missing\n", cz->event, cz->zone,
		    nz.put.holds);
	rb->rebuilt++;
out:
	free(nz.bits);
	free(nz.owner);
	free(nz.json);
	free(nz.rcx);
	return r < 0 ? -1 : 0;
}

/* Refuses while a consumer is attached (the messages it holds are not
 * visible), then reads ticketSQL and the dead-letter queues, leaving
 * every message in place and no delivery attempt spent. */
static int
read_queues(struct rebuild *rb, struct mq *m, const struct events *ev)
{
	static const char *const dead[] = { MQ_QUEUE_SQL MQ_DEAD_SUFFIX,
	    MQ_QUEUE_NOSQL MQ_DEAD_SUFFIX };
	long	consumers, msgs, other, dmsgs = 0;
	int	more, i;

	if (mq_queue_depth(m, MQ_QUEUE_SQL, &consumers) < 0) {
		ctl_err("%s", m->errstr);
		return -1;
	}
	if (consumers > 0) {
		ctl_err("%ld consumer(s) attached to %s: the messages they hold "
		    "cannot be seen; let the consumer drain the queue, stop it, "
		    "then rebuild", consumers, MQ_QUEUE_SQL);
		return -1;
	}
	if (sold_read_queue(&rb->queued, m, MQ_QUEUE_SQL, ev, QUEUE_PEEK_MAX,
	    &msgs, &other, &more, note_cancel, rb) != 0) {
		ctl_err("%s", m->errstr);
		return -1;
	}
	if (rb->cx_nomem) {
		ctl_err("out of memory");
		return -1;
	}
	if (rb->ncx > 1)
		qsort(rb->cx, rb->ncx, sizeof(*rb->cx), cmp_cancel);
	if (more) {
		ctl_err("%s holds more than %ld messages: let the consumer "
		    "drain it first", MQ_QUEUE_SQL, QUEUE_PEEK_MAX);
		return -1;
	}
	printf("%s: %ld message(s) read and left in the queue, %zu ticket(s) "
	    "of the selected events%s\n", MQ_QUEUE_SQL, msgs, rb->queued.n,
	    other ? " (and some that are not tickets)" : "");
	for (i = 0; i < 2; i++) {
		if (sold_read_queue(&rb->dead, m, dead[i], ev, QUEUE_PEEK_MAX,
		    &msgs, &other, &more, NULL, NULL) != 0) {
			ctl_err("%s", m->errstr);
			return -1;
		}
		if (more) {
			ctl_err("%s holds more than %ld messages", dead[i],
			    QUEUE_PEEK_MAX);
			return -1;
		}
		dmsgs += msgs;
	}
	soldv_sort(&rb->queued);
	soldv_sort(&rb->dead);
	if (dmsgs > 0)
		printf("dead-letter queues: %ld message(s) read and left in "
		    "place, %zu ticket(s) of the selected events (counted as "
		    "sold)\n", dmsgs, rb->dead.n);
	return 0;
}

static int
run_rebuild(struct ctl *ctl, int argc, char **argv)
{
	struct rebuild	 rb;
	struct events	 ev;
	struct catalog	 cat;
	struct db	 d;
	struct mq	 m;
	size_t		 i;
	int		 a, ret = CTL_FAIL;

	memset(&rb, 0, sizeof(rb));
	rb.ctl = ctl;
	rb.d = &d;
	for (a = 1; a < argc && argv[a][0] == '-'; a++) {
		if (strcmp(argv[a], "--all") == 0)
			rb.all = 1;
		else
			return ctl_usage(&cmd_rebuild);
	}
	if (ctl_events(&ev, argc - a, argv + a) != 0)
		return CTL_USAGE;
	ctl_db_open(ctl, &d);
	/* the catalog hashes written are the catalog as read: no change of
	 * it in between (catalog.h) */
	if (catalog_lock(&d) != 0) {
		ctl_err("catalog: %s", d.errstr);
		db_close(&d);
		return CTL_FAIL;
	}
	if (catalog_read(&cat, &d, &ev) != 0) {
		ctl_err("catalog: %s", d.errstr);
		db_close(&d);
		return CTL_FAIL;
	}
	if (cat.n == 0) {
		ctl_err("no such event in the catalog");
		goto done;
	}
	if (ctl_mq_open(ctl, &m, "ticketctl rebuild") != 0)
		goto done;
	/* queue first (its messages then stay put), then MySQL: a ticket
	 * can only move from the queue to MySQL, never back */
	if (read_queues(&rb, &m, &ev) == 0) {
		if (sold_from_mysql(&rb.mysql, &d, &ev) != 0)
			ctl_err("%s", d.errstr);
		else {
			soldv_sort(&rb.mysql);
			ret = CTL_OK;
			for (i = 0; i < cat.n; i++) {
				/* MySQL lost and reconnected: not under the
				 * lock any more (catalog.h) */
				if (catalog_lock_held(&d) != 1) {
					ctl_err("the catalog lock was lost "
					    "(MySQL: %s): the other zones were "
					    "not rebuilt; rebuild again",
					    d.errstr[0] ? d.errstr :
					    "connection lost");
					ret = CTL_FAIL;
					break;
				}
				if (rebuild_zone(&rb, &cat.z[i]) != 0)
					ret = CTL_FAIL;
			}
		}
	}
	mq_close(&m);	/* the messages read go back to the queue */
	printf("rebuild: %zu event zone(s): %ld rebuilt, %ld kept (counters "
	    "present%s), %ld conflict(s)\n", cat.n, rb.rebuilt, rb.kept,
	    rb.all ? "" : "; --all recomputes them", rb.conflicts);
	if (rb.conflicts > 0 || rb.outside > 0)
		ret = CTL_FAIL;
done:
	soldv_free(&rb.mysql);
	soldv_free(&rb.queued);
	soldv_free(&rb.dead);
	free(rb.cx);
	for (i = 0; i < rb.nqo; i++)
		free(rb.qo[i].body);
	free(rb.qo);
	catalog_free(&cat);
	db_close(&d);
	return ret;
}

const struct command cmd_rebuild = {
	"rebuild", run_rebuild, "rebuild [--all] [EVENT...]",
	"recompute Redis seats, counters and owners from what was sold",
	"For after a Redis loss.  For every event zone of the named events\n"
	"(default: all) that has no counters in Redis (--all: every zone, e.g.\n"
	"when Redis came back from an AOF that missed its last second), writes\n"
	"seat bits, owner tokens and counters computed from the tickets in\n"
	"MySQL, the tickets still queued in ticketSQL and those in the\n"
	"dead-letter queues (read without spending delivery attempts: each is\n"
	"copied back to its queue before it is acked) and the pending or\n"
	"claimed tickets Redis still holds.  Seats Redis still marks as sold\n"
	"stay sold, but for tickets MySQL has cancelled.  The zone's catalog\n"
	"hash gets its sale state (the event's status, the sale window), and\n"
	"the orders of MySQL and of ticketSQL what a cancellation needs\n"
	"(message, id index, recorded cancellations); of the orders of the last\n"
	"24 h, the records of the Idempotency-Keys they were bought with and\n"
	"the holds a confirm made them of, confirmed (each under its hash,\n"
	"where it is not yet).  Each zone is read under WATCH and written in one\n"
	"MULTI/EXEC; if a sale changed it meanwhile, it is read again, so a\n"
	"rebuild under load loses no reservation.\n\n"
	"Run it with sales stopped and the consumer stopped after it drained\n"
	"ticketSQL: rebuild refuses while a consumer is attached, because the\n"
	"messages it holds are invisible (docs/reliability.md, \"After a Redis\n"
	"loss\").  Exit 1 if a store failed or a seat is claimed by two tickets.",
};
