/* SPDX-License-Identifier: ISC */
/*
 * test_jout.c - unit tests of fcgi/query/jout.c, the JSON writer of the
 * query responder.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "jout.h"

static const char *
done(struct jout *j)
{
	size_t		 len = 0;
	const char	*s = jout_done(j, &len);

	assert_non_null(s);
	assert_int_equal(strlen(s), len);
	return s;
}

static void
test_document(void **state)
{
	struct jout j;

	(void)state;
	jout_init(&j, 1024);
	jout_obj_open(&j, NULL);
	jout_str(&j, "eventId", "Event1");
	jout_int(&j, "sold", 0);
	jout_num(&j, "revenue", "320.00");
	jout_arr_open(&j, "zones");
	jout_obj_open(&j, NULL);
	jout_int(&j, "zoneId", -2147483647LL);
	jout_obj_close(&j);
	jout_obj_open(&j, NULL);
	jout_obj_close(&j);
	jout_null(&j, NULL);
	jout_bool(&j, NULL, 1);
	jout_bool(&j, NULL, 0);
	jout_raw(&j, NULL, "{\"a\":1}", 7);
	jout_arr_close(&j);
	jout_arr_open(&j, "empty");
	jout_arr_close(&j);
	jout_null(&j, "next");
	jout_obj_close(&j);
	assert_string_equal(done(&j), "{\"eventId\":\"Event1\",\"sold\":0,"
	    "\"revenue\":320.00,\"zones\":[{\"zoneId\":-2147483647},{},null,"
	    "true,false,{\"a\":1}],\"empty\":[],\"next\":null}");
	/* reset keeps the buffer, starts a new document */
	jout_reset(&j);
	jout_arr_open(&j, NULL);
	jout_arr_close(&j);
	assert_string_equal(done(&j), "[]");
	jout_free(&j);
}

static void
test_escapes(void **state)
{
	struct jout j;

	(void)state;
	jout_init(&j, 1024);
	jout_str(&j, NULL, "q\"b\\s/\x01\n\t\x1f\x7f \xc3\xbc");
	assert_string_equal(done(&j),
	    "\"q\\\"b\\\\s/\\u0001\\u000a\\u0009\\u001f\x7f \xc3\xbc\"");
	jout_free(&j);
}

static void
test_cap(void **state)
{
	struct jout	j;
	size_t		len;
	int		i;

	(void)state;
	/* exactly at the cap is fine */
	jout_init(&j, 7);
	jout_str(&j, NULL, "abcde");
	assert_string_equal(done(&j), "\"abcde\"");
	jout_free(&j);
	/* one byte over fails, and stays failed */
	jout_init(&j, 7);
	jout_str(&j, NULL, "abcdef");
	assert_int_equal(jout_error(&j), JOUT_TOO_LARGE);
	assert_null(jout_done(&j, &len));
	jout_free(&j);
	/* growing past the first chunk */
	jout_init(&j, 1 << 20);
	jout_arr_open(&j, NULL);
	for (i = 0; i < 10000; i++)
		jout_int(&j, NULL, i);
	jout_arr_close(&j);
	assert_int_equal(jout_error(&j), JOUT_OK);
	assert_non_null(jout_done(&j, &len));
	assert_int_equal(len, 48891);
	jout_free(&j);
}

static void
test_misuse(void **state)
{
	struct jout	j;
	size_t		len;
	int		i;

	(void)state;
	jout_init(&j, 1024);
	assert_null(jout_done(&j, &len));	/* nothing written */
	jout_obj_open(&j, NULL);
	assert_null(jout_done(&j, &len));	/* still open */
	jout_free(&j);

	jout_init(&j, 1024);
	jout_arr_close(&j);
	assert_int_equal(jout_error(&j), JOUT_MISUSE);
	jout_free(&j);

	jout_init(&j, 1024);
	jout_int(&j, NULL, 1);
	jout_int(&j, NULL, 2);			/* two top-level values */
	assert_int_equal(jout_error(&j), JOUT_MISUSE);
	jout_free(&j);

	jout_init(&j, 1024);
	jout_num(&j, NULL, "1,5");
	assert_int_equal(jout_error(&j), JOUT_MISUSE);
	jout_free(&j);

	jout_init(&j, 1 << 16);
	for (i = 0; i < JOUT_DEPTH_MAX + 2; i++)
		jout_arr_open(&j, NULL);
	assert_int_equal(jout_error(&j), JOUT_MISUSE);
	jout_free(&j);
}

static void
test_is_number(void **state)
{
	static const char *const good[] = {
		"0", "-0", "320.00", "0.05", "12", "-1.5e10", "1E+2", "1e-2"
	};
	static const char *const bad[] = {
		"", "-", "01", "1.", ".5", "1e", "+1", "1,0", "0x1", "NaN",
		"1 ", " 1", "1.2.3", "e5"
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_int_equal(jout_is_number(good[i]), 1);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(jout_is_number(bad[i]), 0);
	assert_int_equal(jout_is_number(NULL), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_document),
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_cap),
		cmocka_unit_test(test_misuse),
		cmocka_unit_test(test_is_number),
	};

	return cmocka_run_group_tests_name("jout", tests, NULL, NULL);
}
