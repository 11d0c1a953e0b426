/* SPDX-License-Identifier: ISC */
/*
 * fcgi/ticket/main.c - the purchase responder (docs/api.md).
 *
 *   POST /tickets          JSON body {"venueId","eventId","zoneId","row","column"}
 *   POST /ticket?...       the original system's form (row may be a letter)
 *   GET  /tickets/health   Redis and the broker answer?
 *
 * One purchase: validate (no I/O) -> one EVALSHA of lua/reserve.lua on the
 * zone's Redis node -> publish with a publisher confirm -> 201.  A definite
 * publish failure releases the seat (lua/release.lua) and answers 503; an
 * unknown outcome keeps the seat and leaves the ticket in the zone's pending
 * set, where the sweeper (consumer/) publishes it again: see
 * docs/reliability.md.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "http.h"
#include "log.h"
#include "mq.h"
#include "purchase.h"
#include "rds.h"
#include "server.h"
#include "testhook.h"
#include "ticket.h"
#include "when.h"

#define RETRY_AFTER	"Retry-After: 1\r\n"

static struct conf	cfg;
static struct rds	rds;
static struct mq	mq;

/* 403 NOT_ON_SALE: the body says when, Retry-After how many whole
 * seconds until then (by the Redis clock the script read). */
static void
reply_not_on_sale(FCGX_Request *req)
{
	char	opens[WHEN_LEN + 1], body[256], hdr[64];
	int	n;

	when_format(rds.opens_ms, opens);
	n = snprintf(body, sizeof(body), "{\"error\":\"NOT_ON_SALE\","
	    "\"message\":\"this zone is not on sale yet\",\"opensAt\":\"%s\"}",
	    opens);
	snprintf(hdr, sizeof(hdr), "Retry-After: %lld\r\n",
	    (rds.wait_ms + 999) / 1000);
	http_reply(req, 403, hdr, body, (size_t)n);
}

/* Answers the outcome of the reservation script other than success. */
static void
reply_reserve_error(FCGX_Request *req, enum rds_reserve r)
{
	switch (r) {
	case RESERVE_CANCELLED:
		http_error(req, 410, "EVENT_CANCELLED", "this event is "
		    "cancelled", NULL);
		break;
	case RESERVE_NOT_ON_SALE:
		reply_not_on_sale(req);
		break;
	case RESERVE_SALE_CLOSED:
		http_error(req, 403, "SALE_CLOSED", "the sale of this event is "
		    "closed", NULL);
		break;
	case RESERVE_SEAT_TAKEN:
		http_error(req, 409, "SEAT_TAKEN", "this seat is already sold",
		    NULL);
		break;
	case RESERVE_ZONE_SOLD_OUT:
		http_error(req, 409, "ZONE_SOLD_OUT", "every seat of this zone "
		    "is sold", NULL);
		break;
	case RESERVE_ROW_SOLD_OUT:
		http_error(req, 409, "ROW_SOLD_OUT", "every seat of this row is "
		    "sold", NULL);
		break;
	case RESERVE_NOT_FOUND:
		http_error(req, 404, "NOT_FOUND", "unknown venue, event or zone, "
		    "or the event is not at that venue", NULL);
		break;
	case RESERVE_INVALID_SEAT:
		http_error(req, 400, "INVALID_SEAT", "row or column is outside "
		    "the zone", NULL);
		break;
	case RESERVE_NO_COUNTERS:
		http_error(req, 503, "UNAVAILABLE", "this zone is being rebuilt "
		    "after a seat store failure, nothing was sold; try again",
		    RETRY_AFTER);
		break;
	default:
		log_warnx("reserve: %s", rds.errstr);
		http_error(req, 503, "UNAVAILABLE", "seat store unavailable, "
		    "nothing was sold; try again", RETRY_AFTER);
		break;
	}
}

/* 503 after the seat was reserved: the ticket may still be issued. */
static void
reply_unknown(FCGX_Request *req, const struct ticket *t, const char *why)
{
	char	body[512], hdr[128];
	int	n;

	n = snprintf(body, sizeof(body), "{\"error\":\"UNAVAILABLE\","
	    "\"message\":\"%s\",\"ticketId\":\"%s\"}", why, t->id);
	snprintf(hdr, sizeof(hdr), RETRY_AFTER "Location: /get/tickets/%s\r\n",
	    t->id);
	http_reply(req, 503, hdr, body, (size_t)n);
}

/* Publishes the reserved ticket; on an unknown outcome tries once more on a
 * fresh connection (consumers are idempotent, a duplicate is harmless). */
static enum mq_result
publish(const struct ticket *t, const char *json, size_t len)
{
	enum mq_result r;

	r = mq_publish(&mq, json, len, t->id, cfg.amqp_confirm_timeout_ms);
	if (r != MQ_UNKNOWN)
		return r;
	log_warnx("publish %s: %s; publishing again", t->id, mq.errstr);
	if (mq_publish(&mq, json, len, t->id, cfg.amqp_confirm_timeout_ms) ==
	    MQ_OK)
		return MQ_OK;
	/* the first attempt may have landed: never treat this as failed */
	return MQ_UNKNOWN;
}

static void
sell(FCGX_Request *req, const struct purchase *p)
{
	struct ticket	 t;
	enum rds_reserve res;
	char		 json[TICKET_JSON_MAX], hdr[96];
	int		 len, rel;

	memset(&t, 0, sizeof(t));
	memcpy(t.venue, p->venue, sizeof(t.venue));
	memcpy(t.event, p->event, sizeof(t.event));
	t.zone = p->zone;
	t.row = p->row;
	t.col = p->col;
	if (ticket_new(&t) != 0) {
		log_warn("getrandom");
		http_error(req, 503, "UNAVAILABLE", "no randomness for a ticket "
		    "id; try again", RETRY_AFTER);
		return;
	}
	res = rds_reserve(&rds, &t, cfg.ticket_cache_ttl, json, sizeof(json));
	if (res == RESERVE_IN_DOUBT) {
		/* the script may have run: if it did, its pending entry makes
		 * the sweeper publish the ticket; never say "nothing sold" */
		log_warnx("reserve %s: %s; outcome unknown", t.id, rds.errstr);
		reply_unknown(req, &t, "seat store did not answer; the ticket "
		    "may still be issued, see Location");
		return;
	}
	if (res != RESERVE_OK) {
		reply_reserve_error(req, res);
		return;
	}
	len = (int)strlen(json);
	TESTHOOK("reserved", t.id, json);
	switch (publish(&t, json, (size_t)len)) {
	case MQ_OK:
		TESTHOOK("confirmed", t.id, json);
		if (rds_confirmed(&rds, &t, json) != 0)
			log_warnx("confirmed %s, pending entry kept: %s", t.id,
			    rds.errstr);
		snprintf(hdr, sizeof(hdr), "Location: /get/tickets/%s\r\n", t.id);
		http_reply(req, 201, hdr, json, (size_t)len);
		return;
	case MQ_FAILED:
		log_warnx("publish %s: %s; releasing the seat", t.id, mq.errstr);
		rel = rds_release(&rds, &t, json);
		if (rel == 1) {
			http_error(req, 503, "UNAVAILABLE", "message broker "
			    "unavailable, nothing was sold; try again",
			    RETRY_AFTER);
			return;
		}
		if (rel < 0)
			log_warnx("release %s: %s; the sweeper will publish it",
			    t.id, rds.errstr);
		else if (rel == 0)
			log_error("release %s: not the owner of its seat", t.id);
		reply_unknown(req, &t, "message broker unavailable; the ticket "
		    "may still be issued, see Location");
		return;
	default:
		log_warnx("publish %s: outcome unknown (%s); seat kept, the "
		    "sweeper will publish it", t.id, mq.errstr);
		reply_unknown(req, &t, "message broker did not confirm; the "
		    "ticket may still be issued, see Location");
		return;
	}
}

/* Checks CONTENT_LENGTH: returns its value, -1 if absent, -2 if malformed. */
static long
content_length(FCGX_Request *req)
{
	const char	*cl = http_param(req, "CONTENT_LENGTH");
	long		 n;

	if (*cl == '\0')
		return -1;
	if (valid_digits(cl, &n) != 0)
		return -2;
	return n;
}

/* Reads a body of at most BODY_MAX bytes, answering 400/413 itself.
 * Returns the length, or -1 if it replied. */
static long
read_body_or_reply(FCGX_Request *req, char *buf)
{
	long cl = content_length(req), n;

	if (cl == -2) {
		http_error(req, 400, "BAD_REQUEST", "Content-Length is not a "
		    "number", NULL);
		return -1;
	}
	if (cl > BODY_MAX) {
		http_error(req, 413, "PAYLOAD_TOO_LARGE", "request body is over "
		    "4096 bytes", NULL);
		return -1;
	}
	n = http_read_body(req, buf, BODY_MAX);
	if (n == -2) {
		http_error(req, 413, "PAYLOAD_TOO_LARGE", "request body is over "
		    "4096 bytes", NULL);
		return -1;
	}
	if (n < 0) {
		http_error(req, 400, "BAD_REQUEST", "cannot read the request "
		    "body", NULL);
		return -1;
	}
	return n;
}

/* Sells a parsed purchase, or answers why it could not be parsed. */
static void
buy_parsed(FCGX_Request *req, enum purchase_err e, const struct purchase *p,
    const char *why)
{
	if (e == PURCHASE_OK)
		sell(req, p);
	else if (e == PURCHASE_INVALID_SEAT)
		http_error(req, 400, "INVALID_SEAT", why, NULL);
	else
		http_error(req, 400, "BAD_REQUEST", why, NULL);
}

static void
buy_json(FCGX_Request *req)
{
	struct purchase	 p;
	enum purchase_err e;
	char		 body[BODY_MAX];
	const char	*why;
	long		 n;

	if (!http_content_type_is(http_param(req, "CONTENT_TYPE"),
	    "application/json")) {
		http_error(req, 415, "UNSUPPORTED_MEDIA_TYPE", "Content-Type "
		    "must be application/json", NULL);
		return;
	}
	if ((n = read_body_or_reply(req, body)) < 0)
		return;
	/* not in one call: the order of evaluation of arguments is
	 * unspecified, why must be read after the parser set it */
	e = purchase_from_json(body, (size_t)n, &p, &why);
	buy_parsed(req, e, &p, why);
}

static void
buy_legacy(FCGX_Request *req)
{
	struct purchase	 p;
	enum purchase_err e;
	char		 body[BODY_MAX];
	const char	*why, *qs = http_param(req, "QUERY_STRING");
	const char	*ct = http_param(req, "CONTENT_TYPE");
	long		 n;

	if ((n = read_body_or_reply(req, body)) < 0)
		return;
	if (n > 0 && !http_content_type_is(ct,
	    "application/x-www-form-urlencoded")) {
		http_error(req, 415, "UNSUPPORTED_MEDIA_TYPE", "parameters go "
		    "in the query string or an application/x-www-form-urlencoded "
		    "body", NULL);
		return;
	}
	e = purchase_from_form(qs, strlen(qs), body, (size_t)n, &p, &why);
	buy_parsed(req, e, &p, why);
}

/* GET /tickets/health: what is down, not why (http_health_state). */
static void
health(FCGX_Request *req)
{
	const char	*rstate, *mstate;
	char		 body[256];
	int		 rok, mok, blocked, n;

	rok = rds_ping(&rds) == 0;
	mok = mq_check(&mq) == 0;
	blocked = mok && mq.blocked;
	rstate = http_health_state("redis", rok, rds.errstr);
	mstate = http_health_state("broker", mok, mq.errstr);
	if (rok && mok && !blocked) {
		static const char ok[] = "{\"status\":\"ok\",\"redis\":\"ok\","
		    "\"broker\":\"ok\"}";

		http_reply(req, 200, NULL, ok, sizeof(ok) - 1);
		return;
	}
	n = snprintf(body, sizeof(body), "{\"error\":\"UNAVAILABLE\","
	    "\"message\":\"a dependency is down\",\"status\":\"unavailable\","
	    "\"redis\":\"%s\",\"broker\":\"%s\"}", rstate,
	    blocked ? "blocked (resource alarm)" : mstate);
	http_reply(req, 503, RETRY_AFTER, body, (size_t)n);
}

static void
handle(FCGX_Request *req)
{
	const char	*method = http_param(req, "REQUEST_METHOD");
	char		 path[256];

	if (http_path(req, path, sizeof(path)) < 0) {
		http_error(req, 404, "NOT_FOUND", "no such path", NULL);
		return;
	}
	if (strcmp(path, "/tickets") == 0 || strcmp(path, "/ticket") == 0) {
		if (strcmp(method, "POST") != 0) {
			http_error(req, 405, "METHOD_NOT_ALLOWED", "use POST",
			    "Allow: POST\r\n");
			return;
		}
		if (path[7] == 's')
			buy_json(req);
		else
			buy_legacy(req);
	} else if (strcmp(path, "/tickets/health") == 0) {
		if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
			http_error(req, 405, "METHOD_NOT_ALLOWED", "use GET",
			    "Allow: GET, HEAD\r\n");
			return;
		}
		health(req);
	} else
		http_error(req, 404, "NOT_FOUND", "no such path", NULL);
}

static int
init(const struct conf *c, int check_only)
{
	char name[64];

	cfg = *c;
	if (rds_init(&rds, c->redis_nodes, c->redis_timeout_ms) != 0) {
		fprintf(stderr, "ticket: %s\n", rds.errstr);
		log_error("%s", rds.errstr);
		return -1;
	}
	if (check_only)
		return 0;
	snprintf(name, sizeof(name), "ticket.fcgi[%ld]", (long)getpid());
	mq_init(&mq, c->amqp_host, c->amqp_port, c->amqp_user,
	    c->amqp_password, c->amqp_vhost, c->amqp_connect_timeout_ms, name);
	mq_set_heartbeat(&mq, c->amqp_heartbeat);
	/* connect now so the first buyer does not pay for it; failures
	 * are retried on each request */
	if (rds_ctx(&rds, 0) == NULL)
		log_warnx("%s (will retry)", rds.errstr);
	if (mq_connect(&mq, 1) != 0)
		log_warnx("%s (will retry)", mq.errstr);
	return 0;
}

static void
fini(void)
{
	mq_close(&mq);
	rds_close(&rds);
}

int
main(int argc, char **argv)
{
	static const struct server_ops ops = {
		"ticket", "boxoffice purchase responder (FastCGI)",
		init, handle, fini, "/tickets/metrics"
	};

	return server_main(argc, argv, &ops);
}
