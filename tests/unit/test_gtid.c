/* SPDX-License-Identifier: ISC */
/*
 * test_gtid.c - unit tests of fcgi/query/gtid.c: MariaDB GTID positions
 * parsed and compared.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "gtid.h"

static void
test_gtid_parse(void **state)
{
	static const struct {
		const char	*in;
		int		 ret, n;
		unsigned long long seq0;
	} cases[] = {
		{ "", 0, 0, 0 },
		{ "  ", 0, 0, 0 },
		{ "0-1-42", 0, 1, 42 },
		{ "0-1-42,1-2-7", 0, 2, 42 },
		{ "0-1-42, 1-2-7", 0, 2, 42 },
		{ "0-1-18446744073709551615", 0, 1, 18446744073709551615ULL },
		{ "0-1-18446744073709551616", -1, 0, 0 },
		{ "4294967296-1-1", -1, 0, 0 },
		{ "0-1-42,0-2-43", -1, 0, 0 },	/* a domain twice */
		{ "0-1", -1, 0, 0 },
		{ "0-1-", -1, 0, 0 },
		{ "0-1-42,", -1, 0, 0 },
		{ "-0-1-42", -1, 0, 0 },
		{ "0-+1-42", -1, 0, 0 },
		{ "0-1-42x", -1, 0, 0 },
		{ "a-1-42", -1, 0, 0 },
		{ NULL, -1, 0, 0 },
	};
	struct gtid_pos	p;
	size_t		i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (gtid_parse(cases[i].in, &p) != cases[i].ret)
			fail_msg("gtid_parse(\"%s\") != %d", cases[i].in ?
			    cases[i].in : "(null)", cases[i].ret);
		if (cases[i].ret != 0)
			continue;
		assert_int_equal(p.n, cases[i].n);
		if (p.n > 0)
			assert_true(p.seq[0] == cases[i].seq0);
	}
}

static void
test_gtid_parse_domain_cap(void **state)
{
	char		buf[1024];
	struct gtid_pos	p;
	size_t		n = 0;
	int		i;

	(void)state;
	for (i = 0; i < GTID_DOMAINS_MAX; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%d-1-%d",
		    i ? "," : "", i, i);
	assert_int_equal(gtid_parse(buf, &p), 0);
	assert_int_equal(p.n, GTID_DOMAINS_MAX);
	snprintf(buf + n, sizeof(buf) - n, ",99-1-1");
	assert_int_equal(gtid_parse(buf, &p), -1);
}

static int
reached(const char *have, const char *want)
{
	struct gtid_pos	h, w;

	assert_int_equal(gtid_parse(have, &h), 0);
	assert_int_equal(gtid_parse(want, &w), 0);
	return gtid_reached(&h, &w);
}

static void
test_gtid_reached(void **state)
{
	(void)state;
	assert_int_equal(reached("0-1-42", "0-1-42"), 1);
	assert_int_equal(reached("0-1-43", "0-1-42"), 1);
	assert_int_equal(reached("0-1-41", "0-1-42"), 0);
	assert_int_equal(reached("0-2-42", "0-1-42"), 1);	/* failover */
	assert_int_equal(reached("", "0-1-1"), 0);
	assert_int_equal(reached("0-1-1", ""), 1);
	assert_int_equal(reached("", ""), 1);
	assert_int_equal(reached("0-1-9,1-1-5", "1-1-5,0-1-9"), 1);
	assert_int_equal(reached("0-1-9,1-1-4", "1-1-5,0-1-9"), 0);
	assert_int_equal(reached("0-1-9", "0-1-9,1-1-1"), 0);
	assert_int_equal(reached("0-1-9,1-1-1", "0-1-9"), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gtid_parse),
		cmocka_unit_test(test_gtid_parse_domain_cap),
		cmocka_unit_test(test_gtid_reached),
	};

	return cmocka_run_group_tests_name("gtid", tests, NULL, NULL);
}
