/* SPDX-License-Identifier: ISC */
/*
 * live.c - seat maps and the ticket cache from Redis (see live.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "clock.h"
#include "keys.h"
#include "live.h"
#include "ticket.h"
#include "valid.h"
#include "when.h"

#define SEATMAP_CMDS	5	/* MULTI, HMGET, GET, HGETALL, EXEC */
#define SEATMAP_KEYS	3	/* HMGET zone, GET seat, HGETALL left */
#define SEATMAP_META	"HMGET %s rows cols status opens closes"
#define SEATMAP_COLS_MAX 10000	/* the schema's cap on col_count */
#define SEATMAP_COLLECTS 4	/* key-by-key reads of a migrating zone */
#define LIVE_CACHED_MAX	16384	/* longest cached ticket or order we pass on */

/* The keys of a zone's seat map (keys.h). */
struct seatmap_keys {
	char	zone[KEY_MAX];
	char	seat[KEY_MAX];
	char	left[KEY_MAX];
};

static enum live_res
fail(struct rds *r, unsigned node, const char *what, const char *why,
    enum live_res res)
{
	char where[RCL_HOST_MAX + 8];

	rds_where(r, node, where, sizeof(where));
	err_set(&r->err, r->errstr, ERR_IO, "redis %s: %s: %s", where, what,
	    why);
	return res;
}

/* 1 if a read begun at t0 (mono_ms()) that failed may be sent once more:
 * it failed at once (a kept connection found closed or reset: Redis
 * restarted, a failover; a connect refused), or it went to a replica (the
 * next goes to the master).  Not after it waited out redis_timeout_ms on a
 * master: that server is there and does not answer, and a second try
 * would wait as long again before the answer (a 503, or MySQL's). */
static int
read_again(const struct rds *r, long long t0, int replica)
{
	return replica || mono_ms() - t0 < r->timeout_ms / 2;
}

/* Sends the seat map transaction on keys k to the node rds_read_ctx()
 * picks (*from; *replica 1 if a replica) and reads its replies into
 * rep[].  Returns LIVE_OK (the caller frees rep[]) or LIVE_FAIL (freed). */
static enum live_res
seatmap_read(struct rds *r, unsigned node, const struct seatmap_keys *k,
    redisReply *rep[SEATMAP_CMDS], int *from, int *replica)
{
	redisContext	*c;
	void		*v;
	int		 i, ok = 1;

	if ((c = rds_read_ctx(r, node, from, replica)) == NULL)
		return LIVE_FAIL;
	if (redisAppendCommand(c, "MULTI") != REDIS_OK ||
	    redisAppendCommand(c, SEATMAP_META, k->zone) != REDIS_OK ||
	    redisAppendCommand(c, "GET %s", k->seat) != REDIS_OK ||
	    redisAppendCommand(c, "HGETALL %s", k->left) != REDIS_OK ||
	    redisAppendCommand(c, "EXEC") != REDIS_OK) {
		fail(r, node, "seat map", c->errstr, LIVE_FAIL);
		rds_read_failed(r, *from);
		return LIVE_FAIL;
	}
	/* read every reply, even after an error, to keep the stream in step */
	for (i = 0; i < SEATMAP_CMDS; i++) {
		rep[i] = NULL;
		if (ok && redisGetReply(c, &v) == REDIS_OK)
			rep[i] = v;
		else
			ok = 0;
	}
	if (!ok) {
		fail(r, node, "seat map", c->errstr, LIVE_FAIL);
		for (i = 0; i < SEATMAP_CMDS; i++)
			if (rep[i] != NULL)
				freeReplyObject(rep[i]);
		rds_read_failed(r, *from);
		return LIVE_FAIL;
	}
	return LIVE_OK;
}

/* The integer in a bulk string reply, or -1. */
static long
reply_long(const redisReply *e)
{
	long v;

	if (e == NULL || e->type != REDIS_REPLY_STRING || e->len > 18 ||
	    valid_digits(e->str, &v) != 0)
		return -1;
	return v;
}

/* Reads the HGETALL of bo:left (zone counter "z", row counters "r<N>")
 * into left[0] (zone) and left[1..rows].  A missing counter reads 0, as
 * the purchase path treats it as sold out too. */
static void
left_counts(const redisReply *h, long rows, long *left)
{
	const redisReply	*f;
	size_t			 i;
	long			 n, v;

	memset(left, 0, sizeof(*left) * ((size_t)rows + 1));
	for (i = 0; i + 1 < h->elements; i += 2) {
		f = h->element[i];
		if (f->type != REDIS_REPLY_STRING || f->len < 1 ||
		    (v = reply_long(h->element[i + 1])) < 0)
			continue;
		if (strcmp(f->str, "z") == 0)
			left[0] = v;
		else if (f->str[0] == 'r' && valid_digits(f->str + 1, &n) == 0 &&
		    n >= 1 && n <= rows)
			left[n] = v;
	}
}

/* "opensAt" (or null) and "onSale" now, from the zone hash's status,
 * opens and closes (lua/load_zone.lua); the reservation script decides on
 * the Redis clock, this is the responder's view of it. */
static void
sale_fields(const redisReply *meta, struct jout *j)
{
	char		 when[WHEN_LEN + 1];
	long long	 now = wall_ms(), opens = -1, closes = -1;
	int		 cancelled;

	cancelled = meta->element[2]->type == REDIS_REPLY_STRING &&
	    strcmp(meta->element[2]->str, "CANCELLED") == 0;
	if (meta->element[3]->type == REDIS_REPLY_STRING)
		opens = strtoll(meta->element[3]->str, NULL, 10);
	if (meta->element[4]->type == REDIS_REPLY_STRING)
		closes = strtoll(meta->element[4]->str, NULL, 10);
	if (opens >= 0) {
		when_format(opens, when);
		jout_str(j, "opensAt", when);
	} else
		jout_null(j, "opensAt");
	jout_bool(j, "onSale", !cancelled && now >= opens &&
	    (closes < 0 || now < closes));
}

/* Writes the map from the replies of {HMGET, GET, HGETALL} (x[]: the
 * EXEC's elements, or one read each). */
static enum live_res
seatmap_json(struct rds *r, unsigned node, const char *event, long zone,
    redisReply *const x[SEATMAP_KEYS], struct jout *j)
{
	const redisReply *meta = x[0], *bits = x[1], *left = x[2];
	char		 *seats;
	long		 *left_n, rows, cols, row, col, bit;
	unsigned char	  byte;

	if (meta->type != REDIS_REPLY_ARRAY || meta->elements != 5 ||
	    left->type != REDIS_REPLY_ARRAY)
		return fail(r, node, "seat map", "unexpected reply",
		    LIVE_BAD_DATA);
	if (meta->element[0]->type == REDIS_REPLY_NIL)
		return LIVE_NOT_FOUND;
	/* fenced: seats sold in what the node lost show free, and there
	 * are no counters to show (lua/order.lua answers code 6) */
	if (left->elements == 0)
		return LIVE_REBUILDING;
	if ((rows = reply_long(meta->element[0])) < 1 ||
	    (cols = reply_long(meta->element[1])) < 1 ||
	    cols > SEATMAP_COLS_MAX || rows > SEATMAP_COLS_MAX ||
	    (bits->type != REDIS_REPLY_STRING && bits->type != REDIS_REPLY_NIL))
		return fail(r, node, "seat map", "bad zone shape",
		    LIVE_BAD_DATA);
	seats = malloc((size_t)cols + 1);
	left_n = calloc((size_t)rows + 1, sizeof(*left_n));
	if (seats == NULL || left_n == NULL) {
		free(seats);
		free(left_n);
		return fail(r, node, "seat map", "out of memory", LIVE_FAIL);
	}
	left_counts(left, rows, left_n);
	jout_obj_open(j, NULL);
	jout_str(j, "eventId", event);
	jout_int(j, "zoneId", zone);
	jout_int(j, "rowCount", rows);
	jout_int(j, "colCount", cols);
	jout_int(j, "remaining", left_n[0]);
	sale_fields(meta, j);
	jout_arr_open(j, "rows");
	for (row = 1; row <= rows && jout_error(j) == JOUT_OK; row++) {
		for (col = 1; col <= cols; col++) {
			bit = keys_seat_bit(row, col, cols);
			byte = bits->type == REDIS_REPLY_STRING &&
			    (size_t)(bit >> 3) < bits->len ?
			    (unsigned char)bits->str[bit >> 3] : 0;
			seats[col - 1] = byte & (0x80 >> (bit & 7)) ? '1' : '0';
		}
		seats[cols] = '\0';
		jout_obj_open(j, NULL);
		jout_int(j, "row", row);
		jout_int(j, "remaining", left_n[row]);
		jout_str(j, "seats", seats);
		jout_obj_close(j);
	}
	jout_arr_close(j);
	jout_obj_close(j);
	free(seats);
	free(left_n);
	return LIVE_OK;
}

/*
 * 1 if the map's replies x[] (HMGET zone, GET seat, HGETALL left) show a
 * whole zone: its catalog hash, its counters, and as many seats free as
 * the zone counter says (the seat bits and the counters change together
 * in every script: ticketctl check's rule).  A replica does not know that
 * its master's slot is being migrated: the keys already moved are missing
 * there, and the zone looks unknown, or fenced, or its seats free.  Replies
 * of an unexpected type count as whole (seatmap_json() refuses them).
 */
static int
seatmap_whole(redisReply *const x[SEATMAP_KEYS])
{
	const redisReply *meta = x[0], *bits = x[1], *left = x[2], *f;
	long		  rows, cols, z = -1, taken = 0;
	size_t		  i;

	if (meta->type != REDIS_REPLY_ARRAY || meta->elements != 5 ||
	    left->type != REDIS_REPLY_ARRAY)
		return 1;
	if (meta->element[0]->type == REDIS_REPLY_NIL || left->elements == 0)
		return 0;
	if ((rows = reply_long(meta->element[0])) < 1 ||
	    (cols = reply_long(meta->element[1])) < 1)
		return 1;
	for (i = 0; i + 1 < left->elements; i += 2) {
		f = left->element[i];
		if (f->type == REDIS_REPLY_STRING && strcmp(f->str, "z") == 0)
			z = reply_long(left->element[i + 1]);
	}
	if (bits->type == REDIS_REPLY_STRING)
		for (i = 0; i < bits->len; i++)
			taken += __builtin_popcount((unsigned char)bits->str[i]);
	return z == rows * cols - taken;
}

/* 1 if the transaction's replies say its slot is being migrated: a
 * queued command or the EXEC answered ASK (a key is on the importing node
 * already, or nowhere) or TRYAGAIN (the keys are split between the two
 * nodes, or one is missing).  Else 0. */
static int
seatmap_migrating(redisReply *const rep[SEATMAP_CMDS])
{
	enum rcl_redirect	 k;
	char			 host[RCL_HOST_MAX];
	int			 i, slot, port;

	for (i = 1; i < SEATMAP_CMDS; i++) {
		if (rep[i]->type != REDIS_REPLY_ERROR)
			continue;
		k = rcl_parse_redirect(rep[i]->str, &slot, host, sizeof(host),
		    &port);
		if (k == RCL_REDIR_ASK || k == RCL_REDIR_TRYAGAIN)
			return 1;
	}
	return 0;
}

/* Reads the map's keys k one command each on the master of node's slot
 * (rds_cmd(): ASK and MOVED followed) into x[].  Returns LIVE_OK (the
 * caller frees x[]) or LIVE_FAIL (errstr set, freed). */
static enum live_res
seatmap_one_by_one(struct rds *r, unsigned node,
    const struct seatmap_keys *k, redisReply *x[SEATMAP_KEYS])
{
	int i;

	x[1] = x[2] = NULL;
	if ((x[0] = rds_cmd(r, node, SEATMAP_META, k->zone)) != NULL &&
	    (x[1] = rds_cmd(r, node, "GET %s", k->seat)) != NULL &&
	    (x[2] = rds_cmd(r, node, "HGETALL %s", k->left)) != NULL)
		return LIVE_OK;
	for (i = 0; i < SEATMAP_KEYS; i++)
		if (x[i] != NULL)
			freeReplyObject(x[i]);
	return LIVE_FAIL;
}

/* 1 if replies a and b are the same: type, value and elements. */
static int
reply_same(const redisReply *a, const redisReply *b)
{
	size_t i;

	if (a->type != b->type)
		return 0;
	switch (a->type) {
	case REDIS_REPLY_INTEGER:
		return a->integer == b->integer;
	case REDIS_REPLY_ARRAY:
		if (a->elements != b->elements)
			return 0;
		for (i = 0; i < a->elements; i++)
			if (!reply_same(a->element[i], b->element[i]))
				return 0;
		return 1;
	case REDIS_REPLY_NIL:
		return 1;
	default:
		return a->len == b->len && memcmp(a->str, b->str, a->len) == 0;
	}
}

/*
 * The map of a zone whose slot is being migrated (CONTRACT §8: the client
 * follows ASK).  No node runs its transaction once one of the keys has
 * moved or while one does not exist (Redis refuses a multi-key command on
 * a migrating or importing slot unless the node has every key), so the
 * keys are read one command each, each where it is now.  A snapshot still:
 * every script that writes the map names all three keys among its own, so
 * it cannot run either while no node has all three; but the migration may
 * end between two reads (or the last key arrive) and a sale follow, so the
 * keys are read again until two reads in a row agree (a change that
 * undoes itself between them would take three writes in those
 * milliseconds), at most SEATMAP_COLLECTS reads.  Returns as
 * live_seatmap().
 */
static enum live_res
seatmap_moving(struct rds *r, unsigned node, const char *event, long zone,
    const struct seatmap_keys *k, struct jout *j)
{
	redisReply	*a[SEATMAP_KEYS], *b[SEATMAP_KEYS];
	enum live_res	 res = LIVE_FAIL;
	int		 i, n, same = 0;

	if (seatmap_one_by_one(r, node, k, a) != LIVE_OK)
		return LIVE_FAIL;
	for (n = 1; n < SEATMAP_COLLECTS && !same; n++) {
		if (seatmap_one_by_one(r, node, k, b) != LIVE_OK)
			break;
		for (same = 1, i = 0; i < SEATMAP_KEYS; i++) {
			same = same && reply_same(a[i], b[i]);
			freeReplyObject(a[i]);
			a[i] = b[i];
		}
	}
	if (same)
		res = seatmap_json(r, node, event, zone, a, j);
	else if (n == SEATMAP_COLLECTS)
		fail(r, node, "seat map", "slot in migration, the map changed "
		    "while it was read", LIVE_FAIL);
	for (i = 0; i < SEATMAP_KEYS; i++)
		freeReplyObject(a[i]);
	return res;
}

enum live_res
live_seatmap(struct rds *r, const char *event, long zone, struct jout *j)
{
	struct seatmap_keys	 k;
	redisReply		*rep[SEATMAP_CMDS], *x;
	char			 tag[TAG_MAX];
	unsigned		 node;
	enum live_res		 res = LIVE_FAIL;
	long long		 t0;
	int			 i, attempt, from, replica, moving = 0;

	if (keys_tag(event, zone, tag, sizeof(tag)) < 0 ||
	    keys_build(KEY_ZONE, tag, k.zone, sizeof(k.zone)) < 0 ||
	    keys_build(KEY_SEAT, tag, k.seat, sizeof(k.seat)) < 0 ||
	    keys_build(KEY_LEFT, tag, k.left, sizeof(k.left)) < 0)
		return fail(r, 0, "seat map", "key too long", LIVE_FAIL);
	node = keys_slot(tag);
	/* a kept connection may be stale (Redis restarted, a failover), a
	 * replica may have died or answer MOVED (promoted, slots moved): the
	 * read is safe to send once more, on a fresh connection, the map
	 * asked again (a failed replica is then left for its master); not
	 * after a master's timeout (read_again()) */
	for (attempt = 0; attempt < 2 && res == LIVE_FAIL && !moving;
	    attempt++) {
		t0 = mono_ms();
		if ((res = seatmap_read(r, node, &k, rep, &from, &replica)) !=
		    LIVE_OK) {
			if (!read_again(r, t0, replica))
				break;
			continue;
		}
		x = rep[SEATMAP_CMDS - 1];
		if (seatmap_migrating(rep))
			moving = 1;
		else if (replica && x->type == REDIS_REPLY_ARRAY &&
		    x->elements == 3 && !seatmap_whole(x->element)) {
			/* a key missing on the replica: asked where the keys
			 * are, on the master (one by one, following ASK) */
			res = LIVE_FAIL;
			moving = 1;
		} else if (x->type != REDIS_REPLY_ARRAY || x->elements != 3) {
			res = fail(r, node, "seat map", x->type ==
			    REDIS_REPLY_ERROR ? x->str : "transaction failed",
			    LIVE_FAIL);
			/* a MOVED inside: a new map */
			rds_read_failed(r, from);
		} else
			res = seatmap_json(r, node, event, zone, x->element,
			    j);
		for (i = 0; i < SEATMAP_CMDS; i++)
			freeReplyObject(rep[i]);
	}
	return moving ? seatmap_moving(r, node, event, zone, &k, j) : res;
}

/* 1 if the cached text is a JSON object (of at most LIVE_CACHED_MAX bytes)
 * whose string member key is id and whose "status" is one of those a
 * ticket or an order may have: our own JSON, checked before it is passed
 * on as it is.  Else 0. */
static int
cached_ok(const char *s, size_t len, const char *key, const char *id)
{
	struct json_object	*o, *v;
	const char		*st, *why;
	int			 ok = 0;

	if ((o = ticket_json_object(s, len, LIVE_CACHED_MAX, &why)) == NULL)
		return 0;
	if (json_object_object_get_ex(o, key, &v) &&
	    json_object_is_type(v, json_type_string) &&
	    strcmp(json_object_get_string(v), id) == 0 &&
	    json_object_object_get_ex(o, "status", &v) &&
	    json_object_is_type(v, json_type_string)) {
		st = json_object_get_string(v);
		ok = strcmp(st, "CREATED") == 0 || strcmp(st, "CONFIRMED") ==
		    0 || strcmp(st, "CANCELLED") == 0;
	}
	json_object_put(o);
	return ok;
}

/* GET key (on the slot of its hash tag), once more if a kept connection
 * was stale (read_again(): not after a timeout on a master); a nil from a
 * replica is asked of the master, which may have what the replica does not
 * have yet (a 201's cache entry: CONTRACT §3, "200 right after its 201").
 * Returns the reply (a string or nil) or NULL. */
static redisReply *
get(struct rds *r, const char *key)
{
	redisReply	*rep;
	unsigned	 slot = rcl_slot(key, strlen(key));
	int		 was_open = rds_is_open(r, slot);
	long long	 t0 = mono_ms();

	rep = rds_read_cmd(r, slot, "GET %s", key);
	if (rep == NULL && was_open && !rds_is_open(r, slot) &&
	    read_again(r, t0, r->read_replica))
		rep = rds_read_cmd(r, slot, "GET %s", key);	/* was stale */
	if (rep != NULL && rep->type == REDIS_REPLY_NIL && r->read_replica &&
	    r->mode != RDS_SINGLE) {
		freeReplyObject(rep);
		rep = rds_cmd(r, slot, "GET %s", key);
	}
	return rep;
}

/* GET key: if its value is one that cached_ok() accepts for (field, id),
 * it goes into j.  Returns LIVE_OK, LIVE_NOT_FOUND or LIVE_FAIL. */
static enum live_res
cached_at(struct rds *r, const char *key, const char *field, const char *id,
    struct jout *j)
{
	redisReply	*rep;
	int		 ok;

	if ((rep = get(r, key)) == NULL)
		return LIVE_FAIL;
	ok = rep->type == REDIS_REPLY_STRING &&
	    cached_ok(rep->str, rep->len, field, id);
	if (ok)
		jout_raw(j, NULL, rep->str, rep->len);
	freeReplyObject(rep);
	return ok ? LIVE_OK : LIVE_NOT_FOUND;
}

/* The cache entry prefix+id (bo:tkt:, bo:ord:) of a ticket or order
 * (keys.h): under the slot tag its id carries; for an id made before the
 * slot was in it, under the tag of the zone its untagged index entry
 * bo:oix:<id> names (a cancel rewrote it there), then the untagged entry
 * of that time.  Returns LIVE_OK, LIVE_NOT_FOUND or LIVE_FAIL. */
static enum live_res
cached(struct rds *r, const char *prefix, const char *field, const char *id,
    struct jout *j)
{
	char		 key[KEY_MAX], tag[TAG_MAX];
	redisReply	*rep;
	enum live_res	 res;
	const char	*sp;
	int		 failed = 0;

	if (keys_of_id(prefix, id, key, sizeof(key)) < 0)
		return fail(r, 0, field, "key too long", LIVE_FAIL);
	if ((res = cached_at(r, key, field, id, j)) == LIVE_OK)
		return res;
	failed = res == LIVE_FAIL;
	/* one server holds every key: the others would each cost a connect
	 * and redis_timeout_ms more, for the same answer */
	if (failed && r->mode == RDS_SINGLE)
		return LIVE_FAIL;
	if (keys_legacy(KEY_OIX, id, key, sizeof(key)) < 0)
		return LIVE_FAIL;
	if ((rep = get(r, key)) == NULL) {
		if (r->mode == RDS_SINGLE)
			return LIVE_FAIL;
		failed = 1;
	} else {
		if (rep->type == REDIS_REPLY_STRING &&
		    (sp = strchr(rep->str, ' ')) != NULL &&
		    (size_t)(sp - rep->str) < sizeof(tag)) {
			memcpy(tag, rep->str, (size_t)(sp - rep->str));
			tag[sp - rep->str] = '\0';
			if (keys_id(prefix, keys_slot(tag), id, key,
			    sizeof(key)) >= 0) {
				if ((res = cached_at(r, key, field, id, j)) ==
				    LIVE_OK) {
					freeReplyObject(rep);
					return res;
				}
				/* that node down: "not found" is unknown */
				failed |= res == LIVE_FAIL;
			}
		}
		freeReplyObject(rep);
	}
	if (keys_legacy(prefix, id, key, sizeof(key)) >= 0 &&
	    (res = cached_at(r, key, field, id, j)) != LIVE_FAIL)
		return res == LIVE_OK || !failed ? res : LIVE_FAIL;
	return LIVE_FAIL;
}

enum live_res
live_ticket(struct rds *r, const char *id, struct jout *j)
{
	return cached(r, KEY_TKT, "ticketId", id, j);
}

enum live_res
live_order(struct rds *r, const char *id, struct jout *j)
{
	/* written by the purchase side (docs/api.md) */
	return cached(r, KEY_ORD, "orderId", id, j);
}
