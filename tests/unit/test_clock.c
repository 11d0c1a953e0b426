/* SPDX-License-Identifier: ISC */
/*
 * test_clock.c - unit tests of shared/clock.c: the monotonic clock never goes
 * back and agrees with itself in ms and us; the wall clock is the epoch's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>

#include <cmocka.h>

#include "clock.h"

static void
test_mono_never_goes_back(void **state)
{
	long long	prev = mono_us(), now;
	int		i;

	(void)state;
	for (i = 0; i < 10000; i++) {
		now = mono_us();
		assert_true(now >= prev);
		prev = now;
	}
}

static void
test_mono_units_agree(void **state)
{
	long long	ms = mono_ms(), us = mono_us(), ms2 = mono_ms();

	(void)state;
	assert_true(us / 1000 >= ms);
	assert_true(us / 1000 <= ms2);
}

/* Milliseconds since the epoch by gettimeofday(), for comparison.  Not
 * time(): glibc reads the coarse clock there, up to a kernel tick behind,
 * so a wall_ms() just past a second could come out after a time() taken
 * after it (the test failed 6 times in 3,000 runs that way). */
static long long
tod_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static void
test_wall_is_the_epoch(void **state)
{
	long long	before = tod_ms(), ms = wall_ms(), after = tod_ms();

	(void)state;
	assert_true(ms >= before);
	assert_true(ms <= after);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mono_never_goes_back),
		cmocka_unit_test(test_mono_units_agree),
		cmocka_unit_test(test_wall_is_the_epoch),
	};

	return cmocka_run_group_tests_name("clock", tests, NULL, NULL);
}
