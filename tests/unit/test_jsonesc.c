/* SPDX-License-Identifier: ISC */
/*
 * test_jsonesc.c - unit tests of shared/jsonesc.c: JSON string escaping.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "jsonesc.h"

static void
test_escape(void **state)
{
	char	buf[64];

	(void)state;
	assert_int_equal(json_escape("plain text", buf, sizeof(buf)), 10);
	assert_string_equal(buf, "plain text");
	assert_int_equal(json_escape("", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	assert_int_equal(json_escape("a\"b\\c", buf, sizeof(buf)), 7);
	assert_string_equal(buf, "a\\\"b\\\\c");
	assert_int_equal(json_escape("\n\r\t\x01\x1f", buf, sizeof(buf)),
	    30);
	assert_string_equal(buf, "\\u000a\\u000d\\u0009\\u0001\\u001f");
	/* bytes >= 0x20 other than '"' and '\' pass, UTF-8 included */
	assert_int_equal(json_escape("/ \x7f caf\xc3\xa9", buf,
	    sizeof(buf)), 9);
	assert_string_equal(buf, "/ \x7f caf\xc3\xa9");
	assert_int_equal(json_escape("</script>", buf, sizeof(buf)), 9);
}

static void
test_escape_sizes(void **state)
{
	char	buf[16];

	(void)state;
	/* size counts the NUL */
	assert_int_equal(json_escape("abc", buf, 4), 3);
	assert_string_equal(buf, "abc");
	assert_int_equal(json_escape("abcd", buf, 4), -1);
	assert_int_equal(json_escape("a\"", buf, 4), 3);
	assert_string_equal(buf, "a\\\"");
	assert_int_equal(json_escape("ab\"", buf, 4), -1);
	/* an escape is never cut in half */
	assert_int_equal(json_escape("\x01", buf, 7), 6);
	assert_int_equal(json_escape("\x01", buf, 6), -1);
	assert_int_equal(json_escape("", buf, 1), 0);
	assert_int_equal(json_escape("x", buf, 1), -1);
	assert_int_equal(json_escape("", buf, 0), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_escape_sizes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
