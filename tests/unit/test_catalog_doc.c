/* SPDX-License-Identifier: ISC */
/*
 * test_catalog_doc.c - unit tests of ctl/catalog_doc.c (the catalog
 * document of docs/catalog.md: parse, check, write back) and shared/when.c
 * (RFC 3339 instants and durations).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "catalog_doc.h"
#include "when.h"

static const char good[] =
    "{\"venues\": [{\"venueId\": \"V2\", \"name\": \"Hall \\\"B\\\"\", "
    "\"zones\": [{\"zoneId\": 2, \"rows\": 5, \"columns\": 12, \"price\": 95.5},"
    "{\"zoneId\": 1, \"rows\": 1, \"columns\": 8, \"price\": 250}]},"
    "{\"venueId\": \"V1\", \"name\": \"Arena\", \"zones\": [{\"zoneId\": 1, "
    "\"rows\": 26, \"columns\": 30, \"price\": 320.00}]}],"
    "\"events\": [{\"eventId\": \"E1\", \"venueId\": \"V1\", \"name\": \"N\","
    " \"type\": \"concert\", \"date\": \"2027-01-15T20:00:00Z\","
    " \"status\": \"SCHEDULED\", \"closesAt\": \"2027-01-15T19:00:00.250Z\","
    " \"onSale\": [{\"fromZone\": 21, \"toZone\": 100, \"opensAt\": "
    "\"2026-12-01T10:10:00Z\"}, {\"fromZone\": 1, \"toZone\": 20, "
    "\"opensAt\": \"2026-12-01T11:00:00+01:00\"}]},"
    "{\"eventId\": \"E0\", \"venueId\": \"V2\", \"name\": \"M\", \"type\": "
    "\"comedy\", \"date\": \"2027-02-01T15:00:00Z\", \"status\": "
    "\"CANCELLED\"}]}";

static int
parse(const char *s, struct catdoc *doc, char *err, size_t errlen)
{
	return catdoc_parse(s, strlen(s), doc, err, errlen);
}

static void
test_parse_good(void **state)
{
	struct catdoc			 doc;
	const struct catdoc_venue	*v;
	const struct catdoc_event	*e;
	char				 err[256];
	long long			 ms;

	(void)state;
	assert_int_equal(parse(good, &doc, err, sizeof(err)), 0);
	assert_int_equal(doc.nvenues, 2);
	assert_string_equal(doc.venues[0].id, "V1");	/* sorted */
	v = catdoc_venue(&doc, "V2");
	assert_non_null(v);
	assert_string_equal(v->name, "Hall \"B\"");
	assert_int_equal(v->zones[0].zone, 1);
	assert_int_equal(v->zones[0].cents, 25000);
	assert_int_equal(v->zones[1].cents, 9550);
	assert_int_equal(doc.venues[0].zones[0].cents, 32000);
	e = catdoc_event(&doc, "E1");
	assert_non_null(e);
	assert_int_equal(e->cancelled, 0);
	assert_int_equal(e->nonsale, 2);
	assert_int_equal(e->onsale[0].from, 1);
	assert_int_equal(when_parse("2026-12-01T10:00:00Z", &ms), 0);
	assert_true(e->onsale[0].opens_ms == ms);	/* +01:00 */
	assert_true(catdoc_opens(e, 20) == ms);
	assert_true(catdoc_opens(e, 101) == -1);
	assert_int_equal(e->closes_ms % 1000, 250);
	e = catdoc_event(&doc, "E0");
	assert_int_equal(e->cancelled, 1);
	assert_true(e->closes_ms == -1);
	assert_null(catdoc_event(&doc, "E9"));
	catdoc_free(&doc);
}

/* What is written reads back equal, and writing that again gives the same
 * bytes. */
static void
test_round_trip(void **state)
{
	struct catdoc	 a, b;
	char		*out1 = NULL, *out2 = NULL, err[256];
	size_t		 len1 = 0, len2 = 0;
	FILE		*f;

	(void)state;
	assert_int_equal(parse(good, &a, err, sizeof(err)), 0);
	assert_non_null(f = open_memstream(&out1, &len1));
	assert_int_equal(catdoc_write(&a, f), 0);
	fclose(f);
	assert_int_equal(catdoc_parse(out1, len1, &b, err, sizeof(err)), 0);
	assert_non_null(f = open_memstream(&out2, &len2));
	assert_int_equal(catdoc_write(&b, f), 0);
	fclose(f);
	assert_string_equal(out1, out2);
	assert_non_null(strstr(out1, "\"price\": 95.50"));
	assert_non_null(strstr(out1, "\"closesAt\": \"2027-01-15T19:00:00.250Z\""));
	assert_non_null(strstr(out1, "\"status\": \"CANCELLED\""));
	catdoc_free(&a);
	catdoc_free(&b);
	free(out1);
	free(out2);
}

static void
bad(const char *doc_text, const char *want)
{
	struct catdoc	doc;
	char		err[256];

	if (catdoc_parse(doc_text, strlen(doc_text), &doc, err, sizeof(err)) ==
	    0)
		fail_msg("accepted: %s", doc_text);
	if (strstr(err, want) == NULL)
		fail_msg("error '%s' does not say '%s'", err, want);
	catdoc_free(&doc);
}

#define V(z)	"{\"venues\": [{\"venueId\": \"V\", \"name\": \"n\", " \
		"\"zones\": [" z "]}], \"events\": []}"
#define Z	"{\"zoneId\": 1, \"rows\": 2, \"columns\": 3, \"price\": 10}"
#define E(e)	"{\"venues\": [{\"venueId\": \"V\", \"name\": \"n\", " \
		"\"zones\": [" Z "]}], \"events\": [" e "]}"
#define EV	"\"eventId\": \"E\", \"venueId\": \"V\", \"name\": \"n\", " \
		"\"type\": \"t\", \"date\": \"2027-01-01T00:00:00Z\""

static void
test_parse_bad(void **state)
{
	(void)state;
	bad("", "not a JSON document");
	bad("[]", "not a JSON object");
	bad("{\"venues\": []}", "\"events\" is not an array");
	bad("{\"venues\": [], \"events\": []} x", "not a JSON document");
	bad(V(Z) "\n{}", "not a JSON document");
	bad(V("{\"zoneId\": \"1\", \"rows\": 2, \"columns\": 3, \"price\": 1}"),
	    "\"zoneId\" is not an integer");
	bad(V("{\"zoneId\": 1.5, \"rows\": 2, \"columns\": 3, \"price\": 1}"),
	    "\"zoneId\" is not an integer");
	bad(V("{\"zoneId\": 0, \"rows\": 2, \"columns\": 3, \"price\": 1}"),
	    "\"zoneId\" must be 1..");
	bad(V("{\"zoneId\": 1, \"rows\": 10001, \"columns\": 3, \"price\": 1}"),
	    "\"rows\" must be");
	bad(V("{\"zoneId\": 1, \"rows\": 1001, \"columns\": 1000, "
	    "\"price\": 1}"), "zone 1: 1001 rows x 1000 columns is 1001000 "
	    "seats, more than a zone may have (1000000: its seat map must fit "
	    "one answer)");
	bad(V("{\"zoneId\": 1, \"rows\": 10000, \"columns\": 10000, "
	    "\"price\": 1}"), "more than a zone may have");
	{
		/* the most seats a zone may have, either shape */
		static const char *const most[] = {
			V("{\"zoneId\": 1, \"rows\": 1000, \"columns\": 1000, "
			"\"price\": 1}"),
			V("{\"zoneId\": 1, \"rows\": 10000, \"columns\": 100, "
			"\"price\": 1}") };
		struct catdoc	doc;
		char		err[256];
		size_t		i;

		for (i = 0; i < 2; i++) {
			if (catdoc_parse(most[i], strlen(most[i]), &doc, err,
			    sizeof(err)) != 0)
				fail_msg("refused: %s (%s)", most[i], err);
			catdoc_free(&doc);
		}
	}
	bad(V("{\"zoneId\": 1, \"rows\": 2, \"columns\": 3, \"price\": 1.005}"),
	    "at most 2 decimals");
	/* never rounded away, however dear the seat (the slack was once
	 * relative: a cent per 10,000.00) */
	bad(V("{\"zoneId\": 1, \"rows\": 2, \"columns\": 3, "
	    "\"price\": 1234567.891}"), "zone 1: \"price\" must have at most 2");
	bad(V("{\"zoneId\": 1, \"rows\": 2, \"columns\": 3, "
	    "\"price\": 9999999.995}"), "at most 2 decimals");
	bad(V("{\"zoneId\": 1, \"rows\": 2, \"columns\": 3, "
	    "\"price\": 20000.004}"), "at most 2 decimals");
	bad(V("{\"zoneId\": 1, \"rows\": 2, \"columns\": 3, "
	    "\"price\": 1.0001}"), "at most 2 decimals");
	bad(V("{\"zoneId\": 1, \"rows\": 2, \"columns\": 3, \"price\": -1}"),
	    "zone 1: \"price\" must be 0..9999999.99");
	bad(V("{\"zoneId\": 1, \"rows\": 2, \"columns\": 3, \"price\": 1e12}"),
	    "\"price\" must be");
	/* ten seats of a zone must fit an order's total, DECIMAL(10,2) */
	bad(V("{\"zoneId\": 4, \"rows\": 2, \"columns\": 3, "
	    "\"price\": 10000000}"), "venue V zone 4: \"price\" must be "
	    "0..9999999.99 (an order of 10 seats must fit a total of "
	    "99999999.99)");
	bad(V("{\"zoneId\": 4, \"rows\": 2, \"columns\": 3, "
	    "\"price\": 10000000.00}"), "zone 4: \"price\" must be 0..");
	bad(V("{\"zoneId\": 4, \"rows\": 2, \"columns\": 3, "
	    "\"price\": 9999999.999}"), "zone 4: \"price\" must be 0..");
	bad(V("{\"zoneId\": 4, \"rows\": 2, \"columns\": 3, "
	    "\"price\": 99999999.99}"), "zone 4: \"price\" must be 0..");
	bad(V("{\"zoneId\": 1, \"rows\": 2, \"columns\": 3, \"price\": \"1\"}"),
	    "not a number");
	bad(V(Z "," Z), "zone 1: twice");
	/* a venue that fails after its zones were allocated (leaked once:
	 * found by tests/fuzz/fuzz_catalog.c) */
	bad(V(Z ", {\"zoneId\": 2}"), "\"rows\" missing");
	bad("{\"venues\": [{\"venueId\": \"bad id\", \"name\": \"n\", "
	    "\"zones\": []}], \"events\": []}", "not an id");
	bad("{\"venues\": [{\"venueId\": \"V\", \"name\": \"\", "
	    "\"zones\": []}], \"events\": []}", "1 to 200 bytes");
	bad(E("{\"eventId\": \"E\", \"venueId\": \"W\", \"name\": \"n\", "
	    "\"type\": \"t\", \"date\": \"2027-01-01T00:00:00Z\"}"),
	    "venue W is not in the catalog");
	bad(E("{" EV "}, {" EV "}"), "event E: twice");
	bad(E("{" EV ", \"status\": \"POSTPONED\"}"), "SCHEDULED or CANCELLED");
	bad(E("{\"eventId\": \"E\", \"venueId\": \"V\", \"name\": \"n\", "
	    "\"type\": \"t\", \"date\": \"2027-02-30T00:00:00Z\"}"),
	    "not an RFC 3339 time");
	bad(E("{\"eventId\": \"E\", \"venueId\": \"V\", \"name\": \"n\", "
	    "\"type\": \"t\", \"date\": \"2027-01-01T00:00:00.5Z\"}"),
	    "fraction of a second");
	bad(E("{" EV ", \"onSale\": [{\"fromZone\": 5, \"toZone\": 4, "
	    "\"opensAt\": \"2027-01-01T00:00:00Z\"}]}"), "fromZone after toZone");
	bad(E("{" EV ", \"onSale\": [{\"fromZone\": 1, \"toZone\": 4, "
	    "\"opensAt\": \"2027-01-01T00:00:00Z\"}, {\"fromZone\": 4, "
	    "\"toZone\": 9, \"opensAt\": \"2027-01-01T00:00:00Z\"}]}"), "overlap");
	bad(E("{" EV ", \"closesAt\": 5}"), "\"closesAt\" is not a string");
	/* a misspelt member is refused, not left out in silence */
	bad("{\"venues\": [], \"events\": [], \"event\": []}",
	    "catalog: unknown member \"event\"");
	bad("{\"venues\": [{\"venueId\": \"V\", \"name\": \"n\", "
	    "\"zones\": [], \"zone\": []}], \"events\": []}",
	    "venue V: unknown member \"zone\"");
	bad(V("{\"zoneId\": 1, \"rows\": 2, \"columns\": 3, \"price\": 1, "
	    "\"cols\": 3}"), "venue V zone 1: unknown member \"cols\"");
	bad(E("{" EV ", \"onsale\": []}"), "event E: unknown member \"onsale\"");
	bad(E("{" EV ", \"closesat\": \"2027-01-01T00:00:00Z\"}"),
	    "event E: unknown member \"closesat\"");
	bad(E("{" EV ", \"onSale\": [{\"fromZone\": 1, \"toZone\": 4, "
	    "\"opensAt\": \"2027-01-01T00:00:00Z\", \"closesAt\": "
	    "\"2027-01-02T00:00:00Z\"}]}"),
	    "event E onSale #1: unknown member \"closesAt\"");
	/* a member given twice: json-c keeps the last, in silence */
	bad(E("{" EV ", \"status\": \"CANCELLED\", \"status\": "
	    "\"SCHEDULED\"}"), "member \"status\" given twice in one object");
	bad(E("{" EV ", \"onSale\": [{\"fromZone\": 1, \"toZone\": 4, "
	    "\"opensAt\": \"2027-01-01T00:00:00Z\"}], \"on\\u0053ale\": null}"),
	    "member \"onSale\" given twice");
	bad(V("{\"zoneId\": 1, \"rows\": 2, \"rows\": 3, \"columns\": 3, "
	    "\"price\": 1}"), "member \"rows\" given twice");
	bad("{\"venues\": [], \"events\": [], \"venues\": []}",
	    "member \"venues\" given twice");
	/* what json-c's strict mode still takes, and RFC 8259 does not: a
	 * single-quoted name hid a member given twice from the check above */
	bad(E("{" EV ", \"status\": \"CANCELLED\", 'status': "
	    "\"SCHEDULED\"}"), "not strict JSON");
	bad(E("{" EV ", 'onSale': null}"), "not strict JSON");
	bad(V("{\"zoneId\": 1, \"rows\": 2, \"columns\": 3, \"price\": 1.}"),
	    "not strict JSON");
	bad("{\"venues\": [{\"venueId\": \"V\", \"name\": \"Caf\xe9\", "
	    "\"zones\": []}], \"events\": []}", "not strict JSON");
	/* deeper than the nesting cap */
	bad("{\"venues\": [[[[[[[[[[1]]]]]]]]]], \"events\": []}",
	    "not a JSON document");
}

static void
test_when(void **state)
{
	char		out[WHEN_LEN + 1];
	long long	ms;

	(void)state;
	assert_int_equal(when_parse("1970-01-01T00:00:00Z", &ms), 0);
	assert_true(ms == 0);
	assert_int_equal(when_parse("2026-12-01T10:00:00Z", &ms), 0);
	assert_true(ms == 1796119200000LL);
	when_format(ms, out);
	assert_string_equal(out, "2026-12-01T10:00:00Z");
	assert_int_equal(when_parse("2024-02-29t23:59:59.5z", &ms), 0);
	when_format(ms, out);
	assert_string_equal(out, "2024-02-29T23:59:59.500Z");
	assert_int_equal(when_parse("2026-12-01T10:00:00-02:30", &ms), 0);
	when_format(ms, out);
	assert_string_equal(out, "2026-12-01T12:30:00Z");
	assert_int_equal(when_parse("2023-02-29T00:00:00Z", &ms), -1);
	assert_int_equal(when_parse("2026-12-01 10:00:00Z", &ms), -1);
	assert_int_equal(when_parse("2026-12-01T10:00:00", &ms), -1);
	assert_int_equal(when_parse("2026-12-01T10:00:00.1234Z", &ms), -1);
	assert_int_equal(when_parse("2026-12-01T24:00:00Z", &ms), -1);
	assert_int_equal(when_parse("1969-12-31T23:59:59Z", &ms), -1);
	assert_int_equal(when_parse("2026-12-01T10:00:00Zjunk", &ms), -1);
	assert_int_equal(when_duration("90s", &ms), 0);
	assert_true(ms == 90000);
	assert_int_equal(when_duration("5m", &ms), 0);
	assert_true(ms == 300000);
	assert_int_equal(when_duration("1h", &ms), 0);
	assert_true(ms == 3600000);
	assert_int_equal(when_duration("0s", &ms), -1);
	assert_int_equal(when_duration("5", &ms), -1);
	assert_int_equal(when_duration("m", &ms), -1);
	assert_int_equal(when_duration("5d", &ms), -1);
	assert_int_equal(when_duration("99999999999h", &ms), -1);
}

/* The dearest seat a document may price: ten of them fit DECIMAL(10,2). */
static void
test_price_limit(void **state)
{
	struct catdoc	doc;
	char		err[256];

	(void)state;
	assert_int_equal(parse(V("{\"zoneId\": 1, \"rows\": 2, \"columns\": 3, "
	    "\"price\": 9999999.99}"), &doc, err, sizeof(err)), 0);
	assert_true(doc.venues[0].zones[0].cents == 999999999LL);
	assert_true(CATDOC_PRICE_CENTS_MAX * ORDER_TICKETS_MAX <=
	    CATDOC_CENTS_MAX);
	catdoc_free(&doc);
	assert_int_equal(parse(V("{\"zoneId\": 1, \"rows\": 2, \"columns\": 3, "
	    "\"price\": 9999999}"), &doc, err, sizeof(err)), 0);
	assert_true(doc.venues[0].zones[0].cents == 999999900LL);
	catdoc_free(&doc);
	/* 2 decimals whose doubles are not whole cents times 100 */
	assert_int_equal(parse(V("{\"zoneId\": 1, \"rows\": 2, \"columns\": 3, "
	    "\"price\": 0.07}, {\"zoneId\": 2, \"rows\": 1, \"columns\": 1, "
	    "\"price\": 1234567.89}, {\"zoneId\": 3, \"rows\": 1, "
	    "\"columns\": 1, \"price\": 9999999.97}"), &doc, err,
	    sizeof(err)), 0);
	assert_true(doc.venues[0].zones[0].cents == 7);
	assert_true(doc.venues[0].zones[1].cents == 123456789LL);
	assert_true(doc.venues[0].zones[2].cents == 999999997LL);
	catdoc_free(&doc);
}

static void
test_cents(void **state)
{
	char		p[CATDOC_PRICE_LEN];
	long long	c;

	(void)state;
	assert_int_equal(catdoc_cents("95.50", &c), 0);
	assert_true(c == 9550);
	assert_int_equal(catdoc_cents("320", &c), 0);
	assert_true(c == 32000);
	assert_int_equal(catdoc_cents("0.5", &c), 0);
	assert_true(c == 50);
	assert_int_equal(catdoc_cents("1.234", &c), -1);
	assert_int_equal(catdoc_cents("", &c), -1);
	assert_int_equal(catdoc_cents("1.2.3", &c), -1);
	catdoc_price(9999999999LL, p);
	assert_string_equal(p, "99999999.99");
	catdoc_price(5, p);
	assert_string_equal(p, "0.05");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_price_limit),
		cmocka_unit_test(test_when),
		cmocka_unit_test(test_cents),
	};

	return cmocka_run_group_tests_name("catalog_doc", tests, NULL, NULL);
}
