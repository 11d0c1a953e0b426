/* SPDX-License-Identifier: ISC */
/*
 * test_http.c - unit tests of the pure parts of shared/http.c: media type
 * matching, reason phrases and health states.  (Reading bodies and
 * writing responses need libfcgi streams: the integration tests cover them.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "http.h"

#define JSON	"application/json"

static void
test_content_type_match(void **state)
{
	(void)state;
	assert_int_equal(http_content_type_is(JSON, JSON), 1);
	assert_int_equal(http_content_type_is("application/json; charset=utf-8",
	    JSON), 1);
	assert_int_equal(http_content_type_is("application/json;charset=UTF-8",
	    JSON), 1);
	assert_int_equal(http_content_type_is("application/json ; charset=utf-8",
	    JSON), 1);
	assert_int_equal(http_content_type_is("application/json;", JSON), 1);
	assert_int_equal(http_content_type_is("Application/JSON", JSON), 1);
	assert_int_equal(http_content_type_is("APPLICATION/JSON; CHARSET=UTF-8",
	    JSON), 1);
	assert_int_equal(http_content_type_is("  application/json  ", JSON), 1);
	assert_int_equal(http_content_type_is("\tapplication/json\t", JSON), 1);
	assert_int_equal(http_content_type_is(
	    "application/x-www-form-urlencoded",
	    "application/x-www-form-urlencoded"), 1);
	assert_int_equal(http_content_type_is(
	    "application/x-www-form-urlencoded; charset=UTF-8",
	    "application/x-www-form-urlencoded"), 1);
}

static void
test_content_type_junk(void **state)
{
	(void)state;
	assert_int_equal(http_content_type_is("", JSON), 0);
	assert_int_equal(http_content_type_is(" ", JSON), 0);
	assert_int_equal(http_content_type_is("application/jso", JSON), 0);
	assert_int_equal(http_content_type_is("application/jsonx", JSON), 0);
	assert_int_equal(http_content_type_is("application/json-patch+json",
	    JSON), 0);
	assert_int_equal(http_content_type_is("application/json+x", JSON), 0);
	assert_int_equal(http_content_type_is("application/json, text/plain",
	    JSON), 0);
	assert_int_equal(http_content_type_is("application/json x", JSON), 0);
	assert_int_equal(http_content_type_is("text/json", JSON), 0);
	assert_int_equal(http_content_type_is("text/plain", JSON), 0);
	assert_int_equal(http_content_type_is("application/x-www-form-urlencoded",
	    JSON), 0);
	assert_int_equal(http_content_type_is("multipart/form-data; boundary=x",
	    "application/x-www-form-urlencoded"), 0);
	assert_int_equal(http_content_type_is("xapplication/json", JSON), 0);
	assert_int_equal(http_content_type_is("application /json", JSON), 0);
	assert_int_equal(http_content_type_is("application/json\r\nX: y", JSON),
	    0);
	assert_int_equal(http_content_type_is("*/*", JSON), 0);
	assert_int_equal(http_content_type_is("application/*", JSON), 0);
}

static void
test_reason(void **state)
{
	(void)state;
	assert_string_equal(http_reason(200), "OK");
	assert_string_equal(http_reason(201), "Created");
	assert_string_equal(http_reason(400), "Bad Request");
	assert_string_equal(http_reason(404), "Not Found");
	assert_string_equal(http_reason(405), "Method Not Allowed");
	assert_string_equal(http_reason(409), "Conflict");
	assert_string_equal(http_reason(411), "Length Required");
	assert_string_equal(http_reason(413), "Payload Too Large");
	assert_string_equal(http_reason(415), "Unsupported Media Type");
	assert_string_equal(http_reason(500), "Internal Server Error");
	assert_string_equal(http_reason(503), "Service Unavailable");
	assert_string_equal(http_reason(299), "Unknown");
	assert_string_equal(http_reason(0), "Unknown");
	assert_string_equal(http_reason(-1), "Unknown");
}

/* A health answer says "ok" or "down", never the error text (which names
 * accounts and hosts), however often and with whatever text it is asked. */
static void
test_health_state(void **state)
{
	static const char detail[] = "mysql bo_query@127.0.0.1:3306: connect: "
	    "Can't connect to server on '127.0.0.1' (111)";
	int i;

	(void)state;
	for (i = 0; i < 3; i++) {
		assert_string_equal(http_health_state("mysql", 0, detail), "down");
		assert_string_equal(http_health_state("redis", 0, NULL), "down");
		assert_string_equal(http_health_state("mysql", 1, detail), "ok");
		assert_string_equal(http_health_state("redis", 0, ""), "down");
	}
	for (i = 0; i < 8; i++)	/* more names than it remembers */
		assert_string_equal(http_health_state(i % 2 ? "a" : "b", 0,
		    detail), "down");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_content_type_match),
		cmocka_unit_test(test_content_type_junk),
		cmocka_unit_test(test_reason),
		cmocka_unit_test(test_health_state),
	};

	return cmocka_run_group_tests_name("http", tests, NULL, NULL);
}
