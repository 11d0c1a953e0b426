/* SPDX-License-Identifier: ISC */
/*
 * cmd_dlq.c - ticketctl dlq: lists the dead-lettered messages and, after
 * the cause was fixed, publishes them again to the queue they died in
 * (ticketSQL.dead's to ticketSQL, not to ticket.exchange: the other
 * pipeline has its copy already) with a publisher confirm, acking each
 * dead message only once the broker confirmed its copy.  Both read the
 * queue with sold_read_queue(): what stays is copied back, nothing is
 * returned (no delivery attempt spent).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <amqp.h>

#include "catalog.h"
#include "ctl.h"
#include "db.h"
#include "msg.h"
#include "sold.h"
#include "ticket.h"

#define BODY_SHOWN_MAX	400
#define DLQ_READ_MAX	1000000L

static const char *const dead_queues[] = {
	MQ_QUEUE_SQL MQ_DEAD_SUFFIX, MQ_QUEUE_NOSQL MQ_DEAD_SUFFIX
};
/* Where the messages of dead_queues[i] died (its dead-letter source). */
static const char *const live_queues[] = { MQ_QUEUE_SQL, MQ_QUEUE_NOSQL };

/* One dead-lettered message, as read. */
struct dead {
	amqp_message_t	 msg;
	char		 id[UUID_LEN + 1];	/* order id, a round-1 ticket's,
						   or "" */
	const char	*kind;			/* "order", "cancel of order",
						   "ticket" */
	char		 tids[ORDER_TICKETS_MAX][UUID_LEN + 1];
	size_t		 ntids;			/* its tickets (order, cancel) */
	char		 reason[64];
	char		 from[64];
	long long	 count;
};

static int
key_is(amqp_bytes_t key, const char *name)
{
	return key.len == strlen(name) && memcmp(key.bytes, name, key.len) == 0;
}

static void
bytes_str(amqp_bytes_t b, char *out, size_t size)
{
	snprintf(out, size, "%.*s", (int)(b.len < size ? b.len : size - 1),
	    (const char *)b.bytes);
}

/* Reads x-first-death-reason / -queue and x-death[0].count. */
static void
death_headers(const amqp_basic_properties_t *p, struct dead *d)
{
	const amqp_table_t	*h, *t;
	const amqp_field_value_t *v;
	int			 i, k;

	snprintf(d->reason, sizeof(d->reason), "?");
	snprintf(d->from, sizeof(d->from), "?");
	d->count = 0;
	if (!(p->_flags & AMQP_BASIC_HEADERS_FLAG))
		return;
	h = &p->headers;
	for (i = 0; i < h->num_entries; i++) {
		v = &h->entries[i].value;
		if (key_is(h->entries[i].key, "x-first-death-reason") &&
		    v->kind == AMQP_FIELD_KIND_UTF8)
			bytes_str(v->value.bytes, d->reason, sizeof(d->reason));
		else if (key_is(h->entries[i].key, "x-first-death-queue") &&
		    v->kind == AMQP_FIELD_KIND_UTF8)
			bytes_str(v->value.bytes, d->from, sizeof(d->from));
		else if (key_is(h->entries[i].key, "x-death") &&
		    v->kind == AMQP_FIELD_KIND_ARRAY &&
		    v->value.array.num_entries > 0 &&
		    v->value.array.entries[0].kind == AMQP_FIELD_KIND_TABLE) {
			t = &v->value.array.entries[0].value.table;
			for (k = 0; k < t->num_entries; k++)
				if (key_is(t->entries[k].key, "count") &&
				    (t->entries[k].value.kind ==
				    AMQP_FIELD_KIND_I64 ||
				    t->entries[k].value.kind ==
				    AMQP_FIELD_KIND_U64))
					d->count = (long long)
					    t->entries[k].value.value.i64;
		}
	}
}

/* Fills the ids and the death headers of d from d->msg. */
static void
describe(struct dead *d)
{
	static struct msg	 m;	/* ticketctl is single-threaded */
	const char		*why;
	size_t			 i;

	death_headers(&d->msg.properties, d);
	d->kind = "";
	if (msg_parse(d->msg.body.bytes, d->msg.body.len, &m, &why) != 0)
		return;
	switch (m.kind) {
	case MSG_ORDER:
		d->kind = "order";
		memcpy(d->id, m.u.o.id, sizeof(d->id));
		for (i = 0; i < m.u.o.n; i++)
			memcpy(d->tids[i], m.u.o.t[i].id, sizeof(d->tids[i]));
		d->ntids = m.u.o.n;
		break;
	case MSG_CANCEL:
		d->kind = "cancel of order";
		memcpy(d->id, m.u.c.order, sizeof(d->id));
		for (i = 0; i < m.u.c.n; i++)
			memcpy(d->tids[i], m.u.c.ids[i], sizeof(d->tids[i]));
		d->ntids = m.u.c.n;
		break;
	default:
		d->kind = "ticket";
		memcpy(d->id, m.t.id, sizeof(d->id));
	}
}

static void
show(const struct dead *d, long n)
{
	const unsigned char	*b = d->msg.body.bytes;
	size_t			 i, len = d->msg.body.len;

	printf("  %ld. %s  reason %s in %s, %lld time(s), %zu bytes\n     ", n,
	    d->id[0] ? d->id : "(not a ticket)", d->reason, d->from, d->count,
	    len);
	if (d->ntids > 0) {
		printf("%s %s, ticket(s)", d->kind, d->id);
		for (i = 0; i < d->ntids; i++)
			printf(" %s", d->tids[i]);
		printf("\n     ");
	}
	for (i = 0; i < len && i < BODY_SHOWN_MAX; i++)
		putchar(isprint(b[i]) ? b[i] : '?');
	printf("%s\n", len > BODY_SHOWN_MAX ? "..." : "");
}

/* Shows one message of a listing (sold_read_queue() callback): kept. */
static enum sold_msg
show_message(const amqp_message_t *msg, void *arg)
{
	struct dead	 d;
	long		*n = arg;

	memset(&d, 0, sizeof(d));
	d.msg = *msg;
	describe(&d);
	show(&d, ++*n);
	return SOLD_MSG_KEEP;
}

/* Lists a queue without spending the messages' delivery attempts (a
 * dead-letter queue has no dead-letter exchange of its own: a message
 * past a delivery limit would be dropped). */
static int
list_queue(struct ctl *ctl, const char *queue)
{
	struct mq	m;
	struct soldv	v;
	struct events	all = { .n = 0 };
	long		n = 0, msgs, other;
	int		more, r;

	if (ctl_mq_open(ctl, &m, "ticketctl dlq") != 0)
		return -1;
	memset(&v, 0, sizeof(v));
	printf("%s:\n", queue);
	r = sold_read_queue(&v, &m, queue, &all, DLQ_READ_MAX, &msgs, &other,
	    &more, show_message, &n);
	if (r != 0)
		ctl_err("%s", m.errstr);
	mq_close(&m);
	soldv_free(&v);
	printf("  %ld message(s)%s\n", n, more ? " shown, more not" : "");
	return r;
}

/* 1 if d is one of the messages of ids (an order id, or a ticket id of
 * it; all if nids is 0); each id that names it is counted in hits. */
static int
selected(const struct dead *d, int nids, char **ids, int *hits)
{
	int	i, yes = nids == 0;
	size_t	k;

	for (i = 0; i < nids; i++) {
		int named = d->id[0] != '\0' && strcmp(ids[i], d->id) == 0;

		for (k = 0; !named && k < d->ntids; k++)
			named = strcmp(ids[i], d->tids[k]) == 0;
		if (named) {
			hits[i]++;
			yes = 1;
		}
	}
	return yes;
}

/* What requeue_message() needs. */
struct requeue {
	struct ctl	*ctl;
	struct mq	 pub;
	const char	*queue;
	const char	*to;		/* the queue it died in */
	int		 nids;
	char		**ids;
	int		*hits;		/* per id: messages it named */
	long		 n;
	int		 stopped;	/* a publish failed (printed) */
};

/* Publishes one dead message again if it is selected (sold_read_queue()
 * callback): taken (its original is acked once the copies of the others
 * are safe), kept, or, the publish failed, kept and stop. */
static enum sold_msg
requeue_message(const amqp_message_t *msg, void *arg)
{
	struct requeue	*rq = arg;
	struct dead	 d;

	memset(&d, 0, sizeof(d));
	d.msg = *msg;
	describe(&d);
	if (!selected(&d, rq->nids, rq->ids, rq->hits))
		return SOLD_MSG_KEEP;
	if (mq_publish_queue(&rq->pub, rq->to, msg->body.bytes,
	    msg->body.len, d.id[0] ? d.id : "dlq",
	    rq->ctl->c.amqp_confirm_timeout_ms) != MQ_OK) {
		ctl_err("publish %s: %s; stopping (the message stays in %s)",
		    d.id, rq->pub.errstr, rq->queue);
		rq->stopped = 1;
		return SOLD_MSG_STOP;
	}
	printf("  requeued %s\n", d.id[0] ? d.id : "(not a ticket)");
	rq->n++;
	return SOLD_MSG_TAKEN;
}

/* Publishes the selected messages of dead_queues[q] again, to
 * live_queues[q]; returns the number requeued, or -1.  Only the messages
 * there at the start are read (one that dies again must not loop); the
 * others stay, copied back like a listing does. */
static long
requeue_queue(struct ctl *ctl, int q, int nids, char **ids, int *hits)
{
	const char	*queue = dead_queues[q];
	struct requeue	 rq;
	struct mq	 get;
	struct soldv	 v;
	struct events	 all = { .n = 0 };
	long		 msgs, other;
	int		 more, r;

	if (ctl_mq_open(ctl, &get, "ticketctl dlq") != 0)
		return -1;
	memset(&rq, 0, sizeof(rq));
	memset(&v, 0, sizeof(v));
	rq.ctl = ctl;
	rq.queue = queue;
	rq.to = live_queues[q];
	rq.nids = nids;
	rq.ids = ids;
	rq.hits = hits;
	(void)mq_init_conf(&rq.pub, &ctl->c, "ticketctl dlq publish");
	r = sold_read_queue(&v, &get, queue, &all, DLQ_READ_MAX, &msgs, &other,
	    &more, requeue_message, &rq);
	if (r != 0 && !rq.stopped)
		ctl_err("%s", get.errstr);
	mq_close(&rq.pub);
	mq_close(&get);
	soldv_free(&v);
	printf("%s: %ld message(s) published again to %s\n", queue, rq.n,
	    rq.to);
	return r < 0 ? -1 : rq.n;
}

/* Parses "--queue Q"; sets *only to the index of dead_queues or -1. */
static int
queue_option(int argc, char **argv, int *a, int *only)
{
	const char *q;

	*only = -1;
	if (*a + 1 < argc && strcmp(argv[*a], "--queue") == 0) {
		q = argv[*a + 1];
		if (strcmp(q, "sql") == 0 || strcmp(q, dead_queues[0]) == 0)
			*only = 0;
		else if (strcmp(q, "nosql") == 0 ||
		    strcmp(q, dead_queues[1]) == 0)
			*only = 1;
		else
			return -1;
		*a += 2;
	}
	return 0;
}

static int
run_dlq(struct ctl *ctl, int argc, char **argv)
{
	struct db	 d;
	int		 a = 1, requeue = 0, only, q, i, ret = CTL_OK, *hits;

	if (a < argc && strcmp(argv[a], "list") == 0)
		a++;
	else if (a < argc && strcmp(argv[a], "requeue") == 0) {
		requeue = 1;
		a++;
	}
	if (queue_option(argc, argv, &a, &only) != 0)
		return ctl_usage(&cmd_dlq);
	if (!requeue && a != argc)
		return ctl_usage(&cmd_dlq);
	for (i = a; i < argc; i++)
		if (!valid_uuid(argv[i])) {
			ctl_err("'%s' is not a ticket or order id", argv[i]);
			return CTL_USAGE;
		}
	if ((hits = calloc((size_t)(argc - a) + 1, sizeof(*hits))) == NULL) {
		ctl_err("out of memory");
		return CTL_FAIL;
	}
	/* init and rebuild read ticketSQL, then the dead-letter queues, under
	 * the catalog lock: a message requeued in between, or held unacked by
	 * a listing, would be seen by neither read (its seat free after a
	 * Redis loss), so this waits for them and they for it */
	ctl_db_open(ctl, &d);
	if (catalog_lock(&d) != 0) {
		ctl_err("catalog: %s", d.errstr);
		db_close(&d);
		free(hits);
		return CTL_FAIL;
	}
	for (q = 0; q < 2; q++) {
		if (only >= 0 && q != only)
			continue;
		if (requeue ? requeue_queue(ctl, q, argc - a, argv + a,
		    hits) < 0 : list_queue(ctl, dead_queues[q]) != 0)
			ret = CTL_FAIL;
	}
	/* an id that named nothing is an operator's mistake, not a success */
	for (i = a; requeue && i < argc; i++)
		if (hits[i - a] == 0) {
			ctl_err("no dead-lettered message of %s (an order id, or "
			    "a ticket id of an order or cancellation)", argv[i]);
			ret = CTL_FAIL;
		}
	db_close(&d);
	free(hits);
	return ret;
}

const struct command cmd_dlq = {
	"dlq", run_dlq,
	"dlq [list] [--queue sql|nosql]  |  dlq requeue [--queue sql|nosql] "
	"[ID...]",
	"list dead-lettered messages; publish them again after a fix",
	"list (the default) shows every message of ticketSQL.dead and\n"
	"ticketNoSQL.dead (or of one of them): its order id (a round-1\n"
	"ticket's id), why and from where it was dead-lettered, how often, the\n"
	"ticket ids of an order or cancellation, and the body.  The messages\n"
	"stay where they are (each is copied back before it is acked: listing\n"
	"spends no delivery attempt).\n\n"
	"requeue publishes the messages (all, or those an ID given names: an\n"
	"order id, or a ticket id of an order or cancellation, as `ticketctl\n"
	"check` prints them; an ID that names none is an error, exit 1)\n"
	"again to the queue it died in (ticketSQL.dead's to ticketSQL,\n"
	"ticketNoSQL.dead's to ticketNoSQL: the other pipeline had its copy)\n"
	"with a publisher confirm, and removes each from its dead-letter\n"
	"queue once the broker confirmed the copy.  Only the messages present\n"
	"when it starts are handled: one that is dead-lettered again stays\n"
	"there.  Fix the cause first (the consumer's log says why it gave up\n"
	"on a message).\n\n"
	"Both take the catalog lock in MySQL (up to 30 s behind another\n"
	"ticketctl): init and rebuild must see every message of a queue.",
};
