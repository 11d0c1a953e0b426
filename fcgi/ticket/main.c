/* SPDX-License-Identifier: ISC */
/*
 * fcgi/ticket/main.c - the purchase responder (docs/api.md).
 *
 *   POST /tickets          JSON body {"venueId","eventId","zoneId","row","column"}
 *   POST /ticket?...       the original system's form (row may be a letter)
 *   GET  /tickets/health   Redis and the broker answer?
 *   POST /orders           1-10 seats, all or nothing (section 7)
 *   POST /orders/{id}/cancel, POST /tickets/{id}/cancel  {"cancelToken"}
 *
 * A ticket is an order of one underneath: lua/order.lua, one message per
 * order (fcgi/ticket/sale.c).
 *
 * One purchase: validate (no I/O) -> one EVALSHA of lua/order.lua on the
 * zone's Redis node -> publish with a publisher confirm -> 201.  A definite
 * publish failure releases the seats (lua/order_release.lua) and answers
 * 503; an unknown outcome keeps the seats and leaves the order in the zone's
 * pending set, where the sweeper (consumer/) publishes it again: see
 * docs/reliability.md.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "mq.h"
#include "pubc.h"
#include "purchase.h"
#include "rds.h"
#include "sale.h"
#include "server.h"
#include "testhook.h"
#include "ticket.h"
#include "when.h"

#define RETRY_AFTER	"Retry-After: 1\r\n"

#define REPLAYED	"Idempotent-Replayed: true\r\n"

static struct conf	cfg;
static struct rds	rds;
static struct mq	mq;
static struct pubc	pub;	/* amqp_publisher = local: pubd */
static int		local;	/* amqp_publisher = local */
static char		secret[CONF_STR_MAX];	/* token_secret, or drawn */
static struct sale_secrets secrets;	/* secret; key: token_secret as set */
/* the extra header of a refusal: REPLAYED when it answers a key again */
static const char	*refusal_hdr;

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

/* What a purchase request answers: the ticket of section 2 (POST /tickets,
 * POST /ticket: an order of one underneath) or the order of section 7. */
enum sell_kind {
	SELL_TICKET,
	SELL_ORDER,
	SELL_HOLD,	/* POST /holds: seats reserved, nothing published */
	SELL_CONFIRM	/* POST /holds/{id}/confirm: the hold becomes an order */
};

/* Appends the seats of a script's "r c r c ..." list as JSON objects
 * {"row","column"} separated by commas to buf (n bytes used of size,
 * keeping 64 free); returns the new length. */
static int
seats_json(const char *list, char *buf, int n, size_t size)
{
	const char	*p = list;
	char		*end;
	long		 r, c;
	int		 first = 1;

	while (*p != '\0' && n < (int)size - 64) {
		r = strtol(p, &end, 10);
		if (end == p || *end != ' ')
			break;
		p = end + 1;
		c = strtol(p, &end, 10);
		if (end == p)
			break;
		p = *end == ' ' ? end + 1 : end;
		n += snprintf(buf + n, size - n, "%s{\"row\":%ld,\"column\":%ld}",
		    first ? "" : ",", r, c);
		first = 0;
	}
	return n;
}

/* 409 SEAT_TAKEN of an order: every requested seat that is taken. */
static void
reply_seats_taken(FCGX_Request *req, const char *taken)
{
	char	body[128 + SALE_TAKEN_MAX * 2];
	int	n;

	n = snprintf(body, sizeof(body), "{\"error\":\"SEAT_TAKEN\","
	    "\"message\":\"a requested seat is already taken\",\"seats\":[");
	n = seats_json(taken, body, n, sizeof(body));
	n += snprintf(body + n, sizeof(body) - n, "]}");
	http_reply(req, 409, refusal_hdr, body, (size_t)n);
}

/* The refusals of lua/order.lua that are one fixed answer each (CONTRACT
 * section 2 and section 7); retry marks a 503 that says when to try again. */
static const struct refusal {
	enum sale_result	 result;
	int			 status;
	const char		*error;
	const char		*message;
	int			 retry;
} refusals[] = {
	{ SALE_CANCELLED, 410, "EVENT_CANCELLED", "this event is cancelled", 0 },
	{ SALE_CLOSED, 403, "SALE_CLOSED", "the sale of this event is closed",
	    0 },
	{ SALE_SEAT_TAKEN, 409, "SEAT_TAKEN", "this seat is already sold", 0 },
	{ SALE_NOT_ADJACENT, 409, "NOT_ENOUGH_ADJACENT", "no row has that many "
	    "adjacent free seats", 0 },
	{ SALE_ZONE_SOLD_OUT, 409, "ZONE_SOLD_OUT", "every seat of this zone "
	    "is sold", 0 },
	{ SALE_ROW_SOLD_OUT, 409, "ROW_SOLD_OUT", "every seat of this row is "
	    "sold", 0 },
	{ SALE_NOT_FOUND, 404, "NOT_FOUND", "unknown venue, event or zone, or "
	    "the event is not at that venue", 0 },
	{ SALE_INVALID_SEAT, 400, "INVALID_SEAT", "row or column is outside "
	    "the zone", 0 },
	{ SALE_NO_COUNTERS, 503, "UNAVAILABLE", "this zone is being rebuilt "
	    "after a seat store failure, nothing was sold; try again", 1 },
};
#define NREFUSALS	(sizeof(refusals) / sizeof(refusals[0]))

/* Answers a refusal of lua/order.lua, or a failure before it ran:
 * list_seats makes a SEAT_TAKEN list every taken seat (orders, holds). */
static void
reply_refusal(FCGX_Request *req, enum sale_result r, int list_seats,
    const char *taken)
{
	const struct refusal	*f;

	if (r == SALE_NOT_ON_SALE) {
		reply_not_on_sale(req);
		return;
	}
	if (r == SALE_SEAT_TAKEN && list_seats) {
		reply_seats_taken(req, taken);
		return;
	}
	for (f = refusals; f < refusals + NREFUSALS; f++) {
		if (f->result == r) {
			http_error(req, f->status, f->error, f->message,
			    f->retry ? RETRY_AFTER : refusal_hdr);
			return;
		}
	}
	log_warnx("reserve (%s): %s", sale_result_str(r), rds.errstr);
	http_error(req, 503, "UNAVAILABLE", "seat store unavailable, nothing "
	    "was sold; try again", RETRY_AFTER);
}

/* 503 after the seats were (maybe) reserved: the order may still be
 * issued; it names the order (and, for a ticket, the ticket).  A hold
 * is never published: it names the hold, which the client may delete
 * (204 if it was made) or confirm, or let expire. */
static void
reply_unknown(FCGX_Request *req, enum sell_kind k, const struct sale *s,
    const char *why)
{
	char	body[512], hdr[128];
	int	n;

	if (k == SELL_HOLD) {
		n = snprintf(body, sizeof(body), "{\"error\":\"UNAVAILABLE\","
		    "\"message\":\"%s: delete it (DELETE Location), confirm "
		    "it, or let it expire\",\"holdId\":\"%s\"}", why,
		    s->hold_id);
		snprintf(hdr, sizeof(hdr), RETRY_AFTER
		    "Location: /holds/%s\r\n", s->hold_id);
	} else if (k == SELL_TICKET) {
		n = snprintf(body, sizeof(body), "{\"error\":\"UNAVAILABLE\","
		    "\"message\":\"%s\",\"ticketId\":\"%s\",\"orderId\":\"%s\"}",
		    why, s->tids[0], s->order_id);
		snprintf(hdr, sizeof(hdr), RETRY_AFTER
		    "Location: /get/tickets/%s\r\n", s->tids[0]);
	} else {
		n = snprintf(body, sizeof(body), "{\"error\":\"UNAVAILABLE\","
		    "\"message\":\"%s\",\"orderId\":\"%s\"}", why, s->order_id);
		snprintf(hdr, sizeof(hdr), RETRY_AFTER
		    "Location: /get/orders/%s\r\n", s->order_id);
	}
	http_reply(req, 503, hdr, body, (size_t)n);
}

/* Publishes msg once: on this responder's broker connection, or handed to
 * pubd (amqp_publisher = local; the same outcomes, pubc.h). */
static enum mq_result
publish_once(const char *key, const char *id, const char *msg, size_t len)
{
	if (local)
		return pubc_publish(&pub, MQ_EXCHANGE, key, msg, len, id,
		    cfg.amqp_confirm_timeout_ms);
	return mq_publish_key(&mq, key, msg, len, id,
	    cfg.amqp_confirm_timeout_ms);
}

/* Why the last publish was not confirmed. */
static const char *
publish_err(void)
{
	return local ? pub.errstr : mq.errstr;
}

/* Publishes msg (routing key key, message id id); on an unknown outcome
 * tries once more on a fresh connection, or a fresh channel after a nack
 * (consumers are idempotent, a duplicate is harmless).  Local: pubd's
 * socket was closed after the unknown outcome, so the retry goes over a
 * new one (pubd replaces its channel after a nack as well). */
static enum mq_result
publish(const char *key, const char *id, const char *msg)
{
	enum mq_result	r;
	size_t		len = strlen(msg);

	r = publish_once(key, id, msg, len);
	if (r != MQ_UNKNOWN)
		return r;
	log_warnx("publish %s: %s; publishing again", id, publish_err());
	if (publish_once(key, id, msg, len) == MQ_OK)
		return MQ_OK;
	/* the first attempt may have landed: never treat this as failed */
	return MQ_UNKNOWN;
}

/* The 201 of a sold order: for SELL_ORDER the order with its cancel token,
 * for SELL_TICKET the ticket of section 2 followed by orderId and
 * cancelToken. */
static void
reply_sold(FCGX_Request *req, enum sell_kind k, const struct sale *s,
    int status, int replayed)
{
	char		 hdr[128], *body;
	const char	*t;
	size_t		 tl, size;
	int		 n;

	size = strlen(s->head) + strlen(s->tickets) + 128;
	if ((body = malloc(size)) == NULL) {
		/* sold and published: the ticket exists, say so */
		reply_unknown(req, k, s, "out of memory after the sale; the "
		    "order is issued, see Location");
		return;
	}
	if (k == SELL_ORDER) {
		n = snprintf(body, size, "{%s,\"cancelToken\":\"%s\",%s}",
		    s->head, s->token, s->tickets);
		snprintf(hdr, sizeof(hdr), "%sLocation: /get/orders/%s\r\n",
		    replayed ? REPLAYED : "", s->order_id);
	} else {
		/* "tickets":[{<ticket of section 2>,"orderId":"<id>"}]: the
		 * ticket as its lookup shows it, then the cancel token */
		t = s->tickets + strlen("\"tickets\":[");
		tl = strlen(t) - 2;			/* without "}]" */
		n = snprintf(body, size, "%.*s,\"cancelToken\":\"%s\"}",
		    (int)tl, t, s->token);
		snprintf(hdr, sizeof(hdr), "%sLocation: /get/tickets/%s\r\n",
		    replayed ? REPLAYED : "", s->tids[0]);
	}
	http_reply(req, status, hdr, body, (size_t)n);
	free(body);
}

/* 409 REQUEST_IN_PROGRESS with msg (plain text, no JSON escapes needed):
 * the order being completed (and the ticket of a POST /tickets) when Redis
 * named it, with Location, as the 503 of an unknown outcome does: a client
 * that lost its first answer learns what may still be issued. */
static void
reply_in_progress(FCGX_Request *req, const char *msg, const char *order,
    const char *ticket)
{
	char	body[384], hdr[128];
	int	n;

	if (order[0] == '\0') {
		http_error(req, 409, "REQUEST_IN_PROGRESS", msg, RETRY_AFTER);
		return;
	}
	if (ticket[0] != '\0') {
		n = snprintf(body, sizeof(body), "{\"error\":"
		    "\"REQUEST_IN_PROGRESS\",\"message\":\"%s\",\"ticketId\":"
		    "\"%s\",\"orderId\":\"%s\"}", msg, ticket, order);
		snprintf(hdr, sizeof(hdr), RETRY_AFTER
		    "Location: /get/tickets/%s\r\n", ticket);
	} else {
		n = snprintf(body, sizeof(body), "{\"error\":"
		    "\"REQUEST_IN_PROGRESS\",\"message\":\"%s\",\"orderId\":"
		    "\"%s\"}", msg, order);
		snprintf(hdr, sizeof(hdr), RETRY_AFTER
		    "Location: /get/orders/%s\r\n", order);
	}
	http_reply(req, 409, hdr, body, (size_t)n);
}

/* The answers of a keyed request that lua/order.lua found done or
 * running; returns 1 if it answered, else 0. */
static int
reply_keyed(FCGX_Request *req, struct sale *s, enum sale_result res)
{
	char	*end;
	long	 code;

	switch (res) {
	case SALE_KEY_REUSED:
		http_error(req, 422, "IDEMPOTENCY_KEY_REUSED", "this "
		    "Idempotency-Key was used with another request", NULL);
		return 1;
	case SALE_IN_PROGRESS:
		reply_in_progress(req, "a request with this Idempotency-Key "
		    "is still running; try again", s->running_order,
		    s->running_ticket);
		return 1;
	case SALE_REPLAY:
		if (sale_from_replay(s, secret) != 0) {
			log_warnx("replay of %s: unreadable order", s->idem);
			http_error(req, 503, "UNAVAILABLE", "cannot answer this "
			    "Idempotency-Key again now; try again", RETRY_AFTER);
			return 1;
		}
		reply_sold(req, s->kind == 't' ? SELL_TICKET : SELL_ORDER, s, 201,
		    1);
		return 1;
	case SALE_REFUSED:
		/* "<code> <taken>" of the first answer, answered again */
		code = strtol(s->replay, &end, 10);
		if (*end == ' ')
			end++;
		if (strlen(end) < sizeof(s->taken))
			memcpy(s->taken, end, strlen(end) + 1);
		refusal_hdr = REPLAYED;
		reply_refusal(req, (enum sale_result)code, s->kind == 'o' ||
		    s->kind == 'h', s->taken);
		refusal_hdr = NULL;
		return 1;
	default:
		return 0;
	}
}

/* 201 of POST /holds (replayed: of a keyed request answered again). */
static void
reply_hold(FCGX_Request *req, const struct sale *s, const struct order_req *o,
    int replayed)
{
	char	body[1024 + SALE_TAKEN_MAX * 2], hdr[96], exp[STAMP_LEN + 1];
	int	n;

	ticket_stamp(s->expires_ms, exp);
	n = snprintf(body, sizeof(body), "{\"holdId\":\"%s\",\"expiresAt\":"
	    "\"%s\",\"venueId\":\"%s\",\"eventId\":\"%s\",\"zoneId\":%ld,"
	    "\"seats\":[", s->hold_id, exp, o->venue, o->event, o->zone);
	n = seats_json(s->held, body, n, sizeof(body));
	n += snprintf(body + n, sizeof(body) - n, "],\"total\":%s}", s->total);
	snprintf(hdr, sizeof(hdr), "%sLocation: /holds/%s\r\n",
	    replayed ? REPLAYED : "", s->hold_id);
	http_reply(req, 201, hdr, body, (size_t)n);
}

/* WAIT redis_wait_replicas on the master of slot for its last write.
 * Returns 0 if enough replicas have it or no WAIT is asked
 * (redis_wait_replicas 0); 1 if it is short, counted, *n the replicas
 * that have it (-1: the connection is gone, rds.errstr says why). */
static int
wait_short(unsigned slot, int *n)
{
	if (rds.wait_replicas <= 0 || (*n = rds_wait(&rds, slot,
	    rds.wait_replicas, rds.wait_timeout_ms)) >= rds.wait_replicas)
		return 0;
	metrics_count(METRICS_REDIS_WAIT_SHORT);
	return 1;
}

/* 1 if the last write on the master of slot (a release, a cancel, the
 * end of a hold) reached redis_wait_replicas replicas, or none is asked
 * (redis_wait_replicas 0, or redis_wait_short = publish); 0 if a failover
 * now could undo it (the answer must not say it happened). */
static int
write_replicated(unsigned slot, const char *what, const char *id)
{
	int n;

	if (!rds.wait_release || !wait_short(slot, &n))
		return 1;
	log_warnx("%s %s: %d of %d replicas have it%s%s", what, id,
	    n < 0 ? 0 : n, rds.wait_replicas, n < 0 ? ": " : "",
	    n < 0 ? rds.errstr : "");
	return 0;
}

/* WAIT redis_wait_replicas on the zone's master after a reservation
 * (docs/reliability.md, "Redis Cluster"): a sale a failover could lose is
 * not published.  Returns 1 to go on (replicated, no WAIT asked, or
 * redis_wait_short = publish); else 0 after answering: 503 nothing sold
 * once released, or unknown if even the release failed (then the write may
 * live on: the sweeper publishes what a promoted replica still has). */
static int
replicated(FCGX_Request *req, enum sell_kind k, struct sale *s)
{
	enum sale_release	rel;
	int			n;

	if (!wait_short(s->node, &n))
		return 1;
	if (n < 0)
		log_warnx("order %s: WAIT: %s", s->order_id, rds.errstr);
	if (!rds.wait_release) {
		log_warnx("order %s: %d of %d replicas have it; published "
		    "anyway (redis_wait_short = publish): a failover now "
		    "may sell its seats again", s->order_id, n < 0 ? 0 : n,
		    rds.wait_replicas);
		return 1;
	}
	log_warnx("order %s: %d of %d replicas have it; releasing the seats",
	    s->order_id, n < 0 ? 0 : n, rds.wait_replicas);
	/* the release must reach the replicas too: one that has the
	 * reservation and not its release would sell it after a failover */
	if ((rel = sale_release(&rds, s)) == RELEASE_DONE &&
	    write_replicated(s->node, "release", s->order_id)) {
		http_error(req, 503, "UNAVAILABLE", k == SELL_CONFIRM ?
		    "seat store could not replicate the sale, nothing was "
		    "sold; the hold stands, try again" : "seat store could "
		    "not replicate the sale, nothing was sold; try again",
		    RETRY_AFTER);
		return 0;
	}
	log_warnx("release %s: %s; outcome unknown", s->order_id,
	    rel == RELEASE_DONE ? "not replicated" : rds.errstr);
	reply_unknown(req, k, s, "seat store failing over; the ticket may "
	    "still be issued, see Location");
	return 0;
}

/* WAIT redis_wait_replicas after a hold is made, as replicated() after a
 * sale: a hold a failover could lose is not answered 201 (CONTRACT §9.6:
 * it ends one way, confirmed, deleted or expired).  Short: 503 naming
 * the hold, which stands on the master: the buyer confirms or deletes it,
 * or a keyed retry answers it again (its key lives and dies with it).
 * Returns 1 to answer the 201 (replicated, no WAIT asked, or
 * redis_wait_short = publish), else 0 after answering. */
static int
hold_replicated(FCGX_Request *req, struct sale *s)
{
	int n;

	if (!wait_short(s->node, &n))
		return 1;
	log_warnx("hold %s: %d of %d replicas have it%s%s%s", s->hold_id,
	    n < 0 ? 0 : n, rds.wait_replicas, n < 0 ? " (" : "",
	    n < 0 ? rds.errstr : "", n < 0 ? ")" : "");
	if (!rds.wait_release)
		return 1;
	reply_unknown(req, SELL_HOLD, s, "seat store could not replicate "
	    "the hold yet; it stands unless the seat store fails over");
	return 0;
}

/* The Idempotency-Key of req ("" if none), or NULL after answering 400
 * for a malformed one (every POST checks it, even those that record
 * none), or for two: nginx 1.22 passes each (http_param() would see the
 * first, "" for an empty one: a request a client meant to protect would
 * run without a key), lighttpd and Apache the two joined, which is
 * malformed. */
static const char *
idem_key_or_reply(FCGX_Request *req)
{
	const char *key = http_param(req, "HTTP_IDEMPOTENCY_KEY");

	if (http_param_count(req, "HTTP_IDEMPOTENCY_KEY") > 1 ||
	    (*key != '\0' && !valid_id_n(key, strlen(key)))) {
		http_error(req, 400, "BAD_REQUEST", "Idempotency-Key must be one "
		    "header of 1-64 letters, digits, '_' or '-'", NULL);
		return NULL;
	}
	return key;
}

/* The first step of a sale: checks the Idempotency-Key and fills s
 * (sale_new()).  Returns 0, or -1 if it answered. */
static int
sell_start(FCGX_Request *req, enum sell_kind k, const struct order_req *o,
    const struct iovec *what, int nwhat, struct sale *s)
{
	static const char kinds[] = "tohc";
	const char	*key = idem_key_or_reply(req);

	if (key == NULL)
		return -1;
	if (sale_new(s, o, kinds[k], *key != '\0' ? key : NULL, what, nwhat,
	    &secrets) != 0) {
		log_warn("getrandom or sha256");
		http_error(req, 503, "UNAVAILABLE", "no randomness for an order "
		    "id; try again", RETRY_AFTER);
		return -1;
	}
	return 0;
}

/* The answers of a hold's confirm that did not sell: 200 with the order
 * of an earlier confirm, 410, 404; a keyed confirm's first answer again
 * (lua/order.lua: the replay's kind "c" was a 201, "C" a 200; "o" is the
 * order of a confirm made by another request).  A keyed 410 or 404 is
 * recorded by the script, as other definite refusals are.  Returns 1 if
 * it answered, else 0. */
static int
reply_confirm(FCGX_Request *req, struct sale *s, enum sale_result res)
{
	const char	*again = NULL;
	long		 code;

	switch (res) {
	case SALE_REPLAY:
		if (sale_from_replay(s, secret) != 0)
			http_error(req, 503, "UNAVAILABLE", "cannot read the "
			    "order of this hold now; try again", RETRY_AFTER);
		else
			reply_sold(req, SELL_ORDER, s, s->replay_kind == 'c' ?
			    201 : 200, s->replay_kind != 'o');
		return 1;
	case SALE_REFUSED:
		code = strtol(s->replay, NULL, 10);
		if (code != SALE_HOLD_EXPIRED && code != SALE_NOT_FOUND)
			return 0;
		res = (enum sale_result)code;
		again = REPLAYED;
		break;
	case SALE_HOLD_EXPIRED:
	case SALE_NOT_FOUND:
		break;
	default:
		return 0;
	}
	if (res == SALE_HOLD_EXPIRED)
		http_error(req, 410, "HOLD_EXPIRED", "this hold has expired, "
		    "its seats are released", again);
	else
		http_error(req, 404, "NOT_FOUND", "no such hold", again);
	return 1;
}

/* Answers every outcome of sale_order() but a sale to publish: a hold, a
 * confirm or keyed request answered again, a refusal, a Redis failure. */
static void
reply_unsold(FCGX_Request *req, enum sell_kind k, struct sale *s,
    const struct order_req *o, enum sale_result res)
{
	if (k == SELL_CONFIRM && reply_confirm(req, s, res))
		return;
	if (k == SELL_HOLD && res == SALE_OK) {
		if (hold_replicated(req, s))
			reply_hold(req, s, o, 0);
		return;
	}
	if (k == SELL_HOLD && res == SALE_REPLAY && s->replay_kind == 'h') {
		/* the first 201 again, whatever became of the hold since;
		 * WAITed for as a new hold (the script wrote its record
		 * again): the first answer may have been the 503 of a hold
		 * no replica had */
		if (sale_hold_from_replay(s) == 0) {
			if (hold_replicated(req, s))
				reply_hold(req, s, o, 1);
		} else {
			log_warnx("replay of %s: unreadable hold", s->idem);
			http_error(req, 503, "UNAVAILABLE", "cannot answer this "
			    "Idempotency-Key again now; try again", RETRY_AFTER);
		}
		return;
	}
	if (reply_keyed(req, s, res))
		return;
	TESTHOOK("refused", s->order_id, s->idem);
	if (res == SALE_IN_DOUBT) {
		/* the script may have run: if it did, its pending entry makes
		 * the sweeper publish the order; never say "nothing sold" */
		log_warnx("order %s: %s; outcome unknown", s->order_id,
		    rds.errstr);
		reply_unknown(req, k, s, k == SELL_HOLD ? "seat store did "
		    "not answer; the hold may have been made" : "seat store "
		    "did not answer; the ticket may still be issued, see "
		    "Location");
		return;
	}
	/* a hold takes the bodies of /orders (section 7): its 409 lists
	 * every requested seat that is taken too */
	reply_refusal(req, res, k == SELL_ORDER || k == SELL_HOLD, s->taken);
}

/* After SALE_OK: publishes the order message with a confirm and answers
 * 201; a definite publish failure releases the seats (503 "nothing
 * sold"); an unknown outcome keeps them for the sweeper (503 naming the
 * order). */
static void
settle(FCGX_Request *req, enum sell_kind k, struct sale *s)
{
	const char	*hid = k == SELL_TICKET ? s->tids[0] : s->order_id;
	enum sale_release rel;

	(void)hid;	/* only the test hooks use it */
	TESTHOOK("reserved", hid, s->msg);
	if (!replicated(req, k, s))
		return;
	switch (publish(MQ_ROUTING_KEY, s->order_id, s->msg)) {
	case MQ_OK:
		TESTHOOK("confirmed", hid, s->msg);
		if (sale_confirmed(&rds, s->node, s->tag, s->order_id) != 0)
			log_warnx("confirmed %s, pending entry kept: %s",
			    s->order_id, rds.errstr);
		reply_sold(req, k == SELL_CONFIRM ? SELL_ORDER : k, s, 201, 0);
		break;
	case MQ_FAILED:
		log_warnx("publish %s: %s; releasing the seats", s->order_id,
		    publish_err());
		if ((rel = sale_release(&rds, s)) == RELEASE_DONE &&
		    write_replicated(s->node, "release", s->order_id)) {
			http_error(req, 503, "UNAVAILABLE", k == SELL_CONFIRM ?
			    "message broker unavailable, nothing was sold; the "
			    "hold stands, try again" : "message broker "
			    "unavailable, nothing was sold; try again",
			    RETRY_AFTER);
			break;
		}
		if (rel == RELEASE_DONE)
			log_warnx("release %s: not replicated; a failover "
			    "may bring the sale back", s->order_id);
		else
			log_warnx("release %s: %s (%s); the sweeper will "
			    "publish it", s->order_id, sale_release_str(rel),
			    rel == RELEASE_ERROR ? rds.errstr :
			    "published meanwhile");
		reply_unknown(req, k, s, "message broker unavailable; the "
		    "ticket may still be issued, see Location");
		break;
	default:
		log_warnx("publish %s: outcome unknown (%s); seats kept, the "
		    "sweeper will publish it", s->order_id, publish_err());
		reply_unknown(req, k, s, "message broker did not confirm; the "
		    "ticket may still be issued, see Location");
		break;
	}
}

/* Sells an order (one seat for a ticket): reserves it in one script call
 * (sale_order()), then publishes and answers (settle()) or answers why
 * not (reply_unsold()).  what[0..nwhat-1] is the request an
 * Idempotency-Key is checked against. */
static void
sell(FCGX_Request *req, enum sell_kind k, const struct order_req *o,
    const struct iovec *what, int nwhat)
{
	struct sale	 s;
	enum sale_result res;

	if (sell_start(req, k, o, what, nwhat, &s) != 0)
		return;
	res = sale_order(&rds, &s, o, cfg.ticket_cache_ttl);
	if (res == SALE_OK && k != SELL_HOLD)
		settle(req, k, &s);
	else
		reply_unsold(req, k, &s, o, res);
	sale_free(&s);
}

/* Reads a body of at most BODY_MAX bytes, answering 400/413 itself.
 * Returns the length, or -1 if it replied. */
static long
read_body_or_reply(FCGX_Request *req, char *buf)
{
	const char	*cl = http_param(req, "CONTENT_LENGTH");
	long		 n = 0;
	size_t		 len;

	if (*cl != '\0' && valid_digits(cl, &n) != 0) {
		http_error(req, 400, "BAD_REQUEST", "Content-Length is not a "
		    "number", NULL);
		return -1;
	}
	switch (n > BODY_MAX ? HTTP_BODY_TOO_LARGE :
	    http_read_body(req, buf, BODY_MAX, &len)) {
	case HTTP_BODY_OK:
		return (long)len;
	case HTTP_BODY_TOO_LARGE:
		http_error(req, 413, "PAYLOAD_TOO_LARGE", "request body is over "
		    "4096 bytes", NULL);
		return -1;
	default:
		http_error(req, 400, "BAD_REQUEST", "cannot read the request "
		    "body (not received within fcgi_read_timeout_ms, or the "
		    "connection failed)", NULL);
		return -1;
	}
}

/* Sells a parsed purchase, or answers why it could not be parsed. */
static void
buy_parsed(FCGX_Request *req, enum purchase_err e, const struct purchase *p,
    const char *why, const struct iovec *what, int nwhat)
{
	struct order_req o;

	if (e == PURCHASE_OK) {
		memset(&o, 0, sizeof(o));
		memcpy(o.venue, p->venue, sizeof(o.venue));
		memcpy(o.event, p->event, sizeof(o.event));
		o.zone = p->zone;
		o.n = 1;
		o.seats[0].row = p->row;
		o.seats[0].col = p->col;
		o.hold_seconds = -1;
		sell(req, SELL_TICKET, &o, what, nwhat);
	} else if (e == PURCHASE_INVALID_SEAT)
		http_error(req, 400, "INVALID_SEAT", why, NULL);
	else
		http_error(req, 400, "BAD_REQUEST", why, NULL);
}

static void
buy_json(FCGX_Request *req)
{
	struct iovec	 what[1];
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
	what[0].iov_base = body;
	what[0].iov_len = (size_t)n;
	buy_parsed(req, e, &p, why, what, 1);
}

static void
buy_legacy(FCGX_Request *req)
{
	struct iovec	 what[2];
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
	what[0].iov_base = (void *)(uintptr_t)qs;
	what[0].iov_len = strlen(qs);
	what[1].iov_base = body;
	what[1].iov_len = (size_t)n;
	buy_parsed(req, e, &p, why, what, 2);
}

/* Checks the JSON content type and reads the body; returns its length or
 * -1 if it replied. */
static long
json_body_or_reply(FCGX_Request *req, char *body)
{
	if (!http_content_type_is(http_param(req, "CONTENT_TYPE"),
	    "application/json")) {
		http_error(req, 415, "UNSUPPORTED_MEDIA_TYPE", "Content-Type "
		    "must be application/json", NULL);
		return -1;
	}
	return read_body_or_reply(req, body);
}

/* POST /orders/{id}/cancel, POST /tickets/{id}/cancel: id is a lowercase
 * UUID (checked by the caller).  With an Idempotency-Key the first answer
 * is answered again (a cancellation again, a 403 or 404 that stands),
 * with Idempotent-Replayed; the key on another request is 422. */
static void
cancel(FCGX_Request *req, const char *id, int is_ticket)
{
	struct cancel_req c;
	struct cancel_res out;
	enum purchase_err e;
	char		 body[BODY_MAX], tok[TOKEN_LEN + 1];
	const char	*why, *again;
	long		 n;

	if ((n = json_body_or_reply(req, body)) < 0)
		return;
	e = purchase_token_from_json(body, (size_t)n, tok, &why);
	if (e != PURCHASE_OK) {
		http_error(req, 400, "BAD_REQUEST", why, NULL);
		return;
	}
	memset(&c, 0, sizeof(c));
	if ((c.key = idem_key_or_reply(req)) == NULL)
		return;
	c.id = id;
	c.is_ticket = is_ticket;
	c.token = tok;
	c.body.iov_base = body;
	c.body.iov_len = (size_t)n;
	c.key_secret = secrets.key;
	switch (sale_cancel(&rds, &c, cfg.ticket_cache_ttl, &out)) {
	case CANCEL_OK:
		break;
	case CANCEL_NOT_FOUND:
		http_error(req, 404, "NOT_FOUND", is_ticket ? "no such ticket" :
		    "no such order", out.replayed ? REPLAYED : NULL);
		return;
	case CANCEL_FORBIDDEN:
		http_error(req, 403, "FORBIDDEN", "cancelToken is not the "
		    "order's", out.replayed ? REPLAYED : NULL);
		return;
	case CANCEL_NOT_CONFIRMED:
		http_error(req, 409, "NOT_YET_CONFIRMED", "the purchase is not "
		    "confirmed yet; try again", RETRY_AFTER);
		return;
	case CANCEL_KEY_REUSED:
		http_error(req, 422, "IDEMPOTENCY_KEY_REUSED", "this "
		    "Idempotency-Key was used with another request", NULL);
		return;
	default:
		log_warnx("cancel %s: %s", id, rds.errstr);
		http_error(req, 503, "UNAVAILABLE", "seat store unavailable; "
		    "try again", RETRY_AFTER);
		return;
	}
	again = out.replayed ? REPLAYED : NULL;
	/* the cancellation stands in Redis and its message is pending: if
	 * the broker fails now, the sweeper publishes it.  Not published
	 * before the replicas have it (a failover would bring the seats
	 * back as sold while the stores say cancelled); the retry answers
	 * the cancellation that stands. */
	if (!write_replicated(out.node, "cancel", id))
		http_error(req, 503, "UNAVAILABLE", "seat store could not "
		    "replicate the cancellation yet; try again", RETRY_AFTER);
	else if (publish(MQ_CANCEL_KEY, id, out.msg) == MQ_OK) {
		if (sale_confirmed(&rds, out.node, out.tag, out.msg) != 0)
			log_warnx("cancel %s confirmed, pending entry kept: %s",
			    id, rds.errstr);
		http_reply(req, 200, again, out.answer, strlen(out.answer));
	} else {
		log_warnx("publish cancel %s: %s; the sweeper will publish it",
		    id, publish_err());
		http_error(req, 503, "UNAVAILABLE", "the cancellation is "
		    "recorded, its message is not confirmed yet; try again",
		    RETRY_AFTER);
	}
	free(out.answer);
	free(out.msg);
}

/* POST /orders, and POST /holds (holds 1) */
static void
buy_order(FCGX_Request *req, int holds)
{
	struct iovec	 what;
	struct order_req o;
	enum purchase_err e;
	char		 body[BODY_MAX], msg[96];
	const char	*why;
	long		 n;

	if ((n = json_body_or_reply(req, body)) < 0)
		return;
	e = purchase_order_from_json(body, (size_t)n, holds, &o, &why);
	what.iov_base = body;
	what.iov_len = (size_t)n;
	if (e == PURCHASE_OK && holds && o.hold_seconds == -1)
		o.hold_seconds = cfg.hold_seconds;
	if (e == PURCHASE_OK && o.hold_seconds > cfg.hold_max_seconds) {
		snprintf(msg, sizeof(msg), "holdSeconds must be 1..%d",
		    cfg.hold_max_seconds);
		http_error(req, 400, "BAD_REQUEST", msg, NULL);
	} else if (e == PURCHASE_OK)
		sell(req, holds ? SELL_HOLD : SELL_ORDER, &o, &what, 1);
	else if (e == PURCHASE_INVALID_SEAT)
		http_error(req, 400, "INVALID_SEAT", why, NULL);
	else
		http_error(req, 400, "BAD_REQUEST", why, NULL);
}

/* Finds a hold's zone; answers 404/503 itself.  Returns 0 with node and
 * tag set, or -1 if it replied. */
static int
find_hold_or_reply(FCGX_Request *req, const char *id, unsigned *node,
    char *tag)
{
	enum sale_lookup f = sale_find_hold(&rds, id, node, tag);

	if (f == LOOKUP_ERROR) {
		log_warnx("hold %s: %s", id, rds.errstr);
		http_error(req, 503, "UNAVAILABLE", "seat store unavailable; "
		    "try again", RETRY_AFTER);
	} else if (f == LOOKUP_UNKNOWN)
		http_error(req, 404, "NOT_FOUND", "no such hold", NULL);
	return f == LOOKUP_FOUND ? 0 : -1;
}

/* POST /holds/{id}/confirm: the hold's zone from its index, then an order
 * of its seats (lua/order.lua, kind "c"). */
static void
confirm_hold(FCGX_Request *req, const char *id)
{
	struct iovec	 what;
	struct order_req o;
	char		 tag[TAG_MAX], *colon, *end;
	unsigned	 node;

	/* every parameter before the look-up (docs/api.md): a bad key is a
	 * 400 whether the hold exists or Redis answers (sell() reads it again,
	 * no I/O) */
	if (idem_key_or_reply(req) == NULL ||
	    find_hold_or_reply(req, id, &node, tag) != 0)
		return;
	memset(&o, 0, sizeof(o));
	colon = strrchr(tag, ':');
	if (colon == NULL || (size_t)(colon - tag) > ID_MAX) {
		http_error(req, 404, "NOT_FOUND", "no such hold", NULL);
		return;
	}
	memcpy(o.event, tag, colon - tag);
	o.zone = strtol(colon + 1, &end, 10);
	o.n = ORDER_SEATS_MAX;	/* ticket ids for the most a hold can have */
	o.hold_seconds = -1;
	memcpy(o.hold_id, id, sizeof(o.hold_id));
	/* an Idempotency-Key is checked against the hold (no body) */
	what.iov_base = o.hold_id;
	what.iov_len = strlen(o.hold_id);
	sell(req, SELL_CONFIRM, &o, &what, 1);
}

/* DELETE /holds/{id} */
static void
delete_hold(FCGX_Request *req, const char *id)
{
	char		 tag[TAG_MAX], oid[UUID_LEN + 1];
	unsigned	 node;

	if (find_hold_or_reply(req, id, &node, tag) != 0)
		return;
	switch (sale_end_hold(&rds, node, tag, id, oid)) {
	case END_HOLD_DELETED:
		/* a failover must not bring the hold back after a 204 */
		if (write_replicated(node, "delete hold", id))
			http_reply(req, 204, NULL, "", 0);
		else
			http_error(req, 503, "UNAVAILABLE", "seat store could "
			    "not replicate the hold's end yet; delete it again "
			    "(404 then: it has ended)", RETRY_AFTER);
		break;
	case END_HOLD_EXPIRED:
		http_error(req, 410, "HOLD_EXPIRED", "this hold has expired, "
		    "its seats are released", NULL);
		break;
	case END_HOLD_ENDED:
		/* the retry of a 503 above: 404 once a replica has the end */
		if (!write_replicated(node, "delete hold", id)) {
			http_error(req, 503, "UNAVAILABLE", "seat store could "
			    "not replicate the hold's end yet; delete it again "
			    "(404 then: it has ended)", RETRY_AFTER);
			break;
		}
		/* FALLTHROUGH */
	case END_HOLD_UNKNOWN:
		http_error(req, 404, "NOT_FOUND", "no such hold (a confirmed "
		    "hold is an order: cancel the order)", NULL);
		break;
	case END_HOLD_CONFIRMING:
		/* a publish that fails gives the hold back: neither ended nor
		 * an order yet (the order named: it may be what comes) */
		reply_in_progress(req, "this hold is being confirmed; try "
		    "again: its order, or the hold if the confirm fails", oid,
		    "");
		break;
	case END_HOLD_FENCED:
		http_error(req, 503, "UNAVAILABLE", "this zone is being "
		    "rebuilt after a seat store failure, the hold is "
		    "unchanged; try again", RETRY_AFTER);
		break;
	case END_HOLD_ERROR:
		log_warnx("delete hold %s: %s", id, rds.errstr);
		http_error(req, 503, "UNAVAILABLE", "seat store unavailable; "
		    "try again", RETRY_AFTER);
	}
}

/* GET /tickets/health: what is down, not why (http_health_state).  In
 * cluster mode a shard without an answering master (a failover: the
 * master died, its replica not promoted yet) while others answer is
 * "degraded", 200: every responder sees it alike, and the other shards
 * sell (docs/reliability.md, "Redis Cluster").  With amqp_publisher =
 * local, "publisher" says whether pubd takes messages: without it every
 * purchase is 503. */
static void
health(FCGX_Request *req)
{
	const char	*rstate, *mstate, *pstate = "ok";
	char		 body[320], pubpart[32] = "", rpart[64];
	int		 rok, mok, pok = 1, blocked, n, up, total;

	up = rds_ping_masters(&rds, &total);
	rok = up > 0 && up == total;
	mok = mq_check(&mq) == 0;
	blocked = mok && mq.blocked;
	if (local) {
		pok = pubc_check(&pub) == 0;
		pstate = http_health_state("publisher", pok, pub.errstr);
		snprintf(pubpart, sizeof(pubpart), ",\"publisher\":\"%s\"",
		    pstate);
	}
	rstate = http_health_state("redis", rok, rds.errstr);
	mstate = http_health_state("broker", mok, mq.errstr);
	if (rok && mok && !blocked && pok) {
		n = snprintf(body, sizeof(body), "{\"status\":\"ok\","
		    "\"redis\":\"ok\",\"broker\":\"ok\"%s}", pubpart);
		http_reply(req, 200, NULL, body, (size_t)n);
		return;
	}
	if (up > 0 && mok && !blocked && pok) {
		n = snprintf(body, sizeof(body), "{\"status\":\"ok\","
		    "\"redis\":\"degraded\",\"redisMastersDown\":%d,"
		    "\"broker\":\"ok\"%s}", total - up, pubpart);
		http_reply(req, 200, NULL, body, (size_t)n);
		return;
	}
	/* Redis as above: "ok", "degraded" (some masters answer) or why not;
	 * the 503 is the broker's or the publisher's when Redis answers */
	if (!rok && up > 0)
		snprintf(rpart, sizeof(rpart), "\"degraded\",\"redisMastersDown\""
		    ":%d", total - up);
	else
		snprintf(rpart, sizeof(rpart), "\"%s\"", rstate);
	n = snprintf(body, sizeof(body), "{\"error\":\"UNAVAILABLE\","
	    "\"message\":\"a dependency is down\",\"status\":\"unavailable\","
	    "\"redis\":%s,\"broker\":\"%s\"%s}", rpart, blocked ?
	    "blocked (resource alarm)" : mstate, pubpart);
	http_reply(req, 503, RETRY_AFTER, body, (size_t)n);
}

/* 1 if the request's method is want (GET allows HEAD too), else 0 after
 * answering 405. */
static int
method_ok(FCGX_Request *req, const char *want)
{
	const char	*method = http_param(req, "REQUEST_METHOD");
	char		 msg[32], allow[48];
	int		 get = strcmp(want, "GET") == 0;

	if (strcmp(method, want) == 0 || (get && strcmp(method, "HEAD") == 0))
		return 1;
	snprintf(msg, sizeof(msg), "use %s", want);
	snprintf(allow, sizeof(allow), "Allow: %s%s\r\n", want,
	    get ? ", HEAD" : "");
	http_error(req, 405, "METHOD_NOT_ALLOWED", msg, allow);
	return 0;
}

static void
handle(FCGX_Request *req)
{
	char		 path[256], id[UUID_LEN + 1], hid[HOLD_ID_LEN + 1];
	enum hold_path	 hp;

	if (http_path(req, path, sizeof(path)) < 0)
		http_error(req, 404, "NOT_FOUND", "no such path", NULL);
	else if (strcmp(path, "/tickets") == 0 ||
	    strcmp(path, "/ticket") == 0) {
		if (!method_ok(req, "POST"))
			return;
		if (path[7] == 's')
			buy_json(req);
		else
			buy_legacy(req);
	} else if (strcmp(path, "/orders") == 0 ||
	    purchase_cancel_path(path, "/orders/", id) ||
	    purchase_cancel_path(path, "/tickets/", id)) {
		if (!method_ok(req, "POST"))
			return;
		if (path[7] == '\0')
			buy_order(req, 0);
		else
			cancel(req, id, path[1] == 't');
	} else if (strcmp(path, "/holds") == 0) {
		if (method_ok(req, "POST"))
			buy_order(req, 1);
	} else if ((hp = purchase_hold_path(path, hid)) == HOLD_PATH_HOLD) {
		if (method_ok(req, "DELETE"))
			delete_hold(req, hid);
	} else if (hp == HOLD_PATH_CONFIRM) {
		if (method_ok(req, "POST"))
			confirm_hold(req, hid);
	} else if (strcmp(path, "/tickets/health") == 0) {
		if (method_ok(req, "GET"))
			health(req);
	} else
		http_error(req, 404, "NOT_FOUND", "no such path", NULL);
}

static int
init(const struct conf *c, int check_only)
{
	char name[64];

	cfg = *c;
	secrets.token = secret;
	secrets.key = cfg.token_secret;
	if (c->token_secret[0] != '\0')
		memcpy(secret, c->token_secret, sizeof(secret));
	else if (token_new(secret) != 0) {
		fprintf(stderr, "ticket: no randomness for a token secret\n");
		return -1;
	}
	if (rds_init_conf(&rds, c) != 0) {
		fprintf(stderr, "ticket: %s\n", rds.errstr);
		log_error("%s", rds.errstr);
		return -1;
	}
	if (check_only)
		return 0;
	snprintf(name, sizeof(name), "ticket.fcgi[%ld]", (long)getpid());
	(void)mq_init_conf(&mq, c, name);	/* amqp_hosts checked by conf_load */
	local = strcmp(c->amqp_publisher, "local") == 0;
	pubc_init(&pub, c->pubd_socket);
	/* connect now so the first buyer does not pay for it; failures
	 * are retried on each request.  Local: the broker connection only
	 * serves /tickets/health, opened when asked */
	if (c->token_secret[0] == '\0')
		log_warnx("token_secret is not set: this process drew its own, "
		    "so a keyed replay or a second confirm served by another "
		    "process answers a cancel token that does not work, and "
		    "MySQL keeps the Idempotency-Keys' HMAC without a secret "
		    "(a reader may try guessable keys); set the same "
		    "token_secret on every purchase responder "
		    "(docs/config.md)");
	if (rds_ctx(&rds, 0) == NULL)
		log_warnx("%s (will retry)", rds.errstr);
	if (!local && mq_connect(&mq, 1) != 0)
		log_warnx("%s (will retry)", mq.errstr);
	return 0;
}

static void
fini(void)
{
	mq_close(&mq);
	pubc_close(&pub);
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
