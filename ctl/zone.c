/* SPDX-License-Identifier: ISC */
/*
 * zone.c - reads one event zone's Redis state (see zone.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "zone.h"
#include "valid.h"

#define ZONE_SEATS_MAX	(10000L * 10000L)	/* schema: rows, cols <= 10000 */

int
zone_bit(const unsigned char *bits, size_t nbytes, long bit)
{
	if (bit < 0 || (size_t)(bit / 8) >= nbytes)
		return 0;
	return (bits[bit / 8] >> (7 - bit % 8)) & 1;
}

void
zone_bit_set(unsigned char *bits, long bit)
{
	bits[bit / 8] |= (unsigned char)(0x80 >> (bit % 8));
}

void
zone_sale_of(const struct catalog_zone *cz, struct zone_sale *s)
{
	memset(s, 0, sizeof(*s));
	if (cz->cancelled)
		snprintf(s->status, sizeof(s->status), "CANCELLED");
	if (cz->opens_ms >= 0)
		snprintf(s->opens, sizeof(s->opens), "%lld", cz->opens_ms);
	if (cz->closes_ms >= 0)
		snprintf(s->closes, sizeof(s->closes), "%lld", cz->closes_ms);
}

static int
cmp_owner(const void *a, const void *b)
{
	const struct zone_owner *x = a, *y = b;

	return x->bit < y->bit ? -1 : x->bit > y->bit;
}

const struct zone_owner *
zone_owner_of(const struct zstate *z, long bit)
{
	struct zone_owner key;

	key.bit = bit;
	if (z->nown == 0)
		return NULL;
	return bsearch(&key, z->own, z->nown, sizeof(key), cmp_owner);
}

/* HGETALL of the catalog hash. */
static int
read_catalog(struct rds *r, struct zstate *z, const char *key)
{
	redisReply	*rep;
	size_t		 i;
	const char	*k, *v;

	if ((rep = rds_cmd(r, z->node, "HGETALL %s", key)) == NULL)
		return -1;
	for (i = 0; rep->type == REDIS_REPLY_ARRAY && i + 1 < rep->elements;
	    i += 2) {
		k = rep->element[i]->str;
		v = rep->element[i + 1]->str;
		if (k == NULL || v == NULL)
			continue;
		z->has_zone = 1;
		if (strcmp(k, "venue") == 0)
			snprintf(z->venue, sizeof(z->venue), "%s", v);
		else if (strcmp(k, "rows") == 0) {
			if (valid_digits(v, &z->rows) != 0)
				z->rows = -1;
		} else if (strcmp(k, "cols") == 0) {
			if (valid_digits(v, &z->cols) != 0)
				z->cols = -1;
		} else if (strcmp(k, "price") == 0)
			snprintf(z->price, sizeof(z->price), "%s", v);
		else if (strcmp(k, "status") == 0)
			snprintf(z->sale.status, sizeof(z->sale.status), "%s",
			    v);
		else if (strcmp(k, "opens") == 0)
			snprintf(z->sale.opens, sizeof(z->sale.opens), "%s", v);
		else if (strcmp(k, "closes") == 0)
			snprintf(z->sale.closes, sizeof(z->sale.closes), "%s",
			    v);
	}
	freeReplyObject(rep);
	return 0;
}

/* HGETALL of the counters: "z" and "r<N>" (negative values are kept). */
static int
read_counters(struct rds *r, struct zstate *z, const char *key, long rows)
{
	redisReply	*rep;
	size_t		 i;
	long		 n, row;
	const char	*k, *v;

	if ((z->left_row = calloc((size_t)rows + 1, sizeof(long))) == NULL) {
		err_set(&r->err, r->errstr, ERR_OTHER, "out of memory");
		return -1;
	}
	z->nleft_row = rows + 1;
	for (row = 0; row <= rows; row++)
		z->left_row[row] = -1;
	z->left_zone = -1;
	if ((rep = rds_cmd(r, z->node, "HGETALL %s", key)) == NULL)
		return -1;
	for (i = 0; rep->type == REDIS_REPLY_ARRAY && i + 1 < rep->elements;
	    i += 2) {
		k = rep->element[i]->str;
		v = rep->element[i + 1]->str;
		if (k == NULL || v == NULL ||
		    valid_long(v, -ZONE_SEATS_MAX, ZONE_SEATS_MAX, &n) != 0)
			continue;
		z->has_left = 1;
		if (strcmp(k, "z") == 0)
			z->left_zone = n;
		else if (k[0] == 'r' && valid_digits(k + 1, &row) == 0 &&
		    row >= 1 && row <= rows)
			z->left_row[row] = n;
	}
	freeReplyObject(rep);
	return 0;
}

static int
read_bits(struct rds *r, struct zstate *z, const char *key)
{
	redisReply *rep;

	if ((rep = rds_cmd(r, z->node, "GET %s", key)) == NULL)
		return -1;
	if (rep->type == REDIS_REPLY_STRING && rep->len > 0) {
		if ((z->bits = malloc(rep->len)) == NULL) {
			freeReplyObject(rep);
			err_set(&r->err, r->errstr, ERR_OTHER, "out of memory");
			return -1;
		}
		memcpy(z->bits, rep->str, rep->len);
		z->nbytes = rep->len;
	}
	freeReplyObject(rep);
	return 0;
}

static int
read_owners(struct rds *r, struct zstate *z, const char *key)
{
	redisReply	*rep;
	size_t		 i, n;
	long		 bit;

	if ((rep = rds_cmd(r, z->node, "HGETALL %s", key)) == NULL)
		return -1;
	n = rep->type == REDIS_REPLY_ARRAY ? rep->elements / 2 : 0;
	if (n > 0 && (z->own = calloc(n, sizeof(*z->own))) == NULL) {
		freeReplyObject(rep);
		err_set(&r->err, r->errstr, ERR_OTHER, "out of memory");
		return -1;
	}
	for (i = 0; i < n; i++) {
		const char *k = rep->element[2 * i]->str;
		const char *v = rep->element[2 * i + 1]->str;

		if (k == NULL || v == NULL || valid_digits(k, &bit) != 0)
			continue;
		z->own[z->nown].bit = bit;
		snprintf(z->own[z->nown].id, sizeof(z->own[0].id), "%s", v);
		z->nown++;
	}
	freeReplyObject(rep);
	if (z->nown > 1)
		qsort(z->own, z->nown, sizeof(*z->own), cmp_owner);
	return 0;
}

/* The message of a pending member m: the member itself (a cancellation,
 * an entry of the old shape), or an orderId's order message in bo:ords
 * (lua/order.lua; *body NULL if it has none).  *held is the reply to free,
 * or NULL.  Returns 0, or -1 if Redis failed. */
static int
pending_body(struct rds *r, struct zstate *z, const char *ords,
    const redisReply *m, redisReply **held, const char **body, size_t *len)
{
	*held = NULL;
	*body = m->str;
	*len = m->len;
	if (m->len > 0 && m->str[0] == '{')
		return 0;
	*body = NULL;
	if ((*held = rds_cmd(r, z->node, "HGET %s %b", ords, m->str,
	    m->len)) == NULL)
		return -1;
	if ((*held)->type == REDIS_REPLY_STRING) {
		*body = (*held)->str;
		*len = (*held)->len;
	}
	return 0;
}

/* Every member of a pending or claimed set. */
static int
read_pending(struct rds *r, struct zstate *z, const char *key,
    const char *ords)
{
	redisReply	*rep, *held;
	const char	*body;
	size_t		 i, len;
	int		 added = 0, fail;

	if ((rep = rds_cmd(r, z->node, "ZRANGE %s 0 -1", key)) == NULL)
		return -1;
	for (i = 0; rep->type == REDIS_REPLY_ARRAY && i < rep->elements; i++) {
		if (rep->element[i]->type != REDIS_REPLY_STRING)
			continue;
		if (pending_body(r, z, ords, rep->element[i], &held, &body,
		    &len) != 0) {
			freeReplyObject(rep);
			return -1;
		}
		fail = body != NULL && soldv_add_json(&z->pending, body, len,
		    &added) != 0;
		if (held != NULL)
			freeReplyObject(held);
		if (fail) {
			freeReplyObject(rep);
			err_set(&r->err, r->errstr, ERR_OTHER, "out of memory");
			return -1;
		}
		if (body == NULL || added == 0)
			z->pending_bad++;
		else if (added < 0)
			z->cancels_pending++;
	}
	freeReplyObject(rep);
	return 0;
}

int
zstate_read(struct rds *r, const struct catalog_zone *cz, struct zstate *z)
{
	char key[KEY__MAX][KEY_MAX];
	int  k;

	memset(z, 0, sizeof(*z));
	if (keys_tag(cz->event, cz->zone, z->tag, sizeof(z->tag)) < 0) {
		err_set(&r->err, r->errstr, ERR_OTHER, "zone tag too long");
		return -1;
	}
	for (k = 0; k < KEY__MAX; k++)
		if (keys_build(k, z->tag, key[k], KEY_MAX) < 0) {
			err_set(&r->err, r->errstr, ERR_OTHER, "key too long");
			return -1;
		}
	z->node = keys_slot(z->tag);
	if (read_catalog(r, z, key[KEY_ZONE]) != 0 ||
	    read_counters(r, z, key[KEY_LEFT], cz->rows) != 0 ||
	    read_bits(r, z, key[KEY_SEAT]) != 0 ||
	    read_owners(r, z, key[KEY_OWN]) != 0 ||
	    read_pending(r, z, key[KEY_PEND], key[KEY_ORDS]) != 0 ||
	    read_pending(r, z, key[KEY_SWEEP], key[KEY_ORDS]) != 0)
		return -1;
	soldv_sort(&z->pending);
	return 0;
}

void
zstate_free(struct zstate *z)
{
	free(z->left_row);
	free(z->bits);
	free(z->own);
	soldv_free(&z->pending);
	memset(z, 0, sizeof(*z));
}
