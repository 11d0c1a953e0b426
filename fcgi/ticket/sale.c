/* SPDX-License-Identifier: ISC */
/*
 * sale.c - orders in Redis (see sale.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "clock.h"
#include "metrics.h"
#include "sale.h"

/* The zone keys of a tag, in the order of the scripts' KEYS. */
static int
zone_keys(const char *tag, char k[KEY__MAX][KEY_MAX])
{
	int kind;

	for (kind = 0; kind < KEY__MAX; kind++)
		if (keys_build(kind, tag, k[kind], KEY_MAX) < 0)
			return -1;
	return 0;
}

/* The first KEYS of every order script: zone, left, seat, own, pend.
 * Returns their number. */
static int
seat_keys(const char **argv, char k[KEY__MAX][KEY_MAX])
{
	argv[0] = k[KEY_ZONE];
	argv[1] = k[KEY_LEFT];
	argv[2] = k[KEY_SEAT];
	argv[3] = k[KEY_OWN];
	argv[4] = k[KEY_PEND];
	return 5;
}

static void
seterr(struct rds *r, unsigned slot, const char *what, const char *why)
{
	char where[RCL_HOST_MAX + 8];

	rds_where(r, slot, where, sizeof(where));
	err_set(&r->err, r->errstr, ERR_OTHER, "redis %s: %s: %s", where,
	    what, why);
}

/* The slot tag "{st}" of the keys by id of the zone in slot (keys.h). */
static void
slot_tag(unsigned slot, char kt[KEYS_SLOT_TAG_MAX + 2])
{
	snprintf(kt, KEYS_SLOT_TAG_MAX + 2, "{%s}", keys_slot_tag(slot));
}

/* The SHA-256 of kind and the parts what[0..nwhat-1] (each after a
 * newline) in hex: what an Idempotency-Key is checked against. */
static int
request_hash(char kind, const struct iovec *what, int nwhat,
    char hex[TOKEN_HASH_LEN + 1])
{
	unsigned char	md[EVP_MAX_MD_SIZE];
	unsigned	len = 0, j;
	EVP_MD_CTX	*ctx;
	int		i, ok;

	if ((ctx = token_sha256()) == NULL)
		return -1;
	ok = EVP_DigestUpdate(ctx, &kind, 1) == 1;
	for (i = 0; ok && i < nwhat; i++)
		ok = EVP_DigestUpdate(ctx, "\n", 1) == 1 &&
		    EVP_DigestUpdate(ctx, what[i].iov_base,
		    what[i].iov_len) == 1;
	ok = ok && EVP_DigestFinal_ex(ctx, md, &len) == 1 && len == 32;
	if (!ok)
		return -1;
	for (j = 0; j < len; j++)
		snprintf(hex + 2 * j, 3, "%02x", md[j]);
	return 0;
}

int
sale_new(struct sale *s, const struct order_req *o, char kind,
    const char *key, const struct iovec *what, int nwhat,
    const struct sale_secrets *sec)
{
	unsigned char	rnd[UUID_RANDOM + 2 * TOKEN_RANDOM +
			    ORDER_SEATS_MAX * UUID_RANDOM];
	char		khash[TOKEN_HASH_LEN + 1] = "";
	int		i, n = o->quantity > 0 ? o->quantity : o->n;

	memset(s, 0, sizeof(*s));
	s->kind = kind;
	s->hold_secs = o->hold_seconds;
	s->created_ms = wall_ms();
	ticket_stamp(s->created_ms, s->created);
	if (keys_tag(o->event, o->zone, s->tag, sizeof(s->tag)) < 0)
		return -1;
	s->node = keys_slot(s->tag);
	if (keys_idem(s->tag, key != NULL ? key : "", s->idem,
	    sizeof(s->idem)) < 0 ||
	    (key != NULL && token_key_hash(sec->key, key, khash) != 0) ||
	    keys_idem_hashed(s->tag, khash, s->idem_hashed,
	    sizeof(s->idem_hashed)) < 0)
		return -1;
	/* the random bytes of every id and token of the sale, drawn at once:
	 * order id, hold id, token, ticket ids */
	if (n < 0 || n > ORDER_SEATS_MAX ||
	    ticket_random(rnd, UUID_RANDOM + 2 * TOKEN_RANDOM +
	    (size_t)n * UUID_RANDOM) != 0)
		return -1;
	/* every id carries the zone's slot: its keys are found from it */
	ticket_uuid_v7_from(s->created_ms, rnd, s->order_id);
	if (keys_id_stamp(s->order_id, s->node) != 0)
		return -1;
	if (kind == 'h') {
		/* 128 random bits, then the slot: keys_id_stamp() */
		token_from(rnd + UUID_RANDOM, s->hold_id);
		memcpy(s->hold_id + TOKEN_LEN, "AAA",
		    HOLD_ID_LEN - TOKEN_LEN + 1);
		if (keys_id_stamp(s->hold_id, s->node) != 0)
			return -1;
	}
	if (kind == 'c') {
		memcpy(s->hold_id, o->hold_id, sizeof(s->hold_id));
		if (token_hash(s->hold_id, s->hold_hash) != 0)
			return -1;
	}
	/* a keyed request and a confirm answer their order again: the
	 * token must be the same, derived from the order id */
	if (key != NULL && request_hash(kind, what, nwhat, s->ihash) != 0)
		return -1;
	if (key != NULL || kind == 'c') {
		if (token_for(sec->token, s->order_id, s->token) != 0)
			return -1;
	} else
		token_from(rnd + UUID_RANDOM + TOKEN_RANDOM, s->token);
	if (token_hash(s->token, s->hash) != 0)
		return -1;
	s->n = n;
	for (i = 0; i < n; i++) {
		ticket_uuid_v7_from(s->created_ms, rnd + UUID_RANDOM +
		    2 * TOKEN_RANDOM + (size_t)i * UUID_RANDOM, s->tids[i]);
		if (keys_id_stamp(s->tids[i], s->node) != 0)
			return -1;
	}
	return 0;
}

void
sale_free(struct sale *s)
{
	free(s->head);
	free(s->tickets);
	free(s->msg);
	free(s->replay);
	s->head = s->tickets = s->msg = s->replay = NULL;
}

static char *
dup_str(const redisReply *e)
{
	char *p;

	if (e->type != REDIS_REPLY_STRING || (p = malloc(e->len + 1)) == NULL)
		return NULL;
	memcpy(p, e->str, e->len);
	p[e->len] = '\0';
	return p;
}

/* The success reply of lua/order.lua: {0, expires ms, total, "r c ..."}
 * of a hold, {0, head, tickets, message} of an order, and the hold's
 * expires ms after them for a confirm (a release gives the seats back to
 * the hold).  A reply we cannot read is SALE_IN_DOUBT: the script has
 * written. */
static enum sale_result
sold_reply(struct rds *r, struct sale *s, const redisReply *rep)
{
	if (s->kind == 'h') {
		if (rep->elements != 4 ||
		    rep->element[1]->type != REDIS_REPLY_STRING ||
		    rep->element[2]->type != REDIS_REPLY_STRING ||
		    rep->element[3]->type != REDIS_REPLY_STRING ||
		    rep->element[2]->len >= sizeof(s->total) ||
		    rep->element[3]->len >= sizeof(s->held)) {
			seterr(r, s->node, "hold", "unreadable success reply");
			return SALE_IN_DOUBT;
		}
		s->expires_ms = strtoll(rep->element[1]->str, NULL, 10);
		memcpy(s->total, rep->element[2]->str, rep->element[2]->len + 1);
		memcpy(s->held, rep->element[3]->str, rep->element[3]->len + 1);
		return SALE_OK;
	}
	if (rep->elements != (s->kind == 'c' ? 5u : 4u) ||
	    (s->head = dup_str(rep->element[1])) == NULL ||
	    (s->tickets = dup_str(rep->element[2])) == NULL ||
	    (s->msg = dup_str(rep->element[3])) == NULL ||
	    (s->kind == 'c' && rep->element[4]->type != REDIS_REPLY_STRING)) {
		seterr(r, s->node, "order", "unreadable success reply");
		sale_free(s);
		return SALE_IN_DOUBT;
	}
	if (s->kind == 'c')
		s->expires_ms = strtoll(rep->element[4]->str, NULL, 10);
	return SALE_OK;
}

/* Element i of rep into out if it is a UUID, else "" into out. */
static void
uuid_of(const redisReply *rep, size_t i, char out[UUID_LEN + 1])
{
	const redisReply *e = i < rep->elements ? rep->element[i] : NULL;

	out[0] = '\0';
	if (e != NULL && e->type == REDIS_REPLY_STRING &&
	    e->len == UUID_LEN && valid_uuid(e->str))
		memcpy(out, e->str, UUID_LEN + 1);
}

/* Interprets lua/order.lua's reply: a reply we cannot use after the
 * script may have written is SALE_IN_DOUBT. */
static enum sale_result
order_reply(struct rds *r, struct sale *s, const redisReply *rep)
{
	long long code;

	if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 2 ||
	    rep->element[0]->type != REDIS_REPLY_INTEGER ||
	    (code = rep->element[0]->integer) < SALE_OK ||
	    (code > SALE_NOT_ADJACENT && code < SALE_KEY_REUSED) ||
	    code == 24 || code > SALE_HOLD_EXPIRED) {
		seterr(r, s->node, "order", "unexpected reply");
		return rep->type == REDIS_REPLY_ARRAY ? SALE_IN_DOUBT :
		    SALE_ERROR;
	}
	if (code == SALE_REPLAY || code == SALE_REFUSED) {
		if ((s->replay = dup_str(rep->element[1])) == NULL ||
		    (code == SALE_REPLAY && (rep->elements != 3 ||
		    rep->element[2]->type != REDIS_REPLY_STRING ||
		    rep->element[2]->len != 1))) {
			seterr(r, s->node, "order", "unreadable replay");
			return SALE_ERROR;	/* nothing written */
		}
		if (code == SALE_REPLAY)
			s->replay_kind = rep->element[2]->str[0];
		return (enum sale_result)code;
	}
	if (code == SALE_IN_PROGRESS) {
		/* the ids are for the answer only: one unreadable leaves it
		 * a 409 without them */
		uuid_of(rep, 1, s->running_order);
		uuid_of(rep, 2, s->running_ticket);
	}
	if (code >= SALE_KEY_REUSED)
		return (enum sale_result)code;
	if (code == SALE_NOT_ON_SALE && (rep->element[1]->type !=
	    REDIS_REPLY_STRING || rds_not_on_sale(r, rep->element[1]->str))) {
		seterr(r, s->node, "order", "bad opening time");
		return SALE_ERROR;
	}
	if (code == SALE_SEAT_TAKEN) {
		if (rep->element[1]->type != REDIS_REPLY_STRING ||
		    rep->element[1]->len >= sizeof(s->taken)) {
			seterr(r, s->node, "order", "bad taken list");
			return SALE_ERROR;	/* nothing sold */
		}
		memcpy(s->taken, rep->element[1]->str,
		    rep->element[1]->len + 1);
	}
	if (code == SALE_BAD_CATALOG)
		seterr(r, s->node, "order", "zone catalog unusable (price, "
		    "rows or cols)");
	if (code != SALE_OK)
		return (enum sale_result)code;
	return sold_reply(r, s, rep);
}

#define ORDER_ARGS	(12 + 10 + 3 * ORDER_SEATS_MAX + 7)

enum sale_result
sale_order(struct rds *r, struct sale *s, const struct order_req *o,
    int cache_ttl)
{
	char		 k[KEY__MAX][KEY_MAX], zone[24], now[24], ttl[16];
	char		 q[8], n[8], num[2 * ORDER_SEATS_MAX][24], kind[2];
	char		 hsecs[24], kt[KEYS_SLOT_TAG_MAX + 2];
	const char	*argv[ORDER_ARGS];
	redisReply	*rep;
	long long	 start;
	enum sale_result res;
	int		 a, i;

	if (zone_keys(s->tag, k) != 0) {
		err_set(&r->err, r->errstr, ERR_OTHER, "order too long");
		return SALE_ERROR;
	}
	slot_tag(s->node, kt);
	snprintf(zone, sizeof(zone), "%ld", o->zone);
	snprintf(now, sizeof(now), "%lld", s->created_ms);
	snprintf(ttl, sizeof(ttl), "%d", cache_ttl);
	snprintf(q, sizeof(q), "%d", o->quantity);
	snprintf(n, sizeof(n), "%d", s->n);
	a = seat_keys(argv, k);
	argv[a++] = k[KEY_ORDS];
	argv[a++] = s->idem;
	argv[a++] = k[KEY_SWEEP];
	argv[a++] = k[KEY_HOLDS];
	argv[a++] = k[KEY_HEXP];
	argv[a++] = s->idem_hashed;
	argv[a++] = k[KEY_HEND];
	argv[a++] = o->venue;
	argv[a++] = o->event;
	argv[a++] = zone;
	argv[a++] = s->order_id;
	argv[a++] = s->created;
	argv[a++] = now;
	argv[a++] = s->hash;
	argv[a++] = ttl;
	argv[a++] = q;
	argv[a++] = n;
	for (i = 0; i < s->n; i++)
		argv[a++] = s->tids[i];
	for (i = 0; o->quantity == 0 && s->kind != 'c' && i < o->n; i++) {
		snprintf(num[2 * i], sizeof(num[0]), "%ld", o->seats[i].row);
		snprintf(num[2 * i + 1], sizeof(num[0]), "%ld",
		    o->seats[i].col);
		argv[a++] = num[2 * i];
		argv[a++] = num[2 * i + 1];
	}
	kind[0] = s->kind;
	kind[1] = '\0';
	snprintf(hsecs, sizeof(hsecs), "%ld", s->hold_secs);
	argv[a++] = s->hold_hash;
	argv[a++] = s->hold_id;
	argv[a++] = hsecs;
	argv[a++] = s->ihash;
	argv[a++] = kind;
	argv[a++] = s->tag;
	argv[a++] = kt;
	start = mono_us();
	rep = rds_eval(r, s->node, SCRIPT_ORDER, 12, a, argv);
	metrics_observe(METRICS_RESERVE, start);
	if (rep == NULL)
		/* sent whole and unanswered, or failed after it may have
		 * written (rds.h: Redis out of memory refusing its first
		 * write is neither: nothing was reserved) */
		return r->in_doubt || r->script_failed ? SALE_IN_DOUBT :
		    SALE_ERROR;
	res = order_reply(r, s, rep);
	freeReplyObject(rep);
	return res;
}

int
sale_confirmed(struct rds *r, unsigned node, const char *tag,
    const char *member)
{
	char		 pend[KEY_MAX];
	const char	*argv[3];
	redisReply	*rep;

	if (keys_build(KEY_PEND, tag, pend, sizeof(pend)) < 0)
		return -1;
	argv[0] = "ZREM";
	argv[1] = pend;
	argv[2] = member;
	if ((rep = rds_argv(r, node, 3, argv, NULL)) == NULL)
		return -1;
	freeReplyObject(rep);
	return 0;
}

enum sale_release
sale_release(struct rds *r, const struct sale *s)
{
	char		 k[KEY__MAX][KEY_MAX], kt[KEYS_SLOT_TAG_MAX + 2];
	char		 exp[24];
	const char	*argv[13];
	redisReply	*rep;
	long long	 res;

	if (zone_keys(s->tag, k) != 0) {
		seterr(r, s->node, "release", "order too long");
		return RELEASE_ERROR;
	}
	slot_tag(s->node, kt);
	seat_keys(argv, k);
	argv[5] = k[KEY_ORDS];
	argv[6] = s->idem;
	argv[7] = k[KEY_HOLDS];
	argv[8] = k[KEY_HEXP];
	argv[9] = s->order_id;
	argv[10] = kt;
	/* the order of a confirm gives its seats back to the hold */
	snprintf(exp, sizeof(exp), "%lld", s->kind == 'c' ? s->expires_ms : 0);
	argv[11] = s->kind == 'c' ? s->hold_id : "";
	argv[12] = exp;
	if ((rep = rds_eval(r, s->node, SCRIPT_ORDER_RELEASE, 9, 13, argv)) ==
	    NULL)
		return RELEASE_ERROR;
	if (rep->type != REDIS_REPLY_INTEGER) {
		seterr(r, s->node, "release", "unexpected reply");
		freeReplyObject(rep);
		return RELEASE_ERROR;
	}
	res = rep->integer;
	freeReplyObject(rep);
	return res == 1 ? RELEASE_DONE : RELEASE_KEPT;
}

int
sale_from_replay(struct sale *s, const char *secret)
{
	static const char pre[] = "{\"type\":\"order\",";
	static const char ch[] = ",\"cancelHash\":\"";
	static const char oid[] = "\"orderId\":\"";
	static const char idem[] = "\"idempotency\":{";
	static const char hh[] = "\"holdHash\":\"";
	static const char tid[] = "\"tickets\":[{\"ticketId\":\"";
	const char	*m = s->replay, *h, *t;
	size_t		 len = strlen(m);

	if (len < sizeof(pre) || strncmp(m, pre, sizeof(pre) - 1) != 0 ||
	    (h = strstr(m, ch)) == NULL ||
	    strlen(h) < sizeof(ch) - 1 + TOKEN_HASH_LEN + 3)
		return -1;
	t = h + sizeof(ch) - 1 + TOKEN_HASH_LEN + 2;
	/* a keyed sale's "idempotency":{..} (no braces inside) comes before
	 * the tickets */
	if (strncmp(t, idem, sizeof(idem) - 1) == 0) {
		if ((t = strchr(t, '}')) == NULL || t[1] != ',')
			return -1;
		t += 2;
	}
	/* then a confirm's "holdHash":"<64 hex>", */
	if (strncmp(t, hh, sizeof(hh) - 1) == 0) {
		t += sizeof(hh) - 1;
		if (strlen(t) < TOKEN_HASH_LEN + 2 ||
		    strncmp(t + TOKEN_HASH_LEN, "\",", 2) != 0)
			return -1;
		t += TOKEN_HASH_LEN + 2;
	}
	if (strncmp(m + sizeof(pre) - 1, oid, sizeof(oid) - 1) != 0 ||
	    strncmp(t, tid, sizeof(tid) - 1) != 0 ||
	    strlen(t + sizeof(tid) - 1) < UUID_LEN)
		return -1;
	memcpy(s->order_id, m + sizeof(pre) - 1 + sizeof(oid) - 1, UUID_LEN);
	s->order_id[UUID_LEN] = '\0';
	memcpy(s->tids[0], t + sizeof(tid) - 1, UUID_LEN);
	s->tids[0][UUID_LEN] = '\0';
	s->kind = s->replay_kind;
	if ((s->head = strndup(m + sizeof(pre) - 1,
	    (size_t)(h - m) - (sizeof(pre) - 1))) == NULL ||
	    (s->tickets = strndup(t, strlen(t) - 1)) == NULL)
		return -1;
	return token_for(secret, s->order_id, s->token);
}

int
sale_hold_from_replay(struct sale *s)
{
	const char	*p = s->replay, *sp;
	char		*end;
	size_t		 l;

	if ((sp = strchr(p, ' ')) == NULL || (l = (size_t)(sp - p)) == 0 ||
	    l >= sizeof(s->hold_id))
		return -1;
	memcpy(s->hold_id, p, l);
	s->hold_id[l] = '\0';
	s->expires_ms = strtoll(sp + 1, &end, 10);
	if (end == sp + 1 || *end != ' ')
		return -1;
	p = end + 1;
	if ((sp = strchr(p, ' ')) == NULL || (l = (size_t)(sp - p)) == 0 ||
	    l >= sizeof(s->total))
		return -1;
	memcpy(s->total, p, l);
	s->total[l] = '\0';
	if ((l = strlen(sp + 1)) >= sizeof(s->held))
		return -1;
	memcpy(s->held, sp + 1, l + 1);
	return 0;
}

/* Reads the index entry under key (len bytes): "E:Z orderId" of an
 * order or ticket, "E:Z" of a hold (order_id NULL).  LOOKUP_FOUND sets
 * slot, tag and order_id. */
static enum sale_lookup
lookup(struct rds *r, const char *key, size_t len, unsigned *slot,
    char *tag, char *order_id)
{
	redisReply	*rep;
	const char	*sp = NULL;
	size_t		 tl;
	int		 found = 0;

	if ((rep = rds_cmd(r, rcl_slot(key, len), "GET %s", key)) == NULL)
		return LOOKUP_ERROR;
	if (rep->type == REDIS_REPLY_STRING)
		sp = order_id != NULL ? strchr(rep->str, ' ') :
		    rep->str + rep->len;
	tl = sp != NULL ? (size_t)(sp - rep->str) : 0;
	if (sp != NULL && tl > 0 && tl < TAG_MAX &&
	    (order_id == NULL || strlen(sp + 1) == UUID_LEN)) {
		memcpy(tag, rep->str, tl);
		tag[tl] = '\0';
		if (order_id != NULL)
			memcpy(order_id, sp + 1, UUID_LEN + 1);
		*slot = keys_slot(tag);
		found = 1;
	}
	freeReplyObject(rep);
	return found ? LOOKUP_FOUND : LOOKUP_UNKNOWN;
}

/* Finds the index entry of id (lookup()): first under the slot tag the id
 * carries, then untagged (an id made before the slot was in it:
 * docs/reliability.md, "Keys and ids"). */
static enum sale_lookup
find_id(struct rds *r, const char *prefix, const char *id, unsigned *slot,
    char *tag, char *order_id)
{
	char		 key[KEY_MAX];
	enum sale_lookup f = LOOKUP_UNKNOWN;
	int		 legacy, len;

	for (legacy = 0; legacy < 2 && f == LOOKUP_UNKNOWN; legacy++) {
		len = legacy ? keys_legacy(prefix, id, key, sizeof(key)) :
		    keys_of_id(prefix, id, key, sizeof(key));
		if (len >= 0)
			f = lookup(r, key, (size_t)len, slot, tag, order_id);
	}
	return f;
}

enum sale_lookup
sale_find_hold(struct rds *r, const char *hold_id, unsigned *node, char *tag)
{
	char		 key[KEY_MAX], hashed[1 + TOKEN_HASH_LEN + 1];
	enum sale_lookup f = find_id(r, KEY_HIX, hold_id, node, tag, NULL);
	int		 slot, len;

	/* a confirmed hold `ticketctl rebuild` put back after a Redis loss
	 * is indexed under the SHA-256 of its id (MySQL keeps no holdId), in
	 * the slot the id carries: keys.h */
	if (f != LOOKUP_UNKNOWN || (slot = keys_id_slot(hold_id)) < 0)
		return f;
	hashed[0] = '#';
	if (token_hash(hold_id, hashed + 1) != 0) {
		err_set(&r->err, r->errstr, ERR_OTHER, "hold: no SHA-256");
		return LOOKUP_ERROR;
	}
	if ((len = keys_id(KEY_HIX, (unsigned)slot, hashed, key,
	    sizeof(key))) < 0)
		return LOOKUP_UNKNOWN;
	return lookup(r, key, (size_t)len, node, tag, NULL);
}

enum sale_end_hold
sale_end_hold(struct rds *r, unsigned node, const char *tag,
    const char *hold_id, char order_id[UUID_LEN + 1])
{
	char		 k[KEY__MAX][KEY_MAX], hash[TOKEN_HASH_LEN + 1];
	const char	*argv[13];
	redisReply	*rep;
	long long	 res;

	if (zone_keys(tag, k) != 0 || token_hash(hold_id, hash) != 0) {
		seterr(r, node, "hold_expire", "bad zone tag or no SHA-256");
		return END_HOLD_ERROR;
	}
	seat_keys(argv, k);
	argv[4] = k[KEY_HOLDS];
	argv[5] = k[KEY_HEXP];
	argv[6] = k[KEY_HEND];
	argv[7] = k[KEY_PEND];	/* a confirm in flight */
	argv[8] = k[KEY_SWEEP];
	argv[9] = k[KEY_ORDS];
	argv[10] = hold_id;
	argv[11] = "1";
	argv[12] = hash;	/* a hold rebuild put back confirmed */
	if ((rep = rds_eval(r, node, SCRIPT_HOLD_EXPIRE, 10, 13, argv)) ==
	    NULL)
		return END_HOLD_ERROR;
	/* an integer, or {3, orderId} */
	order_id[0] = '\0';
	if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
	    rep->element[0]->type == REDIS_REPLY_INTEGER &&
	    rep->element[0]->integer == 3) {
		uuid_of(rep, 1, order_id);
		res = 3;
	} else
		res = rep->type == REDIS_REPLY_INTEGER ? rep->integer : -1;
	freeReplyObject(rep);
	switch (res) {
	case 0:
		return END_HOLD_UNKNOWN;
	case 1:
		return END_HOLD_DELETED;
	case 2:
		return END_HOLD_EXPIRED;
	case 3:
		return END_HOLD_CONFIRMING;
	case 4:
		return END_HOLD_ENDED;
	case 5:
		return END_HOLD_FENCED;
	default:
		seterr(r, node, "hold_expire", "unexpected reply");
		return END_HOLD_ERROR;
	}
}

enum sale_cancel
sale_cancel(struct rds *r, const struct cancel_req *c, int cache_ttl,
    struct cancel_res *out)
{
	char		 k[KEY__MAX][KEY_MAX], oid[UUID_LEN + 1];
	char		 hash[TOKEN_HASH_LEN + 1], stamp[STAMP_LEN + 1];
	char		 ttl[16], now[24], kt[KEYS_SLOT_TAG_MAX + 2];
	char		 idem[KEY_MAX], ihash[TOKEN_HASH_LEN + 1] = "";
	char		 hashed[KEY_MAX], khash[TOKEN_HASH_LEN + 1] = "";
	struct iovec	 what[2];
	const char	*argv[17];
	redisReply	*rep;
	long long	 ms = wall_ms(), code;
	enum sale_lookup f;

	memset(out, 0, sizeof(*out));
	f = find_id(r, "bo:oix:", c->id, &out->node, out->tag, oid);
	if (f == LOOKUP_ERROR)
		return CANCEL_ERROR;
	/* a ticket's index entry names its order: never the order's own */
	if (f == LOOKUP_UNKNOWN || (!c->is_ticket && strcmp(oid, c->id) != 0))
		return CANCEL_NOT_FOUND;
	/* the key's request: the endpoint (kind, id) and the body bytes */
	what[0].iov_base = (void *)c->id;
	what[0].iov_len = strlen(c->id);
	what[1] = c->body;
	if (zone_keys(out->tag, k) != 0 || token_hash(c->token, hash) != 0 ||
	    keys_idem(out->tag, c->key, idem, sizeof(idem)) < 0 ||
	    (*c->key != '\0' && token_key_hash(c->key_secret, c->key, khash) !=
	    0) || keys_idem_hashed(out->tag, khash, hashed, sizeof(hashed)) <
	    0 ||
	    (*c->key != '\0' && request_hash(c->is_ticket ? 'y' : 'x', what,
	    2, ihash) != 0)) {
		err_set(&r->err, r->errstr, ERR_OTHER, "cancel: bad index "
		    "entry or no hash");
		return CANCEL_ERROR;
	}
	slot_tag(out->node, kt);
	ticket_stamp(ms, stamp);
	snprintf(ttl, sizeof(ttl), "%d", cache_ttl);
	snprintf(now, sizeof(now), "%lld", ms);
	seat_keys(argv, k);
	argv[5] = k[KEY_SWEEP];
	argv[6] = k[KEY_ORDS];
	argv[7] = idem;
	argv[8] = hashed;
	argv[9] = oid;
	argv[10] = c->is_ticket ? c->id : "";
	argv[11] = hash;
	argv[12] = stamp;
	argv[13] = ttl;
	argv[14] = now;
	argv[15] = kt;
	argv[16] = ihash;
	rep = rds_eval(r, out->node, SCRIPT_CANCEL, 9, 17, argv);
	if (rep == NULL)
		return CANCEL_ERROR;
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 3 ||
	    rep->element[0]->type != REDIS_REPLY_INTEGER ||
	    rep->element[1]->type != REDIS_REPLY_STRING ||
	    ((code = rep->element[0]->integer) == 0 &&
	    (rep->elements != 4 ||
	    rep->element[3]->type != REDIS_REPLY_INTEGER))) {
		seterr(r, out->node, "cancel", "unexpected reply");
		freeReplyObject(rep);
		return CANCEL_ERROR;
	}
	if (code == 0 && ((out->answer = dup_str(rep->element[1])) == NULL ||
	    (out->msg = dup_str(rep->element[2])) == NULL)) {
		free(out->answer);
		out->answer = NULL;
		seterr(r, out->node, "cancel", "unreadable reply");
		code = -1;
	}
	if (code == 0)
		out->replayed = rep->element[3]->integer == 1;
	/* a keyed refusal answered again: {23, "<code>"} */
	if (code == 23) {
		out->replayed = 1;
		code = strtol(rep->element[1]->str, NULL, 10);
	}
	freeReplyObject(rep);
	switch (code) {
	case 0:
		return CANCEL_OK;
	case 4:
		return CANCEL_NOT_FOUND;
	case 12:
		return CANCEL_FORBIDDEN;
	case 13:
		return CANCEL_NOT_CONFIRMED;
	case 20:
		return CANCEL_KEY_REUSED;
	default:
		return CANCEL_ERROR;
	}
}

const char *
sale_result_str(enum sale_result r)
{
	static const char *const names[SALE__MAX] = {
		[SALE_OK] = "OK",
		[SALE_SEAT_TAKEN] = "SEAT_TAKEN",
		[SALE_ZONE_SOLD_OUT] = "ZONE_SOLD_OUT",
		[SALE_ROW_SOLD_OUT] = "ROW_SOLD_OUT",
		[SALE_NOT_FOUND] = "NOT_FOUND",
		[SALE_INVALID_SEAT] = "INVALID_SEAT",
		[SALE_NO_COUNTERS] = "NO_COUNTERS",
		[SALE_CANCELLED] = "CANCELLED",
		[SALE_NOT_ON_SALE] = "NOT_ON_SALE",
		[SALE_CLOSED] = "SALE_CLOSED",
		[SALE_BAD_CATALOG] = "BAD_CATALOG",
		[SALE_NOT_ADJACENT] = "NOT_ADJACENT",
		[SALE_KEY_REUSED] = "KEY_REUSED",
		[SALE_IN_PROGRESS] = "IN_PROGRESS",
		[SALE_REPLAY] = "REPLAY",
		[SALE_REFUSED] = "REFUSED",
		[SALE_HOLD_EXPIRED] = "HOLD_EXPIRED",
		[SALE_ERROR] = "ERROR",
		[SALE_IN_DOUBT] = "IN_DOUBT"
	};

	if ((unsigned)r >= SALE__MAX || names[r] == NULL)
		return "?";
	return names[r];
}

const char *
sale_release_str(enum sale_release r)
{
	static const char *const names[] = { "DONE", "KEPT", "ERROR" };

	return (unsigned)r < 3 ? names[r] : "?";
}

const char *
sale_lookup_str(enum sale_lookup r)
{
	static const char *const names[] = { "FOUND", "UNKNOWN", "ERROR" };

	return (unsigned)r < 3 ? names[r] : "?";
}

const char *
sale_end_hold_str(enum sale_end_hold r)
{
	static const char *const names[] = {
		[END_HOLD_DELETED] = "DELETED",
		[END_HOLD_EXPIRED] = "EXPIRED",
		[END_HOLD_ENDED] = "ENDED",
		[END_HOLD_UNKNOWN] = "UNKNOWN",
		[END_HOLD_CONFIRMING] = "CONFIRMING",
		[END_HOLD_FENCED] = "FENCED",
		[END_HOLD_ERROR] = "ERROR"
	};

	return (unsigned)r < sizeof(names) / sizeof(names[0]) ? names[r] :
	    "?";
}
