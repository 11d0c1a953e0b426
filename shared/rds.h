/* SPDX-License-Identifier: ISC */
/*
 * rds.h - Redis: one server (redis_mode = single) or a Redis Cluster
 * (redis_mode = cluster, shared/rcluster.c), the Lua scripts (EVALSHA,
 * NOSCRIPT handled), WAIT; the seat operations are in fcgi/ticket/sale.c.
 *
 * A command names the slot of its keys (keys_slot() of the zone's tag "E:Z";
 * every key a script touches is in that slot, shared/keys.h): in cluster
 * mode it goes to the master serving that slot, following MOVED/ASK and
 * backing off on TRYAGAIN/CLUSTERDOWN; in single mode the slot is ignored.
 * The connection of a single server is opened lazily and dropped after any
 * I/O or protocol error (hiredis cannot reuse it): the next call reconnects.
 *
 * Errors follow shared/err.h: a function returning a pointer gives NULL, one
 * returning int gives -1, with err (enum err_kind) and errstr set.
 */
#ifndef BOX_RDS_H
#define BOX_RDS_H

#include <hiredis/hiredis.h>

#include "conf.h"
#include "err.h"
#include "rcluster.h"
#include "ticket.h"

enum rds_script {
	SCRIPT_CLAIM,
	SCRIPT_LOAD_ZONE,
	SCRIPT_DROP_ZONE,
	SCRIPT_ORDER,
	SCRIPT_ORDER_RELEASE,
	SCRIPT_CANCEL,
	SCRIPT_HOLD_EXPIRE,
	SCRIPT__MAX
};

enum rds_mode {
	RDS_SINGLE,	/* one Redis server (the default) */
	RDS_CLUSTER,	/* a Redis Cluster: redis_nodes are seeds */
	RDS_MODE__MAX
};

/* "single", "cluster" ("?" for anything else). */
const char *rds_mode_str(enum rds_mode m);

struct rds {
	enum rds_mode	 mode;
	int		 timeout_ms;
	/* single: the server (port 0: host is a unix socket's path), its
	 * connection */
	char		 host[RCL_HOST_MAX];
	int		 port;
	redisContext	*ctx;
	int		 txn;		/* a WATCH or MULTI is open on ctx */
	unsigned long	 connects;	/* successful connects so far */
	/* cluster: the client (slot map, a connection per node) */
	struct rcluster	*cl;
	int		 master[RCL_NODES_MAX];	/* map indexes of the masters */
	int		 nmasters;
	char		 sha[SCRIPT__MAX][41];	/* SHA1 of each script */
	/* WAIT after a sale (redis_wait_*): replicas (0 = none), timeout,
	 * 1 to release when fewer answer (else publish anyway) */
	int		 wait_replicas;
	int		 wait_timeout_ms;
	int		 wait_release;
	/* redis_read_from = replica: rds_read_* go to the slot's replica
	 * (cluster mode) while it is no further behind than
	 * redis_read_max_lag_ms */
	int		 read_replica;
	unsigned long	 reconnects;
	int		 in_doubt;	/* last command: sent, no reply */
	int		 script_failed;	/* last rds_eval(): an error raised
					   inside the script, which may have
					   written before it (rds_eval()) */
	int		 moving;	/* last command failed (ERR_SERVER): its
					   slot being moved between masters
					   (rcluster.h, unstable) */
	long long	 opens_ms;	/* SALE_NOT_ON_SALE: when it opens */
	long long	 wait_ms;	/* and how long until then (Redis TIME) */
	int		 err;		/* enum err_kind */
	char		 errstr[ERRSTR_MAX];
};

/* Sets r up for mode and nodes ("host:port" or the absolute path of a unix
 * socket, "/run/redis/redis.sock", in single mode; seeds
 * "host:port[,host:port...]" in cluster mode); connects nothing yet.
 * retry_ms bounds a cluster command's back-off (TRYAGAIN, CLUSTERDOWN, a
 * failover).  Returns 0, or -1 with err/errstr set (bad list). */
int	rds_init(struct rds *r, enum rds_mode mode, const char *nodes,
	    int timeout_ms, int retry_ms);
/* rds_init() from the settings redis_mode, redis_nodes, redis_timeout_ms,
 * redis_retry_ms, and the WAIT ones (redis_wait_*).  Returns 0 or -1 with
 * errstr (a bad setting). */
int	rds_init_conf(struct rds *r, const struct conf *c);
/* Closes every connection. */
void	rds_close(struct rds *r);

/* The connected context serving slot (connecting if needed), for a
 * pipeline of commands on the keys of that slot, or NULL with errstr. */
redisContext *rds_ctx(struct rds *r, unsigned slot);
/* After an I/O error on rds_ctx(r, slot): drops that connection (the next
 * call reconnects; in cluster mode the map is asked again). */
void	rds_drop(struct rds *r, unsigned slot);
/* 1 if the connection serving slot is open now (a kept one may be stale:
 * a read may be sent once more after it failed). */
int	rds_is_open(const struct rds *r, unsigned slot);

/* Runs a command on the keys of slot (redisCommandArgv); the caller frees
 * the reply with freeReplyObject().  Returns NULL on I/O failure (err
 * ERR_IO) or an error reply (ERR_SERVER, freed). */
redisReply *rds_argv(struct rds *r, unsigned slot, int argc,
	    const char **argv, const size_t *lens);
/* rds_argv() for a command whose answer only says it worked (a write,
 * one queued in a transaction): 0, or -1 with errstr set. */
int	rds_do(struct rds *r, unsigned slot, int argc, const char **argv,
	    const size_t *lens);
/* printf-style variant of rds_argv() (hiredis format: %s %b %d %lld). */
redisReply *rds_cmd(struct rds *r, unsigned slot, const char *fmt, ...);
/* EVALSHA of a script with nkeys keys (all in slot) then args (reloads on
 * NOSCRIPT).  Same return convention as rds_argv(); on NULL, in_doubt is 1
 * if the command had been sent whole and not answered (Redis may have run
 * it), else 0, and script_failed is 1 if the answer was an error raised
 * inside the script after it may have written, else 0. */
redisReply *rds_eval(struct rds *r, unsigned slot, enum rds_script s,
	    int nkeys, int argc, const char **argv);
/* WAIT nreplicas timeout_ms on the master that ran the last command of
 * slot.  Returns how many replicas acknowledged it (0 in single mode
 * without replicas), or -1 with errstr (the connection is gone: whether
 * the write was replicated is unknown). */
int	rds_wait(struct rds *r, unsigned slot, int nreplicas, int timeout_ms);

/*
 * Reads of the query responder (redis_read_from): with read_replica in
 * cluster mode, on the slot's replica while rcluster.h's look at it allows
 * (link up, replicating the slot's master, lag within
 * redis_read_max_lag_ms), else on its master; otherwise on the master as
 * rds_argv().  The purchase responder, the consumer and ticketctl never
 * call these: what they read must be the last write.
 * Metrics: boxoffice_redis_replica_reads_total, ..._fallbacks_total.
 */
/* A printf-style read command, as rds_cmd(). */
redisReply *rds_read_cmd(struct rds *r, unsigned slot, const char *fmt, ...);
/* The connected context to read slot from (for a pipeline), *node the map
 * index it belongs to (0 in single mode), *replica 1 if it is a replica's,
 * or NULL with errstr. */
redisContext *rds_read_ctx(struct rds *r, unsigned slot, int *node,
	    int *replica);
/* After an I/O error or an error reply (MOVED, EXECABORT) on
 * rds_read_ctx(): drops that connection, asks the map again; a replica is
 * not read until its next look. */
void	rds_read_failed(struct rds *r, int node);
/* The state of the replica read for master i (0..rds_masters()-1), for
 * /get/health: rcl_rstate_str() of its look ("none" in single mode), its
 * address into buf ("-": none), *lag_ms (-1: unknown). */
const char *rds_replica_state(struct rds *r, int i, char *buf, size_t size,
	    long long *lag_ms);

/* The masters: their number (1 in single mode; in cluster mode those of
 * the slot map, fetched if needed), or -1 with errstr. */
int	rds_masters(struct rds *r);
/* "host:port" (or the socket's path) of master i (0..rds_masters()-1) into buf. */
void	rds_master_name(const struct rds *r, int i, char *buf, size_t size);
/* A command about master i itself (INFO, DBSIZE, SCAN, PING): no slot, no
 * redirect.  Same return convention as rds_argv(). */
redisReply *rds_master_cmd(struct rds *r, int i, const char *fmt, ...);
/* "host:port" (or the socket's path) serving slot now, into buf ("?" if unknown). */
void	rds_where(const struct rds *r, unsigned slot, char *buf, size_t size);

/* Reads the answer "<opens ms> <now ms>" of a zone not yet on sale into
 * opens_ms and wait_ms; returns 0 or -1 if it is not one. */
int	rds_not_on_sale(struct rds *r, const char *s);

/* Asks the master of every shard that serves slots whether it answers as
 * a master (cluster mode: ROLE; one whose master is gone and whose replica
 * is not promoted yet counts as not answering, so do slots the map lists
 * without a master; a map that names a replica is refreshed and the count
 * made again).  Returns how many answered, *total how many were asked
 * (1 in single mode), or -1 with errstr (no slot map); errstr says why
 * the last one failed. */
int	rds_ping_masters(struct rds *r, int *total);

#endif
