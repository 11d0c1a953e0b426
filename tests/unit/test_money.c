/* SPDX-License-Identifier: ISC */
/*
 * test_money.c - unit tests of fcgi/query/money.c: exact amounts in cents,
 * parsed, formatted and made canonical.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "money.h"

static void
test_money_parse(void **state)
{
	static const struct {
		const char	*in;
		int		 ret;
		long long	 cents;
	} cases[] = {
		{ "320.00", 0, 32000 },
		{ "95.5", 0, 9550 },
		{ "0", 0, 0 },
		{ "9999999999999999.99", 0, 999999999999999999LL },
		{ "10000000000000000", -1, 0 },
		{ "1.005", -1, 0 },
		{ "1.", -1, 0 },
		{ ".5", -1, 0 },
		{ "-1.00", -1, 0 },
		{ "1e3", -1, 0 },
		{ "", -1, 0 },
		{ NULL, -1, 0 },
	};
	long long	c;
	size_t		i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		c = -42;
		if (money_parse(cases[i].in, &c) != cases[i].ret)
			fail_msg("money_parse(\"%s\") != %d", cases[i].in ?
			    cases[i].in : "(null)", cases[i].ret);
		if (cases[i].ret == 0)
			assert_int_equal(c, cases[i].cents);
	}
}

static void
test_money_format(void **state)
{
	static const struct {
		long long	 cents;
		size_t		 size;
		int		 ret;
		const char	*want;
	} cases[] = {
		{ 0, MONEY_TEXT_MAX, 4, "0.00" },
		{ 5, MONEY_TEXT_MAX, 4, "0.05" },
		{ 1234550, MONEY_TEXT_MAX, 8, "12345.50" },
		{ -1, MONEY_TEXT_MAX, -1, NULL },
		{ 100, 4, -1, NULL },			/* "1.00" + NUL */
	};
	char	buf[MONEY_TEXT_MAX];
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(money_format(cases[i].cents, buf,
		    cases[i].size), cases[i].ret);
		if (cases[i].want != NULL)
			assert_string_equal(buf, cases[i].want);
	}
}

static void
test_money_canon(void **state)
{
	static const struct {
		const char	*in;
		int		 ret;
		const char	*want;
	} cases[] = {
		{ "0", 4, "0.00" },
		{ "007.5", 4, "7.50" },
		{ "x", -1, NULL },
	};
	char	buf[MONEY_TEXT_MAX];
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(money_canon(cases[i].in, buf, sizeof(buf)),
		    cases[i].ret);
		if (cases[i].want != NULL)
			assert_string_equal(buf, cases[i].want);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_money_parse),
		cmocka_unit_test(test_money_format),
		cmocka_unit_test(test_money_canon),
	};

	return cmocka_run_group_tests_name("money", tests, NULL, NULL);
}
