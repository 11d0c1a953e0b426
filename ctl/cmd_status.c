/* SPDX-License-Identifier: ISC */
/*
 * cmd_status.c - ticketctl status: queue depths (dead-letter queues too)
 * and consumers, seats sold per event in each store, Redis memory per node.
 * Read-only; a store that does not answer is shown as such (exit 1).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "ctl.h"
#include "keys.h"
#include "sold.h"

struct evcount {
	char	event[ID_MAX + 1];
	long	capacity, redis, pending, mysql, ddb, held;
};

struct status {
	struct evcount	*ev;		/* every event met, catalog or store */
	size_t		nev, cap;
	int		failed;
	int		redis_ok, mysql_ok, ddb_ok;
	long		double_sales;	/* DynamoDB items marked DOUBLE_SALE */
};

static struct evcount *
find_event(struct status *st, const char *event)
{
	size_t i;

	for (i = 0; i < st->nev; i++)
		if (strcmp(st->ev[i].event, event) == 0)
			return &st->ev[i];
	if (st->nev == st->cap) {
		size_t		 cap = st->cap ? st->cap * 2 : 64;
		struct evcount	*ev = realloc(st->ev, cap * sizeof(*ev));

		if (ev == NULL) {
			ctl_err("out of memory: event %s not counted", event);
			st->failed = 1;
			return NULL;
		}
		st->ev = ev;
		st->cap = cap;
	}
	memset(&st->ev[st->nev], 0, sizeof(st->ev[0]));
	snprintf(st->ev[st->nev].event, sizeof(st->ev[0].event), "%s", event);
	return &st->ev[st->nev++];
}

static void
show_queues(struct ctl *ctl, struct status *st)
{
	static const char *const queues[] = { MQ_QUEUE_SQL, MQ_QUEUE_NOSQL,
	    MQ_QUEUE_SQL MQ_DEAD_SUFFIX, MQ_QUEUE_NOSQL MQ_DEAD_SUFFIX };
	struct mq	m;
	long		depth, consumers;
	size_t		i;

	if (ctl_mq_open(ctl, &m, "ticketctl status") != 0) {
		printf("queues (amqp)\n  broker unreachable\n");
		st->failed = 1;
		return;
	}
	printf("queues (amqp %s:%d, node %d of %d)\n  %-20s %9s %9s\n", m.host,
	    m.port, m.cur + 1, m.nnodes, "queue", "ready", "consumers");
	for (i = 0; i < 4; i++) {
		if ((depth = mq_queue_depth(&m, queues[i], &consumers)) < 0) {
			printf("  %-20s %9s %9s  (%s)\n", queues[i], "?", "?",
			    m.errstr);
			st->failed = 1;
			continue;
		}
		printf("  %-20s %9ld %9ld\n", queues[i], depth, consumers);
	}
	mq_close(&m);
}

/* The seats of a hold's record (lua/order.lua): "A <expires ms> <r c ...>"
 * while active, the pairs counted; anything else (confirmed) holds none. */
static long
hold_seats(const char *rec)
{
	long	words = 0;
	int	in = 0;

	if (strncmp(rec, "A ", 2) != 0)
		return 0;
	for (; *rec != '\0'; rec++) {
		if (*rec != ' ' && !in)
			words++;
		in = *rec != ' ';
	}
	return words < 2 ? 0 : (words - 2) / 2;
}

/* Sold, held and pending seats of one zone from its counters, holds and
 * pending sets: the counters count a held seat as taken. */
static int
redis_zone(const struct catalog_zone *cz, void *arg)
{
	struct ctl	*ctl = ((void **)arg)[0];
	struct status	*st = ((void **)arg)[1];
	struct evcount	*e;
	redisReply	*rep;
	char		 tag[TAG_MAX], left[KEY_MAX], pend[KEY_MAX], sweep[KEY_MAX];
	char		 holds[KEY_MAX];
	unsigned	 node;
	long		 z;
	size_t		 i;
	int		 counted;

	if ((e = find_event(st, cz->event)) == NULL ||
	    keys_tag(cz->event, cz->zone, tag, sizeof(tag)) < 0 ||
	    keys_build(KEY_LEFT, tag, left, sizeof(left)) < 0 ||
	    keys_build(KEY_PEND, tag, pend, sizeof(pend)) < 0 ||
	    keys_build(KEY_SWEEP, tag, sweep, sizeof(sweep)) < 0 ||
	    keys_build(KEY_HOLDS, tag, holds, sizeof(holds)) < 0)
		return 0;
	e->capacity += cz->rows * cz->cols;
	if (!st->redis_ok)
		return 0;
	node = keys_slot(tag);
	if ((rep = rds_cmd(&ctl->rds, node, "HGET %s z", left)) == NULL) {
		st->redis_ok = 0;
		return 0;
	}
	counted = rep->type == REDIS_REPLY_STRING &&
	    valid_long(rep->str, -(1L << 40), 1L << 40, &z) == 0;
	if (counted)
		e->redis += cz->rows * cz->cols - z;
	freeReplyObject(rep);
	if ((rep = rds_cmd(&ctl->rds, node, "ZCARD %s", pend)) != NULL) {
		e->pending += rep->type == REDIS_REPLY_INTEGER ? rep->integer : 0;
		freeReplyObject(rep);
	}
	if ((rep = rds_cmd(&ctl->rds, node, "ZCARD %s", sweep)) != NULL) {
		e->pending += rep->type == REDIS_REPLY_INTEGER ? rep->integer : 0;
		freeReplyObject(rep);
	}
	if ((rep = rds_cmd(&ctl->rds, node, "HVALS %s", holds)) != NULL) {
		for (i = 0; rep->type == REDIS_REPLY_ARRAY &&
		    i < rep->elements; i++)
			if (rep->element[i]->type == REDIS_REPLY_STRING) {
				z = hold_seats(rep->element[i]->str);
				e->held += z;
				e->redis -= counted ? z : 0;
			}
		freeReplyObject(rep);
	}
	return 0;
}

static void
count_mysql(struct status *st, struct db *d)
{
	struct evcount	*e;
	MYSQL		*my;
	MYSQL_RES	*res;
	MYSQL_ROW	 row;
	long		 n;

	if ((my = db_conn(d)) == NULL)
		return;
	if (mysql_query(my, "SELECT event_id, COUNT(*) FROM ticket WHERE "
	    "live_seat = 1 GROUP BY event_id") != 0 || (res = mysql_store_result(my)) == NULL) {
		db_fail(d, "count");
		return;
	}
	while ((row = mysql_fetch_row(res)) != NULL)
		if (row[0] != NULL && valid_digits(row[1], &n) == 0 &&
		    (e = find_event(st, row[0])) != NULL)
			e->mysql = n;
	mysql_free_result(res);
	st->mysql_ok = 1;
}

/* 1 if a scanned item's status is the given one. */
static int
has_status(struct json_object *it, const char *status)
{
	struct json_object *a, *s;

	return json_object_object_get_ex(it, "status", &a) &&
	    json_object_object_get_ex(a, "S", &s) &&
	    strcmp(json_object_get_string(s), status) == 0;
}

/* Items per event: a Scan of eventId and status, every page.  Cancelled
 * tickets are not counted, nor the double sales the consumer caught (a
 * record of a refused ticket, not a seat sold: counted apart). */
static void
count_ddb(struct ctl *ctl, struct status *st)
{
	struct json_object	*o, *items, *it, *a, *s;
	struct evcount		*e;
	struct ddb_scan		 sc;
	struct ddb		 d;
	size_t			 i;
	int			 rc;

	if (ddb_init(&d, &ctl->c) != 0)
		goto out;
	/* live tickets only (a cancelled one is not sold) */
	ddb_scan_init(&sc, &d, "\"ProjectionExpression\":\"eventId, #s\","
	    "\"ExpressionAttributeNames\":{\"#s\":\"status\"}");
	while ((rc = ddb_scan_next(&sc, &o)) == 0 && o != NULL) {
		if (json_object_object_get_ex(o, "Items", &items))
			for (i = 0; i < json_object_array_length(items); i++) {
				it = json_object_array_get_idx(items, i);
				if (has_status(it, "CANCELLED"))
					continue;
				if (has_status(it, SOLD_DOUBLE_SALE)) {
					st->double_sales++;
					continue;
				}
				if (json_object_object_get_ex(it, "eventId", &a) &&
				    json_object_object_get_ex(a, "S", &s) &&
				    (e = find_event(st,
				    json_object_get_string(s))) != NULL)
					e->ddb++;
			}
		json_object_put(o);
	}
	if (rc == 0)
		st->ddb_ok = 1;
out:
	ddb_free(&d);
}

static void
show_sold(struct ctl *ctl, struct status *st, int scan)
{
	struct db	 d;
	void		*arg[2] = { ctl, st };
	size_t		 i;

	st->redis_ok = 1;
	ctl_db_open(ctl, &d);
	if (db_catalog_each(&d, redis_zone, arg) < 0) {
		printf("sold per event: MySQL unreachable (%s)\n", d.errstr);
		st->failed = 1;
		db_close(&d);
		return;
	}
	count_mysql(st, &d);
	db_close(&d);
	if (scan)
		count_ddb(ctl, st);
	printf("sold per event\n  %-20s %9s %9s %9s %9s %9s %9s\n", "event",
	    "capacity", "redis", "pending", "mysql", "dynamodb", "held");
	for (i = 0; i < st->nev; i++) {
		printf("  %-20s %9ld", st->ev[i].event, st->ev[i].capacity);
		if (st->redis_ok)
			printf(" %9ld %9ld", st->ev[i].redis, st->ev[i].pending);
		else
			printf(" %9s %9s", "?", "?");
		if (st->mysql_ok)
			printf(" %9ld", st->ev[i].mysql);
		else
			printf(" %9s", "?");
		if (st->ddb_ok)
			printf(" %9ld", st->ev[i].ddb);
		else
			printf(" %9s", scan ? "?" : "-");
		if (st->redis_ok)
			printf(" %9ld\n", st->ev[i].held);
		else
			printf(" %9s\n", "?");
	}
	if (!st->redis_ok)
		printf("  redis: %s\n", ctl->rds.errstr);
	if (!st->mysql_ok)
		printf("  mysql: %s\n", d.errstr);
	if (scan && !st->ddb_ok)
		printf("  dynamodb: unreachable or table missing\n");
	if (st->ddb_ok && st->double_sales > 0)
		printf("  dynamodb: %ld double sale(s) recorded, not counted "
		    "above (ticketctl check lists them)\n", st->double_sales);
	st->failed |= !st->redis_ok || !st->mysql_ok || (scan && !st->ddb_ok);
}

/* The value of "name:" in an INFO reply, or "?". */
static void
info_field(const char *info, const char *name, char *out, size_t size)
{
	const char	*p = info;
	size_t		 n = strlen(name), len;

	snprintf(out, size, "?");
	while ((p = strstr(p, name)) != NULL) {
		if ((p == info || p[-1] == '\n') && p[n] == ':') {
			len = strcspn(p + n + 1, "\r\n");
			snprintf(out, size, "%.*s", (int)len, p + n + 1);
			return;
		}
		p += n;
	}
}

/* Cluster: the slots master i serves ("0-5460", n of them) and what its
 * INFO replication says of its replicas. */
static void
show_cluster_node(struct ctl *ctl, int i)
{
	const struct rcl_map	*m = &ctl->rds.cl->map;
	redisReply		*rep;
	char			 field[24], val[160];
	int			 node = ctl->rds.master[i], s, start = -1, n = 0;
	int			 k, replicas = 0;

	printf("    slots");
	for (s = 0; s <= RCL_SLOTS; s++) {
		if (s < RCL_SLOTS && m->master[s] == node) {
			if (start < 0)
				start = s;
			n++;
		} else if (start >= 0) {
			printf(s - 1 > start ? " %d-%d" : " %d", start, s - 1);
			start = -1;
		}
	}
	printf(" (%d slots)\n", n);
	if ((rep = rds_master_cmd(&ctl->rds, i, "INFO replication")) == NULL) {
		printf("    replication: unknown (%s)\n", ctl->rds.errstr);
		return;
	}
	info_field(rep->str != NULL ? rep->str : "", "role", val, sizeof(val));
	printf("    role %s", val);
	info_field(rep->str != NULL ? rep->str : "", "connected_slaves", val,
	    sizeof(val));
	printf(", %s replica(s)\n", val[0] != '\0' ? val : "0");
	for (k = 0; k < 16; k++) {
		snprintf(field, sizeof(field), "slave%d", k);
		info_field(rep->str != NULL ? rep->str : "", field, val,
		    sizeof(val));
		if (val[0] == '\0')
			break;
		printf("    replica %s\n", val);
		replicas++;
	}
	if (replicas == 0)
		printf("    no replica: a loss of this master loses its "
		    "zones (ticketctl rebuild)\n");
	freeReplyObject(rep);
}

static void
show_redis(struct ctl *ctl, struct status *st)
{
	redisReply	*info, *keys, *zones;
	char		 used[32], peak[32], max[32], name[RCL_HOST_MAX + 8];
	int		 i, n;

	printf("redis nodes (%s)\n", rds_mode_str(ctl->rds.mode));
	if ((n = rds_masters(&ctl->rds)) < 0) {
		printf("  unreachable (%s)\n", ctl->rds.errstr);
		st->failed = 1;
		return;
	}
	for (i = 0; i < n; i++) {
		rds_master_name(&ctl->rds, i, name, sizeof(name));
		printf("  %s  ", name);
		if ((info = rds_master_cmd(&ctl->rds, i, "INFO memory")) ==
		    NULL) {
			printf("unreachable (%s)\n", ctl->rds.errstr);
			st->failed = 1;
			continue;
		}
		info_field(info->str != NULL ? info->str : "",
		    "used_memory_human", used, sizeof(used));
		info_field(info->str != NULL ? info->str : "",
		    "used_memory_peak_human", peak, sizeof(peak));
		info_field(info->str != NULL ? info->str : "",
		    "maxmemory_human", max, sizeof(max));
		freeReplyObject(info);
		keys = rds_master_cmd(&ctl->rds, i, "DBSIZE");
		zones = ctl->rds.mode == RDS_SINGLE ? rds_cmd(&ctl->rds, 0,
		    "SCARD %s", KEY_ZONES) : NULL;
		printf("memory %s (peak %s, max %s), %lld keys", used, peak,
		    strcmp(max, "0B") == 0 ? "none" : max,
		    keys != NULL ? keys->integer : -1);
		if (ctl->rds.mode == RDS_SINGLE)
			printf(", %lld event zones",
			    zones != NULL ? zones->integer : -1);
		printf("\n");
		if (keys != NULL)
			freeReplyObject(keys);
		if (zones != NULL)
			freeReplyObject(zones);
		if (ctl->rds.mode == RDS_CLUSTER)
			show_cluster_node(ctl, i);
	}
}

static int
run_status(struct ctl *ctl, int argc, char **argv)
{
	struct status	*st;
	int		 scan = 1, a, failed;

	for (a = 1; a < argc; a++) {
		if (strcmp(argv[a], "--no-scan") == 0)
			scan = 0;
		else
			return ctl_usage(&cmd_status);
	}
	if ((st = calloc(1, sizeof(*st))) == NULL) {
		ctl_err("out of memory");
		return CTL_FAIL;
	}
	show_queues(ctl, st);
	show_sold(ctl, st, scan);
	show_redis(ctl, st);
	failed = st->failed;
	free(st->ev);
	free(st);
	return failed ? CTL_FAIL : CTL_OK;
}

const struct command cmd_status = {
	"status", run_status, "status [--no-scan]",
	"queue depths, consumers, seats sold per event in each store, Redis memory",
	"Queues: messages ready in ticketSQL, ticketNoSQL and their dead-letter\n"
	"queues, and the consumers attached.  Per event: capacity, seats sold\n"
	"according to the Redis counters (held seats apart), orders pending or\n"
	"claimed in Redis (publish outcome not yet known; an order has 1-10\n"
	"tickets), rows in MySQL and items in DynamoDB (a Scan of the whole\n"
	"table: --no-scan skips it, which on AWS saves read capacity; cancelled\n"
	"tickets and the double sales the consumer caught are not counted, the\n"
	"latter are listed by ticketctl check), and the seats of active holds\n"
	"(\"held\": taken, not sold).  Redis: memory used, peak and limit, keys\n"
	"and event zones per node.  Exit 1 if a store does not answer.",
};
