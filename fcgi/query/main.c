/* SPDX-License-Identifier: ISC */
/*
 * fcgi/query/main.c - the query responder (docs/api.md): every GET under /get/.
 *
 * Per request: route (fcgi/query/route.c: path, method and parameters checked,
 * no I/O) -> one endpoint function reading MySQL (fcgi/query/dbq.c, read-only
 * account, prepared statements) or Redis (fcgi/query/live.c) into a JSON
 * buffer (fcgi/query/jout.c) -> answer -> free.  MySQL and Redis connections
 * are kept across requests and re-opened by themselves; a dependency that
 * is down gets a 503 JSON answer, never an exit.
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
#include "route.h"
#include "server.h"

#define ANSWER_MAX	(8u << 20)	/* cap of one JSON answer */
#define RETRY_AFTER	"Retry-After: 1\r\n"

/* What an endpoint made of the request. */
enum ep_outcome {
	EP_OK,
	EP_NOT_FOUND,
	EP_DB_DOWN,		/* MySQL failed: dbq.errstr */
	EP_REDIS_DOWN,		/* Redis failed: rds.errstr */
	EP_BAD_DATA,		/* stored data we cannot answer with */
	EP_HEALTH_DOWN		/* health: the answer is already in j */
};

static struct rds	rds;
static struct dbq	dbq;

static enum ep_outcome
from_db(enum dbq_res r)
{
	switch (r) {
	case DBQ_OK:
		return EP_OK;
	case DBQ_NOT_FOUND:
		return EP_NOT_FOUND;
	case DBQ_BAD_DATA:
		log_warnx("%s", dbq.errstr);
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
	default:
		return EP_REDIS_DOWN;
	}
}

/* ------------------------------------------------------------ endpoints */

static enum ep_outcome
ep_venues(const struct route *rt, struct jout *j)
{
	(void)rt;
	return from_db(dbq_venues(&dbq, j));
}

static enum ep_outcome
ep_venue_events(const struct route *rt, struct jout *j)
{
	return from_db(dbq_venue_events(&dbq, rt->venue, j));
}

static enum ep_outcome
ep_event(const struct route *rt, struct jout *j)
{
	return from_db(dbq_event(&dbq, rt->event, j));
}

static enum ep_outcome
ep_seats(const struct route *rt, struct jout *j)
{
	return from_live(live_seatmap(&rds, rt->event, rt->zone, j));
}

static enum ep_outcome
ep_tickets(const struct route *rt, struct jout *j)
{
	return from_db(dbq_tickets(&dbq, rt->event, rt->zone, rt->after,
	    rt->limit, j));
}

static enum ep_outcome
ep_stats(const struct route *rt, struct jout *j)
{
	return from_db(dbq_stats(&dbq, rt->event, j));
}

/* After the cache answered lr: LIVE_OK, else MySQL's look-up of id.
 * Unknown only when both answered without it. */
static enum ep_outcome
cache_then_db(enum live_res lr, enum dbq_res (*db)(struct dbq *,
    const char *, struct jout *), const char *id, struct jout *j)
{
	enum dbq_res dr;

	if (lr == LIVE_OK)
		return EP_OK;
	jout_reset(j);
	dr = db(&dbq, id, j);
	if (dr == DBQ_NOT_FOUND && lr == LIVE_FAIL)
		return EP_REDIS_DOWN;
	return from_db(dr);
}

/* The cache first (a ticket is there from the instant of its 201), then
 * MySQL. */
static enum ep_outcome
ep_ticket(const struct route *rt, struct jout *j)
{
	return cache_then_db(live_ticket(&rds, rt->ticket, j), dbq_ticket,
	    rt->ticket, j);
}

/* The order cache first (written with the 201), then MySQL. */
static enum ep_outcome
ep_order(const struct route *rt, struct jout *j)
{
	return cache_then_db(live_order(&rds, rt->order, j), dbq_order,
	    rt->order, j);
}

static enum ep_outcome
ep_count(const struct route *rt, struct jout *j)
{
	return from_db(dbq_count(&dbq, rt->event, j));
}

static enum ep_outcome
ep_money(const struct route *rt, struct jout *j)
{
	return from_db(dbq_money(&dbq, rt->venue, rt->event, j));
}

static enum ep_outcome
ep_health(const struct route *rt, struct jout *j)
{
	int mok, rok;

	(void)rt;
	mok = dbq_ping(&dbq) == 0;
	/* once more if a kept connection was stale: it reconnects */
	rok = rds_ping(&rds) == 0 || rds_ping(&rds) == 0;
	jout_obj_open(j, NULL);
	if (!mok || !rok) {
		jout_str(j, "error", "UNAVAILABLE");
		jout_str(j, "message", "a dependency is down");
	}
	jout_str(j, "status", mok && rok ? "ok" : "unavailable");
	jout_str(j, "mysql", http_health_state("mysql", mok, dbq.errstr));
	jout_str(j, "redis", http_health_state("redis", rok, rds.errstr));
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
		log_warnx("%s: %s", route_name(rt->ep), dbq.errstr);
		http_error(req, 503, "UNAVAILABLE", "database unavailable; try "
		    "again", RETRY_AFTER);
		return;
	case EP_REDIS_DOWN:
		log_warnx("%s: %s", route_name(rt->ep), rds.errstr);
		http_error(req, 503, "UNAVAILABLE", "seat store unavailable; "
		    "try again", RETRY_AFTER);
		return;
	default:
		http_error(req, 500, "INTERNAL", "stored data cannot be "
		    "answered with; see the responder's log", NULL);
		return;
	}
}

static void
handle(FCGX_Request *req)
{
	struct route	 rt;
	struct jout	 j;
	const char	*why;
	char		 path[ROUTE_PATH_MAX + 1];

	if (http_path(req, path, sizeof(path)) < 0) {
		http_error(req, 404, "NOT_FOUND", "no such path", NULL);
		return;
	}
	switch (route_parse(http_param(req, "REQUEST_METHOD"), path,
	    http_param(req, "QUERY_STRING"), &rt, &why)) {
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
	jout_init(&j, ANSWER_MAX);
	answer(req, &rt, endpoints[rt.ep](&rt, &j), &j);
	jout_free(&j);
}

static int
init(const struct conf *c, int check_only)
{
	if (rds_init_conf(&rds, c) != 0) {
		fprintf(stderr, "query: %s\n", rds.errstr);
		log_error("%s", rds.errstr);
		return -1;
	}
	dbq_init(&dbq, c);
	if (check_only)
		return 0;
	/* connect now so the first request does not pay for it; failures
	 * are retried on each request */
	if (dbq_ping(&dbq) != 0)
		log_warnx("%s (will retry)", dbq.errstr);
	if (rds_ctx(&rds, 0) == NULL)
		log_warnx("%s (will retry)", rds.errstr);
	return 0;
}

static void
fini(void)
{
	dbq_close(&dbq);
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
