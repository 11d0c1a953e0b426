/* SPDX-License-Identifier: ISC */
/*
 * rcluster.c - Redis Cluster client on hiredis 0.14 (see rcluster.h).
 */
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "clock.h"
#include "fmt.h"
#include "hostlist.h"
#include "keys.h"
#include "rcluster.h"
#include "valid.h"

unsigned
rcl_slot(const char *key, size_t len)
{
	const char	*s, *e;

	if ((s = memchr(key, '{', len)) != NULL &&
	    (e = memchr(s + 1, '}', len - (size_t)(s + 1 - key))) != NULL &&
	    e > s + 1)
		return keys_crc16(s + 1, (size_t)(e - s - 1)) & (RCL_SLOTS - 1);
	return keys_crc16(key, len) & (RCL_SLOTS - 1);
}

/* ---------------------------------------------------------------- parsing */

/* The value after the string key name in the flat array m, or NULL. */
static const redisReply *
kv_get(const redisReply *m, const char *name)
{
	size_t i;

	if (m == NULL || m->type != REDIS_REPLY_ARRAY)
		return NULL;
	for (i = 0; i + 1 < m->elements; i += 2)
		if (m->element[i]->type == REDIS_REPLY_STRING &&
		    strcmp(m->element[i]->str, name) == 0)
			return m->element[i + 1];
	return NULL;
}

static int
kv_is(const redisReply *v, const char *s)
{
	return v != NULL && (v->type == REDIS_REPLY_STRING ||
	    v->type == REDIS_REPLY_STATUS) && strcmp(v->str, s) == 0;
}

/* Adds (or finds) the node of one CLUSTER SHARDS node entry; returns its
 * index or -1 with err set. */
static int
map_node(struct rcl_map *m, const redisReply *e, char *err, size_t errlen)
{
	const redisReply	*ip, *port;
	const char		*host;
	unsigned		 i;

	ip = kv_get(e, "ip");
	if (ip == NULL || ip->type != REDIS_REPLY_STRING || ip->len == 0)
		ip = kv_get(e, "endpoint");
	port = kv_get(e, "port");
	if (ip == NULL || ip->type != REDIS_REPLY_STRING || port == NULL ||
	    port->type != REDIS_REPLY_INTEGER || port->integer < 1 ||
	    port->integer > 65535) {
		snprintf(err, errlen, "CLUSTER SHARDS: a node without ip/port");
		return -1;
	}
	host = ip->str;
	if (ip->len >= RCL_HOST_MAX) {
		snprintf(err, errlen, "CLUSTER SHARDS: host name too long");
		return -1;
	}
	for (i = 0; i < m->n; i++)
		if (m->nodes[i].port == port->integer &&
		    strcmp(m->nodes[i].host, host) == 0)
			return (int)i;
	if (m->n == RCL_NODES_MAX) {
		snprintf(err, errlen, "CLUSTER SHARDS: more than %d nodes",
		    RCL_NODES_MAX);
		return -1;
	}
	memcpy(m->nodes[i].host, host, ip->len + 1);
	m->nodes[i].port = (int)port->integer;
	m->nodes[i].master = kv_is(kv_get(e, "role"), "master");
	m->nodes[i].online = kv_is(kv_get(e, "health"), "online");
	m->n++;
	return (int)i;
}

/* One shard: its nodes, then its slot ranges.  Returns the number of slots
 * it covers or -1. */
static int
map_shard(struct rcl_map *m, const redisReply *sh, char *err, size_t errlen)
{
	const redisReply	*slots, *nodes, *a, *b;
	int			 master = -1, replica = -1, idx, covered = 0;
	size_t			 i;
	long long		 s;

	slots = kv_get(sh, "slots");
	nodes = kv_get(sh, "nodes");
	if (slots == NULL || nodes == NULL || slots->type !=
	    REDIS_REPLY_ARRAY || nodes->type != REDIS_REPLY_ARRAY ||
	    slots->elements % 2 != 0) {
		snprintf(err, errlen, "CLUSTER SHARDS: a shard without "
		    "slots/nodes");
		return -1;
	}
	for (i = 0; i < nodes->elements; i++) {
		if ((idx = map_node(m, nodes->element[i], err, errlen)) < 0)
			return -1;
		if (m->nodes[idx].master) {
			if (master < 0 || (!m->nodes[master].online &&
			    m->nodes[idx].online))
				master = idx;
		} else if (replica < 0 && m->nodes[idx].online)
			replica = idx;
	}
	for (i = 0; i < slots->elements; i += 2) {
		a = slots->element[i];
		b = slots->element[i + 1];
		if (a->type != REDIS_REPLY_INTEGER ||
		    b->type != REDIS_REPLY_INTEGER || a->integer < 0 ||
		    b->integer >= RCL_SLOTS || a->integer > b->integer) {
			snprintf(err, errlen, "CLUSTER SHARDS: bad slot range");
			return -1;
		}
		if (master < 0) {
			snprintf(err, errlen, "CLUSTER SHARDS: slots without "
			    "a master");
			return -1;
		}
		for (s = a->integer; s <= b->integer; s++) {
			if (m->master[s] < 0)
				covered++;
			m->master[s] = (short)master;
			m->replica[s] = (short)replica;
		}
	}
	return covered;
}

int
rcl_parse_shards(const redisReply *r, struct rcl_map *m, char *err,
    size_t errlen)
{
	size_t	i;
	int	n, covered = 0;

	m->n = 0;
	for (i = 0; i < RCL_SLOTS; i++)
		m->master[i] = m->replica[i] = -1;
	if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
		snprintf(err, errlen, "CLUSTER SHARDS: not an array");
		return -1;
	}
	for (i = 0; i < r->elements; i++) {
		if ((n = map_shard(m, r->element[i], err, errlen)) < 0)
			return -1;
		covered += n;
	}
	return covered;
}

static const char *const redirect_names[RCL_REDIR__MAX] = {
	"none", "MOVED", "ASK", "TRYAGAIN", "CLUSTERDOWN"
};

const char *
rcl_redirect_str(enum rcl_redirect r)
{
	return (unsigned)r < RCL_REDIR__MAX ? redirect_names[r] : "?";
}

/* what separates the seed nodes of redis_nodes: commas, and blanks around
 * them ("a:1, b:2"), which are no part of a host */
#define SEED_SEP	", \t"

/* "host:port" (the port after the last colon, so an IPv6 host works;
 * "[v6]:port" too: hostport_parse()) into host and *port; returns 0 or
 * -1. */
static int
parse_addr(const char *s, char *host, size_t hsize, int *port)
{
	struct hostport	hp;
	char		err[8];

	if (hostport_parse(s, 0, &hp, err, sizeof(err)) != 0 ||
	    strlen(hp.host) >= hsize)
		return -1;
	memcpy(host, hp.host, strlen(hp.host) + 1);
	*port = hp.port;
	return 0;
}

enum rcl_redirect
rcl_parse_redirect(const char *err, int *slot, char *host, size_t hsize,
    int *port)
{
	enum rcl_redirect	 kind;
	const char		*p, *sp;
	char			 num[16];
	long			 v;

	if (err == NULL)
		return RCL_REDIR_NONE;
	if (strncmp(err, "TRYAGAIN", 8) == 0)
		return RCL_REDIR_TRYAGAIN;
	if (strncmp(err, "CLUSTERDOWN", 11) == 0)
		return RCL_REDIR_CLUSTERDOWN;
	if (strncmp(err, "MOVED ", 6) == 0) {
		kind = RCL_REDIR_MOVED;
		p = err + 6;
	} else if (strncmp(err, "ASK ", 4) == 0) {
		kind = RCL_REDIR_ASK;
		p = err + 4;
	} else
		return RCL_REDIR_NONE;
	/* "<slot> <host>:<port>"; the host may be an IPv6 address, so the
	 * port follows the last colon */
	if ((sp = strchr(p, ' ')) == NULL || (size_t)(sp - p) >= sizeof(num))
		return RCL_REDIR_NONE;
	memcpy(num, p, (size_t)(sp - p));
	num[sp - p] = '\0';
	if (valid_long(num, 0, RCL_SLOTS - 1, &v) != 0)
		return RCL_REDIR_NONE;
	*slot = (int)v;
	if (parse_addr(sp + 1, host, hsize, port) != 0)
		return RCL_REDIR_NONE;
	return kind;
}

/* The value of "name:" at the start of a line of INFO text into buf, or
 * -1 if there is none (or it does not fit). */
static int
info_field(const char *info, const char *name, char *buf, size_t size)
{
	const char	*p = info, *e;
	size_t		 nl = strlen(name), vl;

	for (; p != NULL && *p != '\0'; p = (e = strchr(p, '\n')) != NULL ?
	    e + 1 : NULL) {
		if (strncmp(p, name, nl) != 0 || p[nl] != ':')
			continue;
		p += nl + 1;
		vl = strcspn(p, "\r\n");
		if (vl >= size)
			return -1;
		memcpy(buf, p, vl);
		buf[vl] = '\0';
		return 0;
	}
	return -1;
}

int
rcl_parse_replication(const char *info, struct rcl_repl *p)
{
	char	v[RCL_HOST_MAX];
	long	n;

	memset(p, 0, sizeof(*p));
	if (info_field(info, "role", v, sizeof(v)) != 0)
		return -1;
	p->master = strcmp(v, "master") == 0;
	if (!p->master && strcmp(v, "slave") != 0)
		return -1;
	if (info_field(info, p->master ? "master_repl_offset" :
	    "slave_repl_offset", v, sizeof(v)) != 0 ||
	    valid_digits(v, &n) != 0)
		return -1;
	p->offset = n;
	if (p->master)
		return 0;
	if (info_field(info, "master_host", p->master_host,
	    sizeof(p->master_host)) != 0)
		p->master_host[0] = '\0';
	if (info_field(info, "master_port", v, sizeof(v)) == 0 &&
	    valid_long(v, 1, 65535, &n) == 0)
		p->master_port = (int)n;
	p->link_up = info_field(info, "master_link_status", v, sizeof(v)) ==
	    0 && strcmp(v, "up") == 0;
	p->syncing = info_field(info, "master_sync_in_progress", v,
	    sizeof(v)) == 0 && strcmp(v, "0") != 0;
	return 0;
}

static const char *const rstate_names[RCL_RS__MAX] = {
	"ok", "none", "down", "not replicating", "behind"
};

const char *
rcl_rstate_str(enum rcl_rstate s)
{
	return (unsigned)s < RCL_RS__MAX ? rstate_names[s] : "?";
}

long long
rcl_lag_ms(long long applied, long long now_ms, struct rcl_mark cur,
    struct rcl_mark prev, struct rcl_mark *caught)
{
	if (caught->ms > 0 && applied < caught->off)
		caught->ms = 0;
	if (prev.ms > caught->ms && applied >= prev.off)
		*caught = prev;
	if (applied >= cur.off)
		*caught = cur;
	return caught->ms > 0 ? now_ms - caught->ms : -1;
}

/* ------------------------------------------------------------ connections */

static void
conn_drop(struct rcl_conn *k)
{
	if (k->ctx != NULL)
		redisFree(k->ctx);
	k->ctx = NULL;
	k->readonly = 0;
}

int
rcl_idle_dead(redisContext *ctx)
{
	struct pollfd pfd;

	pfd.fd = ctx->fd;
	pfd.events = POLLIN;
	pfd.revents = 0;
	return poll(&pfd, 1, 0) > 0;
}

/* A new connection to host:port with the client's timeouts, or NULL with
 * errstr. */
static redisContext *
connect_to(struct rcluster *c, const char *host, int port)
{
	struct timeval	 tv;
	redisContext	*ctx;

	tv.tv_sec = c->timeout_ms / 1000;
	tv.tv_usec = (c->timeout_ms % 1000) * 1000;
	ctx = redisConnectWithTimeout(host, port, tv);
	if (ctx == NULL || ctx->err || redisSetTimeout(ctx, tv) != REDIS_OK) {
		fmt_trunc(c->errstr, sizeof(c->errstr), "redis %s:%d: "
		    "connect: %s", host, port, ctx != NULL ? ctx->errstr :
		    "out of memory");
		if (ctx != NULL)
			redisFree(ctx);
		c->conn_errors++;
		return NULL;
	}
	(void)redisEnableKeepAlive(ctx);
	c->connects++;
	return ctx;
}

/* The connected context of map node i (READONLY sent if readonly), or NULL
 * with errstr. */
static redisContext *
node_ctx(struct rcluster *c, int i, int readonly)
{
	struct rcl_conn	*k = &c->conn[i];
	redisReply	*r;

	if (k->ctx != NULL && rcl_idle_dead(k->ctx))
		conn_drop(k);
	if (k->ctx == NULL &&
	    (k->ctx = connect_to(c, c->map.nodes[i].host,
	    c->map.nodes[i].port)) == NULL)
		return NULL;
	if (readonly && !k->readonly) {
		r = redisCommand(k->ctx, "READONLY");
		if (r == NULL || r->type == REDIS_REPLY_ERROR) {
			fmt_trunc(c->errstr, sizeof(c->errstr), "redis %s:%d: "
			    "READONLY: %s", c->map.nodes[i].host,
			    c->map.nodes[i].port, r != NULL ? r->str :
			    k->ctx->errstr);
			if (r != NULL)
				freeReplyObject(r);
			conn_drop(k);
			return NULL;
		}
		freeReplyObject(r);
		k->readonly = 1;
	}
	return k->ctx;
}

/* ---------------------------------------------------------------- the map */

/* The map index of host:port, or -1. */
static int
map_find(const struct rcl_map *m, const char *host, int port)
{
	unsigned i;

	for (i = 0; i < m->n; i++)
		if (m->nodes[i].port == port && strcmp(m->nodes[i].host, host) == 0)
			return (int)i;
	return -1;
}

/* Asks ctx for CLUSTER SHARDS and installs the map, moving over the
 * connections of nodes that stay.  Returns 0, -1 with errstr, or -2 if ctx
 * failed (then it is unusable). */
static int
install_map(struct rcluster *c, redisContext *ctx, const char *from)
{
	struct rcl_map	*m;
	struct rcl_conn	 old[RCL_NODES_MAX];
	redisReply	*r;
	char		 err[160];
	unsigned	 j;
	int		 n;

	if ((r = redisCommand(ctx, "CLUSTER SHARDS")) == NULL) {
		fmt_trunc(c->errstr, sizeof(c->errstr), "redis %s: CLUSTER "
		    "SHARDS: %s", from, ctx->errstr);
		return -2;	/* the connection is unusable */
	}
	if (r->type == REDIS_REPLY_ERROR) {
		fmt_trunc(c->errstr, sizeof(c->errstr), "redis %s: CLUSTER "
		    "SHARDS: %s", from, r->str);
		freeReplyObject(r);
		return -1;
	}
	if ((m = malloc(sizeof(*m))) == NULL) {
		freeReplyObject(r);
		fmt_trunc(c->errstr, sizeof(c->errstr), "out of memory");
		return -1;
	}
	n = rcl_parse_shards(r, m, err, sizeof(err));
	freeReplyObject(r);
	if (n <= 0) {
		fmt_trunc(c->errstr, sizeof(c->errstr), "redis %s: %s", from,
		    n < 0 ? err : "CLUSTER SHARDS: no slot covered");
		free(m);
		return -1;
	}
	memcpy(old, c->conn, sizeof(old));
	memset(c->conn, 0, sizeof(c->conn));
	for (j = 0; c->have_map && j < c->map.n; j++)
		if ((old[j].ctx != NULL || old[j].look_ms != 0 ||
		    old[j].seen.ms != 0) && (n = map_find(m, c->map.nodes[j].host,
		    c->map.nodes[j].port)) >= 0) {
			c->conn[n] = old[j];
			old[j].ctx = NULL;
		}
	for (j = 0; j < RCL_NODES_MAX; j++)
		conn_drop(&old[j]);
	memcpy(&c->map, m, sizeof(*m));
	free(m);
	c->have_map = 1;
	c->map_ms = mono_ms();
	c->stale = 0;
	c->last_node = -1;
	c->txn_node = -1;
	c->txn_multi = 0;
	c->refreshes++;
	return 0;
}

int
rcl_refresh(struct rcluster *c)
{
	char		 list[sizeof(c->seeds)], host[RCL_HOST_MAX], *tok, *save;
	redisContext	*ctx;
	unsigned	 i;
	int		 port, rc;

	/* the nodes we know, masters first */
	for (rc = 1; c->have_map && rc >= 0; rc--)
		for (i = 0; i < c->map.n; i++) {
			if (c->map.nodes[i].master != rc)
				continue;
			if ((ctx = node_ctx(c, (int)i, 0)) == NULL)
				continue;
			if (install_map(c, ctx, c->map.nodes[i].host) == 0)
				return 0;
			conn_drop(&c->conn[i]);
		}
	/* then the seeds, on connections of their own */
	memcpy(list, c->seeds, sizeof(list));
	for (tok = strtok_r(list, SEED_SEP, &save); tok != NULL;
	    tok = strtok_r(NULL, SEED_SEP, &save)) {
		if (parse_addr(tok, host, sizeof(host), &port) != 0)
			continue;
		if ((ctx = connect_to(c, host, port)) == NULL)
			continue;
		if ((rc = install_map(c, ctx, tok)) == 0 &&
		    (i = (unsigned)map_find(&c->map, host, port)) < c->map.n &&
		    c->conn[i].ctx == NULL) {
			c->conn[i].ctx = ctx;	/* the seed is a node: keep it */
			return 0;
		}
		redisFree(ctx);
		if (rc == 0)
			return 0;
	}
	return -1;
}

/* The map index of host:port, added as a master if the map does not know
 * it yet (a MOVED/ASK target newer than our map); -1 if the map is full. */
static int
node_index(struct rcluster *c, const char *host, int port)
{
	struct rcl_addr	*a;
	int		 i;

	if ((i = map_find(&c->map, host, port)) >= 0)
		return i;
	if (c->map.n == RCL_NODES_MAX)
		return -1;
	a = &c->map.nodes[c->map.n];
	snprintf(a->host, sizeof(a->host), "%s", host);
	a->port = port;
	a->master = a->online = 1;
	return (int)c->map.n++;
}

/* ------------------------------------------------------- replica reads */

/* INFO replication of node i (readonly: on its READONLY connection) into
 * *p.  Returns 0, or -1 with errstr (the connection dropped on I/O). */
static int
node_replication(struct rcluster *c, int i, int readonly, struct rcl_repl *p)
{
	redisContext	*ctx;
	redisReply	*r;
	int		 rc = -1;

	if ((ctx = node_ctx(c, i, readonly)) == NULL)
		return -1;
	if ((r = redisCommand(ctx, "INFO replication")) == NULL) {
		fmt_trunc(c->errstr, sizeof(c->errstr), "redis %s:%d: INFO: %s",
		    c->map.nodes[i].host, c->map.nodes[i].port, ctx->errstr);
		conn_drop(&c->conn[i]);
		c->conn_errors++;
		return -1;
	}
	if (r->type == REDIS_REPLY_STRING &&
	    rcl_parse_replication(r->str, p) == 0)
		rc = 0;
	else
		fmt_trunc(c->errstr, sizeof(c->errstr), "redis %s:%d: INFO "
		    "replication: unexpected reply", c->map.nodes[i].host,
		    c->map.nodes[i].port);
	freeReplyObject(r);
	return rc;
}

/* Looks at replica rn of master mn: INFO replication of the master (its
 * offset), then of the replica (up to RCL_LOOK_READS times while it has
 * not applied that offset yet).  Returns its state, *lag its lag. */
static enum rcl_rstate
look(struct rcluster *c, int rn, int mn, long long *lag)
{
	struct rcl_conn	*m = &c->conn[mn];
	struct rcl_addr	*ma = &c->map.nodes[mn];
	struct rcl_repl	 mr, rr;
	struct rcl_mark	 cur, prev = m->seen;
	int		 i;

	*lag = -1;
	cur.ms = mono_ms();
	if (node_replication(c, mn, 0, &mr) != 0 || !mr.master) {
		c->stale = 1;	/* no master there: a failover */
		return RCL_RS_UNLINKED;
	}
	cur.off = mr.offset;
	if (cur.off < prev.off)
		prev.ms = 0;	/* another history (a restart) */
	m->seen = cur;
	for (i = 0; i < RCL_LOOK_READS; i++) {
		if (node_replication(c, rn, 1, &rr) != 0)
			return RCL_RS_DOWN;
		if (rr.master || !rr.link_up || rr.syncing ||
		    rr.master_port != ma->port ||
		    strcmp(rr.master_host, ma->host) != 0) {
			c->stale = 1;
			return RCL_RS_UNLINKED;
		}
		if (rr.offset >= cur.off)
			break;
	}
	*lag = rcl_lag_ms(rr.offset, mono_ms(), cur, prev,
	    &c->conn[rn].caught);
	return *lag >= 0 && *lag <= c->read_max_lag_ms ? RCL_RS_OK :
	    RCL_RS_BEHIND;
}

enum rcl_rstate
rcl_look_replica(struct rcluster *c, unsigned slot, int *node,
    long long *lag_ms)
{
	struct rcl_conn	*k;
	int		 mn;

	*node = -1;
	*lag_ms = -1;
	if ((!c->have_map || c->stale) && rcl_refresh(c) != 0)
		return RCL_RS_DOWN;
	slot &= RCL_SLOTS - 1;
	mn = c->map.master[slot];
	if ((*node = c->map.replica[slot]) < 0 || mn < 0)
		return RCL_RS_NONE;
	k = &c->conn[*node];
	if (c->read_max_lag_ms < 0)
		return RCL_RS_OK;
	if (k->look_ms == 0 || mono_ms() - k->look_ms >= RCL_LOOK_MS) {
		k->rstate = look(c, *node, mn, &k->lag_ms);
		k->look_ms = mono_ms();
	}
	*lag_ms = k->lag_ms;
	return k->rstate;
}

/* Replica node failed a read: not read until its next look. */
static void
replica_down(struct rcluster *c, int node)
{
	c->conn[node].rstate = RCL_RS_DOWN;
	c->conn[node].lag_ms = -1;
	c->conn[node].look_ms = mono_ms();
}

/* 1 if a read of slot may go to its replica now. */
static int
replica_ok(struct rcluster *c, unsigned slot)
{
	int		node;
	long long	lag;

	return rcl_look_replica(c, slot, &node, &lag) == RCL_RS_OK;
}

int
rcl_read_node(struct rcluster *c, unsigned slot, enum rcl_route route,
    redisContext **ctx, int *ro)
{
	int node;

	*ro = 0;
	slot &= RCL_SLOTS - 1;
	if (route == RCL_REPLICA) {
		if (replica_ok(c, slot)) {
			node = c->map.replica[slot];
			if ((*ctx = node_ctx(c, node, 1)) != NULL) {
				c->replica_reads++;
				*ro = 1;
				return node;
			}
			replica_down(c, node);
		}
		c->replica_fallbacks++;
	}
	if ((node = rcl_node(c, slot)) < 0 ||
	    (*ctx = node_ctx(c, node, 0)) == NULL)
		return -1;
	return node;
}

void
rcl_read_failed(struct rcluster *c, int node)
{
	if (node < 0 || (unsigned)node >= c->map.n)
		return;
	if (!c->map.nodes[node].master)
		replica_down(c, node);
	conn_drop(&c->conn[node]);
	c->conn_errors++;
	c->stale = 1;
}

/* ---------------------------------------------------------------- commands */

/* Waits the next back-off step, unless the command has already taken
 * retry_ms since start: its sleeps and the time its connects and map
 * requests took alike (a master whose host is gone makes every connect
 * wait timeout_ms).  Returns 0 after waiting, -1 when the budget is
 * spent. */
static int
backoff(struct rcluster *c, long long start, int *step)
{
	struct timespec	ts;
	long long	spent = mono_ms() - start;
	int		ms;

	if (spent >= c->retry_ms)
		return -1;
	ms = *step < c->retry_ms - spent ? *step : (int)(c->retry_ms - spent);
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	nanosleep(&ts, NULL);
	*step = *step * 2 < RCL_BACKOFF_MAX_MS ? *step * 2 : RCL_BACKOFF_MAX_MS;
	return 0;
}

/* Sends (ASKING and) the command on ctx and reads its reply.  Returns the
 * reply, or NULL on an I/O error with *sent 0 if the command never fully
 * left (then it cannot run) and 1 if it did (then it may have run). */
static redisReply *
exchange(redisContext *ctx, int asking, int argc, const char **argv,
    const size_t *argvlen, int *sent)
{
	void	*rep = NULL;
	int	 done = 0;

	*sent = 0;
	if ((asking && redisAppendCommand(ctx, "ASKING") != REDIS_OK) ||
	    redisAppendCommandArgv(ctx, argc, argv, argvlen) != REDIS_OK)
		return NULL;
	do {
		if (redisBufferWrite(ctx, &done) != REDIS_OK)
			return NULL;
	} while (!done);
	*sent = 1;
	if (asking) {
		if (redisGetReply(ctx, &rep) != REDIS_OK)
			return NULL;
		freeReplyObject(rep);	/* +OK; an error shows in the next */
		rep = NULL;
	}
	if (redisGetReply(ctx, &rep) != REDIS_OK)
		return NULL;
	return rep;
}

/* The state of one command across its retries and redirects. */
struct attempt {
	unsigned	slot;
	long long	start;		/* when the command began (mono_ms) */
	int		step;		/* the next back-off wait */
	int		redirects;
	int		ask;		/* node of an ASK to follow, or -1 */
	int		no_replica;	/* master route (or the replica failed) */
	int		looked;		/* the replica's look asked */
	int		fell_back;	/* a replica read went to the master */
};

/* The node to send to: an ASK target, the slot's replica for a read, else
 * its master (-1: none).  *ro says whether it is a replica. */
static int
pick_node(const struct rcluster *c, const struct attempt *t, int *ro)
{
	*ro = 0;
	if (t->ask >= 0)
		return t->ask;
	if (!t->no_replica && c->map.replica[t->slot] >= 0) {
		*ro = 1;
		return c->map.replica[t->slot];
	}
	return c->map.master[t->slot];
}

/* What an error reply of node asks: RCL_REDIR_NONE (give the reply to the
 * caller), or a redirect / wait done here (retry: returns 0; give up:
 * returns -1 with errstr).  Frees rep unless it is returned. */
static int
follow(struct rcluster *c, struct attempt *t, int node, redisReply *rep,
    enum rcl_redirect *kind)
{
	const struct rcl_addr	*a = &c->map.nodes[node];
	char			 host[RCL_HOST_MAX];
	int			 rslot, port, n;

	*kind = rcl_parse_redirect(rep->str, &rslot, host, sizeof(host), &port);
	switch (*kind) {
	case RCL_REDIR_NONE:
		return 0;
	case RCL_REDIR_MOVED:
		c->moved++;
		/* the map is stale: refresh it, but trust the node that
		 * answered about this slot (gossip may lag) */
		if (rcl_refresh(c) != 0)
			c->stale = 1;
		if ((n = node_index(c, host, port)) >= 0)
			c->map.master[rslot] = (short)n;
		if (rslot == (int)t->slot)
			t->no_replica = 1;
		break;
	case RCL_REDIR_ASK:
		c->ask++;
		t->ask = node_index(c, host, port);
		break;
	default:	/* TRYAGAIN, CLUSTERDOWN: wait and retry */
		if (*kind == RCL_REDIR_TRYAGAIN)
			c->tryagain++;
		else {
			c->clusterdown++;
			c->stale = 1;
		}
		fmt_trunc(c->errstr, sizeof(c->errstr), "redis %s:%d: %s",
		    a->host, a->port, rep->str);
		freeReplyObject(rep);
		if (backoff(c, t->start, &t->step) != 0) {
			/* a slot whose keys are split between two nodes;
			 * CLUSTERDOWN is the whole cluster's */
			c->unstable = *kind == RCL_REDIR_TRYAGAIN;
			return -1;
		}
		return 0;
	}
	if (++t->redirects > RCL_REDIRECTS_MAX) {
		fmt_trunc(c->errstr, sizeof(c->errstr), "redis cluster: more "
		    "than %d redirects for slot %u (last: %s)",
		    RCL_REDIRECTS_MAX, t->slot, rep->str);
		freeReplyObject(rep);
		c->unstable = 1;
		return -1;
	}
	freeReplyObject(rep);
	return 0;
}

/* An old map is asked again, and kept if no node answers. */
static void
refresh_if_old(struct rcluster *c)
{
	if (c->have_map && !c->stale &&
	    mono_ms() - c->map_ms > RCL_MAP_MAX_AGE_MS)
		(void)rcl_refresh(c);
}

static redisReply *route_command(struct rcluster *, unsigned,
	    enum rcl_route, int, const char **, const size_t *);

int
rcl_is_cmd(const char **argv, const size_t *argvlen, const char *cmd)
{
	size_t len = argvlen != NULL ? argvlen[0] : strlen(argv[0]);

	return len == strlen(cmd) && strncasecmp(argv[0], cmd, len) == 0;
}

/* A command inside a transaction (see rcluster.h): on its connection only. */
static redisReply *
txn_command(struct rcluster *c, int argc, const char **argv,
    const size_t *argvlen)
{
	struct rcl_conn	*k = &c->conn[c->txn_node];
	struct rcl_addr	*a = &c->map.nodes[c->txn_node];
	redisReply	*rep;
	char		 host[RCL_HOST_MAX];
	int		 sent, rslot, port;

	if (k->ctx == NULL || (rep = exchange(k->ctx, 0, argc, argv, argvlen,
	    &sent)) == NULL) {
		fmt_trunc(c->errstr, sizeof(c->errstr), "redis %s:%d: %s "
		    "(the transaction is lost)", a->host, a->port,
		    k->ctx != NULL ? k->ctx->errstr : "connection gone");
		c->in_doubt = k->ctx != NULL && sent;
		conn_drop(k);
		c->conn_errors++;
		c->stale = 1;
		c->txn_node = -1;
		c->txn_multi = 0;
		return NULL;
	}
	if (rep->type == REDIS_REPLY_ERROR &&
	    rcl_parse_redirect(rep->str, &rslot, host, sizeof(host), &port) !=
	    RCL_REDIR_NONE)
		c->stale = 1;	/* refreshed once the transaction is over */
	c->last_node = c->txn_node;
	if (rcl_is_cmd(argv, argvlen, "MULTI") &&
	    rep->type != REDIS_REPLY_ERROR)
		c->txn_multi = 1;
	if (rcl_is_cmd(argv, argvlen, "EXEC") ||
	    rcl_is_cmd(argv, argvlen, "DISCARD") ||
	    rcl_is_cmd(argv, argvlen, "UNWATCH")) {
		c->txn_node = -1;
		c->txn_multi = 0;
	}
	return rep;
}

redisReply *
rcl_command_argv(struct rcluster *c, unsigned slot, enum rcl_route route,
    int argc, const char **argv, const size_t *argvlen)
{
	static const char	*unwatch[] = { "UNWATCH" };
	static const size_t	 unwatch_len[] = { 7 };
	redisReply		*rep;

	c->in_doubt = 0;
	c->unstable = 0;
	if (c->txn_node >= 0 && !c->txn_multi &&
	    rcl_is_cmd(argv, argvlen, "WATCH") && c->have_map &&
	    c->map.master[slot & (RCL_SLOTS - 1)] != c->txn_node) {
		/* a WATCH left open elsewhere (its caller gave up) */
		if ((rep = txn_command(c, 1, unwatch, unwatch_len)) != NULL)
			freeReplyObject(rep);
		c->txn_node = -1;
		c->txn_multi = 0;
		c->in_doubt = 0;	/* of the UNWATCH, not of this */
	}
	if (c->txn_node >= 0)
		return txn_command(c, argc, argv, argvlen);
	rep = route_command(c, slot, route, argc, argv, argvlen);
	if (rep != NULL && rep->type != REDIS_REPLY_ERROR && route ==
	    RCL_MASTER && c->last_node >= 0 &&
	    (rcl_is_cmd(argv, argvlen, "WATCH") ||
	    rcl_is_cmd(argv, argvlen, "MULTI"))) {
		c->txn_node = c->last_node;
		c->txn_multi = rcl_is_cmd(argv, argvlen, "MULTI");
	}
	return rep;
}

/* rcl_command_argv() outside a transaction. */
static redisReply *
route_command(struct rcluster *c, unsigned slot, enum rcl_route route,
    int argc, const char **argv, const size_t *argvlen)
{
	struct attempt		 t;
	struct rcl_addr		*a;
	redisContext		*ctx;
	redisReply		*rep;
	enum rcl_redirect	 kind;
	int			 node, ro, sent;

	memset(&t, 0, sizeof(t));
	t.slot = slot & (RCL_SLOTS - 1);
	t.start = mono_ms();
	t.step = RCL_BACKOFF_MIN_MS;
	t.ask = -1;
	t.no_replica = route != RCL_REPLICA;
	refresh_if_old(c);
	for (;;) {
		if ((!c->have_map || c->stale) && rcl_refresh(c) != 0) {
			if (backoff(c, t.start, &t.step) != 0)
				return NULL;
			continue;
		}
		if (!t.no_replica && !t.looked) {
			t.looked = 1;
			t.no_replica = !replica_ok(c, t.slot);
		}
		if ((node = pick_node(c, &t, &ro)) < 0) {
			fmt_trunc(c->errstr, sizeof(c->errstr), "redis cluster: "
			    "slot %u is not served by any node", t.slot);
			c->stale = 1;
			if (backoff(c, t.start, &t.step) != 0)
				return NULL;
			continue;
		}
		a = &c->map.nodes[node];
		if ((ctx = node_ctx(c, node, ro)) == NULL ||
		    (rep = exchange(ctx, t.ask >= 0, argc, argv, argvlen,
		    &sent)) == NULL) {
			if (ctx != NULL) {
				fmt_trunc(c->errstr, sizeof(c->errstr),
				    "redis %s:%d: %s", a->host, a->port,
				    ctx->errstr);
				conn_drop(&c->conn[node]);
				c->conn_errors++;
			}
			if (ro) {	/* the master answers reads too */
				replica_down(c, node);
				t.no_replica = 1;
				continue;
			}
			c->stale = 1;
			t.ask = -1;
			if (ctx != NULL && sent) {
				c->in_doubt = 1;	/* it may have run */
				return NULL;
			}
			if (backoff(c, t.start, &t.step) != 0)
				return NULL;
			continue;
		}
		t.ask = -1;
		if (ro && rep->type == REDIS_REPLY_ERROR &&
		    strncmp(rep->str, "LOADING", 7) == 0) {
			freeReplyObject(rep);	/* still syncing: the master */
			replica_down(c, node);
			t.no_replica = 1;
			continue;
		}
		if (ro)
			c->replica_reads++;
		else {
			c->last_node = node;
			if (route == RCL_REPLICA && !t.fell_back) {
				t.fell_back = 1;
				c->replica_fallbacks++;
			}
		}
		if (rep->type != REDIS_REPLY_ERROR)
			return rep;
		if (follow(c, &t, node, rep, &kind) != 0)
			return NULL;
		if (kind == RCL_REDIR_NONE)
			return rep;
	}
}

int
rcl_wait_ctx(redisContext *ctx, int nreplicas, int timeout_ms, int base_ms,
    char *why, size_t whylen, int *dead)
{
	struct timeval	 tv;
	redisReply	*r;
	int		 n;

	*dead = 0;
	if (timeout_ms <= 0) {	/* WAIT n 0 would block for ever */
		fmt_trunc(why, whylen, "needs a timeout");
		return -1;
	}
	/* the reply may take timeout_ms: the socket waits that much longer */
	tv.tv_sec = (timeout_ms + base_ms) / 1000;
	tv.tv_usec = ((timeout_ms + base_ms) % 1000) * 1000;
	(void)redisSetTimeout(ctx, tv);
	r = redisCommand(ctx, "WAIT %d %d", nreplicas, timeout_ms);
	tv.tv_sec = base_ms / 1000;
	tv.tv_usec = (base_ms % 1000) * 1000;
	if (r != NULL)
		(void)redisSetTimeout(ctx, tv);
	if (r == NULL || r->type != REDIS_REPLY_INTEGER) {
		fmt_trunc(why, whylen, "%s", r == NULL ? ctx->errstr :
		    r->type == REDIS_REPLY_ERROR ? r->str : "not an integer");
		*dead = r == NULL;
		if (r != NULL)
			freeReplyObject(r);
		return -1;
	}
	n = (int)r->integer;
	freeReplyObject(r);
	return n;
}

int
rcl_wait(struct rcluster *c, int nreplicas, int timeout_ms)
{
	char	why[200];
	int	i = c->last_node, n, dead;

	if (i < 0 || c->conn[i].ctx == NULL) {
		fmt_trunc(c->errstr, sizeof(c->errstr), "redis cluster: WAIT: "
		    "the connection of the last write is gone");
		return -1;
	}
	if ((n = rcl_wait_ctx(c->conn[i].ctx, nreplicas, timeout_ms,
	    c->timeout_ms, why, sizeof(why), &dead)) < 0) {
		fmt_trunc(c->errstr, sizeof(c->errstr), "redis %s:%d: WAIT: %s",
		    c->map.nodes[i].host, c->map.nodes[i].port, why);
		if (dead)
			conn_drop(&c->conn[i]);
	}
	return n;
}

int
rcl_node_of(const struct rcluster *c, unsigned slot, enum rcl_route route,
    char *buf, size_t size)
{
	int	i, n;

	if (!c->have_map)
		return -1;
	slot &= RCL_SLOTS - 1;
	i = route == RCL_REPLICA && c->map.replica[slot] >= 0 ?
	    c->map.replica[slot] : c->map.master[slot];
	if (i < 0)
		return -1;
	n = snprintf(buf, size, "%s:%d", c->map.nodes[i].host,
	    c->map.nodes[i].port);
	return n >= 0 && (size_t)n < size ? 0 : -1;
}

int
rcl_map_ready(struct rcluster *c)
{
	refresh_if_old(c);
	if ((!c->have_map || c->stale) && rcl_refresh(c) != 0)
		return -1;
	return 0;
}

int
rcl_node(struct rcluster *c, unsigned slot)
{
	if (rcl_map_ready(c) != 0)
		return -1;
	slot &= RCL_SLOTS - 1;
	if (c->map.master[slot] < 0) {
		fmt_trunc(c->errstr, sizeof(c->errstr), "redis cluster: "
		    "slot %u is not served by any node", slot);
		return -1;
	}
	return c->map.master[slot];
}

redisContext *
rcl_node_ctx(struct rcluster *c, int node)
{
	if (node < 0 || (unsigned)node >= c->map.n)
		return NULL;
	return node_ctx(c, node, 0);
}

void
rcl_node_failed(struct rcluster *c, int node)
{
	if (node >= 0 && node < RCL_NODES_MAX)
		conn_drop(&c->conn[node]);
	c->conn_errors++;
	c->stale = 1;
}

redisReply *
rcl_node_argv(struct rcluster *c, int node, int argc, const char **argv,
    const size_t *argvlen)
{
	redisContext	*ctx;
	redisReply	*rep;

	c->unstable = 0;
	if ((ctx = rcl_node_ctx(c, node)) == NULL)
		return NULL;
	if ((rep = redisCommandArgv(ctx, argc, argv, argvlen)) == NULL) {
		fmt_trunc(c->errstr, sizeof(c->errstr), "redis %s:%d: %s",
		    c->map.nodes[node].host, c->map.nodes[node].port,
		    ctx->errstr);
		rcl_node_failed(c, node);
	}
	return rep;
}

struct rcluster *
rcl_new(const char *seeds, int timeout_ms, int retry_ms, char *err,
    size_t errlen)
{
	struct rcluster	*c;
	char		 list[sizeof(c->seeds)], host[RCL_HOST_MAX], *tok, *save;
	int		 port, n = 0;

	if (strlen(seeds) >= sizeof(list)) {
		snprintf(err, errlen, "redis cluster: seed list too long");
		return NULL;
	}
	memcpy(list, seeds, strlen(seeds) + 1);
	for (tok = strtok_r(list, SEED_SEP, &save); tok != NULL;
	    tok = strtok_r(NULL, SEED_SEP, &save), n++)
		if (parse_addr(tok, host, sizeof(host), &port) != 0) {
			snprintf(err, errlen, "redis cluster: '%s' is not "
			    "host:port", tok);
			return NULL;
		}
	if (n == 0) {
		snprintf(err, errlen, "redis cluster: no seed node");
		return NULL;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		snprintf(err, errlen, "redis cluster: out of memory");
		return NULL;
	}
	memcpy(c->seeds, seeds, strlen(seeds) + 1);
	c->timeout_ms = timeout_ms;
	c->retry_ms = retry_ms;
	c->read_max_lag_ms = RCL_LOOK_MS;
	c->last_node = -1;
	c->txn_node = -1;
	return c;
}

void
rcl_free(struct rcluster *c)
{
	unsigned i;

	if (c == NULL)
		return;
	for (i = 0; i < RCL_NODES_MAX; i++)
		conn_drop(&c->conn[i]);
	free(c);
}
