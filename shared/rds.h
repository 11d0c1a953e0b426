/* SPDX-License-Identifier: ISC */
/*
 * rds.h - Redis: the shard list, connections that reconnect by themselves,
 * the Lua scripts (EVALSHA, NOSCRIPT handled); the seat operations are
 * in fcgi/ticket/sale.c.
 *
 * A struct rds holds one lazily opened hiredis context per node.  After any
 * I/O or protocol error that context is dropped (hiredis cannot reuse it) and
 * the next call reconnects.  Functions returning int give 0 or a positive
 * result on success and -1 on failure, with r->errstr set.
 */
#ifndef BOX_RDS_H
#define BOX_RDS_H

#include <hiredis/hiredis.h>

#include "ticket.h"

#define RDS_NODES_MAX	16

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

struct rds_node {
	char		 host[128];
	int		 port;
	redisContext	*ctx;
	char		 sha[SCRIPT__MAX][41];
	unsigned long	 connects;	/* successful connects so far */
};

struct rds {
	struct rds_node	 nodes[RDS_NODES_MAX];
	unsigned	 n;
	int		 timeout_ms;
	unsigned long	 reconnects;
	int		 in_doubt;	/* last rds_eval: sent, no reply */
	long long	 opens_ms;	/* SALE_NOT_ON_SALE: when it opens */
	long long	 wait_ms;	/* and how long until then (Redis TIME) */
	char		 errstr[160];
};

/* Parses "host:port[,host:port...]" into r; connects nothing yet.
 * Returns 0, or -1 with errstr set (bad list, too many nodes). */
int	rds_init(struct rds *r, const char *nodes, int timeout_ms);
/* Closes every connection. */
void	rds_close(struct rds *r);

/* The node index holding an "E:Z" tag. */
unsigned rds_node_for(const struct rds *r, const char *tag);
/* The connected context of node i (connecting and loading scripts if
 * needed), or NULL with errstr set. */
redisContext *rds_ctx(struct rds *r, unsigned i);
/* Drops node i's connection after an error (the next call reconnects). */
void	rds_drop(struct rds *r, unsigned i);

/* Runs a command on node i (redisCommandArgv); the caller frees the reply
 * with freeReplyObject().  Returns NULL on I/O failure or an error reply
 * (errstr set; the connection is dropped on I/O failure). */
redisReply *rds_argv(struct rds *r, unsigned i, int argc, const char **argv,
	    const size_t *lens);
/* printf-style variant of rds_argv(). */
redisReply *rds_cmd(struct rds *r, unsigned i, const char *fmt, ...);
/* EVALSHA of a script with nkeys keys then args (reloads on NOSCRIPT).
 * Same return convention as rds_argv(); on NULL, r->in_doubt is 1 if the
 * command had been sent whole (Redis may have run it), else 0. */
redisReply *rds_eval(struct rds *r, unsigned i, enum rds_script s, int nkeys,
	    int argc, const char **argv);

/* Reads the answer "<opens ms> <now ms>" of a zone not yet on sale into
 * opens_ms and wait_ms; returns 0 or -1 if it is not one. */
int	rds_not_on_sale(struct rds *r, const char *s);

/* PING every node; returns 0 if all answer, else -1 with errstr set. */
int	rds_ping(struct rds *r);

#endif
