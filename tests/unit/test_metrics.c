/* SPDX-License-Identifier: ISC */
/*
 * test_metrics.c - unit tests of shared/metrics.c: the Prometheus text of
 * counters, histograms and the consumer's pipelines, one HELP/TYPE per
 * family, the consumer's file added to the purchase responder's text, and
 * nothing while metrics are off.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/wait.h>

#include <cmocka.h>

#include "clock.h"
#include "metrics.h"

#define SEAT_TAKEN_BODY	"{\"error\":\"SEAT_TAKEN\",\"message\":\"taken\"}"

static char	dir[64];

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/box-metrics-XXXXXX");
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char	cmd[128];

	(void)state;
	metrics_close();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static size_t
count(const char *text, const char *needle)
{
	size_t		 n = 0;
	const char	*p = text;

	while ((p = strstr(p, needle)) != NULL) {
		n++;
		p += strlen(needle);
	}
	return n;
}

static void
test_off_renders_nothing(void **state)
{
	size_t len = 1;

	(void)state;
	metrics_close();
	metrics_response(201, "", 0);		/* a hook with metrics off */
	assert_null(metrics_render(&len));
	assert_int_equal(metrics_open("", "ticket"), 0);	/* dir "": off */
	assert_null(metrics_render(&len));
}

/* The consumer's process writes its pipeline totals, then exits. */
static void
consumer_child(void)
{
	pid_t	pid;
	int	st;

	assert_true((pid = fork()) >= 0);
	if (pid == 0) {
		if (metrics_open(dir, "consumer") != 0)
			_exit(1);
		metrics_pipeline("sql", 5, 1, 2500);
		metrics_close();
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void
test_ticket_text(void **state)
{
	static const struct {
		const char	*line;
		size_t		 times;
	} want[] = {
		{ "boxoffice_http_requests_total{program=\"ticket\","
		    "status=\"201\",error=\"\"} 2\n", 1 },
		{ "boxoffice_http_requests_total{program=\"ticket\","
		    "status=\"409\",error=\"SEAT_TAKEN\"} 1\n", 1 },
		{ "boxoffice_reserve_duration_seconds_count{program="
		    "\"ticket\"} 1\n", 1 },
		{ "boxoffice_publish_total{program=\"ticket\","
		    "outcome=\"confirmed\"} 1\n", 1 },
		{ "boxoffice_consumer_written_total{pipeline=\"sql\"} 5\n", 1 },
		{ "boxoffice_consumer_dead_lettered_total{pipeline=\"sql\"} "
		    "1\n", 1 },
		{ "boxoffice_consumer_lag_seconds{pipeline=\"sql\"} 2.500\n",
		    1 },
		{ "# TYPE boxoffice_http_requests_total counter\n", 1 },
		{ "# TYPE boxoffice_reserve_duration_seconds histogram\n", 1 },
		{ "# TYPE boxoffice_publish_total counter\n", 1 },
	};
	char	*text;
	size_t	 len, i;

	(void)state;
	consumer_child();
	assert_int_equal(metrics_open(dir, "ticket"), 0);
	metrics_response(201, "{}", 2);
	metrics_response(201, "{}", 2);
	metrics_response(409, SEAT_TAKEN_BODY, strlen(SEAT_TAKEN_BODY));
	metrics_count(METRICS_PUBLISH_CONFIRMED);
	metrics_observe(METRICS_RESERVE, mono_us() - 1500);
	assert_non_null(text = metrics_render(&len));
	assert_int_equal(strlen(text), len);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (count(text, want[i].line) != want[i].times)
			fail_msg("%zu times expected, in:\n%s---\n%s",
			    want[i].times, want[i].line, text);
	free(text);
	metrics_close();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_off_renders_nothing),
		cmocka_unit_test(test_ticket_text),
	};

	return cmocka_run_group_tests_name("metrics", tests, setup, teardown);
}
