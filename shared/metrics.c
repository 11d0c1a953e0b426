/* SPDX-License-Identifier: ISC */
/*
 * metrics.c - shared counters in a file mapping, Prometheus text (see
 * metrics.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "metrics.h"

#define MAGIC		0x314d54454d4f42ULL	/* "BOMETM1" */
/* The layout of struct shm.  A file is never truncated or re-initialised
 * while a process may map it (a rolling restart runs old and new processes
 * side by side: truncating the file under an old process kills it with
 * SIGBUS), so every layout has a file of its own, named after LAYOUT and
 * the struct's size: bump LAYOUT on any change of struct shm or of the
 * tables that size it. */
#define LAYOUT		5
#define PROG_MAX	16
#define PATH_MAX_	512
#define PIPES_MAX	2

/* HTTP statuses and error codes counted one by one; others go to "other". */
static const int statuses[] = { 200, 201, 204, 400, 403, 404, 405, 409, 410,
	413, 415, 422, 500, 503 };
#define NSTATUS		(sizeof(statuses) / sizeof(statuses[0]) + 1)
static const char *const codes[] = { "", "BAD_REQUEST", "INVALID_SEAT",
	"NOT_FOUND", "METHOD_NOT_ALLOWED", "ZONE_SOLD_OUT", "ROW_SOLD_OUT",
	"SEAT_TAKEN", "PAYLOAD_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE",
	"UNAVAILABLE", "INTERNAL", "NOT_ON_SALE", "SALE_CLOSED",
	"EVENT_CANCELLED", "NOT_ENOUGH_ADJACENT", "HOLD_EXPIRED", "FORBIDDEN",
	"NOT_YET_CONFIRMED", "IDEMPOTENCY_KEY_REUSED", "REQUEST_IN_PROGRESS" };
#define NCODES		(sizeof(codes) / sizeof(codes[0]) + 1)

/* Upper bounds of the latency buckets, in microseconds (+Inf follows). */
static const long long bounds_us[] = { 100, 250, 500, 1000, 2500, 5000,
	10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000,
	5000000, 10000000 };
#define NBOUNDS		(sizeof(bounds_us) / sizeof(bounds_us[0]))

static const char *const pipe_names[PIPES_MAX] = { "sql", "nosql" };

struct hist {
	uint64_t	bucket[NBOUNDS + 1];	/* not cumulative; last: +Inf */
	uint64_t	count;
	uint64_t	sum_us;
};

/* The mapped file.  Every field is only ever changed with atomic adds. */
struct shm {
	uint64_t	magic;
	uint64_t	size;
	uint64_t	layout;
	uint64_t	requests[NSTATUS][NCODES];
	uint64_t	counters[METRICS_COUNTER__MAX];
	struct hist	hist[METRICS_HIST__MAX];
	uint64_t	written[PIPES_MAX];
	uint64_t	dead[PIPES_MAX];
	int64_t		lag_ms[PIPES_MAX];
	int64_t		gauge[METRICS_GAUGE__MAX];	/* value + 1; 0: never set */
};

static struct shm	*shm;
static char		 prog[PROG_MAX];
static char		 dir[PATH_MAX_];
/* the consumer's previous sample, per process */
static unsigned long	 seen_written[PIPES_MAX], seen_dead[PIPES_MAX];

static void
add(uint64_t *p, uint64_t n)
{
	__atomic_fetch_add(p, n, __ATOMIC_RELAXED);
}

static uint64_t
get(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

/* The file of program p in directory d for this layout: <p>.v<LAYOUT>-<size>.metrics.
 * Returns 0, or -1 (ENAMETOOLONG). */
static int
file_name(const char *d, const char *p, char *buf, size_t size)
{
	int n;

	n = snprintf(buf, size, "%s/%s.v%d-%zu.metrics", d, p, LAYOUT,
	    sizeof(struct shm));
	if (n < 0 || (size_t)n >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* Creates path complete (header written) or not at all: a new file under
 * a temporary name, linked to path (another process may have won the race:
 * then its file is used).  Returns 0, or -1 with errno set. */
static int
create_file(const char *path)
{
	struct shm	 h;
	char		 tmp[PATH_MAX_ + 64];
	int		 fd, n, r = 0, saved;

	n = snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid());
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	(void)unlink(tmp);
	if ((fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0664)) < 0)
		return -1;
	memset(&h, 0, sizeof(h));
	h.magic = MAGIC;
	h.size = sizeof(h);
	h.layout = LAYOUT;
	/* the whole struct (zero counters), written: no hole, no SIGBUS on a
	 * full disk later */
	if (pwrite(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) ||
	    fsync(fd) != 0 || (link(tmp, path) != 0 && errno != EEXIST))
		r = -1;
	saved = errno;
	close(fd);
	(void)unlink(tmp);
	errno = saved;
	return r;
}

/* Opens and maps one program's file.  writable: create it if it does not
 * exist.  A file of another size or header is never changed (a process of
 * another layout may map it): -1 with EINVAL.  Returns the mapping, or
 * NULL with errno set. */
static struct shm *
map_file(const char *path, int writable)
{
	struct shm	*m;
	struct stat	 st;
	int		 fd, saved;

	fd = open(path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && writable) {
		if (create_file(path) != 0)
			return NULL;
		fd = open(path, O_RDWR | O_CLOEXEC);
	}
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) != 0)
		goto fail;
	if (!S_ISREG(st.st_mode) || (size_t)st.st_size != sizeof(struct shm)) {
		errno = EINVAL;
		goto fail;
	}
	m = mmap(NULL, sizeof(*m), writable ? PROT_READ | PROT_WRITE :
	    PROT_READ, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		goto fail;
	close(fd);
	if (m->magic != MAGIC || m->size != sizeof(*m) || m->layout != LAYOUT) {
		munmap(m, sizeof(*m));
		errno = EINVAL;
		return NULL;
	}
	return m;
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return NULL;
}

int
metrics_open(const char *d, const char *p)
{
	char	path[PATH_MAX_ + PROG_MAX + 32];

	metrics_close();
	if (d == NULL || d[0] == '\0')
		return 0;
	if (strlen(p) >= sizeof(prog) || strlen(d) >= sizeof(dir)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (file_name(d, p, path, sizeof(path)) != 0)
		return -1;
	if ((shm = map_file(path, 1)) == NULL)
		return -1;
	snprintf(prog, sizeof(prog), "%s", p);
	snprintf(dir, sizeof(dir), "%s", d);
	return 0;
}

void
metrics_close(void)
{
	if (shm != NULL)
		munmap(shm, sizeof(*shm));
	shm = NULL;
}

void
metrics_response(int status, const char *body, size_t len)
{
	size_t	s, c, n;
	const char *code = "";

	if (shm == NULL)
		return;
	for (s = 0; s < NSTATUS - 1 && statuses[s] != status; s++)
		;
	c = 0;
	if (status >= 400) {
		/* our error bodies all start so (http_error) */
		static const char pre[] = "{\"error\":\"";

		c = NCODES - 1;
		if (len > sizeof(pre) - 1 && memcmp(body, pre,
		    sizeof(pre) - 1) == 0) {
			code = body + sizeof(pre) - 1;
			n = len - (sizeof(pre) - 1);
			for (c = 1; c < NCODES - 1; c++)
				if (strlen(codes[c]) < n &&
				    strncmp(code, codes[c], strlen(codes[c])) ==
				    0 && code[strlen(codes[c])] == '"')
					break;
		}
	}
	add(&shm->requests[s][c], 1);
}

void
metrics_count(enum metrics_counter c)
{
	if (shm != NULL && (unsigned)c < METRICS_COUNTER__MAX)
		add(&shm->counters[c], 1);
}

void
metrics_observe(enum metrics_hist h, long long start_us)
{
	long long	us;
	size_t		b;

	if (shm == NULL || (unsigned)h >= METRICS_HIST__MAX)
		return;
	if ((us = mono_us() - start_us) < 0)
		us = 0;
	for (b = 0; b < NBOUNDS && us > bounds_us[b]; b++)
		;
	add(&shm->hist[h].bucket[b], 1);
	add(&shm->hist[h].count, 1);
	add(&shm->hist[h].sum_us, (uint64_t)us);
}

void
metrics_gauge(enum metrics_gauge g, long long v)
{
	if (shm == NULL)
		return;
	__atomic_store_n(&shm->gauge[g], (int64_t)(v < 0 ? -1 : v) + 1,
	    __ATOMIC_RELAXED);
}

void
metrics_pipeline(const char *name, unsigned long written, unsigned long dead,
    long long lag_ms)
{
	size_t i;

	if (shm == NULL)
		return;
	for (i = 0; i < PIPES_MAX && strcmp(pipe_names[i], name) != 0; i++)
		;
	if (i == PIPES_MAX)
		return;
	if (written >= seen_written[i])
		add(&shm->written[i], written - seen_written[i]);
	if (dead >= seen_dead[i])
		add(&shm->dead[i], dead - seen_dead[i]);
	seen_written[i] = written;
	seen_dead[i] = dead;
	__atomic_store_n(&shm->lag_ms[i], (int64_t)lag_ms, __ATOMIC_RELAXED);
}

/* ---------------------------------------------------------------- text */

/* One program's counters; a family's samples from every source follow
 * its one HELP/TYPE header, as the text format requires. */
struct src {
	const struct shm	*m;
	const char		*p;
};

#define FOR_TICKET	1
#define FOR_QUERY	2
#define FOR_CONSUMER	4

static int
prog_bit(const char *p)
{
	if (strcmp(p, "ticket") == 0)
		return FOR_TICKET;
	if (strcmp(p, "query") == 0)
		return FOR_QUERY;
	return strcmp(p, "consumer") == 0 ? FOR_CONSUMER : 0;
}

/* Writes HELP and TYPE if one of the sources has the family; returns 1
 * if so. */
static int
head(FILE *f, const struct src *s, int n, int who, const char *name,
    const char *type, const char *help)
{
	int i;

	for (i = 0; i < n; i++)
		if (prog_bit(s[i].p) & who) {
			fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help,
			    name, type);
			return 1;
		}
	return 0;
}

static void
render_requests(FILE *f, const struct src *s, int n)
{
	const char	*name = "boxoffice_http_requests_total";
	uint64_t	 v;
	size_t		 st, c;
	char		 status[8];
	int		 i;

	if (!head(f, s, n, FOR_TICKET | FOR_QUERY, name, "counter",
	    "HTTP answers by status and error code."))
		return;
	for (i = 0; i < n; i++) {
		if (!(prog_bit(s[i].p) & (FOR_TICKET | FOR_QUERY)))
			continue;
		for (st = 0; st < NSTATUS; st++)
			for (c = 0; c < NCODES; c++) {
				if ((v = get(&s[i].m->requests[st][c])) == 0)
					continue;
				if (st < NSTATUS - 1)
					snprintf(status, sizeof(status), "%d",
					    statuses[st]);
				else
					snprintf(status, sizeof(status), "other");
				fprintf(f, "%s{program=\"%s\",status=\"%s\","
				    "error=\"%s\"} %llu\n", name, s[i].p, status,
				    c < NCODES - 1 ? codes[c] : "other",
				    (unsigned long long)v);
			}
	}
}

/*
 * A histogram family.  Other processes add to the buckets, the count and
 * the sum one after the other while this reads them, so the buckets need
 * not add up to the count read: the count is read once and is both the
 * le="+Inf" bucket and _count (Prometheus requires them equal), and no
 * bucket says more than it (they must not decrease).  An observation half
 * added shows in the next scrape.
 */
static void
render_hist(FILE *f, const struct src *s, int n, int who,
    enum metrics_hist which, const char *name, const char *help)
{
	const struct hist	*h;
	uint64_t		 cum, total;
	size_t			 b;
	int			 i;

	if (!head(f, s, n, who, name, "histogram", help))
		return;
	for (i = 0; i < n; i++) {
		if (!(prog_bit(s[i].p) & who))
			continue;
		h = &s[i].m->hist[which];
		total = get(&h->count);
		for (b = 0, cum = 0; b < NBOUNDS; b++) {
			cum += get(&h->bucket[b]);
			fprintf(f, "%s_bucket{program=\"%s\",le=\"%g\"} %llu\n",
			    name, s[i].p, bounds_us[b] / 1e6,
			    (unsigned long long)(cum < total ? cum : total));
		}
		fprintf(f, "%s_bucket{program=\"%s\",le=\"+Inf\"} %llu\n"
		    "%s_sum{program=\"%s\"} %.6f\n%s_count{program=\"%s\"} "
		    "%llu\n", name, s[i].p, (unsigned long long)total, name,
		    s[i].p, get(&h->sum_us) / 1e6, name, s[i].p,
		    (unsigned long long)total);
	}
}

/* A counter family; with outcome set, three counters from first on. */
static void
render_counter(FILE *f, const struct src *s, int n, int who,
    enum metrics_counter first, const char *name, const char *help,
    int outcomes)
{
	static const char *const outcome[] = { "confirmed", "failed",
	    "unknown" };
	int i, k;

	if (!head(f, s, n, who, name, "counter", help))
		return;
	for (i = 0; i < n; i++) {
		if (!(prog_bit(s[i].p) & who))
			continue;
		if (!outcomes) {
			fprintf(f, "%s{program=\"%s\"} %llu\n", name, s[i].p,
			    (unsigned long long)get(&s[i].m->counters[first]));
			continue;
		}
		for (k = 0; k < 3; k++)
			fprintf(f, "%s{program=\"%s\",outcome=\"%s\"} %llu\n",
			    name, s[i].p, outcome[k], (unsigned long long)get(
			    &s[i].m->counters[first + k]));
	}
}

/* A per-pipeline family of the consumer. */
static void
render_pipes(FILE *f, const struct src *s, int n, const char *name,
    const char *type, const char *help, int which)
{
	const struct shm	*m;
	int			 i, k;

	if (!head(f, s, n, FOR_CONSUMER, name, type, help))
		return;
	for (i = 0; i < n; i++) {
		if (!(prog_bit(s[i].p) & FOR_CONSUMER))
			continue;
		m = s[i].m;
		for (k = 0; k < PIPES_MAX; k++) {
			if (which == 2)
				fprintf(f, "%s{pipeline=\"%s\"} %.3f\n", name,
				    pipe_names[k], (double)__atomic_load_n(
				    &m->lag_ms[k], __ATOMIC_RELAXED) / 1000.0);
			else
				fprintf(f, "%s{pipeline=\"%s\"} %llu\n", name,
				    pipe_names[k], (unsigned long long)get(
				    which == 0 ? &m->written[k] : &m->dead[k]));
		}
	}
}

/* The query responder's look at the MySQL replica (replica.h). */
static void
render_replica_lag(FILE *f, const struct src *s, int n)
{
	static const char name[] = "boxoffice_mysql_replica_lag_seconds";
	int64_t	v;
	int	i;

	if (!head(f, s, n, FOR_QUERY, name, "gauge", "Seconds_Behind_Master "
	    "of the replica the query responder reads, or how long it has "
	    "not applied a write of the primary when that made it behind "
	    "(NaN: none, down or not replicating)."))
		return;
	for (i = 0; i < n; i++) {
		if (!(prog_bit(s[i].p) & FOR_QUERY))
			continue;
		v = __atomic_load_n(&s[i].m->gauge[METRICS_REPLICA_LAG_MS],
		    __ATOMIC_RELAXED) - 1;
		if (v < 0)
			fprintf(f, "%s{program=\"%s\"} NaN\n", name, s[i].p);
		else
			fprintf(f, "%s{program=\"%s\"} %.3f\n", name, s[i].p,
			    (double)v / 1000.0);
	}
}

static void
render(FILE *f, const struct src *s, int n)
{
	render_requests(f, s, n);
	render_hist(f, s, n, FOR_TICKET, METRICS_RESERVE,
	    "boxoffice_reserve_duration_seconds",
	    "Seat reservation: one EVALSHA of order.lua.");
	render_counter(f, s, n, FOR_TICKET | FOR_CONSUMER,
	    METRICS_PUBLISH_CONFIRMED, "boxoffice_publish_total",
	    "Publishes by outcome (docs/reliability.md).", 1);
	render_hist(f, s, n, FOR_TICKET | FOR_CONSUMER, METRICS_PUBLISH,
	    "boxoffice_publish_duration_seconds",
	    "Publish of a ticket until the broker's confirm.");
	render_counter(f, s, n, FOR_TICKET | FOR_QUERY | FOR_CONSUMER,
	    METRICS_REDIS_RECONNECTS, "boxoffice_redis_reconnects_total",
	    "Redis connections opened again after the first.", 0);
	render_counter(f, s, n, FOR_TICKET | FOR_CONSUMER,
	    METRICS_AMQP_RECONNECTS, "boxoffice_amqp_reconnects_total",
	    "Broker connections opened again after the first.", 0);
	render_counter(f, s, n, FOR_QUERY | FOR_CONSUMER,
	    METRICS_MYSQL_RECONNECTS, "boxoffice_mysql_reconnects_total",
	    "MySQL connections opened again after the first.", 0);
	render_counter(f, s, n, FOR_QUERY, METRICS_REPLICA_FALLBACKS,
	    "boxoffice_mysql_replica_fallbacks_total", "Reads sent to the "
	    "MySQL primary because the replica was down or behind.", 0);
	render_replica_lag(f, s, n);
	render_counter(f, s, n, FOR_QUERY, METRICS_REDIS_REPLICA_READS,
	    "boxoffice_redis_replica_reads_total", "Redis reads sent to a "
	    "replica (redis_read_from = replica).", 0);
	render_counter(f, s, n, FOR_QUERY, METRICS_REDIS_REPLICA_FALLBACKS,
	    "boxoffice_redis_replica_fallbacks_total", "Redis reads sent to "
	    "the master because the replica was down, not replicating, "
	    "behind, or failed the read.", 0);
	render_counter(f, s, n, FOR_TICKET, METRICS_REDIS_WAIT_SHORT,
	    "boxoffice_redis_wait_short_total", "WAITs of sales and holds "
	    "(and of the releases, cancellations and hold ends after them) "
	    "that reached fewer replicas than redis_wait_replicas.", 0);
	render_pipes(f, s, n, "boxoffice_consumer_written_total", "counter",
	    "Tickets durably written and acked, per pipeline.", 0);
	render_pipes(f, s, n, "boxoffice_consumer_dead_lettered_total",
	    "counter", "Messages dead-lettered, per pipeline.", 1);
	render_pipes(f, s, n, "boxoffice_consumer_lag_seconds", "gauge",
	    "From the sale to the write, last batch, per pipeline.", 2);
}

char *
metrics_render(size_t *len)
{
	struct src	 s[2];
	struct shm	*other = NULL;
	char		*buf = NULL, path[PATH_MAX_ + 64];
	FILE		*f;
	int		 n = 1;

	if (shm == NULL || (f = open_memstream(&buf, len)) == NULL)
		return NULL;
	s[0].m = shm;
	s[0].p = prog;
	if (strcmp(prog, "ticket") == 0) {
		/* the consumer has no HTTP side: shown with the purchases */
		/* of this layout only: during a rolling restart the
		 * consumer's counters show once both run the same layout */
		if (file_name(dir, "consumer", path, sizeof(path)) == 0 &&
		    (other = map_file(path, 0)) != NULL) {
			s[1].m = other;
			s[1].p = "consumer";
			n = 2;
		}
	}
	render(f, s, n);
	if (other != NULL)
		munmap(other, sizeof(*other));
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}
