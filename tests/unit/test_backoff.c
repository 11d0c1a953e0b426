/* SPDX-License-Identifier: ISC */
/*
 * test_backoff.c - unit tests of consumer/backoff.c: the ceiling and the
 * bounds of full jitter.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "backoff.h"

static void
test_backoff_ceiling(void **state)
{
	static const long want[] = { 50, 100, 200, 400, 800, 1600, 3200,
	    5000, 5000 };
	unsigned i;

	(void)state;
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_int_equal(backoff_ceiling(i, 50, 5000), want[i]);
	assert_int_equal(backoff_ceiling(1000, 50, 5000), 5000);
	assert_int_equal(backoff_ceiling(4000000000u, 50, 600000), 600000);
	assert_int_equal(backoff_ceiling(63, 1, 0x7fffffffL), 0x7fffffffL);
	assert_int_equal(backoff_ceiling(0, 50, 10), 10);	/* cap < base */
	assert_int_equal(backoff_ceiling(3, 0, 10), 8);	/* base 0 -> 1 */
	assert_int_equal(backoff_ceiling(3, 50, 0), 1);
}

static void
test_backoff_full_jitter(void **state)
{
	unsigned	 a;
	long		 ms, c, max;
	double		 sum;
	int		 i, zero_seen;

	(void)state;
	for (a = 0; a < 20; a++) {
		c = backoff_ceiling(a, 50, 5000);
		/* the whole range [0, ceiling] is reachable, nothing beyond */
		assert_int_equal(backoff_ms(a, 50, 5000, 0), 0);
		assert_int_equal(backoff_ms(a, 50, 5000, (uint64_t)c), c);
		assert_int_equal(backoff_ms(a, 50, 5000, (uint64_t)c + 1), 0);
		assert_true(backoff_ms(a, 50, 5000, UINT64_MAX) <= c);
		sum = 0;
		max = 0;
		zero_seen = 0;
		for (i = 0; i < 20000; i++) {
			ms = backoff_ms(a, 50, 5000, backoff_rand());
			assert_true(ms >= 0 && ms <= c);
			sum += (double)ms;
			if (ms > max)
				max = ms;
			if (ms * 20 < c)
				zero_seen = 1;
		}
		/* uniform over [0, c]: mean near c/2, both ends visited */
		assert_true(sum / 20000 > c * 0.45 && sum / 20000 < c * 0.55);
		assert_true(max * 20 >= c * 19);
		assert_true(zero_seen);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backoff_ceiling),
		cmocka_unit_test(test_backoff_full_jitter),
	};

	return cmocka_run_group_tests_name("backoff", tests, NULL, NULL);
}
