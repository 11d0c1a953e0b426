/* SPDX-License-Identifier: ISC */
/*
 * pubbench - the broker's own ceiling for scripts/bench (docs/performance.md): the
 * project's publisher module (shared/mq.c, mq_publish) alone, no HTTP and no
 * Redis.  P processes, each with one connection and one channel in confirm
 * mode like a purchase responder, publish ticket messages (the JSON of a
 * real sale, a fresh ticketId each) to ticket.exchange and wait for each
 * confirm, for S seconds.  Meanwhile two drain processes consume ticketSQL
 * and ticketNoSQL with manual acks (prefetch and ack batching like the
 * consumer), so the broker does the work it does during a purchase run.
 * Stop the real consumer first and purge the queues afterwards: the
 * messages are not real sales.
 *
 * -w W keeps W messages in flight per connection instead of one (pipelined:
 * publish while fewer than W are unconfirmed, read confirms as they come,
 * multiple acks included): what the broker costs when the publisher does
 * not wait for each confirm before the next message.  The latency is then
 * from a message's publish to its confirm.
 *
 *   pubbench [-c config] [-p procs] [-d seconds] [-D drainers 0|1] [-w W]
 *
 * Last line: "pubbench confirmed=N failed=N unknown=N seconds=S rate=R
 * p50_ms=X p99_ms=Y drained=N procs=N errors=N cpu_s=S" (cpu_s: CPU time of
 * all its processes).
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <amqp.h>

#include "clock.h"
#include "conf.h"
#include "mq.h"
#include "start.h"
#include "ticket.h"
#include "valid.h"

#define PROCS_MAX	256
#define BUCKET_US	50		/* latency histogram resolution */
#define BUCKETS		40000		/* up to 2 s; longer go in the last */
#define DRAIN_PREFETCH	300
#define DRAIN_ACK_EVERY	100
#define WINDOW_MAX	1024		/* -w: messages in flight per connection */

/* What one publisher reports, in memory shared with the parent. */
struct slot {
	unsigned long	confirmed, failed, unknown;
	unsigned long	hist[BUCKETS];
};

/* What one drainer reports. */
struct drain {
	unsigned long	consumed;
};

static void	observe(struct slot *, long long);
static int	pipelined(struct mq *, struct slot *, struct ticket *, int,
		    long long);

static void
sleep_until(long long us)
{
	long long	 left;
	struct timespec	 ts;

	while ((left = us - mono_us()) > 0) {
		ts.tv_sec = left / 1000000;
		ts.tv_nsec = (long)(left % 1000000) * 1000;
		nanosleep(&ts, NULL);
	}
}

/* One publisher: connect, wait for the start, publish until the end. */
static int
publisher(const struct conf *c, struct slot *s, int id, int window,
    long long start, long long end)
{
	struct mq	 m;
	struct ticket	 t;
	char		 json[TICKET_JSON_MAX], name[64];
	long long	 t0, us;
	enum mq_result	 r;

	snprintf(name, sizeof(name), "pubbench[%d]", id);
	mq_init(&m, c->amqp_host, c->amqp_port, c->amqp_user, c->amqp_password,
	    c->amqp_vhost, c->amqp_connect_timeout_ms, name);
	mq_set_heartbeat(&m, c->amqp_heartbeat);
	if (mq_connect(&m, 1) != 0) {
		fprintf(stderr, "pubbench: %s\n", m.errstr);
		return 1;
	}
	memset(&t, 0, sizeof(t));
	snprintf(t.venue, sizeof(t.venue), "Venue1");
	snprintf(t.event, sizeof(t.event), "Event1");
	t.zone = 1 + id % 100;
	t.row = 1;
	t.col = 1;
	snprintf(t.price, sizeof(t.price), "320.00");
	sleep_until(start);
	if (window > 1) {
		int	rc = pipelined(&m, s, &t, window, end);

		mq_close(&m);
		return rc;
	}
	while ((t0 = mono_us()) < end) {
		if (ticket_new(&t) != 0 ||
		    ticket_json(&t, json, sizeof(json)) < 0) {
			fprintf(stderr, "pubbench: cannot build a ticket\n");
			return 1;
		}
		r = mq_publish(&m, json, strlen(json), t.id,
		    c->amqp_confirm_timeout_ms);
		us = mono_us() - t0;
		if (r == MQ_OK)
			observe(s, us);
		else if (r == MQ_FAILED)
			s->failed++;
		else
			s->unknown++;
	}
	mq_close(&m);
	return 0;
}

static void
observe(struct slot *s, long long us)
{
	s->confirmed++;
	s->hist[us / BUCKET_US < BUCKETS ? us / BUCKET_US : BUCKETS - 1]++;
}

/*
 * The pipelined publisher (-w): up to window messages unconfirmed on the
 * connection.  Delivery tags count from 1 on the channel; sent[tag %
 * WINDOW_MAX] is the publish time of a tag in flight.  A nack or a return
 * counts as failed, anything that breaks the connection ends the run with
 * the messages in flight counted unknown.
 */
static int
pipelined(struct mq *m, struct slot *s, struct ticket *t, int window,
    long long end)
{
	static long long	 sent[WINDOW_MAX];
	amqp_basic_properties_t	 props;
	amqp_frame_t		 f;
	amqp_message_t		 msg;
	amqp_bytes_t		 b;
	struct timeval		 tv = { 0, 0 };
	char			 json[TICKET_JSON_MAX];
	uint64_t		 next = 1, done = 0, tag;	/* confirmed up to done */
	long long		 now;
	int			 rc;

	for (;;) {
		now = mono_us();
		while (now < end && next - 1 - done < (uint64_t)window) {
			if (ticket_new(t) != 0 ||
			    ticket_json(t, json, sizeof(json)) < 0)
				return 1;
			mq_message_props(&props, t->id);
			b.bytes = json;
			b.len = strlen(json);
			if (amqp_basic_publish(m->conn, 1,
			    amqp_cstring_bytes(MQ_EXCHANGE),
			    amqp_cstring_bytes(MQ_ROUTING_KEY), 1, 0, &props,
			    b) != AMQP_STATUS_OK)
				goto lost;
			sent[next++ % WINDOW_MAX] = now;
		}
		if (next - 1 == done) {
			if (now >= end)
				return 0;
			continue;
		}
		/* block for a frame: something is in flight */
		tv.tv_sec = 30;
		amqp_maybe_release_buffers(m->conn);
		rc = amqp_simple_wait_frame_noblock(m->conn, &f, &tv);
		if (rc != AMQP_STATUS_OK)
			goto lost;
		if (f.frame_type != AMQP_FRAME_METHOD)
			continue;
		now = mono_us();
		switch (f.payload.method.id) {
		case AMQP_BASIC_ACK_METHOD:
		case AMQP_BASIC_NACK_METHOD: {
			int ack = f.payload.method.id == AMQP_BASIC_ACK_METHOD;
			uint64_t upto = ack ?
			    ((amqp_basic_ack_t *)f.payload.method.decoded)->
			    delivery_tag : ((amqp_basic_nack_t *)
			    f.payload.method.decoded)->delivery_tag;
			int multiple = ack ?
			    ((amqp_basic_ack_t *)f.payload.method.decoded)->
			    multiple : ((amqp_basic_nack_t *)
			    f.payload.method.decoded)->multiple;

			for (tag = multiple ? done + 1 : upto; tag <= upto;
			    tag++) {
				if (ack)
					observe(s, now - sent[tag % WINDOW_MAX]);
				else
					s->failed++;
			}
			/* confirms come in tag order on one channel */
			if (upto > done)
				done = upto;
			break;
		}
		case AMQP_BASIC_RETURN_METHOD:
			if (amqp_read_message(m->conn, f.channel, &msg, 0).
			    reply_type != AMQP_RESPONSE_NORMAL)
				goto lost;
			amqp_destroy_message(&msg);
			s->failed++;	/* its ack follows and counts it too */
			s->confirmed--;
			break;
		default:
			break;
		}
	}
lost:
	s->unknown += next - 1 - done;
	fprintf(stderr, "pubbench: connection lost with %lu in flight\n",
	    (unsigned long)(next - 1 - done));
	return 1;
}

/* One drainer: consumes queue with manual acks until the end plus a grace
 * period in which nothing arrives. */
static int
drainer(const struct conf *c, struct drain *d, const char *queue,
    long long end)
{
	struct mq		 m;
	amqp_envelope_t		 env;
	amqp_rpc_reply_t	 r;
	amqp_frame_t		 f;
	struct timeval		 tv = { 0, 100000 };
	uint64_t		 last = 0;
	unsigned		 unacked = 0;
	long long		 idle_since = 0, now;

	mq_init(&m, c->amqp_host, c->amqp_port, c->amqp_user, c->amqp_password,
	    c->amqp_vhost, c->amqp_connect_timeout_ms, "pubbench drain");
	mq_set_heartbeat(&m, c->amqp_heartbeat);
	if (mq_connect(&m, 0) != 0) {
		fprintf(stderr, "pubbench: %s\n", m.errstr);
		return 1;
	}
	amqp_basic_qos(m.conn, 1, 0, DRAIN_PREFETCH, 0);
	amqp_basic_consume(m.conn, 1, amqp_cstring_bytes(queue),
	    amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
	if (amqp_get_rpc_reply(m.conn).reply_type != AMQP_RESPONSE_NORMAL) {
		fprintf(stderr, "pubbench: cannot consume %s\n", queue);
		return 1;
	}
	for (;;) {
		amqp_maybe_release_buffers(m.conn);
		r = amqp_consume_message(m.conn, &env, &tv, 0);
		now = mono_us();
		if (r.reply_type == AMQP_RESPONSE_NORMAL) {
			last = env.delivery_tag;
			amqp_destroy_envelope(&env);
			d->consumed++;
			idle_since = 0;
			if (++unacked >= DRAIN_ACK_EVERY) {
				amqp_basic_ack(m.conn, 1, last, 1);
				unacked = 0;
			}
			continue;
		}
		if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
		    r.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
			if (amqp_simple_wait_frame(m.conn, &f) != AMQP_STATUS_OK)
				break;
			continue;
		}
		if (r.reply_type != AMQP_RESPONSE_LIBRARY_EXCEPTION ||
		    r.library_error != AMQP_STATUS_TIMEOUT)
			break;
		if (unacked > 0) {
			amqp_basic_ack(m.conn, 1, last, 1);
			unacked = 0;
		}
		if (idle_since == 0)
			idle_since = now;
		if (now > end && (now - idle_since > 500000 ||
		    now > end + 5000000))
			break;
	}
	mq_close(&m);
	return 0;
}

/* The latency (ms) at fraction p of the merged histogram. */
static double
percentile(const unsigned long *hist, unsigned long total, double p)
{
	unsigned long	want = (unsigned long)(total * p), seen = 0;
	size_t		i;

	for (i = 0; i < BUCKETS; i++) {
		seen += hist[i];
		if (seen > want)
			return (i + 0.5) * BUCKET_US / 1000.0;
	}
	return BUCKETS * BUCKET_US / 1000.0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: pubbench [-c config] [-p procs] [-d seconds] "
	    "[-D 0|1] [-w window]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static const char *const queues[] = { MQ_QUEUE_SQL, MQ_QUEUE_NOSQL };
	struct conf	 c;
	struct slot	*slots;
	struct drain	*drains;
	unsigned long	*hist;
	unsigned long	 confirmed = 0, failed = 0, unknown = 0, drained = 0;
	const char	*path = NULL;
	long long	 start, end;
	double		 secs, cpu = 0;
	struct rusage	 ru;
	int		 ch, procs = 16, seconds = 10, ndrain = 2, i, status;
	int		 window = 1;
	int		 bad = 0;
	long		 n;
	size_t		 k;
	pid_t		 pid;

	while ((ch = getopt(argc, argv, "c:p:d:D:w:h")) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'p':
			if (valid_long(optarg, 1, PROCS_MAX, &n) != 0)
				usage();
			procs = (int)n;
			break;
		case 'd':
			if (valid_long(optarg, 1, 3600, &n) != 0)
				usage();
			seconds = (int)n;
			break;
		case 'D':
			if (valid_long(optarg, 0, 1, &n) != 0)
				usage();
			ndrain = n ? 2 : 0;
			break;
		case 'w':
			if (valid_long(optarg, 1, WINDOW_MAX, &n) != 0)
				usage();
			window = (int)n;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if (start_conf("pubbench", path, &c) != 0)
		return 1;
	slots = mmap(NULL, sizeof(*slots) * procs + sizeof(*drains) * 2,
	    PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (slots == MAP_FAILED) {
		perror("pubbench: mmap");
		return 1;
	}
	drains = (struct drain *)(slots + procs);
	/* give every publisher time to connect before the clock starts */
	start = mono_us() + 1000000 + 20000LL * procs;
	end = start + seconds * 1000000LL;
	for (i = 0; i < ndrain; i++) {
		if ((pid = fork()) == 0)
			_exit(drainer(&c, &drains[i], queues[i], end));
		if (pid < 0) {
			perror("pubbench: fork");
			return 1;
		}
	}
	for (i = 0; i < procs; i++) {
		if ((pid = fork()) == 0)
			_exit(publisher(&c, &slots[i], i, window, start, end));
		if (pid < 0) {
			perror("pubbench: fork");
			return 1;
		}
	}
	while ((pid = wait(&status)) > 0 || errno == EINTR)
		if (pid > 0 && (!WIFEXITED(status) || WEXITSTATUS(status) != 0))
			bad++;
	if ((hist = calloc(BUCKETS, sizeof(*hist))) == NULL)
		return 1;
	for (i = 0; i < procs; i++) {
		confirmed += slots[i].confirmed;
		failed += slots[i].failed;
		unknown += slots[i].unknown;
		for (k = 0; k < BUCKETS; k++)
			hist[k] += slots[i].hist[k];
	}
	for (i = 0; i < ndrain; i++)
		drained += drains[i].consumed;
	secs = seconds;
	/* CPU of every child (publishers and drainers), connect phase included */
	if (getrusage(RUSAGE_CHILDREN, &ru) == 0)
		cpu = ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
		    (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
	printf("pubbench confirmed=%lu failed=%lu unknown=%lu seconds=%.1f "
	    "rate=%.0f p50_ms=%.2f p99_ms=%.2f drained=%lu procs=%d "
	    "errors=%d cpu_s=%.2f window=%d\n", confirmed, failed, unknown, secs,
	    confirmed / secs, percentile(hist, confirmed, 0.50),
	    percentile(hist, confirmed, 0.99), drained, procs, bad, cpu, window);
	free(hist);
	return bad != 0 || confirmed == 0;
}
