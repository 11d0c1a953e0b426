/* SPDX-License-Identifier: ISC */
/*
 * test_conf.c - unit tests of shared/conf.c: defaults, the config file,
 * environment overrides and the masked dump.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf.h"
#include "hostlist.h"

static char	path[64];

/* Every BOXOFFICE_<NAME> and AWS_* alias is unset: tests/run exports some. */
static void
clear_env(void)
{
	char	var[128];
	size_t	i, j;

	for (i = 0; i < conf_ndefs; i++) {
		snprintf(var, sizeof(var), "BOXOFFICE_%s", conf_defs[i].name);
		for (j = 0; var[j] != '\0'; j++)
			var[j] = (char)toupper((unsigned char)var[j]);
		unsetenv(var);
		if (conf_defs[i].env_alias != NULL)
			unsetenv(conf_defs[i].env_alias);
	}
	unsetenv("BOXOFFICE_CONF");
}

static int
setup(void **state)
{
	int fd;

	(void)state;
	clear_env();
	snprintf(path, sizeof(path), "/tmp/test_conf.XXXXXX");
	if ((fd = mkstemp(path)) < 0)
		return -1;
	close(fd);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	unlink(path);
	clear_env();
	return 0;
}

static void
write_file(const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* Loads text as the config file; returns conf_load's result. */
static int
load_text(const char *text, struct conf *c, char *err, size_t errlen)
{
	write_file(text);
	err[0] = '\0';
	return conf_load(c, path, 1, err, errlen);
}

/* Expects text to fail with exactly "path:want". */
static void
expect_error(const char *text, const char *want)
{
	struct conf	c;
	char		err[512], full[512];

	assert_int_equal(load_text(text, &c, err, sizeof(err)), -1);
	snprintf(full, sizeof(full), "%s:%s", path, want);
	assert_string_equal(err, full);
}

static void
test_defaults(void **state)
{
	struct conf	c;
	char		err[256] = "";
	size_t		i;

	(void)state;
	assert_int_equal(conf_load(&c, NULL, 0, err, sizeof(err)), 0);
	assert_string_equal(c.redis_nodes, "127.0.0.1:6379");
	assert_int_equal(c.redis_timeout_ms, 1000);
	assert_string_equal(c.amqp_host, "127.0.0.1");
	assert_int_equal(c.amqp_port, 5672);
	assert_string_equal(c.amqp_user, "guest");
	assert_string_equal(c.amqp_password, "guest");
	assert_string_equal(c.amqp_vhost, "/");
	assert_int_equal(c.amqp_confirm_timeout_ms, 5000);
	assert_int_equal(c.mysql_port, 3306);
	assert_string_equal(c.mysql_database, "ticketing");
	assert_string_equal(c.mysql_query_user, "bo_query");
	assert_string_equal(c.mysql_consumer_user, "bo_consumer");
	assert_string_equal(c.dynamodb_endpoint, "http://127.0.0.1:8000");
	assert_string_equal(c.dynamodb_region, "us-east-1");
	assert_string_equal(c.dynamodb_table, "Tickets");
	assert_string_equal(c.aws_session_token, "");
	assert_string_equal(c.log_level, "info");
	assert_string_equal(c.log_file, "");
	assert_int_equal(c.ticket_cache_ttl, 86400);
	assert_string_equal(c.token_secret, "");
	assert_int_equal(c.hold_seconds, 600);
	assert_int_equal(c.hold_max_seconds, 1800);
	/* every default lies within its own range */
	for (i = 0; i < conf_ndefs; i++) {
		const struct conf_def *d = &conf_defs[i];

		if (d->type == CONF_INT) {
			long v = *(const int *)((const char *)&c + d->off);

			assert_true(v >= d->min && v <= d->max);
		} else
			assert_true(strlen(d->def) < d->size);
	}
	/* a missing file is fine unless it must exist */
	assert_int_equal(conf_load(&c, "/nonexistent/boxoffice.conf", 0, err,
	    sizeof(err)), 0);
	assert_int_equal(conf_load(&c, "/nonexistent/boxoffice.conf", 1, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "/nonexistent/boxoffice.conf: No such file or "
	    "directory");
	/* a directory opens, and reads as nothing: not "all defaults" */
	assert_int_equal(conf_load(&c, "/tmp", 1, err, sizeof(err)), -1);
	assert_string_equal(err, "/tmp: Is a directory");
	assert_int_equal(conf_load(&c, "/tmp", 0, err, sizeof(err)), -1);
}

static void
test_file(void **state)
{
	struct conf	c;
	char		err[512];

	(void)state;
	assert_int_equal(load_text(
	    "# a comment\n"
	    "\n"
	    "   \t\n"
	    "amqp_port = 5673\n"
	    "  amqp_host=rabbit.example   \n"
	    "redis_nodes = 10.0.0.1:7000,10.0.0.2:7000 # cluster seeds\n"
	    "amqp_password = se=cret\n"
	    "mysql_query_password = pa#ss#word # a comment\n"
	    "log_file =\n"
	    "mysql_port\t=\t3307\r\n"
	    "amqp_port = 5674\n",		/* the last one wins */
	    &c, err, sizeof(err)), 0);
	assert_int_equal(c.amqp_port, 5674);
	assert_string_equal(c.amqp_host, "rabbit.example");
	assert_string_equal(c.redis_nodes, "10.0.0.1:7000,10.0.0.2:7000");
	assert_string_equal(c.amqp_password, "se=cret");
	assert_string_equal(c.mysql_query_password, "pa#ss#word");
	assert_string_equal(c.log_file, "");
	assert_int_equal(c.mysql_port, 3307);
	/* untouched settings keep their defaults */
	assert_int_equal(c.redis_timeout_ms, 1000);
	/* a file without a final newline */
	assert_int_equal(load_text("amqp_port = 1", &c, err, sizeof(err)), 0);
	assert_int_equal(c.amqp_port, 1);
	assert_int_equal(load_text("", &c, err, sizeof(err)), 0);
	assert_int_equal(c.amqp_port, 5672);
}

static void
test_file_errors(void **state)
{
	(void)state;
	expect_error("amqp_port = 5673\n\nnope = 1\n",
	    "3: unknown setting 'nope'");
	expect_error("AMQP_PORT = 5673\n", "1: unknown setting 'AMQP_PORT'");
	expect_error("# c\namqp_port 5673\n", "2: expected 'name = value'");
	expect_error("amqp_port = abc\n",
	    "1: amqp_port: 'abc' is not an integer in 1..65535");
	expect_error("amqp_port = 0\n",
	    "1: amqp_port: '0' is not an integer in 1..65535");
	expect_error("amqp_port = 65536\n",
	    "1: amqp_port: '65536' is not an integer in 1..65535");
	expect_error("amqp_port = -1\n",
	    "1: amqp_port: '-1' is not an integer in 1..65535");
	expect_error("amqp_port = 56 72\n",
	    "1: amqp_port: '56 72' is not an integer in 1..65535");
	expect_error("amqp_port =\n",
	    "1: amqp_port: '' is not an integer in 1..65535");
	expect_error("amqp_port = 5672.0\n",
	    "1: amqp_port: '5672.0' is not an integer in 1..65535");
	expect_error("amqp_port = 99999999999999999999\n",
	    "1: amqp_port: '99999999999999999999' is not an integer in "
	    "1..65535");
	expect_error("redis_timeout_ms = 9\n",
	    "1: redis_timeout_ms: '9' is not an integer in 10..60000");
	expect_error("= 5\n", "1: unknown setting ''");
	expect_error("mysql_database = "
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n",
	    "1: mysql_database: value longer than 63 characters");
}

/* A NUL byte (a file saved as UTF-16) is named as such, not as a line
 * "too long" (what fgets() made of it) */
static void
test_nul_byte(void **state)
{
	static const char text[] = "amqp_port = 5673\nlog_level = info\0x\n"
	    "amqp_host = h\n";
	struct conf	c;
	char		err[512], want[512];
	FILE		*f = fopen(path, "w");

	(void)state;
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, sizeof(text) - 1, f),
	    sizeof(text) - 1);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(conf_load(&c, path, 1, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s:2: a NUL byte: the file is not text "
	    "(saved as UTF-16?)", path);
	assert_string_equal(err, want);
}

/* The longest line: CONF_LINE_MAX bytes and its newline, or without one at
 * the end of the file */
static void
test_longest_line(void **state)
{
	static char	big[CONF_LINE_MAX + 2];
	struct conf	c;
	char		err[512];
	size_t		pre = strlen("aws_session_token = ");

	(void)state;
	/* the value is too long for the setting, but the line is read */
	memset(big, 'x', CONF_LINE_MAX);
	memcpy(big, "aws_session_token = ", pre);
	big[CONF_LINE_MAX] = '\n';
	assert_int_equal(load_text(big, &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, ":1: aws_session_token: value longer"));
	big[CONF_LINE_MAX] = '\0';
	assert_int_equal(load_text(big, &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, ":1: aws_session_token: value longer"));
	big[CONF_LINE_MAX] = 'x';
	assert_int_equal(load_text(big, &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, ":1: line too long"));
}

static void
test_long_line(void **state)
{
	char	big[6000];
	struct conf c;
	char	err[512], want[512];

	(void)state;
	memset(big, 'x', sizeof(big));
	memcpy(big, "amqp_host = ", 12);
	big[sizeof(big) - 2] = '\n';
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(load_text(big, &c, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s:1: line too long", path);
	assert_string_equal(err, want);
}

static void
test_log_level(void **state)
{
	struct conf	c;
	char		err[512];

	(void)state;
	assert_int_equal(load_text("log_level = debug\n", &c, err, sizeof(err)),
	    0);
	assert_string_equal(c.log_level, "debug");
	assert_int_equal(load_text("log_level = loud\n", &c, err, sizeof(err)),
	    -1);
	assert_string_equal(err, "log_level: 'loud' is not error, warn, info "
	    "or debug");
}

static void
test_env(void **state)
{
	struct conf	c;
	char		err[512];

	(void)state;
	/* the environment beats the file */
	setenv("BOXOFFICE_AMQP_PORT", "6000", 1);
	setenv("BOXOFFICE_REDIS_NODES", "127.0.0.1:1,127.0.0.1:2", 1);
	assert_int_equal(load_text("amqp_port = 5673\nmysql_port = 3307\n", &c,
	    err, sizeof(err)), 0);
	assert_int_equal(c.amqp_port, 6000);
	assert_int_equal(c.mysql_port, 3307);
	assert_string_equal(c.redis_nodes, "127.0.0.1:1,127.0.0.1:2");
	/* a bad value names the variable */
	setenv("BOXOFFICE_AMQP_PORT", "http", 1);
	assert_int_equal(load_text("", &c, err, sizeof(err)), -1);
	assert_string_equal(err, "BOXOFFICE_AMQP_PORT: amqp_port: 'http' is not "
	    "an integer in 1..65535");
	unsetenv("BOXOFFICE_AMQP_PORT");
	/* lower-case names are not ours */
	setenv("boxoffice_amqp_port", "7000", 1);
	assert_int_equal(load_text("", &c, err, sizeof(err)), 0);
	assert_int_equal(c.amqp_port, 5672);
	unsetenv("boxoffice_amqp_port");
	/* an empty variable is a value too */
	setenv("BOXOFFICE_LOG_FILE", "", 1);
	assert_int_equal(load_text("log_file = /tmp/x.log\n", &c, err,
	    sizeof(err)), 0);
	assert_string_equal(c.log_file, "");
}

static void
test_env_aws(void **state)
{
	struct conf	c;
	char		err[512];

	(void)state;
	setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI", 1);
	setenv("AWS_SESSION_TOKEN", "tok", 1);
	setenv("AWS_REGION", "eu-west-1", 1);
	assert_int_equal(load_text("aws_access_key_id = fromfile\n", &c, err,
	    sizeof(err)), 0);
	assert_string_equal(c.aws_access_key_id, "AKIDEXAMPLE");
	assert_string_equal(c.aws_secret_access_key, "wJalrXUtnFEMI");
	assert_string_equal(c.aws_session_token, "tok");
	assert_string_equal(c.dynamodb_region, "eu-west-1");
	/* BOXOFFICE_<NAME> beats the AWS_* alias */
	setenv("BOXOFFICE_AWS_ACCESS_KEY_ID", "mine", 1);
	setenv("BOXOFFICE_DYNAMODB_REGION", "us-west-2", 1);
	assert_int_equal(load_text("", &c, err, sizeof(err)), 0);
	assert_string_equal(c.aws_access_key_id, "mine");
	assert_string_equal(c.dynamodb_region, "us-west-2");
}

static void
test_set(void **state)
{
	struct conf	c;
	char		err[256];

	(void)state;
	assert_int_equal(conf_load(&c, NULL, 0, err, sizeof(err)), 0);
	assert_int_equal(conf_set(&c, "consumer_batch", "25", err, sizeof(err)),
	    0);
	assert_int_equal(c.consumer_batch, 25);
	assert_int_equal(conf_set(&c, "consumer_batch", "1001", err,
	    sizeof(err)), -1);
	assert_string_equal(err, "consumer_batch: '1001' is not an integer in "
	    "1..1000");
	assert_int_equal(c.consumer_batch, 25);
	assert_int_equal(conf_set(&c, "nope", "1", err, sizeof(err)), -1);
	assert_string_equal(err, "unknown setting 'nope'");
	assert_int_equal(conf_set(&c, "amqp_vhost", "/prod", err, sizeof(err)),
	    0);
	assert_string_equal(c.amqp_vhost, "/prod");
}

/* conf_dump into a temporary file; returns its text (static buffer). */
static const char *
dump(const struct conf *c)
{
	static char	text[16384];
	FILE		*f = tmpfile();
	size_t		 n;

	assert_non_null(f);
	conf_dump(c, fileno(f));
	rewind(f);
	n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	return text;
}

static void
test_dump_masks_secrets(void **state)
{
	struct conf	c;
	char		err[512];
	const char	*t;
	size_t		i, lines = 0;

	(void)state;
	assert_int_equal(load_text(
	    "amqp_password = Amqp-S3cret\n"
	    "mysql_query_password = Query-S3cret\n"
	    "mysql_consumer_password = Consumer-S3cret\n"
	    "aws_secret_access_key = Aws-S3cret\n"
	    "aws_session_token = Token-S3cret\n"
	    "amqp_port = 5999\n", &c, err, sizeof(err)), 0);
	t = dump(&c);
	assert_null(strstr(t, "S3cret"));
	assert_non_null(strstr(t, "amqp_password = ****\n"));
	assert_non_null(strstr(t, "mysql_query_password = ****\n"));
	assert_non_null(strstr(t, "mysql_consumer_password = ****\n"));
	assert_non_null(strstr(t, "aws_secret_access_key = ****\n"));
	assert_non_null(strstr(t, "aws_session_token = ****\n"));
	/* non-secrets in clear */
	assert_non_null(strstr(t, "amqp_port = 5999\n"));
	assert_non_null(strstr(t, "amqp_user = guest\n"));
	assert_non_null(strstr(t, "aws_access_key_id = boxoffice\n"));
	/* one line per setting */
	for (i = 0; t[i] != '\0'; i++)
		lines += t[i] == '\n';
	assert_int_equal(lines, conf_ndefs);
	/* an empty secret shows as empty, not as a masked value */
	assert_int_equal(load_text("", &c, err, sizeof(err)), 0);
	t = dump(&c);
	assert_non_null(strstr(t, "aws_session_token = \n"));
	assert_non_null(strstr(t, "amqp_password = ****\n"));
}

/* What -n prints of a file loads again to the same settings: a value that
 * begins with '#' (after "=" with no blank, so no comment) keeps it
 * (found by tests/fuzz/fuzz_conf.c) */
static void
test_dump_reads_back(void **state)
{
	struct conf	c, again;
	char		err[512];
	const char	*t;

	(void)state;
	assert_int_equal(load_text(
	    "log_file =#weird\n"
	    "amqp_vhost = /a#b\n"
	    "mysql_database = x # a comment\n", &c, err, sizeof(err)), 0);
	assert_string_equal(c.log_file, "#weird");
	assert_string_equal(c.amqp_vhost, "/a#b");
	assert_string_equal(c.mysql_database, "x");
	t = dump(&c);
	assert_non_null(strstr(t, "log_file =#weird\n"));
	assert_int_equal(load_text(t, &again, err, sizeof(err)), 0);
	assert_string_equal(again.log_file, "#weird");
	assert_string_equal(again.amqp_vhost, "/a#b");
	assert_string_equal(again.mysql_database, "x");
}

/* amqp_hosts (hostlist.c): a list of host[:port], checked at load */
static void
test_amqp_hosts(void **state)
{
	struct hostport	h[4];
	struct conf	c;
	char		err[512];

	(void)state;
	assert_int_equal(hostlist_parse("", 5672, h, 4, err, sizeof(err)), 0);
	assert_int_equal(hostlist_parse(" a:1, b ,,c:65535 ", 5672, h, 4, err,
	    sizeof(err)), 3);
	assert_string_equal(h[0].host, "a");
	assert_int_equal(h[0].port, 1);
	assert_string_equal(h[1].host, "b");
	assert_int_equal(h[1].port, 5672);
	assert_string_equal(h[2].host, "c");
	assert_int_equal(h[2].port, 65535);
	assert_int_equal(hostlist_parse("a,b,c,d,e", 1, h, 4, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "more than 4 nodes");
	assert_int_equal(hostlist_parse("a:0", 1, h, 4, err, sizeof(err)), -1);
	assert_int_equal(hostlist_parse("a:", 1, h, 4, err, sizeof(err)), -1);
	assert_int_equal(hostlist_parse(":5672", 1, h, 4, err, sizeof(err)),
	    -1);
	assert_int_equal(hostlist_parse("a b:1", 1, h, 4, err, sizeof(err)),
	    -1);

	assert_int_equal(load_text("amqp_hosts = 10.0.0.1:5672, 10.0.0.2\n",
	    &c, err, sizeof(err)), 0);
	assert_string_equal(c.amqp_hosts, "10.0.0.1:5672, 10.0.0.2");
	assert_int_equal(c.amqp_quorum_replicas, 3);
	assert_int_equal(load_text("amqp_hosts = a:99999\n", &c, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "amqp_hosts: node 'a:99999': port is not in "
	    "1..65535");
}

/* an IPv6 address in brackets (RFC 3986 section 3.2.2), with or without
 * its port; unbracketed, the last ':' still separates the port, as before */
static void
test_amqp_hosts_ipv6(void **state)
{
	struct hostport	h[4];
	char		err[512];

	(void)state;
	assert_int_equal(hostlist_parse("[::1]:5673, [fd00::2], ::3:5674",
	    5672, h, 4, err, sizeof(err)), 3);
	assert_string_equal(h[0].host, "::1");
	assert_int_equal(h[0].port, 5673);
	assert_string_equal(h[1].host, "fd00::2");
	assert_int_equal(h[1].port, 5672);
	assert_string_equal(h[2].host, "::3");
	assert_int_equal(h[2].port, 5674);
	assert_int_equal(hostlist_parse("[::1", 1, h, 4, err, sizeof(err)),
	    -1);
	assert_string_equal(err, "node '[::1': no ']' after the address");
	assert_int_equal(hostlist_parse("[::1]5672", 1, h, 4, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "node '[::1]5672': ':port' or nothing must "
	    "follow ']'");
	assert_int_equal(hostlist_parse("[]:5672", 1, h, 4, err, sizeof(err)),
	    -1);
	assert_int_equal(hostlist_parse("[::1]:0", 1, h, 4, err, sizeof(err)),
	    -1);
	assert_int_equal(hostlist_parse("[a b]", 1, h, 4, err, sizeof(err)),
	    -1);
}

static void
test_default_path(void **state)
{
	(void)state;
	unsetenv("BOXOFFICE_CONF");
	assert_string_equal(conf_default_path(),
	    "/etc/boxoffice/boxoffice.conf");
	setenv("BOXOFFICE_CONF", "/srv/bo.conf", 1);
	assert_string_equal(conf_default_path(), "/srv/bo.conf");
	setenv("BOXOFFICE_CONF", "", 1);
	assert_string_equal(conf_default_path(),
	    "/etc/boxoffice/boxoffice.conf");
	unsetenv("BOXOFFICE_CONF");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nul_byte, setup, teardown),
		cmocka_unit_test_setup_teardown(test_longest_line, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_log_level, setup, teardown),
		cmocka_unit_test_setup_teardown(test_env, setup, teardown),
		cmocka_unit_test_setup_teardown(test_env_aws, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dump_masks_secrets, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_dump_reads_back, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_amqp_hosts, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_amqp_hosts_ipv6, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_default_path, setup,
		    teardown),
	};

	return cmocka_run_group_tests_name("conf", tests, NULL, NULL);
}
