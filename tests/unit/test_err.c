/* SPDX-License-Identifier: ISC */
/*
 * test_err.c - unit tests of shared/err.c: err_set() records the kind and
 * the message of a connection object's failure, a message longer than
 * ERRSTR_MAX ends in "..." inside the buffer, err_kind_str() names every
 * kind.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"

/* What a connection object carries (struct mq, db, ddb). */
struct conn {
	int	err;
	char	errstr[ERRSTR_MAX];
	char	after;		/* must stay untouched */
};

static void
test_err_set(void **state)
{
	struct conn	c;
	char		big[ERRSTR_MAX * 2];

	(void)state;
	memset(&c, 0, sizeof(c));
	c.after = 'Z';
	err_set(&c.err, c.errstr, ERR_IO, "mysql %s:%d: connect: %s",
	    "127.0.0.1", 3306, "refused");
	assert_int_equal(c.err, ERR_IO);
	assert_string_equal(c.errstr, "mysql 127.0.0.1:3306: connect: refused");

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	err_set(&c.err, c.errstr, ERR_SERVER, "dynamodb: %s", big);
	assert_int_equal(c.err, ERR_SERVER);
	assert_int_equal(strlen(c.errstr), ERRSTR_MAX - 1);
	assert_string_equal(c.errstr + ERRSTR_MAX - 4, "...");
	assert_int_equal(c.after, 'Z');
}

static void
test_err_kind_str(void **state)
{
	static const struct {
		int		 kind;
		const char	*want;
	} cases[] = {
		{ ERR_NONE,	"none" },
		{ ERR_IO,	"io" },
		{ ERR_SERVER,	"server" },
		{ ERR_OTHER,	"other" },
		{ 99,		"?" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_string_equal(err_kind_str(cases[i].kind),
		    cases[i].want);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_err_set),
		cmocka_unit_test(test_err_kind_str),
	};

	return cmocka_run_group_tests_name("err", tests, NULL, NULL);
}
