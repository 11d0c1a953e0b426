/* SPDX-License-Identifier: ISC */
/*
 * test_metrics.c - unit tests of shared/metrics.c: the Prometheus text of
 * counters, histograms and the consumer's pipelines, one HELP/TYPE per
 * family, the consumer's file added to the purchase responder's text,
 * nothing while metrics are off, and a histogram whose +Inf bucket equals
 * its _count while other threads observe.
 */
#include <pthread.h>
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

/* Observes into METRICS_RESERVE until *arg is set, with latencies that
 * spread over the buckets (a sanitizer build makes them longer still). */
static void *
observer(void *arg)
{
	const int	*stop = arg;
	long long	 k = 0;

	while (!__atomic_load_n(stop, __ATOMIC_RELAXED))
		metrics_observe(METRICS_RESERVE, mono_us() - (k++ % 7) * 400);
	return NULL;
}

/*
 * Checks the reserve histogram of one text: its buckets never decrease and
 * the le="+Inf" bucket equals _count (Prometheus requires both).  Returns
 * 0, or -1 with why written.
 */
static int
hist_consistent(const char *text, char *why, size_t size)
{
	static const char	bucket[] = "boxoffice_reserve_duration_seconds_"
	    "bucket{program=\"ticket\",le=\"";
	static const char	cnt[] = "boxoffice_reserve_duration_seconds_"
	    "count{program=\"ticket\"} ";
	const char		*p, *v;
	unsigned long long	 prev = 0, b, inf = 0, c;
	int			 seen_inf = 0;

	for (p = text; (p = strstr(p, bucket)) != NULL; p++) {
		if ((v = strstr(p, "} ")) == NULL)
			break;
		b = strtoull(v + 2, NULL, 10);
		if (b < prev) {
			snprintf(why, size, "bucket %.12s %llu < %llu before",
			    p + sizeof(bucket) - 1, b, prev);
			return -1;
		}
		prev = b;
		if (strncmp(p + sizeof(bucket) - 1, "+Inf", 4) == 0) {
			inf = b;
			seen_inf = 1;
		}
	}
	if (!seen_inf || (p = strstr(text, cnt)) == NULL) {
		snprintf(why, size, "no +Inf bucket or no _count");
		return -1;
	}
	c = strtoull(p + sizeof(cnt) - 1, NULL, 10);
	if (c != inf) {
		snprintf(why, size, "+Inf %llu, _count %llu", inf, c);
		return -1;
	}
	return 0;
}

static void
test_histogram_consistent_while_observed(void **state)
{
	pthread_t	 t[2];
	char		*text, why[128] = "";
	size_t		 len;
	int		 stop = 0, i, bad = 0;

	(void)state;
	assert_int_equal(metrics_open(dir, "ticket"), 0);
	for (i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, observer, &stop),
		    0);
	for (i = 0; i < 2000; i++) {
		assert_non_null(text = metrics_render(&len));
		if (hist_consistent(text, why, sizeof(why)) != 0)
			bad++;
		free(text);
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (i = 0; i < 2; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	/* and the totals once nothing moves */
	assert_non_null(text = metrics_render(&len));
	if (hist_consistent(text, why, sizeof(why)) != 0)
		bad++;
	free(text);
	metrics_close();
	if (bad != 0)
		fail_msg("%d of 2001 renders inconsistent, e.g. %s", bad, why);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_off_renders_nothing),
		cmocka_unit_test(test_ticket_text),
		cmocka_unit_test(test_histogram_consistent_while_observed),
	};

	return cmocka_run_group_tests_name("metrics", tests, setup, teardown);
}
