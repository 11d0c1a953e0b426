/* SPDX-License-Identifier: ISC */
/*
 * sink_ddb.c - the DynamoDB sink: tickets into the write model (table
 * Tickets), over HTTP with libcurl (SigV4 by CURLOPT_AWS_SIGV4, see ddb.c).
 *
 * Two ways to write, chosen by consumer_ddb_write:
 *   batch  BatchWriteItem of up to 25 items per request.  A redelivered
 *          message rewrites the identical item (idempotent by key);
 *          UnprocessedItems are retried with backoff.
 *   put    one PutItem per ticket with ConditionExpression
 *          attribute_not_exists(ticketId); ConditionalCheckFailed on a
 *          redelivery counts as written.
 * Either way up to consumer_ddb_parallel requests are in flight at once on
 * one curl multi handle (connections are kept alive and reused).
 *
 * Transport errors, 5xx, throttling and every other refusal of the service
 * (missing table, bad credentials) are transient: retried with backoff.
 * So is a ValidationException: the items are built from tickets the
 * message parser checked, so a refusal means the table does not fit them
 * (another key schema, another table) and every message would be refused
 * alike.  That raises a configuration alarm (logged at error level once,
 * until writes work again) and keeps the messages; nothing is
 * dead-lettered for it.  (A batch refused that way is still split into
 * PutItems first, which names the item in the log.)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "ddb.h"
#include "ddb_item.h"
#include "ddb_order.h"
#include "fmt.h"
#include "log.h"
#include "sink.h"

#define SLOTS_MAX	64

enum ddb_job_op {
	DDB_JOB_BATCH,
	DDB_JOB_PUT,
	DDB_JOB_TXN		/* orders and cancellations (ddb_order.h) */
};

/* One request: a BatchWriteItem of n items, a PutItem of one, or a
 * TransactWriteItems of n messages. */
struct job {
	enum ddb_job_op	op;
	size_t		n;
	size_t		idx[DDB_TXN_MAX];	/* item indices (>= DDB_BATCH_MAX) */
	size_t		actions;		/* DDB_JOB_TXN: items written */
	enum ddb_form	form;			/* DDB_JOB_TXN: orders as */
};

#define SLOT_JSON_MAX	(DDB_BATCH_JSON_MAX > DDB_TXN_JSON_MAX ? \
			DDB_BATCH_JSON_MAX : DDB_TXN_JSON_MAX)

/* One transfer slot of the multi handle. */
struct slot {
	CURL			*h;
	struct curl_slist	*hdrs;
	struct ddb_resp		 resp;
	char			*json;		/* SLOT_JSON_MAX bytes */
	struct job		*job;		/* NULL when free */
};

struct sink_ddb {
	struct ddb	 d;
	CURLM		*multi;
	struct slot	 slots[SLOTS_MAX];
	int		 nslots;
	int		 batch;		/* consumer_ddb_write = batch */
	size_t		 max;		/* items per pipeline batch */
	size_t		*lead;
	struct job	*jobs;		/* max jobs */
	size_t		*fallback;	/* items of refused batches */
	size_t		 nfallback;
	unsigned char	*found;		/* found[i]: item i's order put found
					   an item there: write it again as
					   an update (ddb_order.h) */
	size_t		 nfound;
	struct sink	*sk;		/* its errstr: the first transient
					   error of a write (pipe.h) */
	int		 retry;		/* some item left in PIPE_RETRY */
	int		 alarm;		/* configuration alarm raised */
	char		 (*unproc)[UUID_LEN + 1];
};

/* Records a transient failure of the items of job. */
static void
job_retry(struct sink_ddb *s, struct item *items, const struct job *j,
    const char *why)
{
	size_t k;

	for (k = 0; k < j->n; k++)
		items[j->idx[k]].state = PIPE_RETRY;
	if (!s->retry)
		sink_fail(s->sk, ERR_IO, "%s", why);
	s->retry = 1;
}

static int
refused_value(const struct ddb_resp *r)
{
	return r->status == 400 && (strcmp(r->type, "ValidationException") ==
	    0 || strcmp(r->type, "SerializationException") == 0);
}

static const char *
job_name(const struct job *j)
{
	return j->op == DDB_JOB_BATCH ? "BatchWriteItem" :
	    j->op == DDB_JOB_PUT ? "PutItem" : "TransactWriteItems";
}

/* A refused value of a parsed and checked message (what, id): the table
 * does not fit the items, every message would be refused alike: the
 * configuration alarm, and job j is kept for a retry. */
static void
value_alarm(struct sink_ddb *s, struct item *items, const struct job *j,
    const char *what, const char *id, const struct ddb_resp *r)
{
	char alarm[512];

	fmt_trunc(alarm, sizeof(alarm), "CONFIGURATION ALARM: table %s "
	    "refuses valid tickets (%s %s: %s: %s; key schema or table "
	    "changed?); messages kept", s->d.table, what, id, r->type,
	    r->message);
	if (!s->alarm)
		log_error("dynamodb: %s", alarm);
	s->alarm = 1;
	job_retry(s, items, j, alarm);
}

/* The answer to a PutItem. */
static void
put_done(struct sink_ddb *s, struct item *items, const struct job *j,
    const struct ddb_resp *r, const char *why)
{
	struct item *it = &items[j->idx[0]];

	if (r->status == 200 ||
	    strcmp(r->type, "ConditionalCheckFailedException") == 0) {
		it->state = PIPE_DONE;	/* new, or there already */
	} else if (refused_value(r))
		value_alarm(s, items, j, "ticket", it->t.id, r);
	else
		job_retry(s, items, j, why);
}

/* The answer to a BatchWriteItem. */
static void
batch_done(struct sink_ddb *s, struct item *items, const struct job *j,
    const struct ddb_resp *r, const char *why)
{
	char	 msg[128];
	long	 nu, u;
	size_t	 k;
	int	 left;

	if (refused_value(r)) {
		for (k = 0; k < j->n; k++)
			s->fallback[s->nfallback++] = j->idx[k];
		return;
	}
	if (r->status != 200) {
		job_retry(s, items, j, why);
		return;
	}
	if ((nu = ddb_unprocessed(r->body, s->d.table, s->unproc,
	    DDB_BATCH_MAX)) < 0) {
		job_retry(s, items, j, "dynamodb: BatchWriteItem: unreadable "
		    "answer");
		return;
	}
	for (k = 0; k < j->n; k++) {
		struct item *it = &items[j->idx[k]];

		left = 0;
		for (u = 0; u < nu && u < DDB_BATCH_MAX; u++)
			if (strcmp(s->unproc[u], it->t.id) == 0)
				left = 1;
		it->state = left ? PIPE_RETRY : PIPE_DONE;
	}
	if (nu > 0) {
		snprintf(msg, sizeof(msg), "dynamodb: BatchWriteItem: %ld of "
		    "%zu items unprocessed (throttled)", nu, j->n);
		if (!s->retry)
			sink_fail(s->sk, ERR_SERVER, "%s", msg);
		s->retry = 1;
	}
}

/* The answer to a TransactWriteItems: all of its messages written, or
 * none.  A value refused in a transaction of several messages sends each
 * to the fallback (written alone); alone, it is the configuration alarm
 * as for a ticket (the parser checked the message: the table does not
 * fit it), and the message is kept. */
static void
txn_done(struct sink_ddb *s, struct item *items, const struct job *j,
    const struct ddb_resp *r, const char *why)
{
	size_t	k;
	int	value = refused_value(r) || (r->status == 400 &&
		    strcmp(r->type, "TransactionCanceledException") == 0 &&
		    r->body != NULL && strstr(r->body, "ValidationError") != NULL);

	if (r->status == 200) {
		for (k = 0; k < j->n; k++)
			items[j->idx[k]].state = PIPE_DONE;
	} else if (!value && j->form == DDB_FORM_PUT && r->status == 400 &&
	    strcmp(r->type, "TransactionCanceledException") == 0 &&
	    r->body != NULL && strstr(r->body, "ConditionalCheckFailed") !=
	    NULL) {
		/* an item is there already: the same messages as updates */
		for (k = 0; k < j->n; k++)
			s->found[j->idx[k]] = 1;
		s->nfound += j->n;
	} else if (value && j->n > 1) {
		for (k = 0; k < j->n; k++)
			s->fallback[s->nfallback++] = j->idx[k];
	} else if (value) {
		const struct item *it = &items[j->idx[0]];

		value_alarm(s, items, j, it->kind == MSG_ORDER ? "order" :
		    "cancellation of order", it->kind == MSG_ORDER ?
		    it->u.o.id : it->u.c.order, r);
	} else
		job_retry(s, items, j, why);
}

/* Handles a finished transfer of slot. */
static void
finish(struct sink_ddb *s, struct item *items, struct slot *sl, CURLcode rc)
{
	const char	*op = job_name(sl->job);
	char		 why[512];

	if (rc != CURLE_OK) {
		fmt_trunc(why, sizeof(why),
		    "dynamodb %s: %s: %s", s->d.endpoint,
		    op, curl_easy_strerror(rc));
		job_retry(s, items, sl->job, why);
	} else {
		ddb_finish(sl->h, &sl->resp);
		fmt_trunc(why, sizeof(why), "dynamodb %s: %s: HTTP %ld %s %s",
		    s->d.endpoint, op, sl->resp.status, sl->resp.type,
		    sl->resp.message);
		if (sl->job->op == DDB_JOB_PUT)
			put_done(s, items, sl->job, &sl->resp, why);
		else if (sl->job->op == DDB_JOB_TXN)
			txn_done(s, items, sl->job, &sl->resp, why);
		else
			batch_done(s, items, sl->job, &sl->resp, why);
	}
	ddb_resp_free(&sl->resp);
	curl_slist_free_all(sl->hdrs);
	sl->hdrs = NULL;
	sl->job = NULL;
}

/* The TransactWriteItems of job j into buf (SLOT_JSON_MAX bytes). */
static int
txn_json(struct sink_ddb *s, const struct item *items, const struct job *j,
    char *buf)
{
	struct ddb_msg	m[DDB_TXN_MAX];
	size_t		k;

	for (k = 0; k < j->n; k++) {
		m[k].kind = items[j->idx[k]].kind;
		m[k].u = &items[j->idx[k]].u;
	}
	return ddb_txn_json(s->d.table, m, j->n, j->form, buf, SLOT_JSON_MAX);
}

/* Starts job j on the free slot sl.  Returns 0, or -1 if it could not
 * start (its items are set to retry or dead). */
static int
start(struct sink_ddb *s, struct item *items, struct slot *sl, struct job *j)
{
	const struct ticket	*tv[DDB_BATCH_MAX];
	size_t			 k;
	int			 len;

	if (j->op == DDB_JOB_TXN)
		len = txn_json(s, items, j, sl->json);
	else {
		for (k = 0; k < j->n; k++)
			tv[k] = &items[j->idx[k]].t;
		if (j->op == DDB_JOB_BATCH)
			len = ddb_batch_json(s->d.table, tv, j->n, sl->json,
			    SLOT_JSON_MAX);
		else
			len = ddb_put_json(s->d.table, tv[0], sl->json,
			    SLOT_JSON_MAX);
	}
	if (len < 0) {
		/* cannot happen: the message parser checked every value */
		for (k = 0; k < j->n; k++) {
			items[j->idx[k]].state = PIPE_DEAD;
			items[j->idx[k]].why = "ticket cannot be written as "
			    "DynamoDB JSON";
		}
		return -1;
	}
	sl->hdrs = NULL;
	if (ddb_prepare(&s->d, sl->h, &sl->hdrs, job_name(j), sl->json,
	    &sl->resp) != 0 ||
	    curl_easy_setopt(sl->h, CURLOPT_PRIVATE, sl) != CURLE_OK ||
	    curl_multi_add_handle(s->multi, sl->h) != CURLM_OK) {
		curl_slist_free_all(sl->hdrs);
		sl->hdrs = NULL;
		job_retry(s, items, j, "dynamodb: cannot start a request");
		return -1;
	}
	sl->job = j;
	return 0;
}

static struct slot *
free_slot(struct sink_ddb *s)
{
	int i;

	for (i = 0; i < s->nslots; i++)
		if (s->slots[i].job == NULL)
			return &s->slots[i];
	return NULL;
}

/* Runs the nj jobs, at most nslots at a time, until all are answered. */
static void
run_jobs(struct sink_ddb *s, struct item *items, struct job *jobs, size_t nj)
{
	struct slot	*sl;
	CURLMsg		*msg;
	size_t		 next = 0;
	int		 active = 0, running, q;

	while (next < nj || active > 0) {
		while (next < nj && (sl = free_slot(s)) != NULL)
			if (start(s, items, sl, &jobs[next++]) == 0)
				active++;
		if (active == 0)
			continue;
		/* a failed multi makes no progress however often it is
		 * called: every transfer is given up below */
		if (curl_multi_perform(s->multi, &running) != CURLM_OK)
			break;
		while ((msg = curl_multi_info_read(s->multi, &q)) != NULL) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			sl = NULL;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
			    (char **)&sl);
			curl_multi_remove_handle(s->multi, msg->easy_handle);
			if (sl == NULL || sl->job == NULL)
				continue;
			finish(s, items, sl, msg->data.result);
			active--;
		}
		if (active > 0 &&
		    curl_multi_poll(s->multi, NULL, 0, 100, NULL) != CURLM_OK)
			break;
	}
	/* only after a multi failure: give every transfer up, and the jobs
	 * not started */
	for (; next < nj; next++)
		job_retry(s, items, &jobs[next], "dynamodb: curl multi failed");
	for (q = 0; q < s->nslots; q++) {
		sl = &s->slots[q];
		if (sl->job == NULL)
			continue;
		curl_multi_remove_handle(s->multi, sl->h);
		job_retry(s, items, sl->job, "dynamodb: curl multi failed");
		ddb_resp_free(&sl->resp);
		curl_slist_free_all(sl->hdrs);
		sl->hdrs = NULL;
		sl->job = NULL;
	}
}

/* 1 if the message of item i may join TransactWriteItems job j: room
 * left and no item in common with its messages. */
static int
txn_fits(const struct item *items, const struct job *j, size_t i)
{
	struct ddb_msg	a, b;
	size_t		k;

	a.kind = items[i].kind;
	a.u = &items[i].u;
	if (j->actions + ddb_msg_actions(&a) > DDB_TXN_MAX)
		return 0;
	for (k = 0; k < j->n; k++) {
		b.kind = items[j->idx[k]].kind;
		b.u = &items[j->idx[k]].u;
		if (ddb_msg_overlap(&a, &b))
			return 0;
	}
	return 1;
}

/* Adds to the nj jobs the TransactWriteItems of the orders and
 * cancellations to write, whole messages packed in arrival order (a
 * cancellation never shares a transaction with its order: a later
 * transaction is started).  DDB_FORM_PUT: every message to write;
 * DDB_FORM_UPDATE: those whose put found an item (s->found).  Returns the
 * number of jobs. */
static size_t
plan_txn(struct sink_ddb *s, struct item *items, size_t n, size_t nj,
    enum ddb_form form)
{
	struct ddb_msg	m;
	size_t		i, first = nj;

	for (i = 0; i < n; i++) {
		if (s->lead[i] != i || items[i].kind == MSG_TICKET ||
		    (items[i].state != PIPE_NEW && items[i].state != PIPE_RETRY) ||
		    (form == DDB_FORM_UPDATE && !s->found[i]))
			continue;
		if (nj == first || !txn_fits(items, &s->jobs[nj - 1], i)) {
			s->jobs[nj].op = DDB_JOB_TXN;
			s->jobs[nj].form = form;
			s->jobs[nj].n = 0;
			s->jobs[nj++].actions = 0;
		}
		m.kind = items[i].kind;
		m.u = &items[i].u;
		s->jobs[nj - 1].idx[s->jobs[nj - 1].n++] = i;
		s->jobs[nj - 1].actions += ddb_msg_actions(&m);
	}
	return nj;
}

/* Builds the jobs for the leaders to write; returns how many. */
static size_t
plan(struct sink_ddb *s, struct item *items, size_t n, int batch)
{
	size_t	i, nj = 0;
	size_t	per = batch ? DDB_BATCH_MAX : 1;

	for (i = 0; i < n; i++) {
		if (s->lead[i] != i || items[i].kind != MSG_TICKET ||
		    (items[i].state != PIPE_NEW && items[i].state != PIPE_RETRY))
			continue;
		if (nj == 0 || s->jobs[nj - 1].n == per) {
			s->jobs[nj].op = batch ? DDB_JOB_BATCH : DDB_JOB_PUT;
			s->jobs[nj++].n = 0;
		}
		s->jobs[nj - 1].idx[s->jobs[nj - 1].n++] = i;
	}
	return plan_txn(s, items, n, nj, DDB_FORM_PUT);
}

/* The sink's write(): see pipe.h. */
static int
ddb_write(struct sink *sk, struct item *items, size_t n)
{
	struct sink_ddb	*s = sk->ctx;
	size_t		 i, nj;

	s->retry = 0;
	s->nfallback = 0;
	s->nfound = 0;
	memset(s->found, 0, n);
	sink_leaders(items, n, s->lead);
	nj = plan(s, items, n, s->batch);
	run_jobs(s, items, s->jobs, nj);
	if (s->nfound > 0)
		run_jobs(s, items, s->jobs, plan_txn(s, items, n, 0,
		    DDB_FORM_UPDATE));
	if (s->nfallback > 0) {
		/* a batch refused as invalid: find the item by PutItems, the
		 * message by a transaction of its own */
		for (i = 0; i < s->nfallback; i++) {
			s->jobs[i].op = items[s->fallback[i]].kind ==
			    MSG_TICKET ? DDB_JOB_PUT : DDB_JOB_TXN;
			s->jobs[i].form = DDB_FORM_UPDATE;
			s->jobs[i].n = 1;
			s->jobs[i].idx[0] = s->fallback[i];
		}
		run_jobs(s, items, s->jobs, s->nfallback);
	}
	for (i = 0; i < n; i++) {
		if (s->lead[i] == i)
			continue;
		items[i].state = items[s->lead[i]].state;
		items[i].why = items[s->lead[i]].why;
	}
	if (!s->retry && s->alarm) {
		log_info("dynamodb: table %s takes tickets again; "
		    "configuration alarm over", s->d.table);
		s->alarm = 0;
	}
	return s->retry ? -1 : 0;
}

static void
ddb_sink_free(void *ctx)
{
	struct sink_ddb	*s = ctx;
	int		 i;

	for (i = 0; i < SLOTS_MAX; i++) {
		if (s->slots[i].h != NULL)
			curl_easy_cleanup(s->slots[i].h);
		free(s->slots[i].json);
	}
	if (s->multi != NULL)
		curl_multi_cleanup(s->multi);
	ddb_free(&s->d);
	free(s->lead);
	free(s->jobs);
	free(s->fallback);
	free(s->found);
	free(s->unproc);
	free(s);
}

struct sink *
sink_ddb_new(const struct conf *c)
{
	struct sink	*sk;
	struct sink_ddb	*s;
	int		 i;

	if ((sk = calloc(1, sizeof(*sk))) == NULL)
		return NULL;
	sk->name = "dynamodb";
	sk->write = ddb_write;
	sk->free = ddb_sink_free;
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		sink_fail(sk, ERR_OTHER, "dynamodb sink: out of memory");
		return sk;
	}
	s->sk = sk;
	if (ddb_init(&s->d, c) != 0) {
		sink_fail(sk, ERR_OTHER, "%s", s->d.errstr);
		goto fail;
	}
	if (!ddb_table_ok(s->d.table)) {
		sink_fail(sk, ERR_OTHER, "dynamodb_table: '%s' is not a valid "
		    "table name", s->d.table);
		goto fail;
	}
	s->batch = strcmp(c->consumer_ddb_write, "put") != 0;
	s->max = (size_t)c->consumer_batch;
	s->nslots = c->consumer_ddb_parallel < SLOTS_MAX ?
	    c->consumer_ddb_parallel : SLOTS_MAX;
	s->lead = calloc(s->max, sizeof(*s->lead));
	s->jobs = calloc(s->max, sizeof(*s->jobs));
	s->fallback = calloc(s->max, sizeof(*s->fallback));
	s->found = calloc(s->max, sizeof(*s->found));
	s->unproc = calloc(DDB_BATCH_MAX, sizeof(*s->unproc));
	if ((s->multi = curl_multi_init()) == NULL || s->lead == NULL ||
	    s->jobs == NULL || s->fallback == NULL || s->found == NULL ||
	    s->unproc == NULL)
		goto nomem;
	/* keep one connection per slot open between batches */
	curl_multi_setopt(s->multi, CURLMOPT_MAXCONNECTS, (long)s->nslots);
	for (i = 0; i < s->nslots; i++) {
		s->slots[i].h = curl_easy_init();
		s->slots[i].json = malloc(SLOT_JSON_MAX);
		if (s->slots[i].h == NULL || s->slots[i].json == NULL)
			goto nomem;
	}
	sk->ctx = s;
	return sk;
nomem:
	sink_fail(sk, ERR_OTHER, "dynamodb sink: out of memory");
fail:
	ddb_sink_free(s);
	return sk;
}
