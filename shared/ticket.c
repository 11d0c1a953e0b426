/* SPDX-License-Identifier: ISC */
/*
 * ticket.c - ticket ids, timestamps and JSON (see ticket.h).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/random.h>

#include <json-c/json.h>

#include "clock.h"
#include "ticket.h"
#include "when.h"

void
ticket_stamp(long long ms, char out[STAMP_LEN + 1])
{
	time_t		secs = (time_t)(ms / 1000);
	struct tm	tm;
	char		base[32];

	gmtime_r(&secs, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	/* ms >= 0: the fraction has three digits */
	snprintf(out, STAMP_LEN + 1, "%.19s.%03uZ", base,
	    (unsigned)((unsigned long long)ms % 1000));
}

int
ticket_random(void *buf, size_t n)
{
	size_t	got = 0;
	ssize_t	r;

	while (got < n) {
		r = getrandom((unsigned char *)buf + got, n - got, 0);
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

void
ticket_uuid_v7_from(long long ms, const unsigned char rnd[UUID_RANDOM],
    char out[UUID_LEN + 1])
{
	unsigned char	b[16];
	int		i, o = 0;

	memcpy(b + 6, rnd, UUID_RANDOM);
	for (i = 0; i < 6; i++)
		b[i] = (unsigned char)((unsigned long long)ms >> (40 - 8 * i));
	b[6] = (unsigned char)(0x70 | (b[6] & 0x0f));	/* version 7 */
	b[8] = (unsigned char)(0x80 | (b[8] & 0x3f));	/* variant 10 */
	for (i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = "0123456789abcdef"[b[i] >> 4];
		out[o++] = "0123456789abcdef"[b[i] & 15];
	}
	out[o] = '\0';
}

int
ticket_uuid_v7(long long ms, char out[UUID_LEN + 1])
{
	unsigned char	rnd[UUID_RANDOM];

	if (ticket_random(rnd, sizeof(rnd)) != 0)
		return -1;
	ticket_uuid_v7_from(ms, rnd, out);
	return 0;
}

int
ticket_new(struct ticket *t)
{
	t->created_ms = wall_ms();
	ticket_stamp(t->created_ms, t->created);
	return ticket_uuid_v7(t->created_ms, t->id);
}

static int
fits(int n, size_t size)
{
	return n >= 0 && (size_t)n < size ? n : -1;
}

int
ticket_json_head(const struct ticket *t, char *buf, size_t size)
{
	return fits(snprintf(buf, size, "{\"ticketId\":\"%s\",\"venueId\":\"%s\","
	    "\"eventId\":\"%s\",\"zoneId\":%ld,\"row\":%ld,\"column\":%ld,"
	    "\"price\":", t->id, t->venue, t->event, t->zone, t->row, t->col),
	    size);
}

int
ticket_json_tail(const struct ticket *t, char *buf, size_t size)
{
	return fits(snprintf(buf, size, ",\"status\":\"" TICKET_STATUS "\","
	    "\"createdOn\":\"%s\"}", t->created), size);
}

int
ticket_json(const struct ticket *t, char *buf, size_t size)
{
	int h, p, r;

	if ((h = ticket_json_head(t, buf, size)) < 0)
		return -1;
	p = fits(snprintf(buf + h, size - h, "%s", t->price), size - h);
	if (p < 0)
		return -1;
	if ((r = ticket_json_tail(t, buf + h + p, size - h - p)) < 0)
		return -1;
	return h + p + r;
}

int
ticket_price_ok(const char *s)
{
	size_t i = 0, n;

	while (s[i] >= '0' && s[i] <= '9')
		i++;
	if (i < 1 || i > 8 || (i > 1 && s[0] == '0'))
		return 0;
	n = strlen(s);
	return n == i + 3 && s[i] == '.' && s[i + 1] >= '0' && s[i + 1] <= '9' &&
	    s[i + 2] >= '0' && s[i + 2] <= '9';
}

/* The shape is checked here, the instant by when_parse(), the one parser
 * of RFC 3339 times: days of the month (leap years), seconds 0..59 (MySQL's
 * DATETIME refuses a leap second), years 1970..9999. */
int
ticket_stamp_ok(const char *s)
{
	long long ms;

	if (s == NULL || strlen(s) != STAMP_LEN || s[4] != '-' || s[7] != '-' ||
	    s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[19] != '.' ||
	    s[23] != 'Z')
		return 0;
	return when_parse(s, &ms) == 0;
}

static int
get_str(struct json_object *o, const char *key, char *dst, size_t size)
{
	struct json_object	*v;
	int			 len;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return -1;
	len = json_object_get_string_len(v);
	if (len < 0 || (size_t)len >= size)
		return -1;
	memcpy(dst, json_object_get_string(v), len);
	dst[len] = '\0';
	return strlen(dst) == (size_t)len ? 0 : -1;
}

static int
get_int(struct json_object *o, const char *key, long *out)
{
	struct json_object	*v;
	int64_t			 n;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_int))
		return -1;
	n = json_object_get_int64(v);
	if (n < 1 || n > SEAT_MAX)
		return -1;
	*out = (long)n;
	return 0;
}

/* The price as written in the message: json-c keeps a parsed number's text. */
static int
get_price(struct json_object *o, char *dst, size_t size)
{
	struct json_object	*v;
	const char		*s;

	if (!json_object_object_get_ex(o, "price", &v) ||
	    !(json_object_is_type(v, json_type_double) ||
	    json_object_is_type(v, json_type_int)))
		return -1;
	s = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
	if (s == NULL || strlen(s) >= size || !ticket_price_ok(s))
		return -1;
	memcpy(dst, s, strlen(s) + 1);
	return 0;
}

static const char *const ticket_errs[TICKET_ERR__MAX] = {
	[TICKET_OK] = "",
	[TICKET_ERR_SIZE] = "message is empty or too large",
	[TICKET_ERR_JSON] = "message is not valid JSON",
	[TICKET_ERR_NOMEM] = "out of memory",
	[TICKET_ERR_NOT_OBJECT] = "message is not a JSON object",
	[TICKET_ERR_ID] = "ticketId is missing or not a lowercase UUID",
	[TICKET_ERR_VENUE] = "venueId is missing or malformed",
	[TICKET_ERR_EVENT] = "eventId is missing or malformed",
	[TICKET_ERR_ZONE] = "zoneId is missing or not a positive integer",
	[TICKET_ERR_ROW] = "row is missing or not a positive integer",
	[TICKET_ERR_COL] = "column is missing or not a positive integer",
	[TICKET_ERR_PRICE] = "price is missing or not a number with 2 decimals",
	[TICKET_ERR_STATUS] = "status is missing or not CREATED",
	[TICKET_ERR_CREATED] =
	    "createdOn is missing or not RFC 3339 UTC with ms",
};

const char *
ticket_err_str(enum ticket_err e)
{
	return (unsigned)e < TICKET_ERR__MAX ? ticket_errs[e] : "?";
}

static enum ticket_err
ticket_fields(struct json_object *o, struct ticket *t)
{
	char status[16];

	if (get_str(o, "ticketId", t->id, sizeof(t->id)) || !valid_uuid(t->id))
		return TICKET_ERR_ID;
	if (get_str(o, "venueId", t->venue, sizeof(t->venue)) ||
	    !valid_id(t->venue))
		return TICKET_ERR_VENUE;
	if (get_str(o, "eventId", t->event, sizeof(t->event)) ||
	    !valid_id(t->event))
		return TICKET_ERR_EVENT;
	if (get_int(o, "zoneId", &t->zone))
		return TICKET_ERR_ZONE;
	if (get_int(o, "row", &t->row))
		return TICKET_ERR_ROW;
	if (get_int(o, "column", &t->col))
		return TICKET_ERR_COL;
	if (get_price(o, t->price, sizeof(t->price)))
		return TICKET_ERR_PRICE;
	if (get_str(o, "status", status, sizeof(status)) ||
	    strcmp(status, TICKET_STATUS) != 0)
		return TICKET_ERR_STATUS;
	if (get_str(o, "createdOn", t->created, sizeof(t->created)) ||
	    !ticket_stamp_ok(t->created))
		return TICKET_ERR_CREATED;
	return TICKET_OK;
}

/* The JSON object of a message of len (1..max) bytes, or NULL with *e set
 * (ticket_json_object() without the strings). */
static struct json_object *
json_object_of(const char *json, size_t len, size_t max, enum ticket_err *e)
{
	struct json_tokener	*tok;
	struct json_object	*o;

	*e = TICKET_OK;
	if (len == 0 || len > max) {
		*e = TICKET_ERR_SIZE;
		return NULL;
	}
	if (!valid_json(json, len, JSON_DEPTH_MAX_TICKET)) {
		*e = TICKET_ERR_JSON;
		return NULL;
	}
	if ((tok = json_tokener_new_ex(JSON_DEPTH_MAX_TICKET)) == NULL) {
		*e = TICKET_ERR_NOMEM;
		return NULL;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	    JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, json, (int)len);
	if (o == NULL || json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len)
		*e = TICKET_ERR_JSON;
	else if (!json_object_is_type(o, json_type_object))
		*e = TICKET_ERR_NOT_OBJECT;
	json_tokener_free(tok);
	if (*e != TICKET_OK) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

struct json_object *
ticket_json_object(const char *json, size_t len, size_t max,
    const char **why)
{
	struct json_object	*o;
	enum ticket_err		 e;

	o = json_object_of(json, len, max, &e);
	*why = o == NULL ? ticket_err_str(e) : NULL;
	return o;
}

enum ticket_err
ticket_parse(const char *json, size_t len, struct ticket *t)
{
	struct json_object	*o;
	enum ticket_err		 e;

	memset(t, 0, sizeof(*t));
	if ((o = json_object_of(json, len, 4 * TICKET_JSON_MAX, &e)) == NULL)
		return e;
	e = ticket_fields(o, t);
	json_object_put(o);
	return e;
}

int
ticket_ok(const struct ticket *t)
{
	return valid_uuid(t->id) && valid_id(t->venue) && valid_id(t->event) &&
	    t->zone >= 1 && t->zone <= SEAT_MAX && t->row >= 1 &&
	    t->row <= SEAT_MAX && t->col >= 1 && t->col <= SEAT_MAX &&
	    ticket_price_ok(t->price) && ticket_stamp_ok(t->created);
}


int
ticket_json_str(struct json_object *o, const char *key, char *dst,
    size_t size)
{
	return get_str(o, key, dst, size);
}

int
ticket_json_int(struct json_object *o, const char *key, long *out)
{
	return get_int(o, key, out);
}

const char *
ticket_object(struct json_object *o, struct ticket *t)
{
	enum ticket_err e;

	memset(t, 0, sizeof(*t));
	e = ticket_fields(o, t);
	return e == TICKET_OK ? NULL : ticket_err_str(e);
}
