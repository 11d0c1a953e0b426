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
	&lua_claim, &lua_load_zone, &lua_drop_zone, &lua_order,
	&lua_order_release, &lua_cancel, &lua_hold_expire
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
