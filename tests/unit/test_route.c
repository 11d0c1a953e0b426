/* SPDX-License-Identifier: ISC */
/*
 * test_route.c - unit tests of fcgi/query/route.c: every path of docs/api.md,
 * the order of the checks (shape, method, parameters), percent-decoding
 * the query string of the ticket list and its cap on every endpoint.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "route.h"

#define TID	"01a21fa5-f7be-74ae-b422-fba3111bf4d9"

static enum route_err
parse(const char *method, const char *path, const char *query,
    struct route *rt)
{
	const char	*why = "unset";
	enum route_err	 e = route_parse(method, path, query, rt, &why);

	if (e == ROUTE_OK)
		assert_null(why);
	else
		assert_true(why != NULL && *why != '\0');
	return e;
}

static enum route_err
get(const char *path, const char *query)
{
	struct route rt;

	return parse("GET", path, query, &rt);
}

static void
test_every_path(void **state)
{
	struct route rt;

	(void)state;
	assert_int_equal(parse("GET", "/get/venues", NULL, &rt), ROUTE_OK);
	assert_int_equal(rt.ep, ROUTE_VENUES);
	assert_int_equal(parse("GET", "/get/venues/Venue2/events", "", &rt),
	    ROUTE_OK);
	assert_int_equal(rt.ep, ROUTE_VENUE_EVENTS);
	assert_string_equal(rt.venue, "Venue2");
	assert_int_equal(parse("GET", "/get/events/Event_1-x", NULL, &rt),
	    ROUTE_OK);
	assert_int_equal(rt.ep, ROUTE_EVENT);
	assert_string_equal(rt.event, "Event_1-x");
	assert_int_equal(parse("GET", "/get/events/E/zones/2147483647/seats",
	    NULL, &rt), ROUTE_OK);
	assert_int_equal(rt.ep, ROUTE_SEATS);
	assert_string_equal(rt.event, "E");
	assert_int_equal(rt.zone, 2147483647L);
	assert_int_equal(parse("GET", "/get/events/E/tickets", NULL, &rt),
	    ROUTE_OK);
	assert_int_equal(rt.ep, ROUTE_TICKETS);
	assert_int_equal(rt.zone, 0);
	assert_int_equal(rt.limit, ROUTE_LIMIT_DEFAULT);
	assert_string_equal(rt.after, "");
	assert_int_equal(parse("GET", "/get/events/E/stats", NULL, &rt),
	    ROUTE_OK);
	assert_int_equal(rt.ep, ROUTE_STATS);
	assert_int_equal(parse("GET", "/get/tickets/" TID, NULL, &rt),
	    ROUTE_OK);
	assert_int_equal(rt.ep, ROUTE_TICKET);
	assert_string_equal(rt.ticket, TID);
	assert_int_equal(parse("GET", "/get/count/Event1", NULL, &rt),
	    ROUTE_OK);
	assert_int_equal(rt.ep, ROUTE_COUNT);
	assert_string_equal(rt.event, "Event1");
	assert_int_equal(parse("GET", "/get/money/Venue1/Event1", NULL, &rt),
	    ROUTE_OK);
	assert_int_equal(rt.ep, ROUTE_MONEY);
	assert_string_equal(rt.venue, "Venue1");
	assert_string_equal(rt.event, "Event1");
	assert_int_equal(parse("HEAD", "/get/health", NULL, &rt), ROUTE_OK);
	assert_int_equal(rt.ep, ROUTE_HEALTH);
	assert_int_equal(rt.head, 1);
}

static void
test_unknown_paths(void **state)
{
	static const char *const paths[] = {
		"", "/", "/get", "/get/", "/get/venues/", "/get//venues",
		"/get/venue", "/get/VENUES", "/get/events", "/get/events/E/",
		"/get/events/E/zones/1", "/get/events/E/zones/1/seats/x",
		"/get/events/E/foo", "/get/count", "/get/money/V",
		"/get/money/V/E/x", "/get/health/", "/tickets", "/get/tickets",
		"/gets/venues", "get/venues", "/get/a/b/c/d/e/f/g/h/i",
		"/get/ven%75es/x",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		assert_int_equal(get(paths[i], NULL), ROUTE_ERR_NOT_FOUND);
}

static void
test_method_after_shape(void **state)
{
	struct route rt;

	(void)state;
	assert_int_equal(parse("POST", "/get/venues", NULL, &rt),
	    ROUTE_ERR_METHOD);
	assert_int_equal(parse("get", "/get/venues", NULL, &rt),
	    ROUTE_ERR_METHOD);
	assert_int_equal(parse("", "/get/venues", NULL, &rt),
	    ROUTE_ERR_METHOD);
	assert_int_equal(parse(NULL, "/get/venues", NULL, &rt),
	    ROUTE_ERR_METHOD);
	/* an unknown path is 404 whatever the method */
	assert_int_equal(parse("POST", "/get/nope", NULL, &rt),
	    ROUTE_ERR_NOT_FOUND);
	/* the method is checked before the parameters */
	assert_int_equal(parse("DELETE", "/get/events/E!/stats", NULL, &rt),
	    ROUTE_ERR_METHOD);
	assert_int_equal(parse("GET", "/get/events/E!/stats", NULL, &rt),
	    ROUTE_ERR_BAD_REQUEST);
	/* HEAD is known whatever the outcome: its errors have no body */
	assert_int_equal(parse("HEAD", "/get/nope", NULL, &rt),
	    ROUTE_ERR_NOT_FOUND);
	assert_int_equal(rt.head, 1);
	assert_int_equal(parse("HEAD", NULL, NULL, &rt), ROUTE_ERR_NOT_FOUND);
	assert_int_equal(rt.head, 1);
	assert_int_equal(parse("HEAD", "/get/events/E!/stats", NULL, &rt),
	    ROUTE_ERR_BAD_REQUEST);
	assert_int_equal(rt.head, 1);
	assert_int_equal(parse("GET", "/get/nope", NULL, &rt),
	    ROUTE_ERR_NOT_FOUND);
	assert_int_equal(rt.head, 0);
}

/* Paths and query strings that are a 400: a bad id, zone, ticket id or
 * ticket list parameter. */
static const struct {
	const char	*path;
	const char	*query;
} bad_requests[] = {
	{ "/get/events/Ev.1", NULL },
	{ "/get/events/Ev%201", NULL },
	{ "/get/events/Ev%2F1", NULL },
	{ "/get/events/Ev%001", NULL },
	{ "/get/events/Ev%zz", NULL },
	{ "/get/events/Ev%4", NULL },
	{ "/get/events/%C3%A9", NULL },
	{ "/get/venues/V*/events", NULL },
	{ "/get/money/V/E+", NULL },
	{ "/get/money/V+/E", NULL },
	{ "/get/events/E/zones/0/seats", NULL },
	{ "/get/events/E/zones/-1/seats", NULL },
	{ "/get/events/E/zones/2147483648/seats", NULL },
	{ "/get/events/E/zones/1.0/seats", NULL },
	{ "/get/events/E/zones/+1/seats", NULL },
	{ "/get/events/E/zones/ 1/seats", NULL },
	{ "/get/events/E/zones//seats", NULL },
	{ "/get/tickets/" TID "0", NULL },
	{ "/get/tickets/01a21fa5-f7be-74ae-b422-fba3111bf4d", NULL },
	{ "/get/tickets/01a21fa5f-7be-74ae-b422-fba3111bf4d9", NULL },
	{ "/get/tickets/01a21fa5-f7be-74ae-b422-fba3111bf4dg", NULL },
	{ "/get/tickets/x", NULL },
	{ "/get/events/E/tickets", "limit=0" },
	{ "/get/events/E/tickets", "limit=1001" },
	{ "/get/events/E/tickets", "limit=-1" },
	{ "/get/events/E/tickets", "limit=1e2" },
	{ "/get/events/E/tickets", "limit=+5" },	/* '+' is a space */
	{ "/get/events/E/tickets", "limit=99999999999999999999" },
	{ "/get/events/E/tickets", "limit=5&limit=5" },
	{ "/get/events/E/tickets", "zoneId=0" },
	{ "/get/events/E/tickets", "zoneId=2147483648" },
	{ "/get/events/E/tickets", "after=xyz" },
	{ "/get/events/E/tickets", "after=%zz" },
	{ "/get/events/E/tickets", "after=%00" },
};

static void
test_bad_requests(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad_requests) / sizeof(bad_requests[0]); i++)
		if (get(bad_requests[i].path, bad_requests[i].query) !=
		    ROUTE_ERR_BAD_REQUEST)
			fail_msg("%s?%s: not a 400", bad_requests[i].path,
			    bad_requests[i].query != NULL ?
			    bad_requests[i].query : "");
}

/* An id of 64 characters is one, of 65 not. */
static void
test_id_length(void **state)
{
	char	long_id[128];
	char	path[256];

	(void)state;
	memset(long_id, 'a', 64);
	long_id[64] = '\0';
	snprintf(path, sizeof(path), "/get/count/%s", long_id);
	assert_int_equal(get(path, NULL), ROUTE_OK);
	long_id[64] = 'a';
	long_id[65] = '\0';
	snprintf(path, sizeof(path), "/get/count/%s", long_id);
	assert_int_equal(get(path, NULL), ROUTE_ERR_BAD_REQUEST);
}

static void
test_ids_decoded(void **state)
{
	struct route rt;

	(void)state;
	/* decoded first: %31 is "1" */
	assert_int_equal(parse("GET", "/get/events/E/zones/%31/seats", NULL,
	    &rt), ROUTE_OK);
	assert_int_equal(rt.zone, 1);
	/* upper case is the same ticket, written in lower case */
	assert_int_equal(parse("GET", "/get/tickets/01A21FA5-F7BE-74AE-B422-"
	    "FBA3111BF4D9", NULL, &rt), ROUTE_OK);
	assert_string_equal(rt.ticket, TID);
}

static void
test_ticket_list_query(void **state)
{
	struct route rt;

	(void)state;
	assert_int_equal(parse("GET", "/get/events/E/tickets",
	    "zoneId=7&limit=1000&after=" TID, &rt), ROUTE_OK);
	assert_int_equal(rt.zone, 7);
	assert_int_equal(rt.limit, 1000);
	assert_string_equal(rt.after, TID);
	/* empty values are absent, unknown keys ignored, escapes decoded */
	assert_int_equal(parse("GET", "/get/events/E/tickets",
	    "zoneId=&limit=&after=&foo=bar&&x&l%69mit=%33", &rt), ROUTE_OK);
	assert_int_equal(rt.zone, 0);
	assert_int_equal(rt.limit, 3);
	assert_string_equal(rt.after, "");
	assert_int_equal(parse("GET", "/get/events/E/tickets", "limit=1", &rt),
	    ROUTE_OK);
	assert_int_equal(rt.limit, 1);

	/* a query string on another endpoint is ignored */
	assert_int_equal(get("/get/events/E/stats", "limit=0"), ROUTE_OK);
}

static void
test_caps(void **state)
{
	char	path[ROUTE_PATH_MAX + 2], query[ROUTE_QUERY_MAX + 2];
	size_t	n;

	(void)state;
	/* a path of ROUTE_PATH_MAX bytes is looked at, one more is not */
	n = (size_t)snprintf(path, sizeof(path), "/get/count/");
	memset(path + n, 'a', sizeof(path) - n);
	path[ROUTE_PATH_MAX] = '\0';
	assert_int_equal(get(path, NULL), ROUTE_ERR_BAD_REQUEST);
	path[ROUTE_PATH_MAX] = 'a';
	path[ROUTE_PATH_MAX + 1] = '\0';
	assert_int_equal(get(path, NULL), ROUTE_ERR_NOT_FOUND);
	memset(query, 'x', sizeof(query));
	query[ROUTE_QUERY_MAX] = '\0';
	assert_int_equal(get("/get/events/E/tickets", query), ROUTE_OK);
	query[ROUTE_QUERY_MAX] = 'x';
	query[ROUTE_QUERY_MAX + 1] = '\0';
	assert_int_equal(get("/get/events/E/tickets", query),
	    ROUTE_ERR_BAD_REQUEST);
}

/* The query string's cap holds on every endpoint, also those that ignore
 * its content; still after the path and the method. */
static void
test_query_cap_everywhere(void **state)
{
	static const char *const paths[] = {
		"/get/venues", "/get/venues/V/events", "/get/events/E",
		"/get/events/E/zones/1/seats", "/get/events/E/stats",
		"/get/tickets/" TID, "/get/count/E", "/get/money/V/E",
		"/get/health", "/get/orders/" TID,
	};
	struct route	rt;
	char		query[ROUTE_QUERY_MAX + 2];
	size_t		i;

	(void)state;
	memset(query, 'x', sizeof(query));
	query[ROUTE_QUERY_MAX] = '\0';
	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		if (get(paths[i], query) != ROUTE_OK)
			fail_msg("%s: a query string of the cap refused",
			    paths[i]);
	query[ROUTE_QUERY_MAX] = 'x';
	query[ROUTE_QUERY_MAX + 1] = '\0';
	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		if (get(paths[i], query) != ROUTE_ERR_BAD_REQUEST)
			fail_msg("%s: a query string over the cap not a 400",
			    paths[i]);
	assert_int_equal(parse("HEAD", "/get/health", query, &rt),
	    ROUTE_ERR_BAD_REQUEST);
	assert_int_equal(parse("POST", "/get/venues", query, &rt),
	    ROUTE_ERR_METHOD);
	assert_int_equal(get("/get/nope", query), ROUTE_ERR_NOT_FOUND);
}

static void
test_decode(void **state)
{
	char	buf[8];

	(void)state;
	assert_int_equal(route_decode("a%41+b", 6, buf, sizeof(buf), 1), 4);
	assert_string_equal(buf, "aA b");
	assert_int_equal(route_decode("a%41+b", 6, buf, sizeof(buf), 0), 4);
	assert_string_equal(buf, "aA+b");
	assert_int_equal(route_decode("%7e%7E", 6, buf, sizeof(buf), 0), 2);
	assert_string_equal(buf, "~~");
	assert_int_equal(route_decode("", 0, buf, sizeof(buf), 0), 0);
	assert_string_equal(buf, "");
	assert_int_equal(route_decode("%", 1, buf, sizeof(buf), 0), -1);
	assert_int_equal(route_decode("%4", 2, buf, sizeof(buf), 0), -1);
	assert_int_equal(route_decode("%g1", 3, buf, sizeof(buf), 0), -1);
	assert_int_equal(route_decode("%00", 3, buf, sizeof(buf), 0), -1);
	/* only len bytes are read */
	assert_int_equal(route_decode("ab%41", 3, buf, sizeof(buf), 0), -1);
	assert_int_equal(route_decode("abc", 2, buf, sizeof(buf), 0), 2);
	assert_string_equal(buf, "ab");
	/* size counts the NUL */
	assert_int_equal(route_decode("1234567", 7, buf, 8, 0), 7);
	assert_int_equal(route_decode("12345678", 8, buf, 8, 0), -1);
	assert_int_equal(route_decode("1", 1, buf, 1, 0), -1);
}

static void
test_names(void **state)
{
	(void)state;
	assert_string_equal(route_name(ROUTE_SEATS),
	    "/get/events/{eventId}/zones/{zoneId}/seats");
	assert_string_equal(route_name(ROUTE__MAX), "?");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_path),
		cmocka_unit_test(test_unknown_paths),
		cmocka_unit_test(test_method_after_shape),
		cmocka_unit_test(test_bad_requests),
		cmocka_unit_test(test_id_length),
		cmocka_unit_test(test_ids_decoded),
		cmocka_unit_test(test_ticket_list_query),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_query_cap_everywhere),
		cmocka_unit_test(test_decode),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests_name("route", tests, NULL, NULL);
}
