/* SPDX-License-Identifier: ISC */
/*
 * test_awscreds.c - unit tests of the pure parts of shared/awscreds.c: the
 * shared credentials file (profiles, comments, blanks, session token) and
 * the metadata service's credentials JSON (Expiration parsed, anything
 * missing refused); the source names; static credentials never refreshed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "awscreds.h"

static void
test_file(void **state)
{
	static const char text[] =
	    "# shared credentials\n"
	    "[default]\n"
	    "aws_access_key_id = AKIADEFAULT\n"
	    "aws_secret_access_key=secretdefault\n"
	    "\n"
	    "  [ ops ]  \n"
	    "; a comment\n"
	    "aws_access_key_id\t=  ASIAOPS  \r\n"
	    "aws_secret_access_key = sec/ret+ops=\n"
	    "aws_session_token = FwoGZXIvYXdzE==\n"
	    "region = eu-west-1\n"
	    "[nosecret]\n"
	    "aws_access_key_id = AKIAX\n";
	struct awscreds_set	s;
	char			err[160];

	(void)state;
	assert_int_equal(awscreds_parse_file(text, "default", &s, err,
	    sizeof(err)), 0);
	assert_string_equal(s.access_key, "AKIADEFAULT");
	assert_string_equal(s.secret_key, "secretdefault");
	assert_string_equal(s.token, "");
	assert_true(s.expires_ms == 0);
	assert_int_equal(awscreds_parse_file(text, "ops", &s, err,
	    sizeof(err)), 0);
	assert_string_equal(s.access_key, "ASIAOPS");
	assert_string_equal(s.secret_key, "sec/ret+ops=");
	assert_string_equal(s.token, "FwoGZXIvYXdzE==");
	assert_int_equal(awscreds_parse_file(text, "missing", &s, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "no profile [missing]"));
	assert_int_equal(awscreds_parse_file(text, "nosecret", &s, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "aws_secret_access_key"));
	assert_string_equal(s.access_key, "AKIAX");
	assert_int_equal(awscreds_parse_file("", "default", &s, err,
	    sizeof(err)), -1);
}

static void
test_file_too_long(void **state)
{
	struct awscreds_set	 s;
	char			 err[160], *text;
	size_t			 n = AWSCREDS_KEY_MAX + 100;

	(void)state;
	text = malloc(n + 64);
	assert_non_null(text);
	strcpy(text, "[default]\naws_secret_access_key = s\n"
	    "aws_access_key_id = ");
	memset(text + strlen(text), 'K', n);
	text[36 + 20 + n] = '\0';
	assert_int_equal(awscreds_parse_file(text, "default", &s, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "too long"));
	free(text);
}

static void
test_imds(void **state)
{
	struct awscreds_set	s;
	char			err[160];

	(void)state;
	assert_int_equal(awscreds_parse_imds("{\"Code\":\"Success\","
	    "\"LastUpdated\":\"2026-12-01T22:00:00Z\",\"Type\":\"AWS-HMAC\","
	    "\"AccessKeyId\":\"ASIA1\",\"SecretAccessKey\":\"sk\","
	    "\"Token\":\"tok\",\"Expiration\":\"2026-12-01T23:00:00Z\"}",
	    &s, err, sizeof(err)), 0);
	assert_string_equal(s.access_key, "ASIA1");
	assert_string_equal(s.secret_key, "sk");
	assert_string_equal(s.token, "tok");
	assert_true(s.expires_ms == 1796166000000LL);
	/* refused: whatever is not a complete, successful answer */
	static const char *const bad[] = {
		"not json", "[]", "{}",
		"{\"Code\":\"Failure\",\"AccessKeyId\":\"A\",\"SecretAccessKey\":"
		    "\"s\",\"Token\":\"t\",\"Expiration\":\"2026-12-01T23:00:00Z\"}",
		"{\"Code\":\"Success\",\"SecretAccessKey\":\"s\",\"Token\":\"t\","
		    "\"Expiration\":\"2026-12-01T23:00:00Z\"}",
		"{\"Code\":\"Success\",\"AccessKeyId\":\"A\",\"Token\":\"t\","
		    "\"Expiration\":\"2026-12-01T23:00:00Z\"}",
		"{\"Code\":\"Success\",\"AccessKeyId\":\"A\",\"SecretAccessKey\":"
		    "\"s\",\"Expiration\":\"2026-12-01T23:00:00Z\"}",
		"{\"Code\":\"Success\",\"AccessKeyId\":\"A\",\"SecretAccessKey\":"
		    "\"s\",\"Token\":\"t\"}",
		"{\"Code\":\"Success\",\"AccessKeyId\":\"A\",\"SecretAccessKey\":"
		    "\"s\",\"Token\":\"t\",\"Expiration\":\"tomorrow\"}",
		"{\"Code\":\"Success\",\"AccessKeyId\":\"\",\"SecretAccessKey\":"
		    "\"s\",\"Token\":\"t\",\"Expiration\":\"2026-12-01T23:00:00Z\"}",
		"{\"Code\":\"Success\",\"AccessKeyId\":7,\"SecretAccessKey\":"
		    "\"s\",\"Token\":\"t\",\"Expiration\":\"2026-12-01T23:00:00Z\"}",
		NULL
	};
	size_t i;

	for (i = 0; bad[i] != NULL; i++) {
		assert_int_equal(awscreds_parse_imds(bad[i], &s, err,
		    sizeof(err)), -1);
		assert_string_equal(s.access_key, "");	/* nothing half-set */
	}
}

static void
test_sources(void **state)
{
	struct awscreds	 a;
	struct conf	 c;

	(void)state;
	assert_int_equal(awscreds_source_parse("static"), AWSCREDS_STATIC);
	assert_int_equal(awscreds_source_parse("imds"), AWSCREDS_IMDS);
	assert_int_equal(awscreds_source_parse("auto"), AWSCREDS_AUTO);
	assert_int_equal(awscreds_source_parse("file"), AWSCREDS_FILE);
	assert_int_equal(awscreds_source_parse("env"), -1);
	assert_string_equal(awscreds_source_str(AWSCREDS_IMDS), "imds");
	/* static: the settings' keys, never expiring, never refreshed */
	memset(&c, 0, sizeof(c));
	strcpy(c.aws_credentials, "static");
	strcpy(c.aws_access_key_id, "AK");
	strcpy(c.aws_secret_access_key, "SK");
	strcpy(c.aws_profile, "default");
	c.aws_credentials_refresh_s = 300;
	c.dynamodb_timeout_ms = 1000;
	assert_int_equal(awscreds_init(&a, &c), 0);
	assert_string_equal(a.cur.access_key, "AK");
	assert_string_equal(a.cur.token, "");
	assert_int_equal(awscreds_refresh(&a, 1LL << 50), 0);
	assert_int_equal(a.generation, 1);
	strcpy(c.aws_credentials, "sometimes");
	assert_int_equal(awscreds_init(&a, &c), -1);
	assert_non_null(strstr(a.errstr, "aws_credentials"));
	/* file: a missing file is an error at start */
	strcpy(c.aws_credentials, "file");
	strcpy(c.aws_shared_credentials_file, "/nonexistent/credentials");
	assert_int_equal(awscreds_init(&a, &c), -1);
	assert_non_null(strstr(a.errstr, "/nonexistent/credentials"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_file),
		cmocka_unit_test(test_file_too_long),
		cmocka_unit_test(test_imds),
		cmocka_unit_test(test_sources),
	};

	return cmocka_run_group_tests_name("awscreds", tests, NULL, NULL);
}
