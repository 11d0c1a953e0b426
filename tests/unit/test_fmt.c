/* SPDX-License-Identifier: ISC */
/*
 * test_fmt.c - unit tests of shared/fmt.c: a message that fits is whole, one
 * that does not is cut with "..." at the end, never past its buffer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fmt.h"

static void
test_fmt_trunc(void **state)
{
	static const struct {
		size_t		 size;
		const char	*arg;
		int		 ret;
		const char	*want;
	} cases[] = {
		{ 16, "short",		  0, "amqp: short" },
		{ 12, "short",		  0, "amqp: short" },	/* exactly */
		{ 11, "short",		 -1, "amqp: s..." },
		{ 8,  "a longer reason", -1, "amqp..." },
		{ 4,  "x",		 -1, "..." },
	};
	char	buf[32];
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(buf, 'Z', sizeof(buf));
		assert_int_equal(fmt_trunc(buf, cases[i].size, "amqp: %s",
		    cases[i].arg), cases[i].ret);
		assert_string_equal(buf, cases[i].want);
		assert_int_equal(buf[cases[i].size], 'Z');	/* not past */
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fmt_trunc),
	};

	return cmocka_run_group_tests_name("fmt", tests, NULL, NULL);
}
