/* SPDX-License-Identifier: ISC */
/*
 * fcgi/query/main.c - the query responder (docs/api.md): every GET under /get/.
 *
 * Per request: route (fcgi/query/route.c: path, method and parameters checked,
 * no I/O) -> one endpoint function reading MySQL (fcgi/query/dbq.c, read-only
 * account, prepared statements) or Redis (fcgi/query/live.c) into a JSON
 * buffer (fcgi/query/jout.c) -> answer -> free; a HEAD gets the GET's
 * status and headers, no body.  MySQL and Redis connections are kept
 * across requests and re-opened by themselves; a dependency that is down
 * gets a 503 JSON answer, never an exit.  MySQL reads go to the
 * replica while it is up and close behind, else to the primary
 * (fcgi/query/replica.c).
 */
#include <stdio.h>
#include <string.h>

#include "conf.h"
#include "dbq.h"
#include "http.h"
#include "jout.h"
#include "live.h"
#include "log.h"
#include "rds.h"
#include "replica.h"
#include "route.h"
#include "server.h"

#define ANSWER_MAX	(8u << 20)	/* cap of one JSON answer */
#define RETRY_AFTER	"Retry-After: 1\r\n"

/* What an endpoint made of the request. */
enum ep_outcome {
	EP_OK,
	EP_NOT_FOUND,
	EP_DB_DOWN,		/* MySQL failed: dbq->errstr */
	EP_REDIS_DOWN,		/* Redis failed: rds.errstr */
	EP_BAD_DATA,		/* stored data we cannot answer with */
	EP_REBUILDING,		/* a zone fenced until `ticketctl rebuild` */
	EP_HEALTH_DOWN		/* health: the answer is already in j */
};

static struct rds	rds;
static struct replica	db;
/* the connection of the last MySQL read (its errstr for the answer) */
static struct dbq	*dbq = &db.primary;

static enum ep_outcome
from_db(enum dbq_res r)
{
	switch (r) {
	case DBQ_OK:
		return EP_OK;
	case DBQ_NOT_FOUND:
		return EP_NOT_FOUND;
	case DBQ_BAD_DATA:
		log_warnx("%s", dbq->errstr);
		return EP_BAD_DATA;
	default:
		return EP_DB_DOWN;
	}
}

static enum ep_outcome
from_live(enum live_res r)
{
	switch (r) {
	case LIVE_OK:
		return EP_OK;
	case LIVE_NOT_FOUND:
		return EP_NOT_FOUND;
	case LIVE_BAD_DATA:
		log_warnx("%s", rds.errstr);
		return EP_BAD_DATA;
	case LIVE_REBUILDING:
		return EP_REBUILDING;
	default:
		return EP_REDIS_DOWN;
	}
}

/* One MySQL read of an endpoint on connection q. */
typedef enum dbq_res (*read_fn)(struct dbq *, const struct route *,
    struct jout *);

/*
 * Runs fn on the connection replica_reader() picks; a failure on the
 * replica is read again on the primary.  With missing_too, so is an
 * answer "not found" of the replica: a ticket or order sold an instant ago,
 * or an event or venue `ticketctl catalog apply` has just created, may not
 * have reached it yet (purchases see the event at once: Redis has it).
 */
static enum dbq_res
db_read(read_fn fn, int missing_too, const struct route *rt, struct jout *j)
{
	enum dbq_res	r;
	struct dbq	*again;

	dbq = replica_reader(&db);
	r = fn(dbq, rt, j);
	if (r == DBQ_FAIL && (again = replica_failed(&db, dbq)) != NULL) {
		jout_reset(j);
		r = fn(dbq = again, rt, j);
	} else if (r == DBQ_NOT_FOUND && missing_too && dbq != &db.primary) {
		jout_reset(j);
		r = fn(dbq = &db.primary, rt, j);
	}
	return r;
}

static enum dbq_res
rd_venues(struct dbq *q, const struct route *rt, struct jout *j)
{
	(void)rt;
	return dbq_venues(q, j);
}

static enum dbq_res
rd_venue_events(struct dbq *q, const struct route *rt, struct jout *j)
{
	return dbq_venue_events(q, rt->venue, j);
}

static enum dbq_res
rd_event(struct dbq *q, const struct route *rt, struct jout *j)
{
	return dbq_event(q, rt->event, j);
}

static enum dbq_res
rd_tickets(struct dbq *q, const struct route *rt, struct jout *j)
{
	return dbq_tickets(q, rt->event, rt->zone, rt->after, rt->limit, j);
}

static enum dbq_res
rd_stats(struct dbq *q, const struct route *rt, struct jout *j)
{
	return dbq_stats(q, rt->event, j);
}

static enum dbq_res
rd_ticket(struct dbq *q, const struct route *rt, struct jout *j)
{
	return dbq_ticket(q, rt->ticket, j);
}

static enum dbq_res
rd_order(struct dbq *q, const struct route *rt, struct jout *j)
{
	return dbq_order(q, rt->order, j);
}

static enum dbq_res
rd_count(struct dbq *q, const struct route *rt, struct jout *j)
{
	return dbq_count(q, rt->event, j);
}

static enum dbq_res
rd_money(struct dbq *q, const struct route *rt, struct jout *j)
{
	return dbq_money(q, rt->venue, rt->event, j);
}

/* ------------------------------------------------------------ endpoints */

static enum ep_outcome
ep_venues(const struct route *rt, struct jout *j)
{
	return from_db(db_read(rd_venues, 0, rt, j));
}

static enum ep_outcome
ep_venue_events(const struct route *rt, struct jout *j)
{
	return from_db(db_read(rd_venue_events, 1, rt, j));
}

static enum ep_outcome
ep_event(const struct route *rt, struct jout *j)
{
	return from_db(db_read(rd_event, 1, rt, j));
}

static enum ep_outcome
ep_seats(const struct route *rt, struct jout *j)
{
	return from_live(live_seatmap(&rds, rt->event, rt->zone, j));
}

static enum ep_outcome
ep_tickets(const struct route *rt, struct jout *j)
{
	return from_db(db_read(rd_tickets, 1, rt, j));
}

static enum ep_outcome
ep_stats(const struct route *rt, struct jout *j)
{
	return from_db(db_read(rd_stats, 1, rt, j));
}

/* After the cache answered lr: LIVE_OK, else MySQL's look-up of id.
 * Unknown only when both answered without it. */
static enum ep_outcome
cache_then_db(enum live_res lr, read_fn fn, const struct route *rt,
    struct jout *j)
{
	enum dbq_res dr;

	if (lr == LIVE_OK)
		return EP_OK;
	jout_reset(j);
	dr = db_read(fn, 1, rt, j);
	if (dr == DBQ_NOT_FOUND && lr == LIVE_FAIL)
		return EP_REDIS_DOWN;
	return from_db(dr);
}

/* The cache first (a ticket is there from the instant of its 201), then
 * MySQL. */
static enum ep_outcome
ep_ticket(const struct route *rt, struct jout *j)
{
	return cache_then_db(live_ticket(&rds, rt->ticket, j), rd_ticket, rt, j);
}

/* The order cache first (written with the 201), then MySQL. */
static enum ep_outcome
ep_order(const struct route *rt, struct jout *j)
{
	return cache_then_db(live_order(&rds, rt->order, j), rd_order, rt, j);
}

static enum ep_outcome
ep_count(const struct route *rt, struct jout *j)
{
	return from_db(db_read(rd_count, 1, rt, j));
}

static enum ep_outcome
ep_money(const struct route *rt, struct jout *j)
{
	return from_db(db_read(rd_money, 1, rt, j));
}

/* redis_read_from = replica: each master's replica as its last look (at
 * most RCL_LOOK_MS old) saw it; not a failure, its reads go to the master
 * meanwhile. */
static void
redis_replicas(struct jout *j)
{
	char		 addr[RCL_HOST_MAX + 8];
	const char	*st;
	long long	 lag;
	int		 i, n;

	if ((n = rds_masters(&rds)) < 0)
		return;
	jout_arr_open(j, "redisReplicas");
	for (i = 0; i < n; i++) {
		jout_obj_open(j, NULL);
		rds_master_name(&rds, i, addr, sizeof(addr));
		jout_str(j, "master", addr);
		st = rds_replica_state(&rds, i, addr, sizeof(addr), &lag);
		jout_str(j, "replica", addr);
		jout_str(j, "state", st);
		if (lag >= 0)
			jout_int(j, "lagMs", lag);
		else
			jout_null(j, "lagMs");
		jout_obj_close(j);
	}
	jout_arr_close(j);
}

/* 1 if every shard's master answers as a master (ROLE: a map from before a
 * failover may name the old master, alive again as a replica). */
static int
redis_up(void)
{
	int total, up;

	up = rds_ping_masters(&rds, &total);
	return up > 0 && up == total;
}

static enum ep_outcome
ep_health(const struct route *rt, struct jout *j)
{
	int mok, rok;

	(void)rt;
	mok = dbq_ping(&db.primary) == 0;
	/* once more if a kept connection was stale: it reconnects */
	rok = redis_up() || redis_up();
	jout_obj_open(j, NULL);
	if (!mok || !rok) {
		jout_str(j, "error", "UNAVAILABLE");
		jout_str(j, "message", "a dependency is down");
	}
	jout_str(j, "status", mok && rok ? "ok" : "unavailable");
	jout_str(j, "mysql", http_health_state("mysql", mok,
	    db.primary.errstr));
	jout_str(j, "redis", http_health_state("redis", rok, rds.errstr));
	if (db.configured) {
		/* not a failure: reads go to the primary meanwhile */
		/* the reason only in the log, as for the others */
		(void)replica_check(&db);
		jout_str(j, "mysqlReplica", db.word);
		if (db.lag_s >= 0)
			jout_int(j, "mysqlReplicaLagSeconds", db.lag_s);
		else
			jout_null(j, "mysqlReplicaLagSeconds");
		jout_str(j, "mysqlReads", db.usable ? "replica" : "primary");
	}
	if (rds.read_replica && rds.mode == RDS_CLUSTER)
		redis_replicas(j);
	jout_obj_close(j);
	return mok && rok ? EP_OK : EP_HEALTH_DOWN;
}

static enum ep_outcome (*const endpoints[ROUTE__MAX])(const struct route *,
    struct jout *) = {
	[ROUTE_VENUES] = ep_venues,
	[ROUTE_VENUE_EVENTS] = ep_venue_events,
	[ROUTE_EVENT] = ep_event,
	[ROUTE_SEATS] = ep_seats,
	[ROUTE_TICKETS] = ep_tickets,
	[ROUTE_STATS] = ep_stats,
	[ROUTE_TICKET] = ep_ticket,
	[ROUTE_COUNT] = ep_count,
	[ROUTE_MONEY] = ep_money,
	[ROUTE_HEALTH] = ep_health,
	[ROUTE_ORDER] = ep_order,
};

/* ------------------------------------------------------------- answers */

static const char *
not_found_message(enum route_ep ep)
{
	switch (ep) {
	case ROUTE_VENUE_EVENTS:
		return "unknown venue";
	case ROUTE_SEATS:
		return "unknown event, or no such zone in its venue";
	case ROUTE_TICKETS:
		return "unknown event, or no such zone in its venue";
	case ROUTE_TICKET:
		return "unknown ticket";
	case ROUTE_ORDER:
		return "unknown order";
	case ROUTE_MONEY:
		return "unknown venue or event, or the event is not at that "
		    "venue";
	default:
		return "unknown event";
	}
}

/* Sends the answer j holds, or the error the outcome calls for. */
static void
answer(FCGX_Request *req, const struct route *rt, enum ep_outcome out,
    struct jout *j)
{
	const char	*body;
	size_t		 len;

	switch (out) {
	case EP_OK:
	case EP_HEALTH_DOWN:
		if ((body = jout_done(j, &len)) != NULL) {
			http_reply(req, out == EP_OK ? 200 : 503,
			    out == EP_OK ? NULL : RETRY_AFTER, body, len);
			return;
		}
		log_warnx("%s: answer not built (%s)", route_name(rt->ep),
		    jout_error(j) == JOUT_TOO_LARGE ? "over the size cap" :
		    "out of memory or misuse");
		http_error(req, 500, "INTERNAL", jout_error(j) ==
		    JOUT_TOO_LARGE ? "the answer is too large" :
		    "cannot build the answer", NULL);
		return;
	case EP_NOT_FOUND:
		http_error(req, 404, "NOT_FOUND", not_found_message(rt->ep),
		    NULL);
		return;
	case EP_DB_DOWN:
		log_warnx("%s: %s", route_name(rt->ep), dbq->errstr);
		http_error(req, 503, "UNAVAILABLE", "database unavailable; try "
		    "again", RETRY_AFTER);
		return;
	case EP_REDIS_DOWN:
		log_warnx("%s: %s", route_name(rt->ep), rds.errstr);
		http_error(req, 503, "UNAVAILABLE", "seat store unavailable; "
		    "try again", RETRY_AFTER);
		return;
	case EP_REBUILDING:
		http_error(req, 503, "UNAVAILABLE", "this zone is being rebuilt "
		    "after a seat store failure; try again", RETRY_AFTER);
		return;
	default:
		http_error(req, 500, "INTERNAL", "stored data cannot be "
		    "answered with; see the responder's log", NULL);
		return;
	}
}

/* Answers the request route_parse() made rt of (e, why). */
static void
respond(FCGX_Request *req, enum route_err e, const struct route *rt,
    const char *why)
{
	struct jout	 j;

	switch (e) {
	case ROUTE_OK:
		break;
	case ROUTE_ERR_METHOD:
		http_error(req, 405, "METHOD_NOT_ALLOWED", why,
		    "Allow: GET, HEAD\r\n");
		return;
	case ROUTE_ERR_BAD_REQUEST:
		http_error(req, 400, "BAD_REQUEST", why, NULL);
		return;
	default:
		http_error(req, 404, "NOT_FOUND", why, NULL);
		return;
	}
	/* HEAD runs the endpoint too: its status and Content-Length are
	 * those of the GET */
	jout_init(&j, ANSWER_MAX);
	answer(req, rt, endpoints[rt->ep](rt, &j), &j);
	jout_free(&j);
}

static void
handle(FCGX_Request *req)
{
	struct route		 rt;
	enum route_err		 e;
	const char		*why;
	char			 path[ROUTE_PATH_MAX + 1];

	e = route_parse(http_param(req, "REQUEST_METHOD"),
	    http_path(req, path, sizeof(path)) < 0 ? NULL : path,
	    http_param(req, "QUERY_STRING"), &rt, &why);
	/* a HEAD's answer loses its body in shared/http.c */
	respond(req, e, &rt, why);
}

static int
init(const struct conf *c, int check_only)
{
	if (rds_init_conf(&rds, c) != 0) {
		fprintf(stderr, "query: %s\n", rds.errstr);
		log_error("%s", rds.errstr);
		return -1;
	}
	replica_init(&db, c);
	if (check_only)
		return 0;
	/* connect now so the first request does not pay for it; failures
	 * are retried on each request */
	if (dbq_ping(&db.primary) != 0)
		log_warnx("%s (will retry)", db.primary.errstr);
	if (db.configured && !replica_check(&db))
		log_warnx("mysql replica %s:%d: %s; reading from the primary",
		    db.replica.db.host, db.replica.db.port, db.state);
	if (rds_ctx(&rds, 0) == NULL)
		log_warnx("%s (will retry)", rds.errstr);
	return 0;
}

static void
fini(void)
{
	replica_close(&db);
	rds_close(&rds);
}

int
main(int argc, char **argv)
{
	static const struct server_ops ops = {
		"query", "boxoffice query responder (FastCGI)", init, handle,
		fini, "/get/metrics"
	};

	return server_main(argc, argv, &ops);
}
