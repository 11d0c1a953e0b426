/* SPDX-License-Identifier: ISC */
/*
 * test_valid.c - unit tests of shared/valid.c: identifiers, UUIDs, numbers,
 * legacy row labels and the strict JSON recogniser.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "valid.h"

static void
test_id_accepts(void **state)
{
	char	max[ID_MAX + 1];

	(void)state;
	assert_int_equal(valid_id("Venue1"), 1);
	assert_int_equal(valid_id("a"), 1);
	assert_int_equal(valid_id("A_b-9"), 1);
	assert_int_equal(valid_id("-"), 1);
	assert_int_equal(valid_id("_"), 1);
	memset(max, 'x', ID_MAX);
	max[ID_MAX] = '\0';
	assert_int_equal(valid_id(max), 1);
}

static void
test_id_rejects(void **state)
{
	char	big[ID_MAX + 2];

	(void)state;
	assert_int_equal(valid_id(NULL), 0);
	assert_int_equal(valid_id(""), 0);
	assert_int_equal(valid_id("Venue 1"), 0);
	assert_int_equal(valid_id("Venue/1"), 0);
	assert_int_equal(valid_id("../etc"), 0);
	assert_int_equal(valid_id("Venue.1"), 0);
	assert_int_equal(valid_id("Venue1\n"), 0);
	assert_int_equal(valid_id("V\xc3\xa9nue"), 0);	/* é */
	assert_int_equal(valid_id("{tag}"), 0);
	assert_int_equal(valid_id("a:b"), 0);
	assert_int_equal(valid_id("%41"), 0);
	memset(big, 'x', ID_MAX + 1);
	big[ID_MAX + 1] = '\0';
	assert_int_equal(valid_id(big), 0);
}

static void
test_id_n(void **state)
{
	(void)state;
	assert_int_equal(valid_id_n("Venue1", 6), 1);
	/* only len bytes count: no terminator needed */
	assert_int_equal(valid_id_n("Venue1!!!", 6), 1);
	assert_int_equal(valid_id_n("Venue1", 0), 0);
	assert_int_equal(valid_id_n("Ven\0ue", 6), 0);	/* embedded NUL */
	assert_int_equal(valid_id_n("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxx", 65), 0);
}

static void
test_uuid(void **state)
{
	(void)state;
	assert_int_equal(valid_uuid("0190f5e2-7a3b-7c4d-8e5f-0123456789ab"), 1);
	assert_int_equal(valid_uuid("00000000-0000-0000-0000-000000000000"), 1);
	/* upper case is not canonical */
	assert_int_equal(valid_uuid("0190F5E2-7A3B-7C4D-8E5F-0123456789AB"), 0);
	assert_int_equal(valid_uuid("0190f5e2-7a3b-7c4d-8e5f-0123456789a"), 0);
	assert_int_equal(valid_uuid("0190f5e2-7a3b-7c4d-8e5f-0123456789abc"), 0);
	assert_int_equal(valid_uuid("0190f5e27a3b-7c4d-8e5f-0123456789ab-"), 0);
	assert_int_equal(valid_uuid("0190f5e2_7a3b_7c4d_8e5f_0123456789ab"), 0);
	assert_int_equal(valid_uuid("0190f5e2-7a3b-7c4d-8e5f-0123456789ag"), 0);
	assert_int_equal(valid_uuid("{190f5e2-7a3b-7c4d-8e5f-0123456789ab}"), 0);
	assert_int_equal(valid_uuid(""), 0);
	assert_int_equal(valid_uuid(NULL), 0);
}

static void
test_digits(void **state)
{
	long	v = -7;

	(void)state;
	assert_int_equal(valid_digits("0", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(valid_digits("42", &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(valid_digits("007", &v), 0);
	assert_int_equal(v, 7);
	assert_int_equal(valid_digits("999999999999999999", &v), 0);	/* 18 */
	assert_true(v == 999999999999999999L);
	v = -7;
	assert_int_equal(valid_digits("1000000000000000000", &v), -1);	/* 19 */
	assert_int_equal(valid_digits("99999999999999999999999", &v), -1);
	assert_int_equal(valid_digits("", &v), -1);
	assert_int_equal(valid_digits(NULL, &v), -1);
	assert_int_equal(valid_digits("-1", &v), -1);
	assert_int_equal(valid_digits("+1", &v), -1);
	assert_int_equal(valid_digits(" 1", &v), -1);
	assert_int_equal(valid_digits("1 ", &v), -1);
	assert_int_equal(valid_digits("1a", &v), -1);
	assert_int_equal(valid_digits("0x10", &v), -1);
	assert_int_equal(valid_digits("1.5", &v), -1);
	assert_int_equal(v, -7);	/* untouched on error */
}

static void
test_long(void **state)
{
	long	v = 99;

	(void)state;
	assert_int_equal(valid_long("5", 1, 10, &v), 0);
	assert_int_equal(v, 5);
	assert_int_equal(valid_long("1", 1, 10, &v), 0);
	assert_int_equal(valid_long("10", 1, 10, &v), 0);
	assert_int_equal(v, 10);
	assert_int_equal(valid_long("-5", -10, 10, &v), 0);
	assert_int_equal(v, -5);
	assert_int_equal(valid_long("0", 0, 0, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(valid_long("2147483647", 1, SEAT_MAX, &v), 0);
	assert_true(v == SEAT_MAX);
	v = 99;
	assert_int_equal(valid_long("2147483648", 1, SEAT_MAX, &v), -1);
	assert_int_equal(valid_long("0", 1, 10, &v), -1);
	assert_int_equal(valid_long("11", 1, 10, &v), -1);
	assert_int_equal(valid_long("-1", 1, 10, &v), -1);
	assert_int_equal(valid_long("-", -10, 10, &v), -1);
	assert_int_equal(valid_long("--1", -10, 10, &v), -1);
	assert_int_equal(valid_long("", 0, 10, &v), -1);
	assert_int_equal(valid_long(NULL, 0, 10, &v), -1);
	assert_int_equal(valid_long("5 ", 0, 10, &v), -1);
	assert_int_equal(valid_long("5k", 0, 10, &v), -1);
	assert_int_equal(valid_long("99999999999999999999", 0, SEAT_MAX, &v),
	    -1);
	assert_int_equal(v, 99);
}

static void
expect_label(const char *s, long want)
{
	long v = -1;

	assert_int_equal(valid_row_label(s, &v), VALID_ROW_OK);
	assert_int_equal(v, want);
}

static void
test_row_label_letters(void **state)
{
	(void)state;
	expect_label("A", 1);
	expect_label("B", 2);
	expect_label("Z", 26);
	expect_label("AA", 27);
	expect_label("AZ", 52);
	expect_label("BA", 53);
	expect_label("ZZ", 702);
	expect_label("AAA", 703);
	expect_label("a", 1);
	expect_label("z", 26);
	expect_label("aa", 27);
	expect_label("aZ", 52);
	expect_label("bA", 53);
	/* the largest row: 2^31-1 in bijective base 26 */
	expect_label("FXSHRXW", SEAT_MAX);
}

static void
test_row_label_numbers(void **state)
{
	(void)state;
	expect_label("1", 1);
	expect_label("26", 26);
	expect_label("27", 27);
	expect_label("01", 1);
	expect_label("2147483647", SEAT_MAX);
}

static void
test_row_label_range(void **state)
{
	long v = -5;

	(void)state;
	assert_int_equal(valid_row_label("0", &v), VALID_ROW_RANGE);
	assert_int_equal(valid_row_label("00", &v), VALID_ROW_RANGE);
	assert_int_equal(valid_row_label("2147483648", &v), VALID_ROW_RANGE);
	assert_int_equal(valid_row_label("99999999999999999999999", &v),
	    VALID_ROW_RANGE);
	assert_int_equal(valid_row_label("FXSHRXX", &v), VALID_ROW_RANGE);
	assert_int_equal(valid_row_label("ZZZZZZZ", &v), VALID_ROW_RANGE);
	assert_int_equal(valid_row_label("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", &v),
	    VALID_ROW_RANGE);
	assert_int_equal(v, -5);	/* untouched unless OK */
}

static void
test_row_label_junk(void **state)
{
	long v = -5;

	(void)state;
	assert_int_equal(valid_row_label("", &v), VALID_ROW_MALFORMED);
	assert_int_equal(valid_row_label(NULL, &v), VALID_ROW_MALFORMED);
	assert_int_equal(valid_row_label("A1", &v), VALID_ROW_MALFORMED);
	assert_int_equal(valid_row_label("1A", &v), VALID_ROW_MALFORMED);
	assert_int_equal(valid_row_label("-1", &v), VALID_ROW_MALFORMED);
	assert_int_equal(valid_row_label("+1", &v), VALID_ROW_MALFORMED);
	assert_int_equal(valid_row_label(" A", &v), VALID_ROW_MALFORMED);
	assert_int_equal(valid_row_label("A ", &v), VALID_ROW_MALFORMED);
	assert_int_equal(valid_row_label("A-B", &v), VALID_ROW_MALFORMED);
	assert_int_equal(valid_row_label("\xc3\x84", &v), VALID_ROW_MALFORMED);
	assert_int_equal(valid_row_label("[", &v), VALID_ROW_MALFORMED);
	assert_int_equal(valid_row_label("@", &v), VALID_ROW_MALFORMED);
	/* junk after an overflowing label is still junk */
	assert_int_equal(valid_row_label("ZZZZZZZZZZZZ1", &v),
	    VALID_ROW_MALFORMED);
	assert_int_equal(valid_row_label("99999999999999999999x", &v),
	    VALID_ROW_MALFORMED);
	assert_int_equal(v, -5);
}

struct json_case {
	const char	*text;
	int		 depth;
	int		 want;
};

/* Runs a table of valid_json() cases (the text up to its NUL). */
static void
json_cases(const struct json_case *c, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (valid_json(c[i].text, strlen(c[i].text), c[i].depth) !=
		    c[i].want)
			fail_msg("'%s' (depth %d): want %d", c[i].text,
			    c[i].depth, c[i].want);
}

static const struct json_case json_accepts[] = {
	{ "{}", 16, 1 },
	{ "[]", 16, 1 },
	{ " \t\r\n{ } \n", 16, 1 },
	{ "{\"a\":1,\"b\":[true,false,null],\"c\":{}}", 16, 1 },
	{ "0", 16, 1 },
	{ "-0", 16, 1 },
	{ "-12.5e+3", 16, 1 },
	{ "1E-2", 16, 1 },
	{ "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\uD834\"", 16, 1 },
	{ "\"\xc3\xa9\"", 16, 1 },
	{ "{ \"a\" : [ 1 , 2 ] , \"b\" : \"x\" }", 16, 1 },
	/* every value at most depth levels deep (json-c's count) */
	{ "[[[[]]]]", 4, 1 },
	{ "[[1]]", 3, 1 },
	{ "[[],[]]", 2, 1 },
	{ "{\"a\":1}", 2, 1 },
	{ "[]", 1, 1 },
	{ "1", 1, 1 },
	/* \u0000 in a value (its length is kept); in a name, not 0000 */
	{ "{\"a\":\"x\\u0000y\"}", 16, 1 },
	{ "{\"a\\u0001\":1,\"\\u0100\":2,\"\\u0030\":3}", 16, 1 },
};

static void
test_json_accepts(void **state)
{
	(void)state;
	json_cases(json_accepts, sizeof(json_accepts) /
	    sizeof(json_accepts[0]));
	/* only len bytes count */
	assert_int_equal(valid_json("{}garbage", 2, 16), 1);
}

static const struct json_case json_rejects[] = {
	{ "", 16, 0 },
	{ "   ", 16, 0 },
	{ "{", 16, 0 },
	{ "}", 16, 0 },
	{ "{}{}", 16, 0 },
	{ "{} x", 16, 0 },
	{ "{'a':1}", 16, 0 },
	{ "{\"a\":'x'}", 16, 0 },
	{ "{a:1}", 16, 0 },
	{ "{\"a\" 1}", 16, 0 },
	{ "{\"a\":1,}", 16, 0 },
	{ "[1,]", 16, 0 },
	{ "[,1]", 16, 0 },
	{ "[1 2]", 16, 0 },
	{ "{\"a\":1 \"b\":2}", 16, 0 },
	{ "{1:1}", 16, 0 },
	{ "01", 16, 0 },
	{ "-01", 16, 0 },
	{ "00", 16, 0 },
	{ "1.", 16, 0 },
	{ ".5", 16, 0 },
	{ "+1", 16, 0 },
	{ "-", 16, 0 },
	{ "1e", 16, 0 },
	{ "1e+", 16, 0 },
	{ "0x10", 16, 0 },
	{ "Infinity", 16, 0 },
	{ "NaN", 16, 0 },
	{ "TRUE", 16, 0 },
	{ "tru", 16, 0 },
	{ "nul", 16, 0 },
	{ "\"abc", 16, 0 },
	{ "\"a\tb\"", 16, 0 },	/* raw control char */
	{ "\"a\nb\"", 16, 0 },
	{ "\"\\x41\"", 16, 0 },
	{ "\"\\u00\"", 16, 0 },
	{ "\"\\u00g0\"", 16, 0 },
	{ "\"\\", 16, 0 },
	{ "/*c*/{}", 16, 0 },
	{ "{}//c", 16, 0 },
	{ "\xef\xbb\xbf{}", 16, 0 },	/* BOM */
	{ "\xc3\xa9", 16, 0 },
	{ "[[[[[]]]]]", 4, 0 },	/* one too deep */
	{ "[[1]]", 2, 0 },
	{ "[1]", 1, 0 },
	{ "{\"a\":1}", 1, 0 },
	{ "1", 0, 0 },
	{ "{\"a\":{\"b\":{\"c\":{\"d\":{}}}}}", 4, 0 },
	/* a member name with \u0000: json-c cuts it there, so that
	 * "venueId\u0000" would stand for (replace) "venueId" */
	{ "{\"venueId\\u0000\":\"V\"}", 16, 0 },
	{ "{\"\\u0000\":1}", 16, 0 },
	{ "{\"a\":{\"b\\u0000c\":1}}", 16, 0 },
	{ "[{\"\\u0000\":1}]", 16, 0 },
};

static void
test_json_rejects(void **state)
{
	(void)state;
	json_cases(json_rejects, sizeof(json_rejects) /
	    sizeof(json_rejects[0]));
	assert_int_equal(valid_json(NULL, 0, 16), 0);
	assert_int_equal(valid_json("\"\\\0\"", 4, 16), 0);
	assert_int_equal(valid_json("\"a\0b\"", 5, 16), 0);	/* raw NUL */
	assert_int_equal(valid_json("{}\0", 3, 16), 0);
}

static const struct json_case json_utf8[] = {
	{ "\"\xc2\x80\"", 16, 1 },	/* U+0080 */
	{ "\"\xdf\xbf\"", 16, 1 },	/* U+07FF */
	{ "\"\xe0\xa0\x80\"", 16, 1 },	/* U+0800 */
	{ "\"\xed\x9f\xbf\"", 16, 1 },	/* U+D7FF */
	{ "\"\xee\x80\x80\"", 16, 1 },	/* U+E000 */
	{ "\"\xef\xbf\xbf\"", 16, 1 },	/* U+FFFF */
	{ "\"\xf0\x90\x80\x80\"", 16, 1 },	/* U+10000 */
	{ "\"\xf0\x9f\x8e\xab\"", 16, 1 },	/* ticket */
	{ "\"\xf4\x8f\xbf\xbf\"", 16, 1 },	/* U+10FFFF */
	{ "{\"\xc3\xa9\":1}", 16, 1 },
	/* overlong forms */
	{ "\"\xc0\xaf\"", 16, 0 },
	{ "\"\xc1\xbf\"", 16, 0 },
	{ "\"\xe0\x9f\xbf\"", 16, 0 },
	{ "\"\xf0\x8f\xbf\xbf\"", 16, 0 },
	/* encoded surrogates, beyond U+10FFFF, bytes never used */
	{ "\"\xed\xa0\x80\"", 16, 0 },
	{ "\"\xed\xbf\xbf\"", 16, 0 },
	{ "\"\xf4\x90\x80\x80\"", 16, 0 },
	{ "\"\xf5\x80\x80\x80\"", 16, 0 },
	{ "\"\xfe\"", 16, 0 },
	{ "\"\xff\"", 16, 0 },
	/* stray continuation bytes, cut sequences */
	{ "\"\x80\"", 16, 0 },
	{ "\"\xbf\"", 16, 0 },
	{ "\"\xc3\"", 16, 0 },
	{ "\"\xe2\x82\"", 16, 0 },
	{ "\"\xf0\x9f\x8e\"", 16, 0 },
	{ "\"\xc3\x28\"", 16, 0 },
};

static void
test_json_utf8(void **state)
{
	(void)state;
	json_cases(json_utf8, sizeof(json_utf8) / sizeof(json_utf8[0]));
	assert_int_equal(valid_json("\"\xe2\x82\xac\"", 3, 16), 0);
}

static void
test_json_deep(void **state)
{
	static char	deep[20001];

	(void)state;
	/* 10000 '[' and the matching ']': rejected without deep recursion */
	memset(deep, '[', 10000);
	memset(deep + 10000, ']', 10000);
	assert_int_equal(valid_json(deep, 20000, 16), 0);
	assert_int_equal(valid_json(deep, 10000, 16), 0);
	assert_int_equal(valid_json(deep + 9990, 20, 16), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_id_accepts),
		cmocka_unit_test(test_id_rejects),
		cmocka_unit_test(test_id_n),
		cmocka_unit_test(test_uuid),
		cmocka_unit_test(test_digits),
		cmocka_unit_test(test_long),
		cmocka_unit_test(test_row_label_letters),
		cmocka_unit_test(test_row_label_numbers),
		cmocka_unit_test(test_row_label_range),
		cmocka_unit_test(test_row_label_junk),
		cmocka_unit_test(test_json_accepts),
		cmocka_unit_test(test_json_rejects),
		cmocka_unit_test(test_json_utf8),
		cmocka_unit_test(test_json_deep),
	};

	return cmocka_run_group_tests_name("valid", tests, NULL, NULL);
}
