/* SPDX-License-Identifier: ISC */
/*
 * test_start.c - unit tests of shared/start.c's start_args(): the options
 * every program takes (-c FILE, -n, -h), a program's own letters through
 * its callback, and the exit statuses of -h (0) and of a usage error (2).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "start.h"

struct seen {
	int	usage_out;	/* usage printed on stdout */
	int	usage_err;	/* on stderr */
	char	parts[32];	/* -p's argument */
	int	refuse;		/* -p answers -1 */
};

static void
usage(FILE *f, const void *ctx)
{
	struct seen *s = (struct seen *)ctx;

	if (f == stdout)
		s->usage_out++;
	else
		s->usage_err++;
}

static int
opt(int ch, const char *arg, void *ctx)
{
	struct seen *s = ctx;

	assert_int_equal(ch, 'p');
	snprintf(s->parts, sizeof(s->parts), "%s", arg);
	return s->refuse ? -1 : 0;
}

/* start_args over args (NULL-terminated), from a fresh getopt; the
 * arguments are copied into buffers that live until the next call */
static int
run(struct start_args *a, const char *const *args)
{
	static char	 buf[8][64];
	char		*argv[9];
	int		 argc = 0;

	for (; args[argc] != NULL && argc < 8; argc++) {
		snprintf(buf[argc], sizeof(buf[argc]), "%s", args[argc]);
		argv[argc] = buf[argc];
	}
	argv[argc] = NULL;
	optind = 0;		/* glibc: a full reset */
	opterr = 0;		/* no getopt message in the test's output */
	return start_args(a, argc, argv);
}

static void
test_common_options(void **state)
{
	struct seen		s = { 0 };
	struct start_args	a = { .usage = usage, .ctx = &s };
	const char		*none[] = { "prog", NULL };
	const char		*cn[] = { "prog", "-n", "-c", "/etc/x.conf", NULL };

	(void)state;
	assert_int_equal(run(&a, none), -1);
	assert_null(a.path);
	assert_int_equal(a.check, 0);
	assert_int_equal(run(&a, cn), -1);
	assert_string_equal(a.path, "/etc/x.conf");
	assert_int_equal(a.check, 1);
	assert_int_equal(s.usage_out + s.usage_err, 0);
}

static void
test_help_and_usage_errors(void **state)
{
	struct seen		s = { 0 };
	struct start_args	a = { .usage = usage, .ctx = &s };
	const char		*help[] = { "prog", "-h", NULL };
	const char		*bad[] = { "prog", "-x", NULL };
	const char		*noarg[] = { "prog", "-c", NULL };
	const char		*extra[] = { "prog", "-n", "stray", NULL };
	const char		*own[] = { "prog", "-p", "sql", NULL };

	(void)state;
	assert_int_equal(run(&a, help), 0);
	assert_int_equal(s.usage_out, 1);
	assert_int_equal(run(&a, bad), 2);
	assert_int_equal(run(&a, noarg), 2);
	assert_int_equal(run(&a, extra), 2);
	/* a program without letters of its own does not take -p */
	assert_int_equal(run(&a, own), 2);
	assert_int_equal(s.usage_err, 4);
	assert_int_equal(s.usage_out, 1);
}

static void
test_own_letters(void **state)
{
	struct seen		s = { 0 };
	struct start_args	a = { .extra = "p:", .opt = opt, .usage = usage,
				      .ctx = &s };
	const char		*own[] = { "prog", "-p", "sql,nosql", "-c", "f",
				    NULL };
	const char		*missing[] = { "prog", "-p", NULL };

	(void)state;
	assert_int_equal(run(&a, own), -1);
	assert_string_equal(s.parts, "sql,nosql");
	assert_string_equal(a.path, "f");
	/* the callback's refusal is a usage error, its own message only */
	s.refuse = 1;
	assert_int_equal(run(&a, own), 2);
	assert_int_equal(s.usage_err, 0);
	assert_int_equal(run(&a, missing), 2);
	assert_int_equal(s.usage_err, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_common_options),
		cmocka_unit_test(test_help_and_usage_errors),
		cmocka_unit_test(test_own_letters),
	};

	return cmocka_run_group_tests_name("start", tests, NULL, NULL);
}
