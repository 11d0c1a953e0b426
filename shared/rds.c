/* SPDX-License-Identifier: ISC */
/*
 * rds.c - Redis connections, scripts and seat operations (see rds.h).
 */
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "keys.h"
#include "log.h"
#include "metrics.h"
#include "rds.h"
#include "scripts.h"

static const char *const *script_src[SCRIPT__MAX] = {
	&lua_reserve, &lua_release, &lua_claim, &lua_load_zone,
	&lua_drop_zone, &lua_order, &lua_order_release, &lua_cancel,
	&lua_hold_expire
};

static void
seterr(struct rds *r, unsigned i, const char *what, const char *why)
{
	snprintf(r->errstr, sizeof(r->errstr), "redis %s:%d: %s: %s",
	    r->nodes[i].host, r->nodes[i].port, what, why);
}

int
rds_init(struct rds *r, const char *nodes, int timeout_ms)
{
	const char	*p = nodes, *comma, *colon;
	size_t		 len, hlen;
	long		 port;
	char		 portbuf[8];

	memset(r, 0, sizeof(*r));
	r->timeout_ms = timeout_ms;
	while (*p != '\0') {
		comma = strchr(p, ',');
		len = comma != NULL ? (size_t)(comma - p) : strlen(p);
		colon = memchr(p, ':', len);
		if (r->n == RDS_NODES_MAX) {
			snprintf(r->errstr, sizeof(r->errstr),
			    "redis_nodes: more than %d nodes", RDS_NODES_MAX);
			return -1;
		}
		hlen = colon != NULL ? (size_t)(colon - p) : 0;
		if (colon == NULL || hlen == 0 ||
		    hlen >= sizeof(r->nodes[0].host) ||
		    len - hlen - 1 >= sizeof(portbuf) || len - hlen - 1 == 0) {
			snprintf(r->errstr, sizeof(r->errstr),
			    "redis_nodes: '%.*s' is not host:port", (int)len, p);
			return -1;
		}
		memcpy(portbuf, colon + 1, len - hlen - 1);
		portbuf[len - hlen - 1] = '\0';
		if (valid_long(portbuf, 1, 65535, &port) != 0) {
			snprintf(r->errstr, sizeof(r->errstr),
			    "redis_nodes: bad port in '%.*s'", (int)len, p);
			return -1;
		}
		memcpy(r->nodes[r->n].host, p, hlen);
		r->nodes[r->n].host[hlen] = '\0';
		r->nodes[r->n].port = (int)port;
		r->n++;
		p += len;
		if (*p == ',')
			p++;
	}
	if (r->n == 0) {
		snprintf(r->errstr, sizeof(r->errstr), "redis_nodes is empty");
		return -1;
	}
	return 0;
}

void
rds_drop(struct rds *r, unsigned i)
{
	if (r->nodes[i].ctx != NULL) {
		redisFree(r->nodes[i].ctx);
		r->nodes[i].ctx = NULL;
	}
}

void
rds_close(struct rds *r)
{
	unsigned i;

	for (i = 0; i < r->n; i++)
		rds_drop(r, i);
}

unsigned
rds_node_for(const struct rds *r, const char *tag)
{
	return keys_shard(tag, r->n);
}

/* SCRIPT LOAD one script on a fresh connection; returns 0 or -1. */
static int
load_script(struct rds *r, unsigned i, enum rds_script s)
{
	redisReply *rep;

	rep = redisCommand(r->nodes[i].ctx, "SCRIPT LOAD %s", *script_src[s]);
	if (rep == NULL) {
		seterr(r, i, "SCRIPT LOAD", r->nodes[i].ctx->errstr);
		rds_drop(r, i);
		return -1;
	}
	if (rep->type != REDIS_REPLY_STRING || rep->len != 40) {
		seterr(r, i, "SCRIPT LOAD", rep->type == REDIS_REPLY_ERROR ?
		    rep->str : "unexpected reply");
		freeReplyObject(rep);
		rds_drop(r, i);
		return -1;
	}
	memcpy(r->nodes[i].sha[s], rep->str, 41);
	freeReplyObject(rep);
	return 0;
}

/* 1 if an idle connection has something to read: Redis sends nothing
 * unasked outside pub/sub, so that is an EOF or an error. */
static int
idle_conn_dead(redisContext *c)
{
	struct pollfd pfd;

	pfd.fd = c->fd;
	pfd.events = POLLIN;
	pfd.revents = 0;
	return poll(&pfd, 1, 0) > 0;
}

redisContext *
rds_ctx(struct rds *r, unsigned i)
{
	struct rds_node	*n = &r->nodes[i];
	struct timeval	 tv;
	int		 s;

	if (n->ctx != NULL) {
		if (!idle_conn_dead(n->ctx))
			return n->ctx;
		/* the server closed it while idle (restart): nothing of ours
		 * was in flight, reconnect before sending anything */
		log_warnx("redis %s:%d: connection closed by the server; "
		    "reconnecting", n->host, n->port);
		rds_drop(r, i);
	}
	tv.tv_sec = r->timeout_ms / 1000;
	tv.tv_usec = (r->timeout_ms % 1000) * 1000;
	n->ctx = redisConnectWithTimeout(n->host, n->port, tv);
	if (n->ctx == NULL) {
		seterr(r, i, "connect", "out of memory");
		return NULL;
	}
	if (n->ctx->err) {
		seterr(r, i, "connect", n->ctx->errstr);
		rds_drop(r, i);
		return NULL;
	}
	if (redisSetTimeout(n->ctx, tv) != REDIS_OK) {
		seterr(r, i, "set timeout", n->ctx->errstr);
		rds_drop(r, i);
		return NULL;
	}
	(void)redisEnableKeepAlive(n->ctx);
	for (s = 0; s < SCRIPT__MAX; s++)
		if (load_script(r, i, s) != 0)
			return NULL;
	r->reconnects++;
	if (n->connects++ > 0)
		metrics_count(METRICS_REDIS_RECONNECTS);
	return n->ctx;
}

/* Checks a reply: NULL (I/O error: drop the connection) or error reply. */
static redisReply *
checked(struct rds *r, unsigned i, redisReply *rep, const char *what)
{
	if (rep == NULL) {
		seterr(r, i, what, r->nodes[i].ctx != NULL ?
		    r->nodes[i].ctx->errstr : "no connection");
		rds_drop(r, i);
		return NULL;
	}
	if (rep->type == REDIS_REPLY_ERROR) {
		seterr(r, i, what, rep->str);
		freeReplyObject(rep);
		return NULL;
	}
	return rep;
}

redisReply *
rds_argv(struct rds *r, unsigned i, int argc, const char **argv,
    const size_t *lens)
{
	redisContext *c;

	if ((c = rds_ctx(r, i)) == NULL)
		return NULL;
	return checked(r, i, redisCommandArgv(c, argc, argv, lens), argv[0]);
}

redisReply *
rds_cmd(struct rds *r, unsigned i, const char *fmt, ...)
{
	redisContext	*c;
	redisReply	*rep;
	va_list		 ap;

	if ((c = rds_ctx(r, i)) == NULL)
		return NULL;
	va_start(ap, fmt);
	rep = redisvCommand(c, fmt, ap);
	va_end(ap);
	return checked(r, i, rep, "command");
}

#define EVAL_ARGS_MAX	64

redisReply *
rds_eval(struct rds *r, unsigned i, enum rds_script s, int nkeys, int argc,
    const char **argv)
{
	const char	*args[EVAL_ARGS_MAX + 3];
	char		 nk[12];
	redisContext	*c;
	redisReply	*rep;
	int		 k, attempt;

	if (argc > EVAL_ARGS_MAX) {
		snprintf(r->errstr, sizeof(r->errstr), "too many script args");
		return NULL;
	}
	snprintf(nk, sizeof(nk), "%d", nkeys);
	r->in_doubt = 0;
	for (attempt = 0; attempt < 2; attempt++) {
		if ((c = rds_ctx(r, i)) == NULL)
			return NULL;
		args[0] = "EVALSHA";
		args[1] = r->nodes[i].sha[s];
		args[2] = nk;
		for (k = 0; k < argc; k++)
			args[k + 3] = argv[k];
		rep = redisCommandArgv(c, argc + 3, args, NULL);
		/* hiredis empties its output buffer once the command is
		 * written whole: then Redis may run it even though its answer
		 * never comes (timeout, a server frozen or killed) */
		if (rep == NULL)
			r->in_doubt = c->obuf != NULL && c->obuf[0] == '\0';
		if (rep != NULL && rep->type == REDIS_REPLY_ERROR &&
		    strncmp(rep->str, "NOSCRIPT", 8) == 0) {
			/* the script cache was flushed: load again, retry once */
			freeReplyObject(rep);
			if (load_script(r, i, s) != 0)
				return NULL;
			continue;
		}
		return checked(r, i, rep, "EVALSHA");
	}
	seterr(r, i, "EVALSHA", "NOSCRIPT after reload");
	return NULL;
}

int
rds_ping(struct rds *r)
{
	redisReply	*rep;
	unsigned	 i;

	for (i = 0; i < r->n; i++) {
		if ((rep = rds_cmd(r, i, "PING")) == NULL)
			return -1;
		freeReplyObject(rep);
	}
	return 0;
}

/* Key names of a ticket's zone. */
struct zone_keys {
	char	tag[TAG_MAX];
	char	k[KEY__MAX][KEY_MAX];
	char	tkt[KEY_MAX];
};

static int
zone_keys(struct zone_keys *zk, const struct ticket *t)
{
	int kind;

	if (keys_tag(t->event, t->zone, zk->tag, sizeof(zk->tag)) < 0 ||
	    keys_ticket(t->id, zk->tkt, sizeof(zk->tkt)) < 0)
		return -1;
	for (kind = 0; kind < KEY__MAX; kind++)
		if (keys_build(kind, zk->tag, zk->k[kind], KEY_MAX) < 0)
			return -1;
	return 0;
}

int
rds_not_on_sale(struct rds *r, const char *s)
{
	char		*end;
	long long	 opens, now;

	opens = strtoll(s, &end, 10);
	if (end == s || *end != ' ')
		return -1;
	s = end + 1;
	now = strtoll(s, &end, 10);
	if (end == s || *end != '\0' || opens <= now)
		return -1;
	r->opens_ms = opens;
	r->wait_ms = opens - now;
	return 0;
}

/* Interprets the reservation script's reply.  A reply that cannot be used
 * although the script may have written (code 0) is IN_DOUBT, never ERROR:
 * the seat may be reserved and its pending entry makes the sweeper issue
 * the ticket. */
static enum rds_reserve
reserve_reply(struct rds *r, unsigned node, redisReply *rep, struct ticket *t,
    char *json, size_t jsonsize)
{
	long long code;

	if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
	    rep->element[0]->type != REDIS_REPLY_INTEGER ||
	    rep->element[1]->type != REDIS_REPLY_STRING ||
	    (code = rep->element[0]->integer) < RESERVE_OK ||
	    code > RESERVE_BAD_CATALOG) {
		seterr(r, node, "reserve", "unexpected reply");
		/* code 0 may hide behind a reply we cannot read */
		return rep->type == REDIS_REPLY_ARRAY ? RESERVE_IN_DOUBT :
		    RESERVE_ERROR;
	}
	if (code == RESERVE_NOT_ON_SALE &&
	    rds_not_on_sale(r, rep->element[1]->str) != 0) {
		seterr(r, node, "reserve", "bad opening time");
		return RESERVE_ERROR;	/* nothing written before it */
	}
	if (code == RESERVE_BAD_CATALOG)
		seterr(r, node, "reserve", "zone catalog unusable (price, rows "
		    "or cols)");
	if (code != RESERVE_OK)
		return (enum rds_reserve)code;
	/* cannot happen (the script checked both): the seat is reserved */
	if (rep->element[1]->len >= sizeof(t->price)) {
		seterr(r, node, "reserve", "price too long");
		return RESERVE_IN_DOUBT;
	}
	memcpy(t->price, rep->element[1]->str, rep->element[1]->len + 1);
	if (ticket_json(t, json, jsonsize) < 0) {
		seterr(r, node, "reserve", "ticket JSON too long");
		return RESERVE_IN_DOUBT;
	}
	return RESERVE_OK;
}

enum rds_reserve
rds_reserve(struct rds *r, struct ticket *t, int cache_ttl, char *json,
    size_t jsonsize)
{
	struct zone_keys zk;
	char		 head[TICKET_JSON_MAX], tail[128], row[24], col[24];
	char		 ttl[16], now[24], price_max[16], json_max[16];
	const char	*argv[16];
	redisReply	*rep;
	unsigned	 node;
	long long	 start;
	enum rds_reserve res;

	if (zone_keys(&zk, t) != 0 ||
	    ticket_json_head(t, head, sizeof(head)) < 0 ||
	    ticket_json_tail(t, tail, sizeof(tail)) < 0) {
		snprintf(r->errstr, sizeof(r->errstr), "ticket too long");
		return RESERVE_ERROR;
	}
	snprintf(row, sizeof(row), "%ld", t->row);
	snprintf(col, sizeof(col), "%ld", t->col);
	snprintf(ttl, sizeof(ttl), "%d", cache_ttl);
	snprintf(now, sizeof(now), "%lld", t->created_ms);
	snprintf(price_max, sizeof(price_max), "%zu", sizeof(t->price) - 1);
	snprintf(json_max, sizeof(json_max), "%zu",
	    (jsonsize < TICKET_JSON_MAX ? jsonsize : TICKET_JSON_MAX) - 1);
	argv[0] = zk.k[KEY_ZONE];
	argv[1] = zk.k[KEY_LEFT];
	argv[2] = zk.k[KEY_SEAT];
	argv[3] = zk.k[KEY_OWN];
	argv[4] = zk.k[KEY_PEND];
	argv[5] = zk.tkt;
	argv[6] = t->venue;
	argv[7] = row;
	argv[8] = col;
	argv[9] = t->id;
	argv[10] = head;
	argv[11] = tail;
	argv[12] = ttl;
	argv[13] = now;
	argv[14] = price_max;
	argv[15] = json_max;
	node = rds_node_for(r, zk.tag);
	start = mono_us();
	rep = rds_eval(r, node, SCRIPT_RESERVE, 6, 16, argv);
	metrics_observe(METRICS_RESERVE, start);
	/* a runtime error of the script itself ("... @user_script:N") may
	 * come after its first write: only errors before it run say that
	 * nothing was sold */
	if (rep == NULL)
		return r->in_doubt || strstr(r->errstr, "user_script") != NULL ?
		    RESERVE_IN_DOUBT : RESERVE_ERROR;
	res = reserve_reply(r, node, rep, t, json, jsonsize);
	freeReplyObject(rep);
	return res;
}

int
rds_confirmed(struct rds *r, const struct ticket *t, const char *json)
{
	struct zone_keys zk;
	redisReply	*rep;

	if (zone_keys(&zk, t) != 0)
		return -1;
	rep = rds_cmd(r, rds_node_for(r, zk.tag), "ZREM %s %s",
	    zk.k[KEY_PEND], json);
	if (rep == NULL)
		return -1;
	freeReplyObject(rep);
	return 0;
}

int
rds_release(struct rds *r, const struct ticket *t, const char *json)
{
	struct zone_keys zk;
	char		 row[24], col[24];
	const char	*argv[10];
	redisReply	*rep;
	unsigned	 node;
	long long	 res;

	if (zone_keys(&zk, t) != 0)
		return -1;
	node = rds_node_for(r, zk.tag);
	snprintf(row, sizeof(row), "%ld", t->row);
	snprintf(col, sizeof(col), "%ld", t->col);
	argv[0] = zk.k[KEY_ZONE];
	argv[1] = zk.k[KEY_LEFT];
	argv[2] = zk.k[KEY_SEAT];
	argv[3] = zk.k[KEY_OWN];
	argv[4] = zk.k[KEY_PEND];
	argv[5] = zk.tkt;
	argv[6] = row;
	argv[7] = col;
	argv[8] = t->id;
	argv[9] = json;
	if ((rep = rds_eval(r, node, SCRIPT_RELEASE, 6, 10, argv)) == NULL)
		return -1;
	if (rep->type != REDIS_REPLY_INTEGER) {
		seterr(r, node, "release", "unexpected reply");
		freeReplyObject(rep);
		return -1;
	}
	res = rep->integer;
	freeReplyObject(rep);
	return res == 1 ? 1 : res == 0 ? 0 : 2;
}
