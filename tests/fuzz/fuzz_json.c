/* SPDX-License-Identifier: ISC */
/*
 * fuzz_json.c - libFuzzer harness for the JSON body of POST /tickets:
 * purchase_from_json() and the strict recogniser valid_json() it runs first.
 *
 * Besides crashes and sanitizer reports it checks properties:
 *   - an accepted purchase has valid ids and numbers in range;
 *   - an accepted body is valid JSON by valid_json();
 *   - what valid_json() accepts, json-c parses too;
 *   - re-encoding an accepted purchase parses back to the same purchase.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "fuzz.h"
#include "purchase.h"
#include "valid.h"

/* 1 if json-c (strict, UTF-8 checked) parses s; a blank is appended because
 * json-c cannot end a top-level number at the end of its input. */
static int
json_c_parses(const char *s, size_t len)
{
	struct json_tokener	*tok;
	struct json_object	*o;
	char			*buf;
	int			 ok;

	buf = malloc(len + 1);
	CHECK(buf != NULL);
	memcpy(buf, s, len);
	buf[len] = ' ';
	tok = json_tokener_new_ex(JSON_DEPTH_MAX);
	CHECK(tok != NULL);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	    JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, buf, (int)len + 1);
	/* JSON null parses to a NULL object: only the error code counts */
	ok = json_tokener_get_error(tok) == json_tokener_success;
	json_object_put(o);
	json_tokener_free(tok);
	free(buf);
	return ok;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char		*s = (const char *)data, *why = NULL;
	struct purchase		 p, q;
	enum purchase_err	 e;
	char			 again[512];
	int			 n, vj;

	vj = valid_json(s, size, JSON_DEPTH_MAX);
	(void)valid_json(s, size, 1);
	e = purchase_from_json(s, size, &p, &why);
	if (e != PURCHASE_OK)
		CHECK(why != NULL && *why != '\0');
	if (e == PURCHASE_INVALID_SEAT) {
		CHECK(valid_id(p.venue) && valid_id(p.event));
		CHECK(p.zone >= 1 && p.zone <= SEAT_MAX);
	}
	if (vj && size <= BODY_MAX)
		CHECK(json_c_parses(s, size));
	if (e != PURCHASE_OK)
		return 0;
	CHECK(vj);
	CHECK(valid_id(p.venue) && valid_id(p.event));
	CHECK(p.zone >= 1 && p.zone <= SEAT_MAX);
	CHECK(p.row >= 1 && p.row <= SEAT_MAX);
	CHECK(p.col >= 1 && p.col <= SEAT_MAX);
	n = snprintf(again, sizeof(again), "{\"venueId\":\"%s\",\"eventId\":"
	    "\"%s\",\"zoneId\":%ld,\"row\":%ld,\"column\":%ld}", p.venue,
	    p.event, p.zone, p.row, p.col);
	CHECK(n > 0 && (size_t)n < sizeof(again));
	CHECK(purchase_from_json(again, (size_t)n, &q, &why) == PURCHASE_OK);
	CHECK(memcmp(&p, &q, sizeof(p)) == 0);
	return 0;
}
