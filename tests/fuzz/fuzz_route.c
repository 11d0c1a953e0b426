/* SPDX-License-Identifier: ISC */
/*
 * fuzz_route.c - libFuzzer harness for the query responder's router,
 * route_parse() and route_decode(), for http_origin_form(), and for the
 * JSON writer (jout.c) fed with what the router let through.  The input is split at its first two
 * '\n': method, path, query string (missing parts are NULL / "").  Each
 * part gets a buffer of its own exact size so that reading past it is
 * caught.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "fuzz.h"
#include "http.h"
#include "jout.h"
#include "route.h"
#include "valid.h"

/* What an accepted route promises. */
static void
check_route(const struct route *rt, const char *method, const char *path)
{
	CHECK((unsigned)rt->ep < ROUTE__MAX);
	CHECK(strncmp(path, "/get/", 5) == 0);
	CHECK(rt->head == (strcmp(method, "HEAD") == 0));
	CHECK(rt->head || strcmp(method, "GET") == 0);
	switch (rt->ep) {
	case ROUTE_VENUE_EVENTS:
		CHECK(valid_id(rt->venue));
		break;
	case ROUTE_MONEY:
		CHECK(valid_id(rt->venue) && valid_id(rt->event));
		break;
	case ROUTE_SEATS:
		CHECK(rt->zone >= 1 && rt->zone <= SEAT_MAX);
		CHECK(valid_id(rt->event));
		break;
	case ROUTE_TICKETS:
		CHECK(valid_id(rt->event));
		CHECK(rt->zone >= 0 && rt->zone <= SEAT_MAX);
		CHECK(rt->limit >= 1 && rt->limit <= ROUTE_LIMIT_MAX);
		CHECK(rt->after[0] == '\0' || valid_uuid(rt->after));
		break;
	case ROUTE_EVENT:
	case ROUTE_STATS:
	case ROUTE_COUNT:
		CHECK(valid_id(rt->event));
		break;
	case ROUTE_TICKET:
		CHECK(valid_uuid(rt->ticket));
		break;
	default:
		break;
	}
}

/* Writes the route as JSON and checks json-c reads back the same. */
static void
check_json(const struct route *rt, const char *raw)
{
	struct jout		 j;
	struct json_tokener	*tok;
	struct json_object	*o, *v;
	const char		*doc;
	size_t			 len;

	jout_init(&j, 1 << 16);
	jout_obj_open(&j, NULL);
	jout_str(&j, "endpoint", route_name(rt->ep));
	jout_str(&j, "venueId", rt->venue);
	jout_str(&j, "raw", raw);		/* any bytes: escaped */
	jout_int(&j, "zoneId", rt->zone);
	jout_num(&j, "price", "320.00");
	jout_arr_open(&j, "list");
	jout_null(&j, NULL);
	jout_bool(&j, NULL, rt->head);
	jout_arr_close(&j);
	jout_obj_close(&j);
	doc = jout_done(&j, &len);
	CHECK(doc != NULL && strlen(doc) == len);
	tok = json_tokener_new();
	CHECK(tok != NULL);
	o = json_tokener_parse_ex(tok, doc, (int)len);
	CHECK(o != NULL && json_tokener_get_error(tok) == json_tokener_success);
	CHECK(json_object_object_get_ex(o, "raw", &v));
	CHECK(strcmp(json_object_get_string(v), raw) == 0);
	CHECK(json_object_object_get_ex(o, "zoneId", &v) &&
	    json_object_get_int64(v) == rt->zone);
	json_object_put(o);
	json_tokener_free(tok);
	jout_free(&j);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t	*nl1, *nl2 = NULL;
	char		*method, *path, *query = NULL, *dec;
	const char	*why = NULL, *why2 = NULL, *origin;
	struct route	 rt, rt2;
	enum route_err	 e;
	size_t		 mlen, plen, k;
	int		 n;

	nl1 = memchr(data, '\n', size);
	mlen = nl1 != NULL ? (size_t)(nl1 - data) : size;
	method = fuzz_dup_str(data, mlen);
	if (nl1 != NULL) {
		nl2 = memchr(nl1 + 1, '\n', size - mlen - 1);
		plen = nl2 != NULL ? (size_t)(nl2 - nl1 - 1) : size - mlen - 1;
		path = fuzz_dup_str(nl1 + 1, plen);
		if (nl2 != NULL)
			query = fuzz_dup_str(nl2 + 1, size - (size_t)(nl2 + 1 - data));
	} else
		path = fuzz_dup_str((const uint8_t *)"/get/venues", 11);

	e = route_parse(method, path, query, &rt, &why);
	CHECK(e >= ROUTE_OK && e <= ROUTE_ERR_BAD_REQUEST);
	if (e == ROUTE_OK) {
		CHECK(why == NULL);
		check_route(&rt, method, path);
		check_json(&rt, path);
	} else
		CHECK(why != NULL && *why != '\0');
	/* the same input, the same answer */
	CHECK(route_parse(method, path, query, &rt2, &why2) == e);
	if (e == ROUTE_OK)
		CHECK(memcmp(&rt, &rt2, sizeof(rt)) == 0);
	/* a target in absolute form is served as its path: a suffix of it,
	 * or "/" */
	origin = http_origin_form(path);
	CHECK(strcmp(origin, "/") == 0 || (strlen(origin) <= strlen(path) &&
	    origin == path + strlen(path) - strlen(origin)));
	CHECK(origin == path || *origin == '/');
	/* a NULL method is never allowed, a NULL path never found */
	CHECK(route_parse(NULL, path, query, &rt2, &why2) != ROUTE_OK);
	CHECK(route_parse(method, NULL, query, &rt2, &why2) ==
	    ROUTE_ERR_NOT_FOUND);

	/* decoding into exact-size and short buffers */
	plen = strlen(path);
	for (k = 1; k <= plen + 1; k += (plen / 4) + 1) {
		dec = malloc(k);
		CHECK(dec != NULL);
		n = route_decode(path, plen, dec, k, k & 1);
		CHECK(n >= -1 && (n < 0 || ((size_t)n < k &&
		    strlen(dec) == (size_t)n)));
		free(dec);
	}
	free(method);
	free(path);
	free(query);
	return 0;
}
