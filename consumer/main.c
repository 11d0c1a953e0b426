/* SPDX-License-Identifier: ISC */
/*
 * consumer - persists every sold ticket: drains ticketSQL into MySQL and
 * ticketNoSQL into DynamoDB, and sweeps reservations whose publish outcome
 * was unknown (docs/consumer.md).
 *
 * Four threads, each with its own connections: the MySQL pipeline, the
 * DynamoDB pipeline (pipe.c + sink_sql.c / sink_ddb.c) and the sweeper's
 * two (sweeper.c: republishing, and ending expired holds).  The main
 * thread only waits for SIGTERM/SIGINT (blocked in every thread, taken
 * with sigtimedwait) and logs a throughput/lag line.
 * On a signal every pipeline stops taking messages, finishes and acks the
 * batch in hand, closes (the broker requeues what was prefetched) and the
 * process exits 0.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "conf.h"
#include "ddb_item.h"
#include "log.h"
#include "metrics.h"
#include "mq.h"
#include "pipe.h"
#include "rds.h"
#include "sink.h"
#include "start.h"
#include "sweeper.h"

#define STATS_INTERVAL_S	10	/* seconds between throughput lines */

enum part {
	PART_SQL = 1,
	PART_NOSQL = 2,
	PART_SWEEPER = 4,
	PART_ALL = 7
};

static atomic_int stop;

static void
usage(FILE *f, const void *ctx)
{
	(void)ctx;
	fprintf(f, "usage: consumer [-n] [-c config] [-p parts]\n"
	    "Persists sold tickets: queue " MQ_QUEUE_SQL " into MySQL, queue "
	    MQ_QUEUE_NOSQL " into\nDynamoDB, and republishes reservations whose "
	    "publish outcome was unknown.\n\n"
	    START_HELP_CN
	    "  -p LIST  run only these parts, comma-separated: sql, nosql,\n"
	    "           sweeper (default: all three)\n"
	    START_HELP_H "\n"
	    "Settings may be overridden by BOXOFFICE_<NAME> environment\n"
	    "variables; see docs/config.md and docs/consumer.md.  SIGTERM or\n"
	    "SIGINT: finish and ack the batch in hand, exit 0.\n");
}

/* Parses "sql,nosql,sweeper" into a mask; returns it or -1. */
static int
parse_parts(const char *s)
{
	char	 buf[64], *p, *save = NULL;
	int	 mask = 0;

	if (strlen(s) >= sizeof(buf))
		return -1;
	memcpy(buf, s, strlen(s) + 1);
	for (p = strtok_r(buf, ",", &save); p != NULL;
	    p = strtok_r(NULL, ",", &save)) {
		if (strcmp(p, "sql") == 0)
			mask |= PART_SQL;
		else if (strcmp(p, "nosql") == 0)
			mask |= PART_NOSQL;
		else if (strcmp(p, "sweeper") == 0)
			mask |= PART_SWEEPER;
		else
			return -1;
	}
	return mask != 0 ? mask : -1;
}

/* The consumer's own checks of the settings; returns 0 or -1 (printed). */
static int
check_conf(const struct conf *c)
{
	struct rds	r;

	if (strcmp(c->consumer_ddb_write, "batch") != 0 &&
	    strcmp(c->consumer_ddb_write, "put") != 0) {
		fprintf(stderr, "consumer: consumer_ddb_write: '%s' is not "
		    "batch or put\n", c->consumer_ddb_write);
		return -1;
	}
	if (!ddb_table_ok(c->dynamodb_table)) {
		fprintf(stderr, "consumer: dynamodb_table: '%s' is not a valid "
		    "table name\n", c->dynamodb_table);
		return -1;
	}
	/* the MySQL sink and the sweepers read Redis: a redis_mode,
	 * redis_wait_short or redis_read_from they refuse stopped them at
	 * start, after -n said ok */
	if (rds_init_conf(&r, c) != 0) {
		fprintf(stderr, "consumer: %s\n", r.errstr);
		return -1;
	}
	rds_close(&r);
	if (c->consumer_batch > c->consumer_prefetch)
		fprintf(stderr, "consumer: note: consumer_batch %d is above "
		    "consumer_prefetch %d; batches hold at most %d\n",
		    c->consumer_batch, c->consumer_prefetch,
		    c->consumer_prefetch);
	return 0;
}

/* Per-pipeline counters at the previous stats line. */
struct seen {
	unsigned long	done;
	unsigned long	dead;
};

/* Formats one pipeline's part of the stats line; returns 1 if it did
 * anything since the previous line or has messages waiting. */
static int
pipe_line(struct pipe *p, struct mq *m, struct seen *prev, double secs,
    char *buf, size_t size)
{
	unsigned long	done = atomic_load(&p->stats.done);
	unsigned long	dead = atomic_load(&p->stats.dead);
	long		ready = mq_queue_depth(m, p->queue, NULL);
	char		rbuf[24];
	int		busy;

	if (ready >= 0)
		snprintf(rbuf, sizeof(rbuf), "%ld", ready);
	else
		snprintf(rbuf, sizeof(rbuf), "?");
	busy = done != prev->done || dead != prev->dead || ready != 0;
	snprintf(buf, size, "%s: %lu written (%.0f/s), %lu dead-lettered, "
	    "lag %lld ms, %s ready%s%s", p->name, done - prev->done,
	    (done - prev->done) / secs, dead - prev->dead,
	    (long long)atomic_load(&p->stats.lag_ms), rbuf,
	    atomic_load(&p->stats.consuming) ? "" : ", not consuming",
	    atomic_load(&p->stats.failing) ? ", retrying" : "");
	prev->done = done;
	prev->dead = dead;
	return busy;
}

/* Waits for SIGTERM/SIGINT, logging throughput every STATS_INTERVAL_S. */
static void
wait_for_signal(const struct conf *c, struct pipe *pipes, int npipes)
{
	struct timespec	 tick = { 1, 0 };
	struct seen	 prev[2];
	struct mq	 m;
	sigset_t	 set;
	time_t		 last = time(NULL), now;
	char		 line[2][320];
	int		 sig, i, busy;

	memset(prev, 0, sizeof(prev));
	(void)mq_init_conf(&m, c, "consumer stats");
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	for (;;) {
		sig = sigtimedwait(&set, NULL, &tick);
		for (i = 0; i < npipes; i++)	/* shared counters, metrics.h */
			metrics_pipeline(pipes[i].name, atomic_load(
			    &pipes[i].stats.done), atomic_load(
			    &pipes[i].stats.dead), atomic_load(
			    &pipes[i].stats.lag_ms));
		if (sig == SIGTERM || sig == SIGINT) {
			log_info("%s: finishing the batches in hand",
			    sig == SIGTERM ? "SIGTERM" : "SIGINT");
			break;
		}
		if ((now = time(NULL)) - last < STATS_INTERVAL_S)
			continue;
		busy = 0;
		for (i = 0; i < npipes; i++)
			busy |= pipe_line(&pipes[i], &m, &prev[i],
			    (double)(now - last), line[i], sizeof(line[i]));
		if (busy)
			log_info("%s%s%s", line[0], npipes > 1 ? "; " : "",
			    npipes > 1 ? line[1] : "");
		last = now;
	}
	mq_close(&m);
}

/* Everything the main thread owns, from the settings to the threads. */
struct consumer {
	struct conf	 c;
	struct pipe	 pipes[2];
	struct sweeper	 sw;
	struct sink	*sinks[2];
	pthread_t	 tids[4];
	int		 parts;		/* enum part mask (-p) */
	int		 npipes;
	int		 nthreads;	/* started, to join */
	char		 err[512];
};

/* -p LIST */
static int
parts_opt(int ch, const char *arg, void *ctx)
{
	struct consumer *k = ctx;

	(void)ch;
	if ((k->parts = parse_parts(arg)) < 0) {
		fprintf(stderr, "consumer: -p: '%s' is not a list of sql, "
		    "nosql, sweeper\n", arg);
		return -1;
	}
	return 0;
}

/*
 * Step 1, the settings: the command line and the settings file.  Returns 1
 * to go on, or 0 to exit with *exitcode: 0 after -h or -n, 1 for bad
 * settings, 2 for a usage error (both printed).
 */
static int
settings(int argc, char **argv, struct consumer *k, int *exitcode)
{
	struct start_args a = { .extra = "p:", .opt = parts_opt,
	    .usage = usage, .ctx = k };

	k->parts = PART_ALL;
	if ((*exitcode = start_args(&a, argc, argv)) >= 0)
		return 0;
	*exitcode = 1;
	if (start_conf("consumer", a.path, &k->c) != 0 || check_conf(&k->c) != 0)
		return 0;
	if (a.check) {
		*exitcode = start_check_done(&k->c);
		return 0;
	}
	return 1;
}

/* Adds a pipeline draining queue into sink (owned by k from now on). */
static void
add_pipe(struct consumer *k, const char *name, const char *queue,
    struct sink *sink)
{
	struct pipe *p = &k->pipes[k->npipes++];

	p->name = name;
	p->queue = queue;
	p->sink = sink;
	p->c = &k->c;
	p->stop = &stop;
}

/* Checks a new sink; returns 0, or -1 with k->err set (shut_down() frees
 * it). */
static int
sink_ok(struct consumer *k, const struct sink *sk)
{
	if (sk != NULL && sk->err == ERR_NONE)
		return 0;
	snprintf(k->err, sizeof(k->err), "%s", sk != NULL ? sk->errstr :
	    "out of memory");
	return -1;
}

/*
 * Step 2, start-up: log, metrics, the signal mask every thread inherits
 * (only sigtimedwait takes the signals), libcurl, and the sinks of the
 * parts asked for.  Returns 0, or -1 with k->err set; shut_down() frees
 * what was made either way.
 */
static int
start_up(struct consumer *k)
{
	sigset_t set;

	start_log("consumer", &k->c);
	if (metrics_open(k->c.metrics_dir, "consumer") != 0)
		log_warn("metrics: consumer file in %s (metrics off)",
		    k->c.metrics_dir);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(k->err, sizeof(k->err), "cannot initialise libcurl");
		return -1;
	}
	if ((k->parts & PART_SQL) &&
	    sink_ok(k, k->sinks[0] = sink_sql_new(&k->c)) != 0)
		return -1;
	if (k->parts & PART_SQL)
		add_pipe(k, "sql", MQ_QUEUE_SQL, k->sinks[0]);
	if ((k->parts & PART_NOSQL) &&
	    sink_ok(k, k->sinks[1] = sink_ddb_new(&k->c)) != 0)
		return -1;
	if (k->parts & PART_NOSQL)
		add_pipe(k, "nosql", MQ_QUEUE_NOSQL, k->sinks[1]);
	return 0;
}

/* Step 3, the pipelines: one thread per pipeline and the sweeper's two.
 * Returns 0, or -1 with k->err set (the threads started are joined by
 * shut_down()). */
static int
start_threads(struct consumer *k)
{
	int i;

	log_info("started (mysql batch %d, dynamodb %s x%d, prefetch %d)",
	    k->c.consumer_batch, k->c.consumer_ddb_write,
	    k->c.consumer_ddb_parallel, k->c.consumer_prefetch);
	for (i = 0; i < k->npipes; i++) {
		if (pthread_create(&k->tids[k->nthreads], NULL, pipe_run,
		    &k->pipes[i]) != 0)
			goto fail;
		k->nthreads++;
	}
	k->sw.c = &k->c;
	k->sw.stop = &stop;
	if (k->parts & PART_SWEEPER) {
		if (pthread_create(&k->tids[k->nthreads], NULL, sweeper_run,
		    &k->sw) != 0)
			goto fail;
		k->nthreads++;
		if (pthread_create(&k->tids[k->nthreads], NULL,
		    sweeper_holds_run, &k->sw) != 0)
			goto fail;
		k->nthreads++;
	}
	return 0;
fail:
	snprintf(k->err, sizeof(k->err), "cannot start a thread");
	return -1;
}

/* Step 5, shutdown: stops and joins the threads (each finishes and acks
 * its batch in hand), frees the sinks. */
static void
shut_down(struct consumer *k)
{
	int i;

	atomic_store(&stop, 1);
	for (i = 0; i < k->nthreads; i++)
		pthread_join(k->tids[i], NULL);
	for (i = 0; i < 2; i++)
		sink_free(k->sinks[i]);
	curl_global_cleanup();
}

int
main(int argc, char **argv)
{
	static struct consumer	 k;
	int			 exitcode;

	if (!settings(argc, argv, &k, &exitcode))
		return exitcode;
	if (start_up(&k) != 0) {
		log_error("%s", k.err);
		shut_down(&k);
		return 1;
	}
	exitcode = 0;
	if (start_threads(&k) == 0)
		wait_for_signal(&k.c, k.pipes, k.npipes);	/* step 4 */
	else {
		log_error("%s", k.err);
		exitcode = 1;
	}
	shut_down(&k);
	log_info("stopped");
	return exitcode;
}
