/* SPDX-License-Identifier: ISC */
/*
 * cmd_init.c - ticketctl init (topology, table, catalog into Redis; never
 * creates full counters beside sold seats) and ticketctl reset --yes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "ctl.h"
#include "keys.h"
#include "sold.h"

#define QUEUE_PEEK_MAX	2000000L

/* What init knows of the sales when it loads the catalog. */
struct load {
	struct ctl	*ctl;
	int		 guard;		/* refuse counters beside sales */
	struct soldv	 mysql;		/* tickets in MySQL (sorted) */
	struct soldv	 queued;	/* tickets waiting in ticketSQL */
	long		 kept, created, refused;
};

static int
declare_topology(struct ctl *ctl)
{
	struct mq m;

	if (strcmp(ctl->c.amqp_queue_type, "classic") != 0 &&
	    strcmp(ctl->c.amqp_queue_type, "quorum") != 0) {
		ctl_err("amqp_queue_type: '%s' is not classic or quorum",
		    ctl->c.amqp_queue_type);
		return -1;
	}
	if (ctl_mq_open(ctl, &m, "ticketctl init") != 0)
		return -1;
	if (mq_declare_topology(&m, ctl->c.amqp_queue_max_length,
	    ctl->c.amqp_queue_type) != 0) {
		ctl_err("topology: %s", m.errstr);
		return -1;
	}
	mq_close(&m);
	printf("amqp: exchanges %s, %s and %s queues %s, %s (+%s) declared\n",
	    MQ_EXCHANGE, MQ_DLX, ctl->c.amqp_queue_type, MQ_QUEUE_SQL,
	    MQ_QUEUE_NOSQL, MQ_DEAD_SUFFIX);
	return 0;
}

static int
create_table(struct ctl *ctl)
{
	struct ddb	d;
	int		r;

	if (ddb_init(&d, &ctl->c) != 0) {
		ctl_err("%s", d.errstr);
		ddb_free(&d);
		return -1;
	}
	if ((r = ddb_create_table(&d)) < 0)
		ctl_err("create table: %s", d.errstr);
	else
		printf("dynamodb: table %s %s\n", d.table, r ? "created" :
		    "exists");
	ddb_free(&d);
	return r < 0 ? -1 : 0;
}

/* Loads one event zone; a zone without counters gets them only if no sale
 * of it is known anywhere (see lua/load_zone.lua). */
static int
load_zone(const struct catalog_zone *cz, void *arg)
{
	struct load	*l = arg;
	size_t		 first;
	long		 in_mysql, queued;
	int		 r;

	in_mysql = (long)soldv_zone(&l->mysql, cz->event, cz->zone, &first);
	queued = (long)soldv_zone(&l->queued, cz->event, cz->zone, &first);
	r = catalog_zone_load(l->ctl, cz, !l->guard ||
	    (in_mysql == 0 && queued == 0));
	if (r == CATZ_ERROR)
		return -1;
	if (r == CATZ_CREATED)
		l->created++;
	else if (r == CATZ_KEPT)
		l->kept++;
	else if (r == CATZ_SOLD) {
		/* Redis holds another shape or price beside sales: only
		 * `ticketctl catalog apply` changes a zone, never init */
		l->refused++;
		ctl_err("%s zone %ld: Redis has sales under another venue, "
		    "shape or price than MySQL; not changed (see `ticketctl "
		    "check`)", cz->event, cz->zone);
	} else {
		l->refused++;
		ctl_err("%s zone %ld: no counters in Redis, but seats were sold "
		    "(%ld ticket(s) in MySQL, %ld queued in %s, or traces left "
		    "in Redis): not creating full counters, which could sell "
		    "them again; run `ticketctl rebuild`", cz->event, cz->zone,
		    in_mysql, queued, MQ_QUEUE_SQL);
	}
	return 0;
}

/* Reads what is sold: MySQL, and ticketSQL if it holds messages (they stay
 * unacked, so nobody moves them, until m is closed). */
static int
read_sales(struct load *l, struct db *d, struct mq *m)
{
	struct events	 all = { .n = 0 };
	char		 err[256];
	long		 depth, msgs, other;
	int		 more;

	if (sold_from_mysql(&l->mysql, d, &all, err, sizeof(err)) != 0) {
		ctl_err("%s", err);
		return -1;
	}
	soldv_sort(&l->mysql);
	if ((depth = mq_queue_depth(m, MQ_QUEUE_SQL, NULL)) < 0) {
		ctl_err("%s", m->errstr);
		return -1;
	}
	if (depth == 0)
		return 0;
	if (sold_from_queue(&l->queued, m, MQ_QUEUE_SQL, &all, QUEUE_PEEK_MAX,
	    &msgs, &other, &more, err, sizeof(err)) != 0) {
		ctl_err("%s", err);
		return -1;
	}
	if (more)
		ctl_err("warning: %s holds more than %ld messages; only those "
		    "were read", MQ_QUEUE_SQL, QUEUE_PEEK_MAX);
	soldv_sort(&l->queued);
	return 0;
}

static int
load_catalog(struct ctl *ctl, int guard)
{
	struct load	 l;
	struct db	 d;
	struct mq	 m;
	long		 n = -1;

	memset(&l, 0, sizeof(l));
	memset(&m, 0, sizeof(m));
	l.ctl = ctl;
	l.guard = guard;
	ctl_db_open(ctl, &d);
	if (guard && ctl_mq_open(ctl, &m, "ticketctl init") != 0) {
		db_close(&d);
		return -1;
	}
	if (!guard || read_sales(&l, &d, &m) == 0) {
		ctl->rds.errstr[0] = '\0';
		n = db_catalog_each(&d, load_zone, &l);
		if (n < 0)
			ctl_err("catalog: %s", d.errstr);
		else if (ctl->rds.errstr[0] != '\0')
			ctl_err("redis: %s", ctl->rds.errstr);
	}
	if (guard)
		mq_close(&m);	/* queued messages go back to the queue */
	db_close(&d);
	soldv_free(&l.mysql);
	soldv_free(&l.queued);
	if (n < 0 || ctl->rds.errstr[0] != '\0')
		return -1;
	printf("redis: %ld event zones on %u node(s): %ld kept, %ld created, "
	    "%ld refused\n", n, ctl->rds.n, l.kept, l.created, l.refused);
	if (l.refused > 0) {
		ctl_err("%ld event zone(s) have sales but no counters in Redis "
		    "(was Redis lost?): stop sales, let the consumer drain, stop "
		    "it, run `ticketctl rebuild` (docs/reliability.md)",
		    l.refused);
		return -1;
	}
	return 0;
}

static int
init_all(struct ctl *ctl, int guard)
{
	if (declare_topology(ctl) != 0 || create_table(ctl) != 0 ||
	    load_catalog(ctl, guard) != 0)
		return CTL_FAIL;
	return CTL_OK;
}

static int
run_init(struct ctl *ctl, int argc, char **argv)
{
	(void)argv;
	if (argc > 1)
		return ctl_usage(&cmd_init);
	return init_all(ctl, 1);
}

const struct command cmd_init = {
	"init", run_init, "init",
	"declare the AMQP topology, create the DynamoDB table, load the catalog",
	"Declares ticket.exchange, ticket.dlx, the queues ticketSQL and\n"
	"ticketNoSQL and their dead-letter queues; creates the DynamoDB table\n"
	"unless it exists; loads every event zone of the MySQL catalog into its\n"
	"Redis node.  Idempotent: sold seats and counters already in Redis are\n"
	"never touched.  An event zone without counters in Redis gets full\n"
	"counters only if nothing of it is sold: if MySQL has tickets of it,\n"
	"ticketSQL holds some, or Redis still has seat bits or pending tickets,\n"
	"init refuses that zone (after a Redis loss: full counters would sell\n"
	"those seats again), loads the others and exits 1; run\n"
	"`ticketctl rebuild` then.",
};

/* ---------------------------------------------------------------- reset */

/* Deletes every bo:* key of one node; returns keys deleted or -1. */
static long
flush_node(struct rds *r, unsigned i)
{
	redisReply	*rep, *del;
	char		 cursor[32] = "0";
	long		 n = 0;
	size_t		 k;

	do {
		rep = rds_cmd(r, i, "SCAN %s MATCH bo:* COUNT 1000", cursor);
		if (rep == NULL || rep->type != REDIS_REPLY_ARRAY ||
		    rep->elements != 2) {
			if (rep != NULL)
				freeReplyObject(rep);
			return -1;
		}
		snprintf(cursor, sizeof(cursor), "%s", rep->element[0]->str);
		for (k = 0; k < rep->element[1]->elements; k++) {
			del = rds_cmd(r, i, "UNLINK %s",
			    rep->element[1]->element[k]->str);
			if (del == NULL) {
				freeReplyObject(rep);
				return -1;
			}
			freeReplyObject(del);
			n++;
		}
		freeReplyObject(rep);
	} while (strcmp(cursor, "0") != 0);
	return n;
}

static int
purge_queues(struct ctl *ctl)
{
	static const char *const queues[] = { MQ_QUEUE_SQL, MQ_QUEUE_NOSQL,
	    MQ_QUEUE_SQL MQ_DEAD_SUFFIX, MQ_QUEUE_NOSQL MQ_DEAD_SUFFIX };
	struct mq	m;
	size_t		q;

	if (ctl_mq_open(ctl, &m, "ticketctl reset") != 0)
		return -1;
	if (mq_declare_topology(&m, ctl->c.amqp_queue_max_length,
	    ctl->c.amqp_queue_type) != 0) {
		ctl_err("topology: %s", m.errstr);
		return -1;
	}
	for (q = 0; q < 4; q++) {
		amqp_queue_purge(m.conn, 1, amqp_cstring_bytes(queues[q]));
		if (amqp_get_rpc_reply(m.conn).reply_type !=
		    AMQP_RESPONSE_NORMAL) {
			ctl_err("amqp: purge %s failed", queues[q]);
			mq_close(&m);
			return -1;
		}
	}
	mq_close(&m);
	printf("amqp: 4 queues purged\n");
	return 0;
}

static int
run_reset(struct ctl *ctl, int argc, char **argv)
{
	struct ddb	d;
	unsigned	i;
	long		n;

	if (argc != 2 || strcmp(argv[1], "--yes") != 0)
		return ctl_usage(&cmd_reset);
	for (i = 0; i < ctl->rds.n; i++) {
		if ((n = flush_node(&ctl->rds, i)) < 0) {
			ctl_err("%s", ctl->rds.errstr);
			return CTL_FAIL;
		}
		printf("redis %s:%d: %ld keys deleted\n", ctl->rds.nodes[i].host,
		    ctl->rds.nodes[i].port, n);
	}
	if (purge_queues(ctl) != 0)
		return CTL_FAIL;
	if (ddb_init(&d, &ctl->c) != 0 || ddb_delete_table(&d) != 0) {
		ctl_err("dynamodb: %s", d.errstr);
		ddb_free(&d);
		return CTL_FAIL;
	}
	ddb_free(&d);
	printf("dynamodb: table deleted\n");
	/* every sale is forgotten on purpose: no guard */
	return init_all(ctl, 0);
}

const struct command cmd_reset = {
	"reset", run_reset, "reset --yes",
	"forget every sale in Redis, the queues and DynamoDB (tests, demos)",
	"Deletes every bo:* key of every Redis node, purges the four queues,\n"
	"deletes the DynamoDB table, then runs init (without its guard: every\n"
	"zone gets full counters).  MySQL tickets are not touched: the consumer's\n"
	"account cannot delete them (`scripts/stack reset` truncates the table\n"
	"with the admin account).  Never on a production system.",
};
