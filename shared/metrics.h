/* SPDX-License-Identifier: ISC */
/*
 * metrics.h - counters and latency histograms that add up across every
 * process of a program, and their Prometheus text format.
 *
 * Each process of a program maps the same file,
 * <metrics_dir>/<prog>.v<layout>-<size>.metrics, shared (MAP_SHARED), and
 * updates it with atomic adds: the 16 preforked responders behind one
 * socket are counted as one, and the counts survive a responder that dies.
 * Counters start at zero when the file is created and only grow
 * (Prometheus' rate() copes with the reset when a file is deleted).  A
 * file is created whole (under a temporary name, then linked) and never
 * truncated: a new layout of the counters gets a new file name, so that
 * processes of two versions run side by side (a rolling restart).
 *
 * The hooks sit where the events happen, so the front ends carry none:
 * http.c counts every answer (status, error code), rds.c and mq.c time the
 * reserve script and the publish with its confirm and count reconnects,
 * db.c counts MySQL reconnects, server.c serves the text.  Until
 * metrics_open() succeeded every hook does nothing (ticketctl, unit tests).
 */
#ifndef BOX_METRICS_H
#define BOX_METRICS_H

#include <stddef.h>

enum metrics_counter {
	METRICS_REDIS_RECONNECTS,
	METRICS_AMQP_RECONNECTS,
	METRICS_MYSQL_RECONNECTS,
	METRICS_PUBLISH_CONFIRMED,
	METRICS_PUBLISH_FAILED,
	METRICS_PUBLISH_UNKNOWN,
	METRICS_REPLICA_FALLBACKS,	/* query: reads sent to the primary */
	METRICS_REDIS_REPLICA_READS,	/* query: reads on a Redis replica */
	METRICS_REDIS_REPLICA_FALLBACKS, /* query: ... on its master instead */
	METRICS_REDIS_WAIT_SHORT,	/* ticket: WAITs short of replicas */
	METRICS_COUNTER__MAX
};

/* Values that go up and down; the last process to set one wins. */
enum metrics_gauge {
	METRICS_REPLICA_LAG_MS,	/* query: MySQL replica behind, -1 unknown */
	METRICS_GAUGE__MAX
};

enum metrics_hist {
	METRICS_RESERVE,	/* sale_order: one EVALSHA round trip */
	METRICS_PUBLISH,	/* mq_publish: publish + wait for the confirm */
	METRICS_HIST__MAX
};

/* Maps this layout's file of prog in dir (creating it if needed).  prog is
 * "ticket", "query" or "consumer".  Returns 0, or -1 with errno set (EINVAL:
 * a file of that name with another size or header, left untouched; metrics
 * stay off in this process; the caller logs it).  dir "" turns metrics off. */
int	metrics_open(const char *dir, const char *prog);
/* Unmaps the file. */
void	metrics_close(void);

/* Counts one HTTP answer; the error code is read from a JSON error body
 * {"error":"CODE",...} when status >= 400. */
void	metrics_response(int status, const char *body, size_t len);
void	metrics_count(enum metrics_counter c);
/* Sets a gauge (rendered as NaN while negative or never set). */
void	metrics_gauge(enum metrics_gauge g, long long v);
/* Records the time since start_us (from mono_us() of clock.h). */
void	metrics_observe(enum metrics_hist h, long long start_us);
/* The consumer's pipeline totals ("sql", "nosql"), sampled now and then:
 * what grew since the previous sample of this process is added, so that
 * several consumer processes add up.  lag_ms is the sale-to-write delay of
 * the last batch. */
void	metrics_pipeline(const char *name, unsigned long written,
	    unsigned long dead, long long lag_ms);

/* The Prometheus text (format 0.0.4) of this process's program, and for
 * "ticket" also of the consumer if its file is in the same directory.
 * Returns a malloc'd buffer (length in *len) or NULL if metrics are off. */
char	*metrics_render(size_t *len);

#define METRICS_CONTENT_TYPE	"text/plain; version=0.0.4; charset=utf-8"

#endif
