/*
 * ticketctl - the operator's tool.
 *
 *   ticketctl [-c config] init     declare the AMQP topology, create the
 *                                  DynamoDB table, load the catalog into Redis
 *                                  (never touching sold state)
 *   ticketctl [-c config] reset --yes
 *                                  forget every sale in Redis, the queues and
 *                                  DynamoDB, then init again (MySQL tickets
 *                                  are cleared by `scripts/stack reset`,
 *                                  which holds the admin account)
 *
 * Exit status: 0 success, 1 failure, 2 usage error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "db.h"
#include "ddb.h"
#include "keys.h"
#include "log.h"
#include "mq.h"
#include "rds.h"

struct ctl {
	struct conf	c;
	struct rds	rds;
};

struct command {
	const char	*name;
	int		(*fn)(struct ctl *, int, char **);
	const char	*usage;
	const char	*help;
};

static int	cmd_init(struct ctl *, int, char **);
static int	cmd_reset(struct ctl *, int, char **);

static const struct command commands[] = {
	{ "init", cmd_init, "init",
	  "declare the AMQP topology, create the DynamoDB table and load the\n"
	  "catalog (MySQL) into Redis; sold seats are never reset" },
	{ "reset", cmd_reset, "reset --yes",
	  "delete every sale from Redis, the four queues and DynamoDB, then\n"
	  "run init; MySQL tickets are not touched (scripts/stack reset does)" },
};

static void
usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: ticketctl [-c config] command [args]\n\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-12s %s\n", commands[i].usage, commands[i].help);
	fprintf(f, "\n  -c FILE   settings (default $BOXOFFICE_CONF or "
	    "/etc/boxoffice/boxoffice.conf)\n"
	    "  ticketctl COMMAND --help   help on one command\n"
	    "exit status: 0 ok, 1 failure, 2 usage\n");
}

/* Loads one event zone into its Redis node. */
static int
load_zone(const struct catalog_zone *cz, void *arg)
{
	struct ctl	*ctl = arg;
	char		 tag[TAG_MAX], kz[KEY_MAX], kl[KEY_MAX];
	char		 rows[24], cols[24];
	const char	*argv[8];
	redisReply	*rep;
	unsigned	 node;

	if (keys_tag(cz->event, cz->zone, tag, sizeof(tag)) < 0 ||
	    keys_build(KEY_ZONE, tag, kz, sizeof(kz)) < 0 ||
	    keys_build(KEY_LEFT, tag, kl, sizeof(kl)) < 0)
		return -1;
	snprintf(rows, sizeof(rows), "%ld", cz->rows);
	snprintf(cols, sizeof(cols), "%ld", cz->cols);
	argv[0] = kz;
	argv[1] = kl;
	argv[2] = KEY_ZONES;
	argv[3] = cz->venue;
	argv[4] = rows;
	argv[5] = cols;
	argv[6] = cz->price;
	argv[7] = tag;
	node = rds_node_for(&ctl->rds, tag);
	if ((rep = rds_eval(&ctl->rds, node, SCRIPT_LOAD_ZONE, 3, 8, argv)) ==
	    NULL)
		return -1;
	freeReplyObject(rep);
	return 0;
}

static int
init_all(struct ctl *ctl)
{
	struct mq	 mq;
	struct ddb	 ddb;
	struct db	 db;
	long		 n;
	int		 r;

	mq_init(&mq, ctl->c.amqp_host, ctl->c.amqp_port, ctl->c.amqp_user,
	    ctl->c.amqp_password, ctl->c.amqp_vhost,
	    ctl->c.amqp_connect_timeout_ms, "ticketctl");
	if (mq_declare_topology(&mq, ctl->c.amqp_queue_max_length) != 0) {
		fprintf(stderr, "ticketctl: topology: %s\n", mq.errstr);
		return 1;
	}
	mq_close(&mq);
	printf("amqp: exchanges %s, %s and queues %s, %s (+%s) declared\n",
	    MQ_EXCHANGE, MQ_DLX, MQ_QUEUE_SQL, MQ_QUEUE_NOSQL, MQ_DEAD_SUFFIX);

	if (ddb_init(&ddb, &ctl->c) != 0) {
		fprintf(stderr, "ticketctl: %s\n", ddb.errstr);
		return 1;
	}
	r = ddb_create_table(&ddb);
	if (r < 0)
		fprintf(stderr, "ticketctl: create table: %s\n", ddb.errstr);
	else
		printf("dynamodb: table %s %s\n", ddb.table,
		    r ? "created" : "exists");
	ddb_free(&ddb);
	if (r < 0)
		return 1;

	db_init(&db, &ctl->c, ctl->c.mysql_consumer_user,
	    ctl->c.mysql_consumer_password);
	n = db_catalog_each(&db, load_zone, ctl);
	db_close(&db);
	if (n < 0) {
		fprintf(stderr, "ticketctl: catalog: %s\n", db.errstr);
		return 1;
	}
	if (ctl->rds.errstr[0] != '\0') {
		fprintf(stderr, "ticketctl: redis: %s\n", ctl->rds.errstr);
		return 1;
	}
	printf("redis: %ld event zones loaded on %u node(s)\n", n, ctl->rds.n);
	return 0;
}

static int
cmd_init(struct ctl *ctl, int argc, char **argv)
{
	(void)argv;
	if (argc > 1) {
		fprintf(stderr, "usage: ticketctl init\n");
		return 2;
	}
	return init_all(ctl);
}

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
cmd_reset(struct ctl *ctl, int argc, char **argv)
{
	static const char *const queues[] = { MQ_QUEUE_SQL, MQ_QUEUE_NOSQL,
	    MQ_QUEUE_SQL MQ_DEAD_SUFFIX, MQ_QUEUE_NOSQL MQ_DEAD_SUFFIX };
	struct mq	 mq;
	struct ddb	 ddb;
	unsigned	 i;
	long		 n;
	size_t		 q;

	if (argc != 2 || strcmp(argv[1], "--yes") != 0) {
		fprintf(stderr, "usage: ticketctl reset --yes   (deletes every "
		    "sale from Redis, the queues and DynamoDB)\n");
		return 2;
	}
	for (i = 0; i < ctl->rds.n; i++) {
		if ((n = flush_node(&ctl->rds, i)) < 0) {
			fprintf(stderr, "ticketctl: redis: %s\n", ctl->rds.errstr);
			return 1;
		}
		printf("redis %s:%d: %ld keys deleted\n", ctl->rds.nodes[i].host,
		    ctl->rds.nodes[i].port, n);
	}
	mq_init(&mq, ctl->c.amqp_host, ctl->c.amqp_port, ctl->c.amqp_user,
	    ctl->c.amqp_password, ctl->c.amqp_vhost,
	    ctl->c.amqp_connect_timeout_ms, "ticketctl");
	if (mq_declare_topology(&mq, ctl->c.amqp_queue_max_length) != 0) {
		fprintf(stderr, "ticketctl: topology: %s\n", mq.errstr);
		return 1;
	}
	for (q = 0; q < 4; q++) {
		amqp_queue_purge(mq.conn, 1, amqp_cstring_bytes(queues[q]));
		if (amqp_get_rpc_reply(mq.conn).reply_type !=
		    AMQP_RESPONSE_NORMAL) {
			fprintf(stderr, "ticketctl: purge %s failed\n", queues[q]);
			mq_close(&mq);
			return 1;
		}
	}
	mq_close(&mq);
	printf("amqp: 4 queues purged\n");
	if (ddb_init(&ddb, &ctl->c) != 0 || ddb_delete_table(&ddb) != 0) {
		fprintf(stderr, "ticketctl: dynamodb: %s\n", ddb.errstr);
		ddb_free(&ddb);
		return 1;
	}
	ddb_free(&ddb);
	printf("dynamodb: table deleted\n");
	return init_all(ctl);
}

int
main(int argc, char **argv)
{
	struct ctl	 ctl;
	const char	*path = NULL;
	char		 err[512];
	size_t		 i;
	int		 ch, ret;

	while ((ch = getopt(argc, argv, "+c:h")) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[0], "help") == 0 || strcmp(argv[0], "--help") == 0) {
		usage(stdout);
		return 0;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[0], commands[i].name) == 0)
			break;
	if (i == sizeof(commands) / sizeof(commands[0])) {
		fprintf(stderr, "ticketctl: unknown command '%s'\n", argv[0]);
		usage(stderr);
		return 2;
	}
	if (argc > 1 && (strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0)) {
		printf("usage: ticketctl %s\n%s\n", commands[i].usage,
		    commands[i].help);
		return 0;
	}
	if (conf_load(&ctl.c, path != NULL ? path : conf_default_path(),
	    path != NULL, err, sizeof(err)) != 0) {
		fprintf(stderr, "ticketctl: %s\n", err);
		return 1;
	}
	log_open("ticketctl", NULL, log_level_parse(ctl.c.log_level));
	if (rds_init(&ctl.rds, ctl.c.redis_nodes, ctl.c.redis_timeout_ms)) {
		fprintf(stderr, "ticketctl: %s\n", ctl.rds.errstr);
		return 1;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	ret = commands[i].fn(&ctl, argc, argv);
	rds_close(&ctl.rds);
	curl_global_cleanup();
	return ret;
}
