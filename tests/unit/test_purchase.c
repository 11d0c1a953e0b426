/* SPDX-License-Identifier: ISC */
/*
 * test_purchase.c - unit tests of fcgi/ticket/purchase.c: the JSON body of
 * POST /tickets and the legacy parameters of POST /ticket (docs/api.md).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "purchase.h"

#define IDS	"\"venueId\":\"Venue1\",\"eventId\":\"Event1\""
#define GOOD	"{" IDS ",\"zoneId\":1,\"row\":2,\"column\":3}"

/* Parses s; checks the result code. */
static enum purchase_err
json(const char *s, struct purchase *p)
{
	const char *why = NULL;
	enum purchase_err e;

	e = purchase_from_json(s, strlen(s), p, &why);
	if (e != PURCHASE_OK) {
		assert_non_null(why);
		assert_true(strlen(why) > 0);
	}
	return e;
}

static void
expect_json(const char *s, enum purchase_err want)
{
	struct purchase p;

	if (json(s, &p) != want)
		fail_msg("body %s: got %d, want %d", s, json(s, &p), want);
}

/* A body with the ids and zone/row/column as given (raw JSON text). */
static void
expect_seat(const char *zone, const char *row, const char *col,
    enum purchase_err want)
{
	char buf[512];

	snprintf(buf, sizeof(buf), "{" IDS ",\"zoneId\":%s,\"row\":%s,"
	    "\"column\":%s}", zone, row, col);
	expect_json(buf, want);
}

static void
test_json_ok(void **state)
{
	struct purchase p;

	(void)state;
	assert_int_equal(json(GOOD, &p), PURCHASE_OK);
	assert_string_equal(p.venue, "Venue1");
	assert_string_equal(p.event, "Event1");
	assert_int_equal(p.zone, 1);
	assert_int_equal(p.row, 2);
	assert_int_equal(p.col, 3);
}

static void
test_json_not_json(void **state)
{
	const char *why = NULL;
	struct purchase p;

	(void)state;
	expect_json("venueId=Venue1", PURCHASE_BAD_REQUEST);
	expect_json("{", PURCHASE_BAD_REQUEST);
	expect_json("{" IDS ",\"zoneId\":1,\"row\":2,\"column\":3",
	    PURCHASE_BAD_REQUEST);
	expect_json("{" IDS ",\"zoneId\":1,\"row\":2,\"column\":3,}",
	    PURCHASE_BAD_REQUEST);
	expect_json("{'venueId':'Venue1','eventId':'Event1','zoneId':1,"
	    "'row':2,'column':3}", PURCHASE_BAD_REQUEST);
	/* json-c accepts a single-quoted key even in strict mode */
	expect_json("{" IDS ",'zoneId':1,\"row\":2,\"column\":3}",
	    PURCHASE_BAD_REQUEST);
	expect_json("{venueId:\"Venue1\",eventId:\"Event1\",zoneId:1,row:2,"
	    "column:3}", PURCHASE_BAD_REQUEST);
	expect_json("/* c */" GOOD, PURCHASE_BAD_REQUEST);
	expect_json("\xef\xbb\xbf" GOOD, PURCHASE_BAD_REQUEST);	/* BOM */
	/* empty body and a body over the cap */
	assert_int_equal(purchase_from_json("", 0, &p, &why),
	    PURCHASE_BAD_REQUEST);
	assert_string_equal(why, "request body is empty");
	{
		char *big = malloc(BODY_MAX + 2);

		assert_non_null(big);
		memset(big, ' ', BODY_MAX + 1);
		memcpy(big, GOOD, strlen(GOOD));
		big[BODY_MAX + 1] = '\0';
		assert_int_equal(purchase_from_json(big, BODY_MAX + 1, &p, &why),
		    PURCHASE_BAD_REQUEST);
		/* exactly BODY_MAX bytes with trailing blanks is fine */
		assert_int_equal(purchase_from_json(big, BODY_MAX, &p, &why),
		    PURCHASE_OK);
		free(big);
	}
}

static void
test_json_not_object(void **state)
{
	(void)state;
	expect_json("[" GOOD "]", PURCHASE_BAD_REQUEST);
	expect_json("\"" IDS "\"", PURCHASE_BAD_REQUEST);
	expect_json("1", PURCHASE_BAD_REQUEST);
	expect_json("null", PURCHASE_BAD_REQUEST);
	expect_json("true", PURCHASE_BAD_REQUEST);
	expect_json("[]", PURCHASE_BAD_REQUEST);
	expect_json("{}", PURCHASE_BAD_REQUEST);
}

static void
test_json_trailing(void **state)
{
	(void)state;
	expect_json(GOOD "x", PURCHASE_BAD_REQUEST);
	expect_json(GOOD GOOD, PURCHASE_BAD_REQUEST);
	expect_json(GOOD " {}", PURCHASE_BAD_REQUEST);
	expect_json(GOOD ",", PURCHASE_BAD_REQUEST);
	expect_json("{}" GOOD, PURCHASE_BAD_REQUEST);
	{
		struct purchase p;
		const char *why;
		static const char nul[] = GOOD "\0";

		assert_int_equal(purchase_from_json(nul, sizeof(nul) - 1, &p,
		    &why), PURCHASE_BAD_REQUEST);
	}
}

static void
test_json_whitespace(void **state)
{
	struct purchase p;

	(void)state;
	expect_json(" \t\r\n" GOOD " \t\r\n", PURCHASE_OK);
	assert_int_equal(json("{ \"venueId\" : \"Venue1\" ,\n\"eventId\"\t:"
	    "\"Event1\", \"zoneId\" : 7 , \"row\" :\r\n 8, \"column\": 9 }", &p),
	    PURCHASE_OK);
	assert_int_equal(p.zone, 7);
	assert_int_equal(p.row, 8);
	assert_int_equal(p.col, 9);
}

static void
test_json_missing(void **state)
{
	(void)state;
	expect_json("{\"eventId\":\"Event1\",\"zoneId\":1,\"row\":2,"
	    "\"column\":3}", PURCHASE_BAD_REQUEST);
	expect_json("{\"venueId\":\"Venue1\",\"zoneId\":1,\"row\":2,"
	    "\"column\":3}", PURCHASE_BAD_REQUEST);
	expect_json("{" IDS ",\"row\":2,\"column\":3}", PURCHASE_BAD_REQUEST);
	expect_json("{" IDS ",\"zoneId\":1,\"column\":3}", PURCHASE_BAD_REQUEST);
	expect_json("{" IDS ",\"zoneId\":1,\"row\":2}", PURCHASE_BAD_REQUEST);
	/* names are case-sensitive */
	expect_json("{" IDS ",\"zoneid\":1,\"row\":2,\"column\":3}",
	    PURCHASE_BAD_REQUEST);
	expect_json("{" IDS ",\"zoneId\":1,\"Row\":2,\"column\":3}",
	    PURCHASE_BAD_REQUEST);
	expect_json("{" IDS ",\"zoneId\":1,\"row\":2,\"col\":3}",
	    PURCHASE_BAD_REQUEST);
}

static void
test_json_mistyped(void **state)
{
	(void)state;
	/* strings are not numbers */
	expect_seat("\"1\"", "2", "3", PURCHASE_BAD_REQUEST);
	expect_seat("1", "\"2\"", "3", PURCHASE_BAD_REQUEST);
	expect_seat("1", "2", "\"3\"", PURCHASE_BAD_REQUEST);
	expect_seat("1", "\"A\"", "3", PURCHASE_BAD_REQUEST);
	/* fractions, exponents, booleans, null, containers */
	expect_seat("1.5", "2", "3", PURCHASE_BAD_REQUEST);
	expect_seat("1.0", "2", "3", PURCHASE_BAD_REQUEST);
	expect_seat("1e0", "2", "3", PURCHASE_BAD_REQUEST);
	expect_seat("1", "2.5", "3", PURCHASE_BAD_REQUEST);
	expect_seat("1", "2", "3.0", PURCHASE_BAD_REQUEST);
	expect_seat("true", "2", "3", PURCHASE_BAD_REQUEST);
	expect_seat("1", "false", "3", PURCHASE_BAD_REQUEST);
	expect_seat("null", "2", "3", PURCHASE_BAD_REQUEST);
	expect_seat("1", "2", "null", PURCHASE_BAD_REQUEST);
	expect_seat("[1]", "2", "3", PURCHASE_BAD_REQUEST);
	expect_seat("1", "{}", "3", PURCHASE_BAD_REQUEST);
	/* not JSON numbers at all */
	expect_seat("01", "2", "3", PURCHASE_BAD_REQUEST);
	expect_seat("1", "-02", "3", PURCHASE_BAD_REQUEST);
	expect_seat("+1", "2", "3", PURCHASE_BAD_REQUEST);
	expect_seat("0x1", "2", "3", PURCHASE_BAD_REQUEST);
	expect_seat("NaN", "2", "3", PURCHASE_BAD_REQUEST);
	expect_seat("1", "Infinity", "3", PURCHASE_BAD_REQUEST);
	expect_seat("1", "2", "3.", PURCHASE_BAD_REQUEST);
	/* ids must be strings */
	expect_json("{\"venueId\":1,\"eventId\":\"Event1\",\"zoneId\":1,"
	    "\"row\":2,\"column\":3}", PURCHASE_BAD_REQUEST);
	expect_json("{\"venueId\":\"Venue1\",\"eventId\":null,\"zoneId\":1,"
	    "\"row\":2,\"column\":3}", PURCHASE_BAD_REQUEST);
	expect_json("{\"venueId\":[\"Venue1\"],\"eventId\":\"Event1\","
	    "\"zoneId\":1,\"row\":2,\"column\":3}", PURCHASE_BAD_REQUEST);
}

static void
expect_ids(const char *venue, const char *event, enum purchase_err want)
{
	char buf[1024];

	snprintf(buf, sizeof(buf), "{\"venueId\":\"%s\",\"eventId\":\"%s\","
	    "\"zoneId\":1,\"row\":2,\"column\":3}", venue, event);
	expect_json(buf, want);
}

static void
test_json_ids(void **state)
{
	char	max[ID_MAX + 1], big[ID_MAX + 2];
	struct purchase p;
	char	buf[512];

	(void)state;
	expect_ids("Venue 1", "Event1", PURCHASE_BAD_REQUEST);
	expect_ids("Venue1", "Event/1", PURCHASE_BAD_REQUEST);
	expect_ids("../Venue1", "Event1", PURCHASE_BAD_REQUEST);
	expect_ids("Venue1", "Event1{x}", PURCHASE_BAD_REQUEST);
	expect_ids("Venue1", "Ev:ent1", PURCHASE_BAD_REQUEST);
	expect_ids("", "Event1", PURCHASE_BAD_REQUEST);
	expect_ids("Venue1", "", PURCHASE_BAD_REQUEST);
	expect_ids("V\xc3\xa9nue", "Event1", PURCHASE_BAD_REQUEST);
	/* NUL through an escape: no truncation to "Venue1" */
	expect_ids("Venue1\\u0000x", "Event1", PURCHASE_BAD_REQUEST);
	expect_ids("Venue1\\u0000", "Event1", PURCHASE_BAD_REQUEST);
	expect_ids("Venue1", "\\u0000Event1", PURCHASE_BAD_REQUEST);
	expect_ids("Venue1\\n", "Event1", PURCHASE_BAD_REQUEST);
	/* an escaped plain letter is the letter */
	expect_ids("Venue\\u0031", "Event1", PURCHASE_OK);
	/* 64 characters pass, 65 do not */
	memset(max, 'v', ID_MAX);
	max[ID_MAX] = '\0';
	memset(big, 'v', ID_MAX + 1);
	big[ID_MAX + 1] = '\0';
	expect_ids(max, "Event1", PURCHASE_OK);
	expect_ids(max, max, PURCHASE_OK);
	expect_ids(big, "Event1", PURCHASE_BAD_REQUEST);
	expect_ids("Venue1", big, PURCHASE_BAD_REQUEST);
	snprintf(buf, sizeof(buf), "{\"venueId\":\"%s\",\"eventId\":\"%s\","
	    "\"zoneId\":1,\"row\":2,\"column\":3}", max, max);
	assert_int_equal(json(buf, &p), PURCHASE_OK);
	assert_string_equal(p.venue, max);
	assert_string_equal(p.event, max);
}

/* zoneId, row and column out of range: a bad zone is a 400 BAD_REQUEST,
 * a seat no zone can have INVALID_SEAT; a bad zone is reported before a
 * bad seat, mistyped before out of range. */
static const struct {
	const char		*zone, *row, *col;
	enum purchase_err	 want;
} seat_ranges[] = {
	{ "0", "1", "1", PURCHASE_BAD_REQUEST },
	{ "-0", "1", "1", PURCHASE_BAD_REQUEST },
	{ "-1", "1", "1", PURCHASE_BAD_REQUEST },
	{ "2147483648", "1", "1", PURCHASE_BAD_REQUEST },
	{ "4294967297", "1", "1", PURCHASE_BAD_REQUEST },
	{ "9223372036854775807", "1", "1", PURCHASE_BAD_REQUEST },
	{ "9223372036854775808", "1", "1", PURCHASE_BAD_REQUEST },
	{ "99999999999999999999999999999999", "1", "1", PURCHASE_BAD_REQUEST },
	{ "-99999999999999999999999999999999", "1", "1",
	    PURCHASE_BAD_REQUEST },
	{ "1", "0", "1", PURCHASE_INVALID_SEAT },
	{ "1", "1", "0", PURCHASE_INVALID_SEAT },
	{ "1", "-0", "1", PURCHASE_INVALID_SEAT },
	{ "1", "-1", "1", PURCHASE_INVALID_SEAT },
	{ "1", "1", "-1", PURCHASE_INVALID_SEAT },
	{ "1", "-2147483648", "1", PURCHASE_INVALID_SEAT },
	{ "1", "2147483648", "1", PURCHASE_INVALID_SEAT },
	{ "1", "1", "2147483648", PURCHASE_INVALID_SEAT },
	/* beyond int64 and uint64: still an integer outside every zone */
	{ "1", "9223372036854775808", "1", PURCHASE_INVALID_SEAT },
	{ "1", "18446744073709551616", "1", PURCHASE_INVALID_SEAT },
	{ "1", "1", "99999999999999999999999999999999",
	    PURCHASE_INVALID_SEAT },
	{ "1", "-99999999999999999999999999999999", "1",
	    PURCHASE_INVALID_SEAT },
	{ "0", "0", "0", PURCHASE_BAD_REQUEST },
	{ "1", "0", "1.5", PURCHASE_BAD_REQUEST },
};

static void
test_json_ranges(void **state)
{
	struct purchase p;
	size_t		i;

	(void)state;
	for (i = 0; i < sizeof(seat_ranges) / sizeof(seat_ranges[0]); i++)
		expect_seat(seat_ranges[i].zone, seat_ranges[i].row,
		    seat_ranges[i].col, seat_ranges[i].want);
	/* the largest of each is one */
	assert_int_equal(json("{" IDS ",\"zoneId\":2147483647,\"row\":1,"
	    "\"column\":1}", &p), PURCHASE_OK);
	assert_true(p.zone == SEAT_MAX);
	assert_int_equal(json("{" IDS ",\"zoneId\":1,\"row\":2147483647,"
	    "\"column\":2147483647}", &p), PURCHASE_OK);
	assert_true(p.row == SEAT_MAX && p.col == SEAT_MAX);
}

static void
test_json_utf8(void **state)
{
	(void)state;
	/* invalid UTF-8 anywhere: in an id, in an ignored field */
	expect_ids("Venue\xff", "Event1", PURCHASE_BAD_REQUEST);
	expect_json("{" IDS ",\"zoneId\":1,\"row\":2,\"column\":3,"
	    "\"note\":\"\xc3\x28\"}", PURCHASE_BAD_REQUEST);
	expect_json("{" IDS ",\"zoneId\":1,\"row\":2,\"column\":3,"
	    "\"note\":\"\xed\xa0\x80\"}", PURCHASE_BAD_REQUEST);	/* surrogate */
	expect_json("{" IDS ",\"zoneId\":1,\"row\":2,\"column\":3,"
	    "\"note\":\"\xc0\xaf\"}", PURCHASE_BAD_REQUEST);	/* overlong */
	expect_json("{" IDS ",\"zoneId\":1,\"row\":2,\"column\":3,"
	    "\"\xfe\":1}", PURCHASE_BAD_REQUEST);
	/* valid UTF-8 in an ignored field is fine */
	expect_json("{" IDS ",\"zoneId\":1,\"row\":2,\"column\":3,"
	    "\"note\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8e\xab\"}",
	    PURCHASE_OK);
}

static void
test_json_nesting(void **state)
{
	char	*buf;
	size_t	 off, i;
	struct purchase p;
	const char *why;

	(void)state;
	/* every value at most 16 levels deep, as json-c counts: an empty
	 * array at level 16 passes, a number inside it (level 17) does not */
	expect_json("{" IDS ",\"zoneId\":1,\"row\":2,\"column\":3,\"x\":"
	    "[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]}", PURCHASE_OK);
	expect_json("{" IDS ",\"zoneId\":1,\"row\":2,\"column\":3,\"x\":"
	    "[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]}", PURCHASE_BAD_REQUEST);
	expect_json("{" IDS ",\"zoneId\":1,\"row\":2,\"column\":3,\"x\":"
	    "[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]}", PURCHASE_BAD_REQUEST);
	expect_json("{" IDS ",\"zoneId\":1,\"row\":2,\"column\":3,\"x\":"
	    "[[[[[[[[[[[[[[1]]]]]]]]]]]]]]}", PURCHASE_OK);
	/* 4000 '[' (as deep as fits the cap) */
	buf = malloc(BODY_MAX);
	assert_non_null(buf);
	memset(buf, '[', BODY_MAX);
	assert_int_equal(purchase_from_json(buf, BODY_MAX, &p, &why),
	    PURCHASE_BAD_REQUEST);
	off = 0;
	for (i = 0; i < 600; i++)
		off += (size_t)snprintf(buf + off, BODY_MAX - off, "{\"a\":");
	assert_true(off < BODY_MAX);
	assert_int_equal(purchase_from_json(buf, off, &p, &why),
	    PURCHASE_BAD_REQUEST);
	free(buf);
}

static void
test_json_duplicates_and_extras(void **state)
{
	struct purchase p;

	(void)state;
	/* the last of duplicate keys wins, as in the legacy form */
	assert_int_equal(json("{" IDS ",\"zoneId\":1,\"zoneId\":5,\"row\":2,"
	    "\"column\":3}", &p), PURCHASE_OK);
	assert_int_equal(p.zone, 5);
	assert_int_equal(json("{\"venueId\":\"Bad id\",\"venueId\":\"Venue2\","
	    "\"eventId\":\"Event2\",\"zoneId\":1,\"row\":2,\"column\":3}", &p),
	    PURCHASE_OK);
	assert_string_equal(p.venue, "Venue2");
	expect_json("{" IDS ",\"zoneId\":1,\"row\":2,\"column\":3,\"row\":\"x\"}",
	    PURCHASE_BAD_REQUEST);
	/* unknown fields of any type are ignored */
	assert_int_equal(json("{\"price\":1e9,\"status\":null," IDS ",\"zoneId\":"
	    "4,\"extra\":{\"a\":[1,2,{\"b\":true}]},\"row\":5,\"column\":6,"
	    "\"ticketId\":\"x\"}", &p), PURCHASE_OK);
	assert_int_equal(p.zone, 4);
	assert_int_equal(p.row, 5);
	assert_int_equal(p.col, 6);
}

static void
test_json_len_respected(void **state)
{
	struct purchase p;
	const char *why;
	char *exact;

	(void)state;
	/* the buffer need not be NUL-terminated: copy into an exact-size one */
	exact = malloc(strlen(GOOD));
	assert_non_null(exact);
	memcpy(exact, GOOD, strlen(GOOD));
	assert_int_equal(purchase_from_json(exact, strlen(GOOD), &p, &why),
	    PURCHASE_OK);
	assert_int_equal(purchase_from_json(exact, strlen(GOOD) - 1, &p, &why),
	    PURCHASE_BAD_REQUEST);
	free(exact);
	/* bytes after len are not looked at */
	assert_int_equal(purchase_from_json(GOOD "garbage", strlen(GOOD), &p,
	    &why), PURCHASE_OK);
}

/* ----------------------------------------------------------- legacy form */

static enum purchase_err
form(const char *q, const char *b, struct purchase *p)
{
	const char *why = NULL;
	enum purchase_err e;

	e = purchase_from_form(q, q != NULL ? strlen(q) : 0, b,
	    b != NULL ? strlen(b) : 0, p, &why);
	if (e != PURCHASE_OK)
		assert_non_null(why);
	return e;
}

static void
expect_form(const char *q, const char *b, enum purchase_err want)
{
	struct purchase p;
	enum purchase_err e = form(q, b, &p);

	if (e != want)
		fail_msg("query %s body %s: got %d, want %d", q ? q : "(null)",
		    b ? b : "(null)", e, want);
}

#define QS	"venueId=Venue1&eventId=Event1&zoneId=3&row=B&column=4"

static void
test_form_query(void **state)
{
	struct purchase p;

	(void)state;
	assert_int_equal(form(QS, NULL, &p), PURCHASE_OK);
	assert_string_equal(p.venue, "Venue1");
	assert_string_equal(p.event, "Event1");
	assert_int_equal(p.zone, 3);
	assert_int_equal(p.row, 2);
	assert_int_equal(p.col, 4);
	/* order does not matter, unknown parameters are ignored */
	assert_int_equal(form("column=4&x=y&row=AA&zoneId=3&&eventId=Event1&"
	    "venueId=Venue1&flag", NULL, &p), PURCHASE_OK);
	assert_int_equal(p.row, 27);
}

static void
test_form_body(void **state)
{
	struct purchase p;

	(void)state;
	assert_int_equal(form(NULL, QS, &p), PURCHASE_OK);
	assert_int_equal(p.zone, 3);
	assert_int_equal(form("", QS, &p), PURCHASE_OK);
	/* split between query and body */
	assert_int_equal(form("venueId=Venue1&eventId=Event1",
	    "zoneId=3&row=C&column=4", &p), PURCHASE_OK);
	assert_int_equal(p.row, 3);
	/* the body wins over the query */
	assert_int_equal(form(QS, "zoneId=9&row=Z", &p), PURCHASE_OK);
	assert_int_equal(p.zone, 9);
	assert_int_equal(p.row, 26);
	assert_int_equal(p.col, 4);
	/* ... even when the body's value is bad */
	expect_form(QS, "zoneId=x", PURCHASE_BAD_REQUEST);
	expect_form(QS, "venueId=", PURCHASE_BAD_REQUEST);
}

static void
test_form_decoding(void **state)
{
	struct purchase p;

	(void)state;
	assert_int_equal(form("venueId=Ven%75e1&eventId=%45vent%31&zoneId=%33&"
	    "row=%41%61&column=%34", NULL, &p), PURCHASE_OK);
	assert_string_equal(p.venue, "Venue1");
	assert_string_equal(p.event, "Event1");
	assert_int_equal(p.zone, 3);
	assert_int_equal(p.row, 27);
	assert_int_equal(p.col, 4);
	/* '+' is a blank: not part of any id or number */
	expect_form("venueId=Venue+1&eventId=Event1&zoneId=3&row=B&column=4",
	    NULL, PURCHASE_BAD_REQUEST);
	expect_form("venueId=Venue1&eventId=Event1&zoneId=+3&row=B&column=4",
	    NULL, PURCHASE_BAD_REQUEST);
	/* %00, bad and truncated escapes */
	expect_form("venueId=Venue1%00&eventId=Event1&zoneId=3&row=B&column=4",
	    NULL, PURCHASE_BAD_REQUEST);
	expect_form("venueId=Venue1&eventId=Event1&zoneId=3%00&row=B&column=4",
	    NULL, PURCHASE_BAD_REQUEST);
	expect_form("venueId=Venue1&eventId=Event1&zoneId=3&row=B%00&column=4",
	    NULL, PURCHASE_BAD_REQUEST);
	expect_form("venueId=Venue%zz&eventId=Event1&zoneId=3&row=B&column=4",
	    NULL, PURCHASE_BAD_REQUEST);
	expect_form("venueId=Venue1&eventId=Event1&zoneId=3&row=B&column=4%",
	    NULL, PURCHASE_BAD_REQUEST);
	expect_form("venueId=Venue1&eventId=Event1&zoneId=3&row=B&column=4%3",
	    NULL, PURCHASE_BAD_REQUEST);
	expect_form("venueId=Venue1&eventId=Event1%2&zoneId=3&row=B&column=4",
	    NULL, PURCHASE_BAD_REQUEST);
	/* an encoded separator is data, not a separator */
	expect_form("venueId=Venue1%26eventId%3DEvent1&zoneId=3&row=B&column=4",
	    NULL, PURCHASE_BAD_REQUEST);
	expect_form("venueId=..%2FVenue1&eventId=Event1&zoneId=3&row=B&column=4",
	    NULL, PURCHASE_BAD_REQUEST);
}

static void
test_form_missing_and_bad(void **state)
{
	(void)state;
	expect_form(NULL, NULL, PURCHASE_BAD_REQUEST);
	expect_form("", "", PURCHASE_BAD_REQUEST);
	expect_form("eventId=Event1&zoneId=3&row=B&column=4", NULL,
	    PURCHASE_BAD_REQUEST);
	expect_form("venueId=Venue1&zoneId=3&row=B&column=4", NULL,
	    PURCHASE_BAD_REQUEST);
	expect_form("venueId=Venue1&eventId=Event1&row=B&column=4", NULL,
	    PURCHASE_BAD_REQUEST);
	expect_form("venueId=Venue1&eventId=Event1&zoneId=3&column=4", NULL,
	    PURCHASE_BAD_REQUEST);
	expect_form("venueId=Venue1&eventId=Event1&zoneId=3&row=B", NULL,
	    PURCHASE_BAD_REQUEST);
	/* a name without '=' is an empty value */
	expect_form("venueId&eventId=Event1&zoneId=3&row=B&column=4", NULL,
	    PURCHASE_BAD_REQUEST);
	/* names are exact */
	expect_form("venueid=Venue1&eventId=Event1&zoneId=3&row=B&column=4",
	    NULL, PURCHASE_BAD_REQUEST);
	expect_form("venueIdx=Venue1&eventId=Event1&zoneId=3&row=B&column=4",
	    NULL, PURCHASE_BAD_REQUEST);
	/* zoneId: digits only, 1..2^31-1 */
	expect_form("venueId=Venue1&eventId=Event1&zoneId=0&row=B&column=4",
	    NULL, PURCHASE_BAD_REQUEST);
	expect_form("venueId=Venue1&eventId=Event1&zoneId=-1&row=B&column=4",
	    NULL, PURCHASE_BAD_REQUEST);
	expect_form("venueId=Venue1&eventId=Event1&zoneId=1.5&row=B&column=4",
	    NULL, PURCHASE_BAD_REQUEST);
	expect_form("venueId=Venue1&eventId=Event1&zoneId=A&row=B&column=4",
	    NULL, PURCHASE_BAD_REQUEST);
	expect_form("venueId=Venue1&eventId=Event1&zoneId=&row=B&column=4",
	    NULL, PURCHASE_BAD_REQUEST);
	expect_form("venueId=Venue1&eventId=Event1&zoneId=2147483648&row=B&"
	    "column=4", NULL, PURCHASE_BAD_REQUEST);
	expect_form("venueId=Venue1&eventId=Event1&zoneId=2147483647&row=B&"
	    "column=4", NULL, PURCHASE_OK);
	/* column: a number */
	expect_form("venueId=Venue1&eventId=Event1&zoneId=3&row=B&column=D",
	    NULL, PURCHASE_BAD_REQUEST);
	expect_form("venueId=Venue1&eventId=Event1&zoneId=3&row=B&column=",
	    NULL, PURCHASE_BAD_REQUEST);
	expect_form("venueId=Venue1&eventId=Event1&zoneId=3&row=B&column=4.0",
	    NULL, PURCHASE_BAD_REQUEST);
	expect_form("venueId=Venue1&eventId=Event1&zoneId=3&row=B&column=-",
	    NULL, PURCHASE_BAD_REQUEST);
	/* ids */
	expect_form("venueId=Venue%C3%A9&eventId=Event1&zoneId=3&row=B&"
	    "column=4", NULL, PURCHASE_BAD_REQUEST);
	{
		char	q[256], id[ID_MAX + 2];

		memset(id, 'v', sizeof(id) - 1);
		id[ID_MAX] = '\0';		/* 64 */
		snprintf(q, sizeof(q), "venueId=%s&eventId=Event1&zoneId=3&"
		    "row=B&column=4", id);
		expect_form(q, NULL, PURCHASE_OK);
		id[ID_MAX] = 'v';		/* 65 */
		id[ID_MAX + 1] = '\0';
		snprintf(q, sizeof(q), "venueId=%s&eventId=Event1&zoneId=3&"
		    "row=B&column=4", id);
		expect_form(q, NULL, PURCHASE_BAD_REQUEST);
	}
}

static void
test_form_rows(void **state)
{
	struct purchase p;

	(void)state;
	assert_int_equal(form("venueId=Venue1&eventId=Event1&zoneId=3&row=A&"
	    "column=1", NULL, &p), PURCHASE_OK);
	assert_int_equal(p.row, 1);
	assert_int_equal(form("venueId=Venue1&eventId=Event1&zoneId=3&row=z&"
	    "column=1", NULL, &p), PURCHASE_OK);
	assert_int_equal(p.row, 26);
	assert_int_equal(form("venueId=Venue1&eventId=Event1&zoneId=3&row=AZ&"
	    "column=1", NULL, &p), PURCHASE_OK);
	assert_int_equal(p.row, 52);
	assert_int_equal(form("venueId=Venue1&eventId=Event1&zoneId=3&row=12&"
	    "column=1", NULL, &p), PURCHASE_OK);
	assert_int_equal(p.row, 12);
	/* junk labels are bad requests */
	expect_form("venueId=Venue1&eventId=Event1&zoneId=3&row=A1&column=1",
	    NULL, PURCHASE_BAD_REQUEST);
	expect_form("venueId=Venue1&eventId=Event1&zoneId=3&row=&column=1",
	    NULL, PURCHASE_BAD_REQUEST);
	expect_form("venueId=Venue1&eventId=Event1&zoneId=3&row=-A&column=1",
	    NULL, PURCHASE_BAD_REQUEST);
	expect_form("venueId=Venue1&eventId=Event1&zoneId=3&row=%20A&column=1",
	    NULL, PURCHASE_BAD_REQUEST);
	/* well-formed but outside every zone: INVALID_SEAT, as in JSON */
	expect_form("venueId=Venue1&eventId=Event1&zoneId=3&row=0&column=1",
	    NULL, PURCHASE_INVALID_SEAT);
	expect_form("venueId=Venue1&eventId=Event1&zoneId=3&row=-1&column=1",
	    NULL, PURCHASE_INVALID_SEAT);
	expect_form("venueId=Venue1&eventId=Event1&zoneId=3&row=FXSHRXX&"
	    "column=1", NULL, PURCHASE_INVALID_SEAT);
	expect_form("venueId=Venue1&eventId=Event1&zoneId=3&row=2147483648&"
	    "column=1", NULL, PURCHASE_INVALID_SEAT);
	expect_form("venueId=Venue1&eventId=Event1&zoneId=3&row="
	    "99999999999999999999999&column=1", NULL, PURCHASE_INVALID_SEAT);
	expect_form("venueId=Venue1&eventId=Event1&zoneId=3&row=A&column=0",
	    NULL, PURCHASE_INVALID_SEAT);
	expect_form("venueId=Venue1&eventId=Event1&zoneId=3&row=A&column=-1",
	    NULL, PURCHASE_INVALID_SEAT);
	expect_form("venueId=Venue1&eventId=Event1&zoneId=3&row=A&"
	    "column=2147483648", NULL, PURCHASE_INVALID_SEAT);
	expect_form("venueId=Venue1&eventId=Event1&zoneId=3&row=A&"
	    "column=99999999999999999999999", NULL, PURCHASE_INVALID_SEAT);
	expect_form("venueId=Venue1&eventId=Event1&zoneId=3&row=A&"
	    "column=-99999999999999999999999", NULL, PURCHASE_INVALID_SEAT);
}

static void
test_form_get(void **state)
{
	char	out[16];
	const char *s;

	(void)state;
	s = "a=1&bb=two&c=&d&e=x%41y+z";
	assert_int_equal(form_get(s, strlen(s), "a", out, sizeof(out)), 1);
	assert_string_equal(out, "1");
	assert_int_equal(form_get(s, strlen(s), "bb", out, sizeof(out)), 1);
	assert_string_equal(out, "two");
	assert_int_equal(form_get(s, strlen(s), "b", out, sizeof(out)), 0);
	assert_int_equal(form_get(s, strlen(s), "c", out, sizeof(out)), 1);
	assert_string_equal(out, "");
	assert_int_equal(form_get(s, strlen(s), "d", out, sizeof(out)), 1);
	assert_string_equal(out, "");
	assert_int_equal(form_get(s, strlen(s), "e", out, sizeof(out)), 1);
	assert_string_equal(out, "xAy z");
	assert_int_equal(form_get(s, strlen(s), "zz", out, sizeof(out)), 0);
	assert_int_equal(form_get(NULL, 0, "a", out, sizeof(out)), 0);
	assert_int_equal(form_get("", 0, "a", out, sizeof(out)), 0);
	/* the last occurrence wins */
	s = "a=1&a=2&a=3";
	assert_int_equal(form_get(s, strlen(s), "a", out, sizeof(out)), 1);
	assert_string_equal(out, "3");
	/* len bounds the search */
	assert_int_equal(form_get(s, 3, "a", out, sizeof(out)), 1);
	assert_string_equal(out, "1");
	assert_int_equal(form_get("a=12345", 4, "a", out, sizeof(out)), 1);
	assert_string_equal(out, "12");
	/* %-escapes */
	s = "k=%2f%2F%25%3d%26";
	assert_int_equal(form_get(s, strlen(s), "k", out, sizeof(out)), 1);
	assert_string_equal(out, "//%=&");
	s = "k=%e2%82%ac";
	assert_int_equal(form_get(s, strlen(s), "k", out, sizeof(out)), 1);
	assert_string_equal(out, "\xe2\x82\xac");
	/* malformed values */
	assert_int_equal(form_get("k=%00", 5, "k", out, sizeof(out)), -1);
	assert_int_equal(form_get("k=a%0", 5, "k", out, sizeof(out)), -1);
	assert_int_equal(form_get("k=a%", 4, "k", out, sizeof(out)), -1);
	assert_int_equal(form_get("k=%g1", 5, "k", out, sizeof(out)), -1);
	assert_int_equal(form_get("k=%1g", 5, "k", out, sizeof(out)), -1);
	assert_int_equal(form_get("k=a\0b", 5, "k", out, sizeof(out)), -1);
	/* an escape cut by len is malformed, not read past len */
	assert_int_equal(form_get("k=%41", 4, "k", out, sizeof(out)), -1);
	/* fits: outlen includes the NUL */
	assert_int_equal(form_get("k=123", 5, "k", out, 4), 1);
	assert_string_equal(out, "123");
	assert_int_equal(form_get("k=1234", 6, "k", out, 4), -1);
	assert_int_equal(form_get("k", 1, "k", out, 0), -1);
	assert_int_equal(form_get("k=", 2, "k", out, 0), -1);
	assert_int_equal(form_get("k=1", 3, "k", out, 0), -1);
	/* a malformed earlier occurrence poisons the lookup */
	assert_int_equal(form_get("k=%zz&k=1", 9, "k", out, sizeof(out)), -1);
	/* other names' malformed values do not matter */
	assert_int_equal(form_get("x=%zz&k=1", 9, "k", out, sizeof(out)), 1);
	assert_string_equal(out, "1");
}

static void
test_form_long_value(void **state)
{
	char	q[600], v[301];

	(void)state;
	/* longer than FORM_VALUE_MAX */
	memset(v, '1', 200);
	v[200] = '\0';
	snprintf(q, sizeof(q), "venueId=Venue1&eventId=Event1&zoneId=3&row=B&"
	    "column=%s", v);
	expect_form(q, NULL, PURCHASE_BAD_REQUEST);
	memset(v, 'v', 300);
	v[300] = '\0';
	snprintf(q, sizeof(q), "eventId=Event1&zoneId=3&row=B&column=1&"
	    "venueId=%s", v);
	expect_form(q, NULL, PURCHASE_BAD_REQUEST);
}

#define OIDS	"{" IDS ",\"zoneId\":1,"
#define S(r, c)	"{\"row\":" #r ",\"column\":" #c "}"

/* POST /orders and /holds bodies: what each parses to, for orders and for
 * holds (holdSeconds). */
static void
test_order_bodies(void **state)
{
	static const struct {
		const char		*body;
		enum purchase_err	 order, hold;
		int			 n, quantity;
		long			 hold_seconds;
	} cases[] = {
		{ OIDS "\"seats\":[" S(1, 1) "]}", PURCHASE_OK, PURCHASE_OK, 1, 0,
		    -1 },
		{ OIDS "\"seats\":[" S(1, 1) "," S(1, 2) "," S(2, 1) "]}",
		    PURCHASE_OK, PURCHASE_OK, 3, 0, -1 },
		{ OIDS "\"quantity\":4}", PURCHASE_OK, PURCHASE_OK, 0, 4, -1 },
		{ OIDS "\"quantity\":10,\"holdSeconds\":30}", PURCHASE_OK,
		    PURCHASE_OK, 0, 10, 30 },
		{ OIDS "\"quantity\":4,\"holdSeconds\":99999999999999}",
		    PURCHASE_OK, PURCHASE_OK, 0, 4, 2147483648L },
		/* eleven seats, none, duplicates */
		{ OIDS "\"seats\":[" S(1, 1) "," S(1, 2) "," S(1, 3) "," S(1, 4)
		    "," S(1, 5) "," S(1, 6) "," S(1, 7) "," S(1, 8) "," S(1, 9)
		    "," S(1, 10) "," S(1, 11) "]}", PURCHASE_BAD_REQUEST,
		    PURCHASE_BAD_REQUEST, 0, 0, 0 },
		{ OIDS "\"seats\":[]}", PURCHASE_BAD_REQUEST,
		    PURCHASE_BAD_REQUEST, 0, 0, 0 },
		{ OIDS "\"seats\":[" S(1, 1) "," S(2, 2) "," S(1, 1) "]}",
		    PURCHASE_BAD_REQUEST, PURCHASE_BAD_REQUEST, 0, 0, 0 },
		/* quantity out of range or mistyped; both or neither */
		{ OIDS "\"quantity\":-1}", PURCHASE_BAD_REQUEST,
		    PURCHASE_BAD_REQUEST, 0, 0, 0 },
		{ OIDS "\"quantity\":0}", PURCHASE_BAD_REQUEST,
		    PURCHASE_BAD_REQUEST, 0, 0, 0 },
		{ OIDS "\"quantity\":11}", PURCHASE_BAD_REQUEST,
		    PURCHASE_BAD_REQUEST, 0, 0, 0 },
		{ OIDS "\"quantity\":\"4\"}", PURCHASE_BAD_REQUEST,
		    PURCHASE_BAD_REQUEST, 0, 0, 0 },
		{ OIDS "\"quantity\":2.0}", PURCHASE_BAD_REQUEST,
		    PURCHASE_BAD_REQUEST, 0, 0, 0 },
		{ OIDS "\"quantity\":2,\"seats\":[" S(1, 1) "]}",
		    PURCHASE_BAD_REQUEST, PURCHASE_BAD_REQUEST, 0, 0, 0 },
		{ "{" IDS ",\"zoneId\":1}", PURCHASE_BAD_REQUEST,
		    PURCHASE_BAD_REQUEST, 0, 0, 0 },
		/* seats mistyped, out of range */
		{ OIDS "\"seats\":{\"row\":1,\"column\":1}}",
		    PURCHASE_BAD_REQUEST, PURCHASE_BAD_REQUEST, 0, 0, 0 },
		{ OIDS "\"seats\":[[1,1]]}", PURCHASE_BAD_REQUEST,
		    PURCHASE_BAD_REQUEST, 0, 0, 0 },
		{ OIDS "\"seats\":[{\"row\":1}]}", PURCHASE_BAD_REQUEST,
		    PURCHASE_BAD_REQUEST, 0, 0, 0 },
		{ OIDS "\"seats\":[" S(0, 1) "]}", PURCHASE_INVALID_SEAT,
		    PURCHASE_INVALID_SEAT, 0, 0, 0 },
		{ OIDS "\"seats\":[" S(1, -5) "]}", PURCHASE_INVALID_SEAT,
		    PURCHASE_INVALID_SEAT, 0, 0, 0 },
		{ OIDS "\"seats\":[" S(1, 99999999999) "]}",
		    PURCHASE_INVALID_SEAT, PURCHASE_INVALID_SEAT, 0, 0, 0 },
		/* distinct seats out of range are not one seat twice (their
		 * values are clamped alike) */
		{ OIDS "\"seats\":[" S(-2, 1) "," S(-3, 1) "]}",
		    PURCHASE_INVALID_SEAT, PURCHASE_INVALID_SEAT, 0, 0, 0 },
		{ OIDS "\"seats\":[" S(3000000000, 1) "," S(4000000000, 1) "]}",
		    PURCHASE_INVALID_SEAT, PURCHASE_INVALID_SEAT, 0, 0, 0 },
		{ OIDS "\"seats\":[" S(1, 0) "," S(1, 0) "]}",
		    PURCHASE_INVALID_SEAT, PURCHASE_INVALID_SEAT, 0, 0, 0 },
		/* holdSeconds: ignored by orders, checked by holds */
		{ OIDS "\"quantity\":1,\"holdSeconds\":0}", PURCHASE_OK,
		    PURCHASE_BAD_REQUEST, 0, 1, -1 },
		{ OIDS "\"quantity\":1,\"holdSeconds\":-3}", PURCHASE_OK,
		    PURCHASE_BAD_REQUEST, 0, 1, -1 },
		{ OIDS "\"quantity\":1,\"holdSeconds\":\"60\"}", PURCHASE_OK,
		    PURCHASE_BAD_REQUEST, 0, 1, -1 },
		/* the zone and ids as for tickets */
		{ "{" IDS ",\"zoneId\":0,\"quantity\":1}", PURCHASE_BAD_REQUEST,
		    PURCHASE_BAD_REQUEST, 0, 0, 0 },
		{ "{\"venueId\":\"V 1\",\"eventId\":\"E\",\"zoneId\":1,"
		    "\"quantity\":1}", PURCHASE_BAD_REQUEST, PURCHASE_BAD_REQUEST,
		    0, 0, 0 },
		{ "[1]", PURCHASE_BAD_REQUEST, PURCHASE_BAD_REQUEST, 0, 0, 0 },
	};
	struct order_req o;
	const char	*why;
	size_t		 i;
	int		 holds;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		for (holds = 0; holds < 2; holds++) {
			enum purchase_err want = holds ? cases[i].hold :
			    cases[i].order;
			enum purchase_err e = purchase_order_from_json(
			    cases[i].body, strlen(cases[i].body), holds, &o,
			    &why);

			if (e != want)
				fail_msg("%s (holds %d): got %d, want %d",
				    cases[i].body, holds, e, want);
			if (e != PURCHASE_OK)
				continue;
			assert_int_equal(o.n, cases[i].n);
			assert_int_equal(o.quantity, cases[i].quantity);
			assert_int_equal(o.hold_seconds, holds ?
			    cases[i].hold_seconds : -1);
		}
}

static void
test_token_bodies(void **state)
{
	static const struct {
		const char	*body;
		int		 ok;
	} cases[] = {
		{ "{\"cancelToken\":\"zpSPLkLIVDrSpEi9qo5IHA\"}", 1 },
		{ "{\"cancelToken\":\"zpSPLkLIVDrSpEi9qo5IH\"}", 0 },
		{ "{\"cancelToken\":\"zpSPLkLIVDrSpEi9qo5IHAA\"}", 0 },
		{ "{\"cancelToken\":\"zpSPLkLIVDrSpEi9qo5IH=\"}", 0 },
		{ "{\"cancelToken\":\"zpSPLkLIVDrSpEi9qo5I\\u0000A\"}", 0 },
		{ "{\"cancelToken\":12}", 0 },
		{ "{}", 0 },
		{ "\"zpSPLkLIVDrSpEi9qo5IHA\"", 0 },
	};
	char		 tok[TOKEN_LEN + 1];
	const char	*why;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum purchase_err e = purchase_token_from_json(cases[i].body,
		    strlen(cases[i].body), tok, &why);

		if ((e == PURCHASE_OK) != cases[i].ok)
			fail_msg("%s: got %d", cases[i].body, e);
	}
}

/* "/holds/<holdId>[/confirm]": a holdId of 25 characters (128 random bits
 * and the slot), or of 22 made before; nothing else. */
static void
test_hold_paths(void **state)
{
	static const struct {
		const char	*path;
		enum hold_path	 want;
		const char	*id;
	} cases[] = {
		{ "/holds/Z9lcS81-_79QFLgsZmQmjAAbc", HOLD_PATH_HOLD,
		    "Z9lcS81-_79QFLgsZmQmjAAbc" },
		{ "/holds/Z9lcS81-_79QFLgsZmQmjAAbc/confirm", HOLD_PATH_CONFIRM,
		    "Z9lcS81-_79QFLgsZmQmjAAbc" },
		{ "/holds/Z9lcS81-_79QFLgsZmQmjA", HOLD_PATH_HOLD,
		    "Z9lcS81-_79QFLgsZmQmjA" },
		{ "/holds/Z9lcS81-_79QFLgsZmQmjA/confirm", HOLD_PATH_CONFIRM,
		    "Z9lcS81-_79QFLgsZmQmjA" },
		{ "/holds/Z9lcS81-_79QFLgsZmQmjAA", HOLD_PATH_NONE, NULL },
		{ "/holds/Z9lcS81-_79QFLgsZmQmjAAb", HOLD_PATH_NONE, NULL },
		{ "/holds/Z9lcS81-_79QFLgsZmQmjAAbcd", HOLD_PATH_NONE, NULL },
		{ "/holds/Z9lcS81-_79QFLgsZmQmjAA.c", HOLD_PATH_NONE, NULL },
		{ "/holds/Z9lcS81-_79QFLgsZmQmjAAbc/", HOLD_PATH_NONE, NULL },
		{ "/holds/Z9lcS81-_79QFLgsZmQmjAAbc/confirmx", HOLD_PATH_NONE,
		    NULL },
		{ "/holds/", HOLD_PATH_NONE, NULL },
		{ "/holds", HOLD_PATH_NONE, NULL },
		{ "/holdsZ9lcS81-_79QFLgsZmQmjAAbc", HOLD_PATH_NONE, NULL },
	};
	char	id[HOLD_ID_LEN + 1];
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum hold_path h = purchase_hold_path(cases[i].path, id);

		if (h != cases[i].want)
			fail_msg("%s: got %d", cases[i].path, h);
		if (cases[i].id != NULL)
			assert_string_equal(id, cases[i].id);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_ok),
		cmocka_unit_test(test_json_not_json),
		cmocka_unit_test(test_json_not_object),
		cmocka_unit_test(test_json_trailing),
		cmocka_unit_test(test_json_whitespace),
		cmocka_unit_test(test_json_missing),
		cmocka_unit_test(test_json_mistyped),
		cmocka_unit_test(test_json_ids),
		cmocka_unit_test(test_json_ranges),
		cmocka_unit_test(test_json_utf8),
		cmocka_unit_test(test_json_nesting),
		cmocka_unit_test(test_json_duplicates_and_extras),
		cmocka_unit_test(test_json_len_respected),
		cmocka_unit_test(test_form_query),
		cmocka_unit_test(test_form_body),
		cmocka_unit_test(test_form_decoding),
		cmocka_unit_test(test_form_missing_and_bad),
		cmocka_unit_test(test_form_rows),
		cmocka_unit_test(test_form_get),
		cmocka_unit_test(test_form_long_value),
		cmocka_unit_test(test_order_bodies),
		cmocka_unit_test(test_token_bodies),
		cmocka_unit_test(test_hold_paths),
	};

	return cmocka_run_group_tests_name("purchase", tests, NULL, NULL);
}
