/* SPDX-License-Identifier: ISC */
/*
 * test_http.c - unit tests of the pure parts of shared/http.c: media type
 * matching, reason phrases and health states; and the body deadline's
 * timer.  (Reading bodies and
 * writing responses need libfcgi streams: the integration tests cover them.)
 */
#include <sys/wait.h>

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "http.h"

#define JSON	"application/json"

/* Content-Type values and the media type asked for: parameters, case and
 * white space around allowed, anything else is another type. */
static const struct {
	const char	*content_type, *media;
	int		 want;
} content_types[] = {
	{ JSON, JSON, 1 },
	{ "application/json; charset=utf-8", JSON, 1 },
	{ "application/json;charset=UTF-8", JSON, 1 },
	{ "application/json ; charset=utf-8", JSON, 1 },
	{ "application/json;", JSON, 1 },
	{ "Application/JSON", JSON, 1 },
	{ "APPLICATION/JSON; CHARSET=UTF-8", JSON, 1 },
	{ "  application/json  ", JSON, 1 },
	{ "\tapplication/json\t", JSON, 1 },
	{ "application/x-www-form-urlencoded",
	    "application/x-www-form-urlencoded", 1 },
	{ "application/x-www-form-urlencoded; charset=UTF-8",
	    "application/x-www-form-urlencoded", 1 },
	{ "", JSON, 0 },
	{ " ", JSON, 0 },
	{ "application/jso", JSON, 0 },
	{ "application/jsonx", JSON, 0 },
	{ "application/json-patch+json", JSON, 0 },
	{ "application/json+x", JSON, 0 },
	{ "application/json, text/plain", JSON, 0 },
	{ "application/json x", JSON, 0 },
	{ "text/json", JSON, 0 },
	{ "text/plain", JSON, 0 },
	{ "application/x-www-form-urlencoded", JSON, 0 },
	{ "multipart/form-data; boundary=x",
	    "application/x-www-form-urlencoded", 0 },
	{ "xapplication/json", JSON, 0 },
	{ "application /json", JSON, 0 },
	{ "application/json\r\nX: y", JSON, 0 },
	{ "*/*", JSON, 0 },
	{ "application/*", JSON, 0 },
};

static void
test_content_type(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(content_types) / sizeof(content_types[0]); i++)
		if (http_content_type_is(content_types[i].content_type,
		    content_types[i].media) != content_types[i].want)
			fail_msg("'%s' is %s'%s'",
			    content_types[i].content_type,
			    content_types[i].want ? "" : "not ",
			    content_types[i].media);
}

static void
test_reason(void **state)
{
	static const struct {
		int		 status;
		const char	*reason;
	} cases[] = {
		{ 200, "OK" },
		{ 201, "Created" },
		{ 400, "Bad Request" },
		{ 404, "Not Found" },
		{ 405, "Method Not Allowed" },
		{ 409, "Conflict" },
		{ 411, "Length Required" },
		{ 413, "Payload Too Large" },
		{ 415, "Unsupported Media Type" },
		{ 500, "Internal Server Error" },
		{ 503, "Service Unavailable" },
		{ 299, "Unknown" },
		{ 0, "Unknown" },
		{ -1, "Unknown" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_string_equal(http_reason(cases[i].status),
		    cases[i].reason);
}

/* A health answer says "ok" or "down", never the error text (which names
 * accounts and hosts), however often and with whatever text it is asked. */
static void
test_origin_form(void **state)
{
	(void)state;
	assert_string_equal(http_origin_form("/get/venues?x=1"),
	    "/get/venues?x=1");
	assert_string_equal(http_origin_form("http://127.0.0.1:8080/get/venues"),
	    "/get/venues");
	assert_string_equal(http_origin_form("HTTPS://h/tickets?a=b"),
	    "/tickets?a=b");
	assert_string_equal(http_origin_form("http://h"), "/");
	assert_string_equal(http_origin_form("http://h?q=1"), "/");
	assert_string_equal(http_origin_form("http://"), "/");
	assert_string_equal(http_origin_form("httpx://h/p"), "httpx://h/p");
	assert_string_equal(http_origin_form(""), "");
}

/* The body deadline (http_deadline()) in a child process: armed for 50
 * ms, the first SIGALRM lands while nothing reads (a sleep), then a read
 * of a pipe that never gets data begins.  It must fail (EINTR) soon: the
 * signal repeats until disarmed.  Before, it fired once and that read
 * waited for ever.  The child's exit status: 0 the read was interrupted,
 * 1 it returned something else; no exit within 3 s is the hang. */
static void
test_deadline_repeats(void **state)
{
	pid_t	pid;
	int	status = -1, i;

	(void)state;
	if ((pid = fork()) == 0) {
		int	fds[2];
		char	c;

		if (pipe(fds) != 0 || http_deadline_init(50) != 0)
			_exit(1);
		http_deadline(1);
		usleep(200 * 1000);	/* the deadline passes here */
		_exit(read(fds[0], &c, 1) == -1 && errno == EINTR ? 0 : 1);
	}
	assert_true(pid > 0);
	for (i = 0; i < 300 && waitpid(pid, &status, WNOHANG) == 0; i++)
		usleep(10 * 1000);
	if (i == 300) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		fail_msg("a read begun after the deadline was not interrupted "
		    "within 3 s");
	}
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

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
		cmocka_unit_test(test_content_type),
		cmocka_unit_test(test_reason),
		cmocka_unit_test(test_origin_form),
		cmocka_unit_test(test_health_state),
		cmocka_unit_test(test_deadline_repeats),
	};

	return cmocka_run_group_tests_name("http", tests, NULL, NULL);
}
