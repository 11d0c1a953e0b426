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
#include "err.h"
#include "keys.h"
#include "sold.h"

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
	    ctl->c.amqp_queue_type, ctl->c.amqp_quorum_replicas) != 0) {
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
	int		r, created;

	if (ddb_init(&d, &ctl->c) != 0) {
		ctl_err("%s", d.errstr);
		ddb_free(&d);
		return -1;
	}
	if ((r = ddb_create_table(&d, &created)) != 0)
		ctl_err("create table: %s", d.errstr);
	else
		printf("dynamodb: table %s %s\n", d.table, created ?
		    "created" : "exists");
	ddb_free(&d);
	return r;
}

/* Why a zone without counters was refused. */
enum init_refusal {
	INIT_REFUSE_MYSQL,	/* tickets of it in MySQL */
	INIT_REFUSE_TRACES,	/* seat bits, owners or pending left in Redis */
	INIT_REFUSE_INFLIGHT	/* sales may be queued, held or dead-lettered */
};

/* What init knows of the sales when it loads the catalog. */
struct load {
	struct ctl	*ctl;
	int		 guard;		/* refuse counters beside sales */
	struct zcounts	 mysql;		/* tickets per zone in MySQL */
	int		 accounted;	/* nothing in flight (sold_inflight_none) */
	char		 inflight[192];	/* else why not */
	int		 intact;	/* CTL_KEY_INTACT was there */
	long		 refused_on;	/* zones refused */
	long		 kept, created, refused, refused_inflight;
};

/* 1 if a zone was never loaded on its node: the node is intact (every zone
 * it ever loaded is still there, see CTL_KEY_INTACT) and has no trace of
 * the zone, not even its catalog hash or its bo:zones membership.  Such a
 * zone cannot have sold anything (the reservation script answers 404
 * without its hash), whatever is in flight elsewhere. */
static int
never_loaded(struct load *l, const char *tag, char (*k)[KEY_MAX])
{
	redisReply	*a, *b;
	int		 r;

	if (!l->intact)
		return 0;
	a = rds_cmd(&l->ctl->rds, rcl_slot(KEY_ZONES, strlen(KEY_ZONES)),
	    "SISMEMBER %s %s", KEY_ZONES, tag);
	b = a == NULL ? NULL : rds_cmd(&l->ctl->rds, keys_slot(tag),
	    "EXISTS %s", k[KEY_ZONE]);
	r = a != NULL && b != NULL && a->type == REDIS_REPLY_INTEGER &&
	    a->integer == 0 && b->type == REDIS_REPLY_INTEGER &&
	    b->integer == 0;
	if (a != NULL)
		freeReplyObject(a);
	if (b != NULL)
		freeReplyObject(b);
	return r;
}

/* Loads one event zone; a zone without counters gets full ones only if
 * every sale of it is accounted for (see init's help and
 * docs/reliability.md, "ticketctl init"). */
static int
load_zone(const struct catalog_zone *cz, void *arg)
{
	struct load	*l = arg;
	char		 tag[TAG_MAX], k[KEY__MAX][KEY_MAX];
	long		 in_mysql;
	int		 kind;
	enum catz	 r;
	enum init_refusal	 why;

	if (keys_tag(cz->event, cz->zone, tag, sizeof(tag)) < 0)
		return -1;
	for (kind = 0; kind < KEY__MAX; kind++)
		if (keys_build(kind, tag, k[kind], KEY_MAX) < 0)
			return -1;
	in_mysql = l->guard ? zcounts_get(&l->mysql, cz->event, cz->zone) : 0;
	why = in_mysql > 0 ? INIT_REFUSE_MYSQL : INIT_REFUSE_TRACES;
	r = catalog_zone_load(l->ctl, cz, !l->guard || (in_mysql == 0 &&
	    l->accounted) ? CATZ_CREATE_UNTRACED : CATZ_CREATE_NEVER);
	if (r == CATZ_NO_COUNT && in_mysql == 0 && !l->accounted) {
		why = INIT_REFUSE_INFLIGHT;
		if (never_loaded(l, tag, k))
			r = catalog_zone_load(l->ctl, cz,
			    CATZ_CREATE_UNTRACED);
	}
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
		l->refused_on++;
		if (why == INIT_REFUSE_MYSQL)
			ctl_err("%s zone %ld: no counters in Redis, but %ld "
			    "ticket(s) of it are in MySQL", cz->event, cz->zone,
			    in_mysql);
		else if (why == INIT_REFUSE_TRACES)
			ctl_err("%s zone %ld: no counters in Redis, but Redis "
			    "still holds sold seats, owners or pending tickets "
			    "of it", cz->event, cz->zone);
		else {
			l->refused_inflight++;
			ctl_err("%s zone %ld: no counters in Redis, and its "
			    "sales cannot all be seen: %s", cz->event,
			    cz->zone, l->inflight);
		}
	}
	return 0;
}

/* Reads what is sold: the queues' statistics first (a ticket only moves
 * from ticketSQL to MySQL, never back), then MySQL's tickets per zone. */
static int
read_sales(struct load *l, struct db *d, struct mq *m)
{
	struct inflight	f;

	if (sold_inflight(&f, m) != 0) {
		ctl_err("%s", m->errstr);
		return -1;
	}
	l->accounted = sold_inflight_none(&f, l->inflight,
	    sizeof(l->inflight));
	if (sold_counts_from_mysql(&l->mysql, d) != 0) {
		ctl_err("%s", d->errstr);
		return -1;
	}
	return 0;
}

/* Whether the single server is intact (CTL_KEY_INTACT present).  A Redis
 * Cluster never is: one key cannot vouch for the data of every master (a
 * master without a replica may restart empty while the key lives on
 * another), so init trusts only counters, MySQL and the queues there. */
static int
read_intact(struct load *l)
{
	redisReply *rep;

	l->intact = 0;
	if (l->ctl->rds.mode != RDS_SINGLE)
		return 0;
	if ((rep = rds_cmd(&l->ctl->rds, 0, "EXISTS %s", CTL_KEY_INTACT)) ==
	    NULL) {
		ctl_err("redis: %s", l->ctl->rds.errstr);
		return -1;
	}
	l->intact = rep->type == REDIS_REPLY_INTEGER && rep->integer == 1;
	freeReplyObject(rep);
	return 0;
}

/* Collects the counters keys of every zone. */
struct node_keys {
	struct ctl	*ctl;
	const char	**argv;		/* "WATCH" or "EXISTS", then the keys */
	char		(*key)[KEY_MAX];
	size_t		 n, cap;
	int		 nomem;
};

static int
collect_key(const struct catalog_zone *cz, void *arg)
{
	struct node_keys	*nk = arg;
	char			 tag[TAG_MAX];
	void			*p;

	if (keys_tag(cz->event, cz->zone, tag, sizeof(tag)) < 0)
		return 0;
	if (nk->n == nk->cap) {
		nk->cap = nk->cap ? nk->cap * 2 : 256;
		if ((p = reallocarray(nk->key, nk->cap, KEY_MAX)) == NULL) {
			nk->nomem = 1;
			return -1;
		}
		nk->key = p;
	}
	if (keys_build(KEY_LEFT, tag, nk->key[nk->n], KEY_MAX) < 0)
		return 0;
	nk->n++;
	return 0;
}

/* Marks the single server intact if every catalog zone has counters, in
 * one transaction watching those counters (a loss meanwhile, FLUSHALL
 * included, aborts it).  Returns 0 (marked or not), -1 if Redis failed. */
static int
mark_intact(struct ctl *ctl, struct db *d)
{
	const unsigned node = 0;	/* single mode: the slot is ignored */
	struct node_keys	 nk;
	redisReply		*rep = NULL;
	size_t			 i;
	int			 ret = -1, all = 0;

	memset(&nk, 0, sizeof(nk));
	nk.ctl = ctl;
	if (db_catalog_each(d, collect_key, &nk) < 0 || nk.nomem ||
	    (nk.argv = calloc(nk.n + 1, sizeof(*nk.argv))) == NULL)
		goto out;
	if (nk.n == 0) {	/* no zone here: nothing can be lost */
		if ((rep = rds_cmd(&ctl->rds, node, "SET %s 1",
		    CTL_KEY_INTACT)) != NULL) {
			freeReplyObject(rep);
			ret = 0;
		}
		goto out;
	}
	for (i = 0; i < nk.n; i++)
		nk.argv[i + 1] = nk.key[i];
	nk.argv[0] = "WATCH";
	if ((rep = rds_argv(&ctl->rds, node, (int)nk.n + 1, nk.argv,
	    NULL)) == NULL)
		goto out;
	freeReplyObject(rep);
	nk.argv[0] = "EXISTS";
	if ((rep = rds_argv(&ctl->rds, node, (int)nk.n + 1, nk.argv,
	    NULL)) == NULL)
		goto out;
	all = rep->type == REDIS_REPLY_INTEGER && (size_t)rep->integer == nk.n;
	freeReplyObject(rep);
	rep = rds_cmd(&ctl->rds, node, all ? "MULTI" : "UNWATCH");
	if (rep != NULL && all) {
		freeReplyObject(rep);
		if ((rep = rds_cmd(&ctl->rds, node, "SET %s 1",
		    CTL_KEY_INTACT)) != NULL) {
			freeReplyObject(rep);
			rep = rds_cmd(&ctl->rds, node, "EXEC");
		}
	}
	if (rep != NULL) {
		freeReplyObject(rep);
		ret = 0;
	}
out:
	free(nk.argv);
	free(nk.key);
	return ret;
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
	/* the sale state written is the catalog's as read: no change of it
	 * in between (catalog.h) */
	if (catalog_lock(&d) != 0) {
		ctl_err("catalog: %s", d.errstr);
		db_close(&d);
		return -1;
	}
	if (guard && ctl_mq_open(ctl, &m, "ticketctl init") != 0) {
		db_close(&d);
		return -1;
	}
	if (!guard || (read_sales(&l, &d, &m) == 0 && read_intact(&l) == 0)) {
		ctl->rds.errstr[0] = '\0';
		n = db_catalog_each(&d, load_zone, &l);
		if (n < 0)
			ctl_err("catalog: %s", d.errstr[0] ? d.errstr :
			    ctl->rds.errstr);
		else if (ctl->rds.errstr[0] != '\0')
			ctl_err("redis: %s", ctl->rds.errstr);
	}
	if (n >= 0 && ctl->rds.mode == RDS_SINGLE && l.refused_on == 0 &&
	    mark_intact(ctl, &d) != 0) {
		ctl_err("redis: %s", ctl->rds.errstr);
		n = -1;
	}
	if (guard)
		mq_close(&m);
	db_close(&d);
	zcounts_free(&l.mysql);
	if (n < 0 || ctl->rds.errstr[0] != '\0')
		return -1;
	printf("redis: %ld event zones on %d node(s): %ld kept, %ld created, "
	    "%ld refused\n", n, rds_masters(&ctl->rds), l.kept, l.created,
	    l.refused);
	if (l.refused_inflight > 0)
		ctl_err("%ld event zone(s) without counters on a Redis node "
		    "that lost data (or was fenced) cannot be checked while "
		    "sales may be in flight: stop sales, let the consumer "
		    "drain %s, stop the consumer, run `ticketctl rebuild` "
		    "(it reads what is queued and dead-lettered), then init "
		    "again and start the consumer (docs/reliability.md)",
		    l.refused_inflight, MQ_QUEUE_SQL);
	if (l.refused > l.refused_inflight)
		ctl_err("%ld event zone(s) have sales but no counters in Redis "
		    "(was Redis lost?): stop sales, let the consumer drain, stop "
		    "it, run `ticketctl rebuild` (docs/reliability.md)",
		    l.refused - l.refused_inflight);
	return l.refused > 0 ? -1 : 0;
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
	"counters only if every sale of it is accounted for: none in MySQL,\n"
	"no seat bits, owners or pending tickets in Redis, and either the zone\n"
	"was never loaded on an intact node (a new zone), or nothing is in\n"
	"flight: no consumer attached to ticketSQL (it may hold tickets\n"
	"unacked), ticketSQL and both dead-letter queues empty (counted from\n"
	"the queues' statistics; no message is read).  Otherwise init refuses\n"
	"that zone (full counters would sell its seats again), names it, loads\n"
	"the others and exits 1; stop sales, let the consumer drain, stop it,\n"
	"run `ticketctl rebuild`, then init again.",
};

/* ---------------------------------------------------------------- reset */

/*
 * Index of the online master called name ("host:port") now, or -1.  A
 * master's index is its place in the slot map, which a refresh (a MOVED,
 * a dropped connection) rebuilds in another order: an index kept across
 * commands may name another node, and a SCAN cursor would go on there.
 */
static int
master_by_name(struct rds *r, const char *name)
{
	char	 cur[RCL_HOST_MAX + 8];
	int	 i, n;

	if ((n = rds_masters(r)) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		rds_master_name(r, i, cur, sizeof(cur));
		if (strcmp(cur, name) == 0)
			return i;
	}
	err_set(&r->err, r->errstr, ERR_IO, "redis %s: no longer a master",
	    name);
	return -1;
}

/* Deletes every bo:* key of the master called name; returns keys deleted
 * or -1. */
static long
flush_node(struct rds *r, const char *name)
{
	const char	*key;
	redisReply	*rep, *del;
	char		 cursor[32] = "0";
	long		 n = 0;
	size_t		 k;
	int		 i;

	do {
		if ((i = master_by_name(r, name)) < 0)
			return -1;
		rep = rds_master_cmd(r, i, "SCAN %s MATCH bo:* COUNT 1000",
		    cursor);
		if (rep == NULL || rep->type != REDIS_REPLY_ARRAY ||
		    rep->elements != 2) {
			if (rep != NULL)
				freeReplyObject(rep);
			return -1;
		}
		snprintf(cursor, sizeof(cursor), "%s", rep->element[0]->str);
		for (k = 0; k < rep->element[1]->elements; k++) {
			key = rep->element[1]->element[k]->str;
			del = rds_cmd(r, rcl_slot(key, strlen(key)),
			    "UNLINK %s", key);
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
	    ctl->c.amqp_queue_type, ctl->c.amqp_quorum_replicas) != 0) {
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
	static char	name[RCL_NODES_MAX][RCL_HOST_MAX + 8];
	int		i, masters;
	long		n;

	if (argc != 2 || strcmp(argv[1], "--yes") != 0)
		return ctl_usage(&cmd_reset);
	if ((masters = rds_masters(&ctl->rds)) < 0) {
		ctl_err("%s", ctl->rds.errstr);
		return CTL_FAIL;
	}
	/* by name: the map may be refreshed (reordered) meanwhile */
	for (i = 0; i < masters; i++)
		rds_master_name(&ctl->rds, i, name[i], sizeof(name[i]));
	for (i = 0; i < masters; i++) {
		if ((n = flush_node(&ctl->rds, name[i])) < 0) {
			ctl_err("%s", ctl->rds.errstr);
			return CTL_FAIL;
		}
		printf("redis %s: %ld keys deleted\n", name[i], n);
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
