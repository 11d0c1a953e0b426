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
#include "mq.h"
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
static char		secret[CONF_STR_MAX];	/* token_secret, or drawn */
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

/* Answers the outcome of the reservation script other than success. */
static void
reply_reserve_error(FCGX_Request *req, enum rds_reserve r)
{
	switch (r) {
	case RESERVE_CANCELLED:
		http_error(req, 410, "EVENT_CANCELLED", "this event is "
		    "cancelled", refusal_hdr);
		break;
	case RESERVE_NOT_ON_SALE:
		reply_not_on_sale(req);
		break;
	case RESERVE_SALE_CLOSED:
		http_error(req, 403, "SALE_CLOSED", "the sale of this event is "
		    "closed", refusal_hdr);
		break;
	case RESERVE_SEAT_TAKEN:
		http_error(req, 409, "SEAT_TAKEN", "this seat is already sold",
		    refusal_hdr);
		break;
	case RESERVE_ZONE_SOLD_OUT:
		http_error(req, 409, "ZONE_SOLD_OUT", "every seat of this zone "
		    "is sold", refusal_hdr);
		break;
	case RESERVE_ROW_SOLD_OUT:
		http_error(req, 409, "ROW_SOLD_OUT", "every seat of this row is "
		    "sold", refusal_hdr);
		break;
	case RESERVE_NOT_FOUND:
		http_error(req, 404, "NOT_FOUND", "unknown venue, event or zone, "
		    "or the event is not at that venue", refusal_hdr);
		break;
	case RESERVE_INVALID_SEAT:
		http_error(req, 400, "INVALID_SEAT", "row or column is outside "
		    "the zone", refusal_hdr);
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

/* 503 after the seats were (maybe) reserved: the order may still be
 * issued; it names the order (and, for a ticket, the ticket). */
static void
reply_unknown(FCGX_Request *req, enum sell_kind k, const struct sale *s,
    const char *why)
{
	char	body[512], hdr[128];
	int	n;

	if (k == SELL_TICKET) {
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

/* Publishes msg (routing key key, message id id); on an unknown outcome
 * tries once more on a fresh connection (consumers are idempotent, a
 * duplicate is harmless). */
static enum mq_result
publish(const char *key, const char *id, const char *msg)
{
	enum mq_result	r;
	size_t		len = strlen(msg);

	r = mq_publish_key(&mq, key, msg, len, id, cfg.amqp_confirm_timeout_ms);
	if (r != MQ_UNKNOWN)
		return r;
	log_warnx("publish %s: %s; publishing again", id, mq.errstr);
	if (mq_publish_key(&mq, key, msg, len, id,
	    cfg.amqp_confirm_timeout_ms) == MQ_OK)
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

/* The answers of a keyed request that lua/order.lua found done or
 * running; returns 1 if it answered, else 0. */
static int
reply_keyed(FCGX_Request *req, struct sale *s, int res)
{
	char	*end;
	long	 code;

	switch (res) {
	case SALE_KEY_REUSED:
		http_error(req, 422, "IDEMPOTENCY_KEY_REUSED", "this "
		    "Idempotency-Key was used with another request", NULL);
		return 1;
	case SALE_IN_PROGRESS:
		http_error(req, 409, "REQUEST_IN_PROGRESS", "a request with "
		    "this Idempotency-Key is still running; try again",
		    RETRY_AFTER);
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
		code = strtol(s->replay, &end, 10);
		if (*end == ' ')
			end++;
		if (strlen(end) < sizeof(s->taken))
			memcpy(s->taken, end, strlen(end) + 1);
		refusal_hdr = REPLAYED;
		if (code == RESERVE_SEAT_TAKEN && (s->kind == 'o' ||
		    s->kind == 'h'))
			reply_seats_taken(req, s->taken);
		else if (code == RESERVE_NOT_ADJACENT)
			http_error(req, 409, "NOT_ENOUGH_ADJACENT", "no row has "
			    "that many adjacent free seats", REPLAYED);
		else
			reply_reserve_error(req, (enum rds_reserve)code);
		refusal_hdr = NULL;
		return 1;
	default:
		return 0;
	}
}

/* 201 of POST /holds. */
static void
reply_hold(FCGX_Request *req, const struct sale *s, const struct order_req *o)
{
	char	body[1024 + SALE_TAKEN_MAX * 2], hdr[96], exp[STAMP_LEN + 1];
	int	n;

	ticket_stamp(s->expires_ms, exp);
	n = snprintf(body, sizeof(body), "{\"holdId\":\"%s\",\"expiresAt\":"
	    "\"%s\",\"venueId\":\"%s\",\"eventId\":\"%s\",\"zoneId\":%ld,"
	    "\"seats\":[", s->hold_id, exp, o->venue, o->event, o->zone);
	n = seats_json(s->held, body, n, sizeof(body));
	n += snprintf(body + n, sizeof(body) - n, "],\"total\":%s}", s->total);
	snprintf(hdr, sizeof(hdr), "Location: /holds/%s\r\n", s->hold_id);
	http_reply(req, 201, hdr, body, (size_t)n);
}

/* Sells an order (one seat for a ticket) in one script call, publishes its
 * message with a confirm, answers.  what[0..nwhat-1] is the request an
 * Idempotency-Key is checked against. */
static void
sell(FCGX_Request *req, enum sell_kind k, const struct order_req *o,
    const struct iovec *what, int nwhat)
{
	struct sale	 s;
	int		 res;
	const char	*hid, *key = http_param(req, "HTTP_IDEMPOTENCY_KEY");
	static const char kinds[] = "tohc";

	/* holds and confirms record no key: a confirm is idempotent by
	 * itself (again: 200 the same order) */
	if (k == SELL_HOLD || k == SELL_CONFIRM)
		key = "";
	if (*key != '\0' && !valid_id_n(key, strlen(key))) {
		http_error(req, 400, "BAD_REQUEST", "Idempotency-Key must be 1-64 "
		    "letters, digits, '_' or '-'", NULL);
		return;
	}
	if (sale_new(&s, o, kinds[k],
	    *key != '\0' ? key : NULL, what, nwhat, secret) != 0) {
		log_warn("getrandom or sha256");
		http_error(req, 503, "UNAVAILABLE", "no randomness for an order "
		    "id; try again", RETRY_AFTER);
		return;
	}
	hid = k == SELL_TICKET ? s.tids[0] : s.order_id;
	(void)hid;	/* only the test hooks use it */
	res = sale_order(&rds, &s, o, cfg.ticket_cache_ttl);
	if (k == SELL_CONFIRM && res == SALE_REPLAY) {
		/* confirmed before: 200 with the same order */
		if (sale_from_replay(&s, secret) == 0)
			reply_sold(req, SELL_ORDER, &s, 200, 0);
		else
			http_error(req, 503, "UNAVAILABLE", "cannot read the "
			    "order of this hold now; try again", RETRY_AFTER);
		sale_free(&s);
		return;
	}
	if (k == SELL_CONFIRM && (res == SALE_HOLD_EXPIRED ||
	    res == RESERVE_NOT_FOUND)) {
		if (res == SALE_HOLD_EXPIRED)
			http_error(req, 410, "HOLD_EXPIRED", "this hold has "
			    "expired, its seats are released", NULL);
		else
			http_error(req, 404, "NOT_FOUND", "no such hold", NULL);
		sale_free(&s);
		return;
	}
	if (k == SELL_HOLD && res == RESERVE_OK) {
		reply_hold(req, &s, o);
		sale_free(&s);
		return;
	}
	if (reply_keyed(req, &s, res)) {
		sale_free(&s);
		return;
	}
	/* a definite refusal of a keyed request is its answer for 24 h (not
	 * "not on sale yet" nor a 503: a retry may succeed) */
	if (*key != '\0' && res != RESERVE_OK && (res < RESERVE_NO_COUNTERS ||
	    res == RESERVE_CANCELLED || res == RESERVE_SALE_CLOSED ||
	    res == RESERVE_NOT_ADJACENT) && sale_refused(&rds, &s, res) != 0)
		log_warnx("refusal of %s not recorded: %s", s.idem, rds.errstr);
	if (res == RESERVE_IN_DOUBT) {
		/* the script may have run: if it did, its pending entry makes
		 * the sweeper publish the order; never say "nothing sold" */
		log_warnx("order %s: %s; outcome unknown", s.order_id,
		    rds.errstr);
		reply_unknown(req, k, &s, "seat store did not answer; the ticket "
		    "may still be issued, see Location");
		return;
	}
	/* a hold takes the bodies of /orders (section 7): its 409 lists
	 * every requested seat that is taken too */
	if (res == RESERVE_SEAT_TAKEN && (k == SELL_ORDER || k == SELL_HOLD)) {
		reply_seats_taken(req, s.taken);
		return;
	}
	if (res == RESERVE_NOT_ADJACENT) {
		http_error(req, 409, "NOT_ENOUGH_ADJACENT", "no row has that "
		    "many adjacent free seats", NULL);
		return;
	}
	if (res != RESERVE_OK) {
		reply_reserve_error(req, res);
		return;
	}
	TESTHOOK("reserved", hid, s.msg);
	switch (publish(MQ_ROUTING_KEY, s.order_id, s.msg)) {
	case MQ_OK:
		TESTHOOK("confirmed", hid, s.msg);
		if (sale_confirmed(&rds, s.node, s.tag, s.msg) != 0)
			log_warnx("confirmed %s, pending entry kept: %s",
			    s.order_id, rds.errstr);
		reply_sold(req, k == SELL_CONFIRM ? SELL_ORDER : k, &s, 201, 0);
		break;
	case MQ_FAILED:
		log_warnx("publish %s: %s; releasing the seats", s.order_id,
		    mq.errstr);
		if (sale_release(&rds, &s) == 1) {
			http_error(req, 503, "UNAVAILABLE", "message broker "
			    "unavailable, nothing was sold; try again",
			    RETRY_AFTER);
			break;
		}
		log_warnx("release %s: %s; the sweeper will publish it",
		    s.order_id, rds.errstr);
		reply_unknown(req, k, &s, "message broker unavailable; the "
		    "ticket may still be issued, see Location");
		break;
	default:
		log_warnx("publish %s: outcome unknown (%s); seats kept, the "
		    "sweeper will publish it", s.order_id, mq.errstr);
		reply_unknown(req, k, &s, "message broker did not confirm; the "
		    "ticket may still be issued, see Location");
		break;
	}
	sale_free(&s);
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
 * UUID (checked by the caller). */
static void
cancel(FCGX_Request *req, const char *id, int is_ticket)
{
	enum purchase_err e;
	enum sale_cancel c;
	char		 body[BODY_MAX], tok[TOKEN_LEN + 1], tag[TAG_MAX];
	char		*answer, *msg;
	const char	*why;
	unsigned	 node;
	long		 n;

	if ((n = json_body_or_reply(req, body)) < 0)
		return;
	e = purchase_token_from_json(body, (size_t)n, tok, &why);
	if (e != PURCHASE_OK) {
		http_error(req, 400, "BAD_REQUEST", why, NULL);
		return;
	}
	c = sale_cancel(&rds, id, is_ticket, tok, cfg.ticket_cache_ttl,
	    &answer, &msg, &node, tag);
	switch (c) {
	case CANCEL_OK:
		break;
	case CANCEL_NOT_FOUND:
		http_error(req, 404, "NOT_FOUND", is_ticket ? "no such ticket" :
		    "no such order", NULL);
		return;
	case CANCEL_FORBIDDEN:
		http_error(req, 403, "FORBIDDEN", "cancelToken is not the "
		    "order's", NULL);
		return;
	case CANCEL_NOT_CONFIRMED:
		http_error(req, 409, "NOT_YET_CONFIRMED", "the purchase is not "
		    "confirmed yet; try again", RETRY_AFTER);
		return;
	default:
		log_warnx("cancel %s: %s", id, rds.errstr);
		http_error(req, 503, "UNAVAILABLE", "seat store unavailable; "
		    "try again", RETRY_AFTER);
		return;
	}
	/* the cancellation stands in Redis and its message is pending: if
	 * the broker fails now, the sweeper publishes it */
	if (publish(MQ_CANCEL_KEY, id, msg) == MQ_OK) {
		if (sale_confirmed(&rds, node, tag, msg) != 0)
			log_warnx("cancel %s confirmed, pending entry kept: %s",
			    id, rds.errstr);
		http_reply(req, 200, NULL, answer, strlen(answer));
	} else {
		log_warnx("publish cancel %s: %s; the sweeper will publish it",
		    id, mq.errstr);
		http_error(req, 503, "UNAVAILABLE", "the cancellation is "
		    "recorded, its message is not confirmed yet; try again",
		    RETRY_AFTER);
	}
	free(answer);
	free(msg);
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
	int f = sale_find_hold(&rds, id, node, tag);

	if (f < 0) {
		log_warnx("hold %s: %s", id, rds.errstr);
		http_error(req, 503, "UNAVAILABLE", "seat store unavailable; "
		    "try again", RETRY_AFTER);
	} else if (f == 0)
		http_error(req, 404, "NOT_FOUND", "no such hold", NULL);
	return f == 1 ? 0 : -1;
}

/* POST /holds/{id}/confirm: the hold's zone from its index, then an order
 * of its seats (lua/order.lua, kind "c"). */
static void
confirm_hold(FCGX_Request *req, const char *id)
{
	struct order_req o;
	char		 tag[TAG_MAX], *colon, *end;
	unsigned	 node;

	if (find_hold_or_reply(req, id, &node, tag) != 0)
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
	sell(req, SELL_CONFIRM, &o, NULL, 0);
}

/* DELETE /holds/{id} */
static void
delete_hold(FCGX_Request *req, const char *id)
{
	char		 tag[TAG_MAX];
	unsigned	 node;

	if (find_hold_or_reply(req, id, &node, tag) != 0)
		return;
	switch (sale_end_hold(&rds, node, tag, id)) {
	case 1:
		http_reply(req, 204, NULL, "", 0);
		break;
	case 2:
		http_error(req, 410, "HOLD_EXPIRED", "this hold has expired, "
		    "its seats are released", NULL);
		break;
	case 0:
		http_error(req, 404, "NOT_FOUND", "no such hold (a confirmed "
		    "hold is an order: cancel the order)", NULL);
		break;
	default:
		log_warnx("delete hold %s: %s", id, rds.errstr);
		http_error(req, 503, "UNAVAILABLE", "seat store unavailable; "
		    "try again", RETRY_AFTER);
	}
}

/* "/holds/<holdId>[/confirm]": copies the id; returns 1 for the hold, 2
 * for its confirm, else 0. */
static int
hold_path(const char *path, char id[TOKEN_LEN + 1])
{
	size_t len = strlen(path);

	if (strncmp(path, "/holds/", 7) != 0 || len < 7 + TOKEN_LEN)
		return 0;
	memcpy(id, path + 7, TOKEN_LEN);
	id[TOKEN_LEN] = '\0';
	if (!valid_id_n(id, TOKEN_LEN))
		return 0;
	if (len == 7 + TOKEN_LEN)
		return 1;
	return strcmp(path + 7 + TOKEN_LEN, "/confirm") == 0 ? 2 : 0;
}

/* "/<what>/<uuid>/cancel": copies the uuid into id; returns 1 if path is
 * one, else 0. */
static int
cancel_path(const char *path, const char *what, char id[UUID_LEN + 1])
{
	size_t w = strlen(what);

	if (strncmp(path, what, w) != 0 || strlen(path) != w + UUID_LEN + 7 ||
	    strcmp(path + w + UUID_LEN, "/cancel") != 0)
		return 0;
	memcpy(id, path + w, UUID_LEN);
	id[UUID_LEN] = '\0';
	return valid_uuid(id);
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
	char		 path[256], id[UUID_LEN + 1], hid[TOKEN_LEN + 1];
	int		 hp;

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
	} else if (strcmp(path, "/orders") == 0 ||
	    cancel_path(path, "/orders/", id) ||
	    cancel_path(path, "/tickets/", id)) {
		if (strcmp(method, "POST") != 0) {
			http_error(req, 405, "METHOD_NOT_ALLOWED", "use POST",
			    "Allow: POST\r\n");
			return;
		}
		if (path[7] == '\0')
			buy_order(req, 0);
		else
			cancel(req, id, path[1] == 't');
	} else if (strcmp(path, "/holds") == 0) {
		if (strcmp(method, "POST") != 0) {
			http_error(req, 405, "METHOD_NOT_ALLOWED", "use POST",
			    "Allow: POST\r\n");
			return;
		}
		buy_order(req, 1);
	} else if ((hp = hold_path(path, hid)) != 0) {
		if (strcmp(method, hp == 1 ? "DELETE" : "POST") != 0) {
			http_error(req, 405, "METHOD_NOT_ALLOWED", hp == 1 ?
			    "use DELETE" : "use POST", hp == 1 ?
			    "Allow: DELETE\r\n" : "Allow: POST\r\n");
			return;
		}
		if (hp == 1)
			delete_hold(req, hid);
		else
			confirm_hold(req, hid);
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
	if (c->token_secret[0] != '\0')
		memcpy(secret, c->token_secret, sizeof(secret));
	else if (token_new(secret) != 0) {
		fprintf(stderr, "ticket: no randomness for a token secret\n");
		return -1;
	}
	if (rds_init(&rds, c->redis_nodes, c->redis_timeout_ms) != 0) {
		fprintf(stderr, "ticket: %s\n", rds.errstr);
		log_error("%s", rds.errstr);
		return -1;
	}
	if (check_only)
		return 0;
	snprintf(name, sizeof(name), "ticket.fcgi[%ld]", (long)getpid());
	(void)mq_init_conf(&mq, c, name);	/* amqp_hosts checked by conf_load */
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
