/* SPDX-License-Identifier: ISC */
/*
 * ticket.h - the ticket: ids (UUIDv7), timestamps, its JSON form (the 201
 * body of docs/api.md and the broker message of docs/consumer.md) and the parser the consumer
 * uses for that message.  Pure functions apart from reading the clock and
 * getrandom(2); unit-tested and fuzzed.
 */
#ifndef BOX_TICKET_H
#define BOX_TICKET_H

#include <stddef.h>

#include "valid.h"

#define PRICE_MAX	16	/* "99999999.99" and NUL, with room */
#define STAMP_LEN	24	/* "2026-11-27T23:54:24.123Z" */
#define TICKET_JSON_MAX	512	/* longest ticket JSON we ever write */
#define TICKET_STATUS	"CREATED"
#define JSON_DEPTH_MAX_TICKET 8	/* nesting accepted in a message */

struct ticket {
	char	id[UUID_LEN + 1];
	char	venue[ID_MAX + 1];
	char	event[ID_MAX + 1];
	long	zone;
	long	row;
	long	col;
	char	price[PRICE_MAX];	/* decimal text with 2 decimals, "320.00" */
	char	created[STAMP_LEN + 1];	/* RFC 3339 UTC with milliseconds */
	long long created_ms;		/* the same instant, ms since the epoch */
};

#define UUID_RANDOM	10	/* random bytes a UUIDv7 takes (74 bits used) */

/* Fills buf with n random bytes from the kernel (getrandom(2); one call
 * for up to 256 bytes).  Returns 0, or -1 if none were available. */
int	ticket_random(void *buf, size_t n);
/* Writes a new lowercase UUIDv7 (RFC 9562) for the instant ms into out.
 * Returns 0, or -1 if no randomness was available. */
int	ticket_uuid_v7(long long ms, char out[UUID_LEN + 1]);
/* The same from random bytes the caller drew (ticket_random), for many
 * ids with one system call. */
void	ticket_uuid_v7_from(long long ms, const unsigned char rnd[UUID_RANDOM],
	    char out[UUID_LEN + 1]);
/* Formats ms as "YYYY-MM-DDTHH:MM:SS.mmmZ" into out. */
void	ticket_stamp(long long ms, char out[STAMP_LEN + 1]);

/* Fills id, created and created_ms for a new sale.  Returns 0 or -1. */
int	ticket_new(struct ticket *t);

/* The ticket JSON is head + price + tail, so that the reserve script can put
 * the catalog price in between.  Each returns the length written (< size),
 * or -1 if it does not fit. */
int	ticket_json_head(const struct ticket *t, char *buf, size_t size);
int	ticket_json_tail(const struct ticket *t, char *buf, size_t size);
/* The whole ticket JSON (t->price filled in). */
int	ticket_json(const struct ticket *t, char *buf, size_t size);

/* Why a message is no ticket (ticket_parse()). */
enum ticket_err {
	TICKET_OK,
	TICKET_ERR_SIZE,	/* empty or too large */
	TICKET_ERR_JSON,	/* not valid JSON */
	TICKET_ERR_NOMEM,
	TICKET_ERR_NOT_OBJECT,	/* JSON, but not an object */
	TICKET_ERR_ID,		/* a field missing or malformed: */
	TICKET_ERR_VENUE,
	TICKET_ERR_EVENT,
	TICKET_ERR_ZONE,
	TICKET_ERR_ROW,
	TICKET_ERR_COL,
	TICKET_ERR_PRICE,
	TICKET_ERR_STATUS,
	TICKET_ERR_CREATED,
	TICKET_ERR__MAX
};
/* The reason for a log line ("zoneId is missing or not a positive
 * integer"); "" for TICKET_OK. */
const char *ticket_err_str(enum ticket_err e);

/* Parses and validates a ticket JSON message (every field of the ticket of
 * docs/api.md, status "CREATED").  Returns TICKET_OK, or why not. */
enum ticket_err ticket_parse(const char *json, size_t len, struct ticket *t);
/* The same checks on a parsed JSON object (a ticket inside an order
 * message, consumer/msg.c); keys it does not know are ignored.  Returns
 * NULL, or the static reason it is not a ticket. */
struct json_object;
const char *ticket_object(struct json_object *o, struct ticket *t);
/* The JSON object of a message of len (1..max) bytes: valid JSON, strict,
 * UTF-8, nesting at most JSON_DEPTH_MAX_TICKET; the caller puts it.  NULL
 * with *why set if it is none. */
struct json_object *ticket_json_object(const char *json, size_t len,
	    size_t max, const char **why);
/* The string member key of o into dst (size bytes, no NUL inside), and the
 * integer member key in 1..SEAT_MAX.  Each returns 0 or -1. */
int	ticket_json_str(struct json_object *o, const char *key, char *dst,
	    size_t size);
int	ticket_json_int(struct json_object *o, const char *key, long *out);
/* 1 if s is a decimal price "D+.DD" (1..8 integer digits), else 0. */
int	ticket_price_ok(const char *s);
/* 1 if s is exactly "YYYY-MM-DDTHH:MM:SS.mmmZ" and a real instant (a day
 * of its month, leap years counted; seconds 0..59; years 1970..9999), else
 * 0 (also for NULL: a column MySQL answered NULL).  What it accepts MySQL's
 * DATETIME(3) takes: the consumer dead-letters
 * a message with another stamp instead of retrying its INSERT forever. */
int	ticket_stamp_ok(const char *s);
/* 1 if every field of t is what the contract allows (ids, seat numbers in
 * 1..SEAT_MAX, price, stamp), else 0.  Such a ticket needs no escaping in
 * SQL text or JSON: the guard of the consumer's writers (tsql, ddb_item),
 * which build both without escaping. */
int	ticket_ok(const struct ticket *t);

#endif
