/* SPDX-License-Identifier: ISC */
/*
 * rds.c - Redis connections, scripts and WAIT, on one server or a Redis
 * Cluster (see rds.h).
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmt.h"
#include "hostlist.h"
#include "keys.h"
#include "log.h"
#include "metrics.h"
#include "rds.h"
#include "scripts.h"
#include "valid.h"

static const char *const *script_src[SCRIPT__MAX] = {
	&lua_claim, &lua_load_zone, &lua_drop_zone, &lua_order,
	&lua_order_release, &lua_cancel, &lua_hold_expire
};

static const char *const mode_names[RDS_MODE__MAX] = { "single", "cluster" };

const char *
rds_mode_str(enum rds_mode m)
{
	return (unsigned)m < RDS_MODE__MAX ? mode_names[m] : "?";
}

/* errstr "redis <where>: <what>: <why>" for slot. */
static void
seterr(struct rds *r, unsigned slot, enum err_kind kind, const char *what,
    const char *why)
{
	char where[RCL_HOST_MAX + 8];

	rds_where(r, slot, where, sizeof(where));
	err_set(&r->err, r->errstr, kind, "redis %s: %s: %s", where, what, why);
}

/* The single server as "host:port", or its socket's path (port 0). */
static void
single_name(const struct rds *r, char *buf, size_t size)
{
	if (r->port == 0)
		snprintf(buf, size, "%s", r->host);
	else
		snprintf(buf, size, "%s:%d", r->host, r->port);
}

void
rds_where(const struct rds *r, unsigned slot, char *buf, size_t size)
{
	if (r->mode == RDS_SINGLE)
		single_name(r, buf, size);
	else if (r->cl == NULL ||
	    rcl_node_of(r->cl, slot, RCL_MASTER, buf, size) != 0)
		snprintf(buf, size, "cluster slot %u", slot);
}

int
rds_init(struct rds *r, enum rds_mode mode, const char *nodes,
    int timeout_ms, int retry_ms)
{
	struct sockaddr_un	 sun;
	struct hostport		 hp;
	char			 err[ERRSTR_MAX];

	memset(r, 0, sizeof(*r));
	r->mode = mode;
	r->timeout_ms = timeout_ms;
	if (mode == RDS_CLUSTER) {
		if ((r->cl = rcl_new(nodes, timeout_ms, retry_ms, err,
		    sizeof(err))) == NULL) {
			err_set(&r->err, r->errstr, ERR_OTHER, "redis_nodes: "
			    "%s", err);
			return -1;
		}
		return 0;
	}
	if (mode != RDS_SINGLE) {
		err_set(&r->err, r->errstr, ERR_OTHER, "redis_mode: unknown");
		return -1;
	}
	if (strchr(nodes, ',') != NULL) {
		err_set(&r->err, r->errstr, ERR_OTHER, "redis_nodes: one "
		    "host:port in redis_mode single (a list is for "
		    "redis_mode cluster)");
		return -1;
	}
	if (nodes[0] == '/') {	/* a unix socket on this host */
		if (strlen(nodes) >= sizeof(sun.sun_path)) {
			err_set(&r->err, r->errstr, ERR_OTHER, "redis_nodes: "
			    "socket path longer than %zu bytes",
			    sizeof(sun.sun_path) - 1);
			return -1;
		}
		strcpy(r->host, nodes);
		r->port = 0;
		return 0;
	}
	/* "[v6]:port" too */
	if (hostport_parse(nodes, 0, &hp, err, sizeof(err)) != 0 ||
	    strlen(hp.host) >= sizeof(r->host)) {
		err_set(&r->err, r->errstr, ERR_OTHER, "redis_nodes: '%s' is "
		    "not host:port or the absolute path of a unix socket",
		    nodes);
		return -1;
	}
	memcpy(r->host, hp.host, strlen(hp.host) + 1);
	r->port = hp.port;
	return 0;
}

int
rds_init_conf(struct rds *r, const struct conf *c)
{
	enum rds_mode	m;
	int		release;

	for (m = 0; m < RDS_MODE__MAX; m++)
		if (strcmp(c->redis_mode, mode_names[m]) == 0)
			break;
	release = strcmp(c->redis_wait_short, "release") == 0;
	if (m == RDS_MODE__MAX || (!release &&
	    strcmp(c->redis_wait_short, "publish") != 0)) {
		memset(r, 0, sizeof(*r));
		err_set(&r->err, r->errstr, ERR_OTHER, m == RDS_MODE__MAX ?
		    "redis_mode: '%s' is not single or cluster" :
		    "redis_wait_short: '%s' is not release or publish",
		    m == RDS_MODE__MAX ? c->redis_mode : c->redis_wait_short);
		return -1;
	}
	if (strcmp(c->redis_read_from, "master") != 0 &&
	    strcmp(c->redis_read_from, "replica") != 0) {
		memset(r, 0, sizeof(*r));
		err_set(&r->err, r->errstr, ERR_OTHER, "redis_read_from: '%s' "
		    "is not master or replica", c->redis_read_from);
		return -1;
	}
	if (rds_init(r, m, c->redis_nodes, c->redis_timeout_ms,
	    c->redis_retry_ms) != 0)
		return -1;
	r->wait_replicas = c->redis_wait_replicas >= 0 ?
	    c->redis_wait_replicas : m == RDS_CLUSTER ? 1 : 0;
	r->wait_timeout_ms = c->redis_wait_timeout_ms;
	r->wait_release = release;
	r->read_replica = strcmp(c->redis_read_from, "replica") == 0;
	if (r->cl != NULL)
		r->cl->read_max_lag_ms = c->redis_read_max_lag_ms;
	return 0;
}

static void
single_drop(struct rds *r)
{
	if (r->ctx != NULL) {
		redisFree(r->ctx);
		r->ctx = NULL;
	}
	r->txn = 0;
}

void
rds_close(struct rds *r)
{
	single_drop(r);
	rcl_free(r->cl);
	r->cl = NULL;
}

/* The single server's connection (connecting if needed), or NULL. */
static redisContext *
single_ctx(struct rds *r)
{
	struct timeval	tv;
	char		name[RCL_HOST_MAX + 8];

	if (r->ctx != NULL) {
		if (!rcl_idle_dead(r->ctx))
			return r->ctx;
		single_name(r, name, sizeof(name));
		if (r->txn) {
			/* a new connection would run the rest of the
			 * transaction unwatched, or outside MULTI */
			seterr(r, 0, ERR_IO, "connection", "closed by the "
			    "server (the transaction is lost)");
			single_drop(r);
			return NULL;
		}
		/* the server closed it while idle (restart): nothing of ours
		 * was in flight, reconnect before sending anything */
		log_warnx("redis %s: connection closed by the server; "
		    "reconnecting", name);
		single_drop(r);
	}
	tv.tv_sec = r->timeout_ms / 1000;
	tv.tv_usec = (r->timeout_ms % 1000) * 1000;
	r->ctx = r->port == 0 ? redisConnectUnixWithTimeout(r->host, tv) :
	    redisConnectWithTimeout(r->host, r->port, tv);
	if (r->ctx == NULL) {
		seterr(r, 0, ERR_OTHER, "connect", "out of memory");
		return NULL;
	}
	if (r->ctx->err || redisSetTimeout(r->ctx, tv) != REDIS_OK) {
		seterr(r, 0, ERR_IO, "connect", r->ctx->errstr);
		single_drop(r);
		return NULL;
	}
	if (r->port != 0)
		(void)redisEnableKeepAlive(r->ctx);
	r->reconnects++;
	if (r->connects++ > 0)
		metrics_count(METRICS_REDIS_RECONNECTS);
	return r->ctx;
}

redisContext *
rds_ctx(struct rds *r, unsigned slot)
{
	redisContext	*c;
	int		 node;

	if (r->mode == RDS_SINGLE)
		return single_ctx(r);
	if ((node = rcl_node(r->cl, slot)) < 0 ||
	    (c = rcl_node_ctx(r->cl, node)) == NULL) {
		err_set(&r->err, r->errstr, ERR_IO, "%s", r->cl->errstr);
		if (node >= 0)	/* gone (a failover?): ask the map again */
			rcl_node_failed(r->cl, node);
		return NULL;
	}
	return c;
}

void
rds_drop(struct rds *r, unsigned slot)
{
	int node;

	if (r->mode == RDS_SINGLE)
		single_drop(r);
	else if (r->cl->have_map &&
	    (node = r->cl->map.master[slot % RCL_SLOTS]) >= 0)
		rcl_node_failed(r->cl, node);
}

int
rds_is_open(const struct rds *r, unsigned slot)
{
	int node;

	if (r->mode == RDS_SINGLE)
		return r->ctx != NULL;
	if (!r->cl->have_map ||
	    (node = r->cl->map.master[slot % RCL_SLOTS]) < 0)
		return 0;
	return r->cl->conn[node].ctx != NULL;
}

/* A reply that is NULL (I/O error: drop the connection) or an error reply
 * (freed) becomes NULL with err set; else the reply. */
static redisReply *
checked(struct rds *r, unsigned slot, redisReply *rep, const char *what)
{
	if (rep == NULL) {
		if (r->mode == RDS_SINGLE) {
			seterr(r, slot, ERR_IO, what, r->ctx != NULL ?
			    r->ctx->errstr : "no connection");
			single_drop(r);
		} else {	/* a slot being moved: its master answers */
			r->moving = r->cl->unstable;
			err_set(&r->err, r->errstr, r->moving ? ERR_SERVER :
			    ERR_IO, "%s", r->cl->errstr);
		}
		return NULL;
	}
	if (rep->type == REDIS_REPLY_ERROR) {
		seterr(r, slot, ERR_SERVER, what, rep->str);
		freeReplyObject(rep);
		return NULL;
	}
	return rep;
}

/* Whether a transaction is open on the single server's connection after
 * the command argv answered rep, as Redis sees it. */
static void
single_txn(struct rds *r, int argc, const char **argv, const size_t *lens,
    const redisReply *rep)
{
	if (argc < 1)
		return;
	if ((rcl_is_cmd(argv, lens, "WATCH") || rcl_is_cmd(argv, lens,
	    "MULTI")) && rep->type != REDIS_REPLY_ERROR)
		r->txn = 1;
	else if (rcl_is_cmd(argv, lens, "EXEC") || rcl_is_cmd(argv, lens,
	    "DISCARD") || rcl_is_cmd(argv, lens, "UNWATCH"))
		r->txn = 0;
}

/* One command, unchecked: NULL on I/O failure (in_doubt set if it was
 * sent whole), else the reply (an error reply too). */
static redisReply *
exchange(struct rds *r, unsigned slot, int argc, const char **argv,
    const size_t *lens)
{
	redisContext	*c;
	redisReply	*rep;

	r->in_doubt = 0;
	r->moving = 0;
	if (r->mode == RDS_CLUSTER) {
		rep = rcl_command_argv(r->cl, slot, RCL_MASTER, argc, argv,
		    lens);
		r->in_doubt = rep == NULL && r->cl->in_doubt;
		return rep;
	}
	if ((c = single_ctx(r)) == NULL)
		return NULL;
	rep = redisCommandArgv(c, argc, argv, lens);
	if (rep != NULL)
		single_txn(r, argc, argv, lens, rep);
	/* hiredis empties its output buffer once the command is written
	 * whole: then Redis may run it even though its answer never comes
	 * (timeout, a server frozen or killed) */
	if (rep == NULL)
		r->in_doubt = c->obuf != NULL && c->obuf[0] == '\0';
	return rep;
}

redisReply *
rds_argv(struct rds *r, unsigned slot, int argc, const char **argv,
    const size_t *lens)
{
	r->in_doubt = 0;
	if (r->mode == RDS_SINGLE && single_ctx(r) == NULL)
		return NULL;
	return checked(r, slot, exchange(r, slot, argc, argv, lens), argv[0]);
}

int
rds_do(struct rds *r, unsigned slot, int argc, const char **argv,
    const size_t *lens)
{
	redisReply *rep;

	if ((rep = rds_argv(r, slot, argc, argv, lens)) == NULL)
		return -1;
	freeReplyObject(rep);
	return 0;
}

#define CMD_ARGS_MAX	64

/* Splits the RESP array cmd (redisvFormatCommand()) into argv/lens, which
 * point into it.  Returns argc or -1. */
static int
resp_split(char *cmd, int len, const char **argv, size_t *lens, int max)
{
	char	*p = cmd, *end = cmd + len, *e;
	long	 n, l;
	int	 i;

	if (*p != '*' || (n = strtol(p + 1, &e, 10)) < 1 || n > max)
		return -1;
	p = e + 2;
	for (i = 0; i < n; i++) {
		if (p >= end || *p != '$' || (l = strtol(p + 1, &e, 10)) < 0 ||
		    e + 2 + l > end)
			return -1;
		argv[i] = e + 2;
		lens[i] = (size_t)l;
		p = e + 2 + l + 2;
	}
	return (int)n;
}

/* The argv of a printf-style command (hiredis format) in *buf (the
 * caller's to free), or -1 with errstr. */
static int
format_argv(struct rds *r, char **buf, const char **argv, size_t *lens,
    const char *fmt, va_list ap)
{
	int len, argc;

	if ((len = redisvFormatCommand(buf, fmt, ap)) < 0) {
		err_set(&r->err, r->errstr, ERR_OTHER, "redis: bad command "
		    "format '%s'", fmt);
		return -1;
	}
	if ((argc = resp_split(*buf, len, argv, lens, CMD_ARGS_MAX)) < 0) {
		free(*buf);
		err_set(&r->err, r->errstr, ERR_OTHER, "redis: command '%s' "
		    "has too many arguments", fmt);
		return -1;
	}
	return argc;
}

static redisReply *master_argv(struct rds *, int, int, const char **,
	    const size_t *);

/* A printf-style command on slot, or (master >= 0) on that master. */
static redisReply *
vcmd(struct rds *r, int master, unsigned slot, const char *fmt, va_list ap)
{
	const char	*argv[CMD_ARGS_MAX];
	size_t		 lens[CMD_ARGS_MAX];
	char		*buf;
	redisReply	*rep;
	int		 argc;

	if ((argc = format_argv(r, &buf, argv, lens, fmt, ap)) < 0)
		return NULL;
	rep = master < 0 ? rds_argv(r, slot, argc, argv, lens) :
	    master_argv(r, master, argc, argv, lens);
	free(buf);
	return rep;
}

redisReply *
rds_cmd(struct rds *r, unsigned slot, const char *fmt, ...)
{
	redisReply	*rep;
	va_list		 ap;

	va_start(ap, fmt);
	rep = vcmd(r, -1, slot, fmt, ap);
	va_end(ap);
	return rep;
}

/* SCRIPT LOAD of s on the master of slot, or on the cluster's map node
 * node if >= 0; returns 0 or -1. */
static int
load_script(struct rds *r, unsigned slot, enum rds_script s, int node)
{
	const char	*argv[3] = { "SCRIPT", "LOAD", *script_src[s] };
	redisReply	*rep;

	if (node >= 0) {
		if ((rep = checked(r, slot, rcl_node_argv(r->cl, node, 3,
		    argv, NULL), "SCRIPT LOAD")) == NULL)
			return -1;
	} else if ((rep = rds_argv(r, slot, 3, argv, NULL)) == NULL)
		return -1;
	if (rep->type != REDIS_REPLY_STRING || rep->len != 40) {
		seterr(r, slot, ERR_OTHER, "SCRIPT LOAD", "unexpected reply");
		freeReplyObject(rep);
		return -1;
	}
	memcpy(r->sha[s], rep->str, 41);
	freeReplyObject(rep);
	return 0;
}

#define EVAL_ARGS_MAX	64

/*
 * Whether the error reply err to EVALSHA came from inside the script, which
 * may have written before it (Redis does not undo a script's writes): a
 * Lua error, or a command of the script that failed ("user_script" in the
 * text, at its end for the latter: read here, before seterr() may cut it
 * short).  Except Redis refusing a write at maxmemory ("OOM command not
 * allowed"): it refuses a script's write only while the script has written
 * nothing (after its first write it lets the rest through, so that no
 * script stops half-way).  An error before the script ran (BUSY, LOADING,
 * a cluster redirect, NOSCRIPT) names no user_script.
 */
static int
script_may_have_written(const char *err)
{
	return strstr(err, "user_script") != NULL &&
	    strncmp(err, "OOM ", 4) != 0;
}

redisReply *
rds_eval(struct rds *r, unsigned slot, enum rds_script s, int nkeys,
    int argc, const char **argv)
{
	const char	*args[EVAL_ARGS_MAX + 3];
	char		 nk[12];
	redisReply	*rep;
	int		 k, attempt;

	r->in_doubt = 0;
	r->script_failed = 0;
	if (argc > EVAL_ARGS_MAX) {
		err_set(&r->err, r->errstr, ERR_OTHER, "too many script args");
		return NULL;
	}
	/* a SCRIPT LOAD that failed ran nothing of the script, even if its
	 * reply was lost: not in doubt */
	if (r->sha[s][0] == '\0' && load_script(r, slot, s, -1) != 0) {
		r->in_doubt = 0;
		return NULL;
	}
	snprintf(nk, sizeof(nk), "%d", nkeys);
	args[0] = "EVALSHA";
	args[2] = nk;
	for (k = 0; k < argc; k++)
		args[k + 3] = argv[k];
	for (attempt = 0; attempt < 2; attempt++) {
		args[1] = r->sha[s];
		rep = exchange(r, slot, argc + 3, args, NULL);
		if (rep != NULL && rep->type == REDIS_REPLY_ERROR &&
		    strncmp(rep->str, "NOSCRIPT", 8) == 0) {
			/* a fresh server (restart, failover, SCRIPT FLUSH):
			 * nothing ran; load it there (in a cluster the node
			 * that answered: an ASK's target is not the slot's
			 * master), retry once */
			freeReplyObject(rep);
			if (load_script(r, slot, s, r->mode == RDS_CLUSTER ?
			    r->cl->last_node : -1) != 0) {
				r->in_doubt = 0;
				return NULL;
			}
			continue;
		}
		if (rep != NULL && rep->type == REDIS_REPLY_ERROR)
			r->script_failed = script_may_have_written(rep->str);
		return checked(r, slot, rep, "EVALSHA");
	}
	seterr(r, slot, ERR_SERVER, "EVALSHA", "NOSCRIPT after reload");
	return NULL;
}

int
rds_wait(struct rds *r, unsigned slot, int nreplicas, int timeout_ms)
{
	char	why[200];
	int	n, dead;

	if (r->mode == RDS_CLUSTER) {
		if ((n = rcl_wait(r->cl, nreplicas, timeout_ms)) < 0)
			err_set(&r->err, r->errstr, ERR_IO, "%s",
			    r->cl->errstr);
		return n;
	}
	/* on the connection of the write, never a new one: WAIT counts the
	 * replicas that have what its own connection wrote, and on a new
	 * connection that is nothing (every replica) */
	if (r->ctx == NULL || rcl_idle_dead(r->ctx)) {
		seterr(r, slot, ERR_IO, "WAIT", "the connection of the last "
		    "write is gone");
		single_drop(r);
		return -1;
	}
	if ((n = rcl_wait_ctx(r->ctx, nreplicas, timeout_ms, r->timeout_ms,
	    why, sizeof(why), &dead)) < 0) {
		seterr(r, slot, dead ? ERR_IO : ERR_SERVER, "WAIT", why);
		if (dead)
			single_drop(r);
	}
	return n;
}

/* ------------------------------------------------------------ reads */

/* Counts what the cluster client did for the reads since *seen. */
static void
read_metrics(struct rds *r, unsigned long seen[2])
{
	for (; seen[0] < r->cl->replica_reads; seen[0]++)
		metrics_count(METRICS_REDIS_REPLICA_READS);
	for (; seen[1] < r->cl->replica_fallbacks; seen[1]++)
		metrics_count(METRICS_REDIS_REPLICA_FALLBACKS);
}

static enum rcl_route
read_route(const struct rds *r)
{
	return r->read_replica ? RCL_REPLICA : RCL_MASTER;
}

redisReply *
rds_read_cmd(struct rds *r, unsigned slot, const char *fmt, ...)
{
	const char	*argv[CMD_ARGS_MAX];
	size_t		 lens[CMD_ARGS_MAX];
	unsigned long	 seen[2];
	char		*buf;
	redisReply	*rep;
	va_list		 ap;
	int		 argc;

	va_start(ap, fmt);
	argc = format_argv(r, &buf, argv, lens, fmt, ap);
	va_end(ap);
	if (argc < 0)
		return NULL;
	if (r->mode == RDS_SINGLE)
		rep = rds_argv(r, slot, argc, argv, lens);
	else {
		seen[0] = r->cl->replica_reads;
		seen[1] = r->cl->replica_fallbacks;
		rep = checked(r, slot, rcl_command_argv(r->cl, slot,
		    read_route(r), argc, argv, lens), argv[0]);
		read_metrics(r, seen);
	}
	free(buf);
	return rep;
}

redisContext *
rds_read_ctx(struct rds *r, unsigned slot, int *node, int *replica)
{
	redisContext	*c;
	unsigned long	 seen[2];

	*node = 0;
	*replica = 0;
	if (r->mode == RDS_SINGLE)
		return single_ctx(r);
	seen[0] = r->cl->replica_reads;
	seen[1] = r->cl->replica_fallbacks;
	*node = rcl_read_node(r->cl, slot, read_route(r), &c, replica);
	read_metrics(r, seen);
	if (*node < 0) {
		err_set(&r->err, r->errstr, ERR_IO, "%s", r->cl->errstr);
		return NULL;
	}
	return c;
}

void
rds_read_failed(struct rds *r, int node)
{
	if (r->mode == RDS_SINGLE)
		single_drop(r);
	else
		rcl_read_failed(r->cl, node);
}

const char *
rds_replica_state(struct rds *r, int i, char *buf, size_t size,
    long long *lag_ms)
{
	enum rcl_rstate	st;
	unsigned	slot;
	int		node;

	*lag_ms = -1;
	snprintf(buf, size, "-");
	if (r->mode == RDS_SINGLE)
		return rcl_rstate_str(RCL_RS_NONE);
	for (slot = 0; slot < RCL_SLOTS; slot++)	/* one of its slots */
		if (r->cl->map.master[slot] == r->master[i])
			break;
	if (slot == RCL_SLOTS)
		return rcl_rstate_str(RCL_RS_NONE);
	st = rcl_look_replica(r->cl, slot, &node, lag_ms);
	if (node >= 0)
		snprintf(buf, size, "%s:%d", r->cl->map.nodes[node].host,
		    r->cl->map.nodes[node].port);
	return rcl_rstate_str(st);
}

int
rds_masters(struct rds *r)
{
	unsigned i;

	if (r->mode == RDS_SINGLE)
		return 1;
	if (rcl_map_ready(r->cl) != 0) {
		err_set(&r->err, r->errstr, ERR_IO, "%s", r->cl->errstr);
		return -1;
	}
	r->nmasters = 0;
	for (i = 0; i < r->cl->map.n; i++)
		if (r->cl->map.nodes[i].master && r->cl->map.nodes[i].online)
			r->master[r->nmasters++] = (int)i;
	return r->nmasters;
}

void
rds_master_name(const struct rds *r, int i, char *buf, size_t size)
{
	const struct rcl_addr *a;

	if (r->mode == RDS_SINGLE) {
		single_name(r, buf, size);
		return;
	}
	a = &r->cl->map.nodes[r->master[i]];
	snprintf(buf, size, "%s:%d", a->host, a->port);
}

/* A command on master i itself (no redirect), checked as rds_argv(). */
static redisReply *
master_argv(struct rds *r, int i, int argc, const char **argv,
    const size_t *lens)
{
	char		 name[RCL_HOST_MAX + 8];
	redisReply	*rep;

	if (r->mode == RDS_SINGLE)
		return rds_argv(r, 0, argc, argv, lens);
	if ((rep = rcl_node_argv(r->cl, r->master[i], argc, argv, lens)) ==
	    NULL) {
		err_set(&r->err, r->errstr, ERR_IO, "%s", r->cl->errstr);
		return NULL;
	}
	if (rep->type == REDIS_REPLY_ERROR) {
		rds_master_name(r, i, name, sizeof(name));
		err_set(&r->err, r->errstr, ERR_SERVER, "redis %s: %s: %s",
		    name, argv[0], rep->str);
		freeReplyObject(rep);
		return NULL;
	}
	return rep;
}

redisReply *
rds_master_cmd(struct rds *r, int i, const char *fmt, ...)
{
	redisReply	*rep;
	va_list		 ap;

	va_start(ap, fmt);
	rep = vcmd(r, i, 0, fmt, ap);
	va_end(ap);
	return rep;
}

/* PING every master; returns 0 if all answer, else -1 with errstr set. */
static int
rds_ping(struct rds *r)
{
	redisReply	*rep;
	int		 i, n;

	if ((n = rds_masters(r)) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		if ((rep = rds_master_cmd(r, i, "PING")) == NULL)
			return -1;
		freeReplyObject(rep);
	}
	return 0;
}

/* 1 if rep, the answer to ROLE, says master, else 0. */
static int
role_master(const redisReply *rep)
{
	return rep->type == REDIS_REPLY_ARRAY && rep->elements > 0 &&
	    rep->element[0]->type == REDIS_REPLY_STRING &&
	    strcmp(rep->element[0]->str, "master") == 0;
}

/* One count of rds_ping_masters over the map as it is; *demoted is set if
 * a node the map calls master answered as a replica (the map is old). */
static int
ping_masters_once(struct rds *r, int *total, int *demoted)
{
	unsigned char	 seen[RCL_NODES_MAX];
	redisReply	*rep;
	unsigned	 slot;
	int		 node, up = 0, uncovered = 0;

	*total = 0;
	*demoted = 0;
	if (rds_masters(r) < 0)
		return -1;
	memset(seen, 0, sizeof(seen));
	for (slot = 0; slot < RCL_SLOTS; slot++) {
		if ((node = r->cl->map.master[slot]) < 0 && !uncovered) {
			/* a failed master's slots, listed without it until
			 * its replica is promoted: one shard down */
			uncovered = 1;
			(*total)++;
			err_set(&r->err, r->errstr, ERR_IO, "redis cluster: "
			    "slot %u is not served by any node", slot);
		}
		if (node < 0 || seen[node])
			continue;
		seen[node] = 1;
		(*total)++;
		if ((rep = rcl_node_argv(r->cl, node, 1,
		    (const char *[]){ "ROLE" }, NULL)) == NULL) {
			err_set(&r->err, r->errstr, ERR_IO, "%s",
			    r->cl->errstr);
			continue;
		}
		if (role_master(rep))
			up++;
		else {
			*demoted = 1;
			err_set(&r->err, r->errstr, ERR_SERVER, "redis %s:%d: "
			    "a replica now", r->cl->map.nodes[node].host,
			    r->cl->map.nodes[node].port);
		}
		freeReplyObject(rep);
	}
	return up;
}

/*
 * Asks each master its ROLE, not a PING: a map from before a failover
 * names the old master, which may be back as a replica and answer PING
 * while the shard's real master is gone.  A node answering as a replica
 * makes the map stale; the count is then made again on a fresh one.
 */
int
rds_ping_masters(struct rds *r, int *total)
{
	int	up, demoted;

	*total = 1;
	if (r->mode == RDS_SINGLE)
		return rds_ping(r) == 0;
	up = ping_masters_once(r, total, &demoted);
	if (up >= 0 && demoted) {
		r->cl->stale = 1;
		up = ping_masters_once(r, total, &demoted);
	}
	return up;
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
