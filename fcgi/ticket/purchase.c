/* SPDX-License-Identifier: ISC */
/*
 * purchase.c - parse and validate purchase requests (see purchase.h).
 */
#include <string.h>

#include <json-c/json.h>

#include "purchase.h"

static enum purchase_err
fail(const char **why, const char *msg, enum purchase_err e)
{
	*why = msg;
	return e;
}

/* Copies a JSON string field that must be an id into dst. */
static int
json_id(struct json_object *obj, const char *key, char *dst)
{
	struct json_object	*v;
	const char		*s;
	int			 len;

	if (!json_object_object_get_ex(obj, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return -1;
	s = json_object_get_string(v);
	len = json_object_get_string_len(v);
	if (!valid_id_n(s, (size_t)len) || memchr(s, '\0', len) != NULL)
		return -1;
	memcpy(dst, s, len);
	dst[len] = '\0';
	return 0;
}

/* Reads a JSON integer field; returns 0, -1 if missing or not an integer. */
static int
json_int(struct json_object *obj, const char *key, long *out)
{
	struct json_object	*v;
	int64_t			 n;

	if (!json_object_object_get_ex(obj, key, &v) ||
	    !json_object_is_type(v, json_type_int))
		return -1;
	n = json_object_get_int64(v);
	/* json-c saturates huge values at INT64_MIN/MAX: clamp into range */
	if (n > SEAT_MAX)
		n = SEAT_MAX + 1L;
	if (n < -1)
		n = -1;
	*out = (long)n;
	return 0;
}

static enum purchase_err
check_numbers(struct purchase *p, const char **why)
{
	if (p->zone < 1 || p->zone > SEAT_MAX)
		return fail(why, "zoneId must be an integer in 1..2147483647",
		    PURCHASE_BAD_REQUEST);
	if (p->row < 1 || p->row > SEAT_MAX)
		return fail(why, "row is outside the zone", PURCHASE_INVALID_SEAT);
	if (p->col < 1 || p->col > SEAT_MAX)
		return fail(why, "column is outside the zone",
		    PURCHASE_INVALID_SEAT);
	return PURCHASE_OK;
}

/* Parses a request body that must be one JSON object into *objp (the
 * caller puts it).  Returns PURCHASE_OK or PURCHASE_BAD_REQUEST. */
static enum purchase_err
parse_object(const char *body, size_t len, struct json_object **objp,
    const char **why)
{
	struct json_tokener	*tok;
	struct json_object	*obj;
	size_t			 end;

	*objp = NULL;
	if (len == 0)
		return fail(why, "request body is empty", PURCHASE_BAD_REQUEST);
	if (len > BODY_MAX)
		return fail(why, "request body too large", PURCHASE_BAD_REQUEST);
	/* json-c accepts some non-JSON (single-quoted keys, raw control
	 * characters, leading zeros): check the grammar first */
	if (!valid_json(body, len, JSON_DEPTH_MAX))
		return fail(why, "request body is not valid JSON",
		    PURCHASE_BAD_REQUEST);
	if ((tok = json_tokener_new_ex(JSON_DEPTH_MAX)) == NULL)
		return fail(why, "out of memory", PURCHASE_BAD_REQUEST);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	    JSON_TOKENER_VALIDATE_UTF8);
	obj = json_tokener_parse_ex(tok, body, (int)len);
	end = json_tokener_get_parse_end(tok);
	if (obj == NULL || json_tokener_get_error(tok) != json_tokener_success) {
		json_object_put(obj);
		json_tokener_free(tok);
		return fail(why, "request body is not valid JSON",
		    PURCHASE_BAD_REQUEST);
	}
	json_tokener_free(tok);
	while (end < len && (body[end] == ' ' || body[end] == '\t' ||
	    body[end] == '\r' || body[end] == '\n'))
		end++;
	if (end != len) {
		json_object_put(obj);
		return fail(why, "trailing data after the JSON object",
		    PURCHASE_BAD_REQUEST);
	}
	if (!json_object_is_type(obj, json_type_object)) {
		json_object_put(obj);
		return fail(why, "request body is not a JSON object",
		    PURCHASE_BAD_REQUEST);
	}
	*objp = obj;
	return PURCHASE_OK;
}

/* Reads venueId, eventId and zoneId; returns PURCHASE_OK or
 * PURCHASE_BAD_REQUEST with *why set. */
static enum purchase_err
zone_fields(struct json_object *obj, char *venue, char *event, long *zone,
    const char **why)
{
	if (json_id(obj, "venueId", venue) != 0)
		return fail(why, "venueId must be a string of 1-64 letters, "
		    "digits, '_' or '-'", PURCHASE_BAD_REQUEST);
	if (json_id(obj, "eventId", event) != 0)
		return fail(why, "eventId must be a string of 1-64 letters, "
		    "digits, '_' or '-'", PURCHASE_BAD_REQUEST);
	if (json_int(obj, "zoneId", zone) != 0)
		return fail(why, "zoneId must be a JSON integer",
		    PURCHASE_BAD_REQUEST);
	if (*zone < 1 || *zone > SEAT_MAX)
		return fail(why, "zoneId must be an integer in 1..2147483647",
		    PURCHASE_BAD_REQUEST);
	return PURCHASE_OK;
}

enum purchase_err
purchase_from_json(const char *body, size_t len, struct purchase *p,
    const char **why)
{
	struct json_object	*obj;
	enum purchase_err	 e;

	memset(p, 0, sizeof(*p));
	if ((e = parse_object(body, len, &obj, why)) != PURCHASE_OK)
		return e;
	if (json_id(obj, "venueId", p->venue) != 0)
		e = fail(why, "venueId must be a string of 1-64 letters, digits, "
		    "'_' or '-'", PURCHASE_BAD_REQUEST);
	else if (json_id(obj, "eventId", p->event) != 0)
		e = fail(why, "eventId must be a string of 1-64 letters, digits, "
		    "'_' or '-'", PURCHASE_BAD_REQUEST);
	else if (json_int(obj, "zoneId", &p->zone) != 0)
		e = fail(why, "zoneId must be a JSON integer", PURCHASE_BAD_REQUEST);
	else if (json_int(obj, "row", &p->row) != 0)
		e = fail(why, "row must be a JSON integer", PURCHASE_BAD_REQUEST);
	else if (json_int(obj, "column", &p->col) != 0)
		e = fail(why, "column must be a JSON integer",
		    PURCHASE_BAD_REQUEST);
	else
		e = check_numbers(p, why);
	json_object_put(obj);
	return e;
}

/* Reads "seats": 1-10 distinct objects {"row","column"}. */
static enum purchase_err
order_seats(struct json_object *arr, struct order_req *o, const char **why)
{
	struct json_object	*s;
	size_t			 n, i;
	int			 j;

	if (!json_object_is_type(arr, json_type_array))
		return fail(why, "seats must be an array of {\"row\",\"column\"}",
		    PURCHASE_BAD_REQUEST);
	n = json_object_array_length(arr);
	if (n < 1 || n > ORDER_SEATS_MAX)
		return fail(why, "seats must list 1 to 10 seats",
		    PURCHASE_BAD_REQUEST);
	for (i = 0; i < n; i++) {
		s = json_object_array_get_idx(arr, i);
		if (!json_object_is_type(s, json_type_object) ||
		    json_int(s, "row", &o->seats[i].row) != 0 ||
		    json_int(s, "column", &o->seats[i].col) != 0)
			return fail(why, "each seat must be {\"row\":N,"
			    "\"column\":N} with JSON integers",
			    PURCHASE_BAD_REQUEST);
	}
	o->n = (int)n;
	/* the range first: values out of it are clamped alike (json_int),
	 * two of them are not one seat twice */
	for (i = 0; i < n; i++) {
		if (o->seats[i].row < 1 || o->seats[i].row > SEAT_MAX)
			return fail(why, "row is outside the zone",
			    PURCHASE_INVALID_SEAT);
		if (o->seats[i].col < 1 || o->seats[i].col > SEAT_MAX)
			return fail(why, "column is outside the zone",
			    PURCHASE_INVALID_SEAT);
	}
	for (i = 0; i < n; i++)
		for (j = 0; j < (int)i; j++)
			if (o->seats[j].row == o->seats[i].row &&
			    o->seats[j].col == o->seats[i].col)
				return fail(why, "seats lists a seat twice",
				    PURCHASE_BAD_REQUEST);
	return PURCHASE_OK;
}

static enum purchase_err
order_fields(struct json_object *obj, int holds, struct order_req *o,
    const char **why)
{
	struct json_object	*seats, *q;
	enum purchase_err	 e;
	long			 n;
	int			 has_s, has_q;

	if ((e = zone_fields(obj, o->venue, o->event, &o->zone, why)) !=
	    PURCHASE_OK)
		return e;
	has_s = json_object_object_get_ex(obj, "seats", &seats);
	has_q = json_object_object_get_ex(obj, "quantity", &q);
	if (has_s == has_q)
		return fail(why, "give either seats or quantity",
		    PURCHASE_BAD_REQUEST);
	if (holds && json_object_object_get_ex(obj, "holdSeconds", NULL)) {
		if (json_int(obj, "holdSeconds", &o->hold_seconds) != 0 ||
		    o->hold_seconds < 1)
			return fail(why, "holdSeconds must be a positive JSON "
			    "integer", PURCHASE_BAD_REQUEST);
	}
	if (has_s)
		return order_seats(seats, o, why);
	if (json_int(obj, "quantity", &n) != 0 || n < 1 ||
	    n > ORDER_SEATS_MAX)
		return fail(why, "quantity must be a JSON integer in 1..10",
		    PURCHASE_BAD_REQUEST);
	o->quantity = (int)n;
	return PURCHASE_OK;
}

enum purchase_err
purchase_order_from_json(const char *body, size_t len, int holds,
    struct order_req *o, const char **why)
{
	struct json_object	*obj;
	enum purchase_err	 e;

	memset(o, 0, sizeof(*o));
	o->hold_seconds = -1;
	if ((e = parse_object(body, len, &obj, why)) != PURCHASE_OK)
		return e;
	e = order_fields(obj, holds, o, why);
	json_object_put(obj);
	return e;
}

enum purchase_err
purchase_token_from_json(const char *body, size_t len,
    char tok[TOKEN_LEN + 1], const char **why)
{
	struct json_object	*obj, *v;
	enum purchase_err	 e;
	const char		*s;

	tok[0] = '\0';
	if ((e = parse_object(body, len, &obj, why)) != PURCHASE_OK)
		return e;
	if (!json_object_object_get_ex(obj, "cancelToken", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    json_object_get_string_len(v) != TOKEN_LEN ||
	    !valid_id_n((s = json_object_get_string(v)), TOKEN_LEN))
		e = fail(why, "cancelToken must be the 22-character token of "
		    "the order", PURCHASE_BAD_REQUEST);
	else
		memcpy(tok, s, TOKEN_LEN + 1);
	json_object_put(obj);
	return e;
}

int
form_get(const char *s, size_t len, const char *name, char *out, size_t outlen)
{
	size_t	 off = 0, nlen = strlen(name), plen, klen;
	const char *pair, *amp, *eq;
	int	 found = 0;

	if (s == NULL)
		return 0;
	while (off < len) {
		pair = s + off;
		amp = memchr(pair, '&', len - off);
		plen = amp != NULL ? (size_t)(amp - pair) : len - off;
		off += plen + 1;
		eq = memchr(pair, '=', plen);
		klen = eq != NULL ? (size_t)(eq - pair) : plen;
		if (klen != nlen || memcmp(pair, name, nlen) != 0)
			continue;
		/* the last occurrence wins, like the JSON parser */
		if (eq == NULL) {
			if (outlen == 0)
				return -1;
			out[0] = '\0';
		} else if (valid_pct_decode(eq + 1, plen - klen - 1, out, outlen, 1) < 0)
			return -1;
		found = 1;
	}
	return found;
}

/* 1 if a legacy row or column is an integer (maybe negative, of any length)
 * that the number parsers refused: a seat outside every zone, not a
 * malformed request, as in the JSON form.  Else 0. */
static int
form_out_of_range(const char *v)
{
	size_t i = v[0] == '-';

	if (v[i] == '\0')
		return 0;
	for (; v[i] != '\0'; i++)
		if (v[i] < '0' || v[i] > '9')
			return 0;
	return 1;
}

/* Finds a parameter in the body first, then the query. */
static int
param(const char *q, size_t qlen, const char *b, size_t blen,
    const char *name, char *out, size_t outlen)
{
	int r;

	if ((r = form_get(b, blen, name, out, outlen)) != 0)
		return r;
	return form_get(q, qlen, name, out, outlen);
}

enum purchase_err
purchase_from_form(const char *q, size_t qlen, const char *b, size_t blen,
    struct purchase *p, const char **why)
{
	char	v[FORM_VALUE_MAX];

	memset(p, 0, sizeof(*p));
	if (param(q, qlen, b, blen, "venueId", v, sizeof(v)) != 1 ||
	    !valid_id(v))
		return fail(why, "venueId must be 1-64 letters, digits, '_' or "
		    "'-'", PURCHASE_BAD_REQUEST);
	memcpy(p->venue, v, strlen(v) + 1);
	if (param(q, qlen, b, blen, "eventId", v, sizeof(v)) != 1 ||
	    !valid_id(v))
		return fail(why, "eventId must be 1-64 letters, digits, '_' or "
		    "'-'", PURCHASE_BAD_REQUEST);
	memcpy(p->event, v, strlen(v) + 1);
	if (param(q, qlen, b, blen, "zoneId", v, sizeof(v)) != 1 ||
	    valid_digits(v, &p->zone) != 0 || p->zone < 1 || p->zone > SEAT_MAX)
		return fail(why, "zoneId must be an integer in 1..2147483647",
		    PURCHASE_BAD_REQUEST);
	if (param(q, qlen, b, blen, "row", v, sizeof(v)) != 1)
		return fail(why, "row is missing or malformed",
		    PURCHASE_BAD_REQUEST);
	switch (valid_row_label(v, &p->row)) {
	case VALID_ROW_OK:
		break;
	case VALID_ROW_RANGE:
		return fail(why, "row is outside the zone", PURCHASE_INVALID_SEAT);
	default:
		if (form_out_of_range(v))
			return fail(why, "row is outside the zone",
			    PURCHASE_INVALID_SEAT);
		return fail(why, "row must be a letter label (A, B, .., AA) or "
		    "a number", PURCHASE_BAD_REQUEST);
	}
	if (param(q, qlen, b, blen, "column", v, sizeof(v)) != 1)
		return fail(why, "column is missing or malformed",
		    PURCHASE_BAD_REQUEST);
	if (valid_digits(v, &p->col) != 0) {
		if (form_out_of_range(v))
			return fail(why, "column is outside the zone",
			    PURCHASE_INVALID_SEAT);
		return fail(why, "column must be a number", PURCHASE_BAD_REQUEST);
	}
	return check_numbers(p, why);
}

/* "/holds/<holdId>[/confirm]": copies the id (HOLD_ID_LEN characters, or
 * HOLD_ID_OLD_LEN of a hold made before); returns what the path names. */
enum hold_path
purchase_hold_path(const char *path, char id[HOLD_ID_LEN + 1])
{
	const char	*rest;
	size_t		 len;

	if (strncmp(path, "/holds/", 7) != 0)
		return HOLD_PATH_NONE;
	path += 7;
	rest = strchr(path, '/');
	len = rest != NULL ? (size_t)(rest - path) : strlen(path);
	if ((len != HOLD_ID_LEN && len != HOLD_ID_OLD_LEN) ||
	    !valid_id_n(path, len))
		return HOLD_PATH_NONE;
	memcpy(id, path, len);
	id[len] = '\0';
	if (rest == NULL)
		return HOLD_PATH_HOLD;
	return strcmp(rest, "/confirm") == 0 ? HOLD_PATH_CONFIRM :
	    HOLD_PATH_NONE;
}

/* "/<what>/<uuid>/cancel": copies the uuid into id; returns 1 if path is
 * one, else 0. */
int
purchase_cancel_path(const char *path, const char *what, char id[UUID_LEN + 1])
{
	size_t w = strlen(what);

	if (strncmp(path, what, w) != 0 || strlen(path) != w + UUID_LEN + 7 ||
	    strcmp(path + w + UUID_LEN, "/cancel") != 0)
		return 0;
	memcpy(id, path + w, UUID_LEN);
	id[UUID_LEN] = '\0';
	return valid_uuid(id);
}
