/* SPDX-License-Identifier: ISC */
/*
 * pubd - the local publisher: the purchase responders hand it each message
 * over a unix socket (shared/pubframe.h), it publishes on one of
 * pubd_connections broker connections in confirm mode with many messages
 * in flight, and answers each responder the outcome of *its* message
 * (docs/performance.md, "Publishing with many messages in flight";
 * docs/reliability.md, "The local publisher").
 *
 * One thread, one poll loop: the listening socket, the responders'
 * sockets, the broker connections.  Per connection a ring of the messages
 * in flight, in delivery-tag order:
 *
 *   basic.ack            -> MQ_OK to that message's responder (MQ_FAILED if
 *                           it was returned)
 *   basic.nack           -> MQ_UNKNOWN (MQ_FAILED if returned)
 *   basic.return         -> marks the message (matched by message id)
 *   deadline passed      -> MQ_UNKNOWN to that responder only; the entry
 *                           stays, its late confirm is recognised by its
 *                           tag and dropped
 *   connection lost      -> MQ_UNKNOWN to every message in flight on it
 *   connection.blocked   -> MQ_UNKNOWN to every message in flight on it
 *                           (the broker stopped reading at one of them)
 *   no room for 3/4 of a heartbeat interval -> replaced, as if lost
 *   not sent (no connection, blocked, too many in flight) -> MQ_FAILED
 *
 * The loop never waits on the broker.  A connection is opened by a
 * connector thread of its own (mq_connect's handshake blocks up to
 * amqp_connect_timeout_ms per node), handed back over a pipe; meanwhile
 * the other connections carry the messages, or, with none open, they wait
 * for it: a connection lost is reopened at once, and a message that finds
 * none begins a connect and waits for it; when a connect begun after the
 * message came fails, the message fails (the broker refused it).  Idle, a
 * failed connect is tried again after RETRY_MS.  A message is written only to
 * a connection the kernel calls writable, whose send buffer is fixed
 * (SNDBUF) so that a writable one has room for a message (rabbitmq-c's
 * publish waits without a limit for room); when no
 * connection is writable the message waits in the unsent queue, in order,
 * until one is or its deadline passes (MQ_FAILED: never sent).
 *
 * A responder gone before its answer: the message is published all the
 * same, its answer dropped.  SIGTERM/SIGINT: stop accepting, answer what
 * is in flight (or let its deadline pass), exit 0.
 */
#define _GNU_SOURCE	/* accept4 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <amqp.h>

#include "clock.h"
#include "conf.h"
#include "log.h"
#include "mq.h"
#include "pubframe.h"
#include "start.h"

#define LINKS_MAX	4		/* pubd_connections' max */
#define CLIENTS_MAX	1024
#define FLIGHT_MAX	4096		/* messages in flight per connection */
#define RETRY_MS	1000		/* between connects of a link */
#define CHECK_MS	500		/* between silence checks */
#define OUT_MAX		(64 * 1024)	/* answers queued to one responder */
#define UNSENT_MAX	4096		/* messages waiting for a writable link */
/*
 * Send buffer asked for a broker connection.  Linux doubles it (capped by
 * net.core.wmem_max: 2 x 208 KiB on a stock kernel, 2 MiB with a
 * wmem_max of 1 MiB or more), and a TCP socket polls writable only while
 * at most 2/3 of it is queued: writable means a third of it free, and a
 * publish no larger than that never waits for room.  After a "writable"
 * pubd writes up to a sixth of it (link.room) before asking the kernel
 * again.  A message larger than a third (over 138 KiB on a stock kernel;
 * an order of 10 seats is ~4 KiB) may still wait for room.
 */
#define SNDBUF		(1024 * 1024)
/*
 * The tests' builds (-DBOX_TEST_HOOKS, `make san`) take another size from
 * BOX_TEST_PUBD_SNDBUF: a machine whose wmem_max gives every connection
 * 2 MiB cannot otherwise show what a stock kernel's 416 KiB does to a
 * message of 100 KiB.
 */
#ifdef BOX_TEST_HOOKS
static int
sndbuf_size(void)
{
	const char	*v = getenv("BOX_TEST_PUBD_SNDBUF");

	return v != NULL && atoi(v) > 0 ? atoi(v) : SNDBUF;
}
#else
#define sndbuf_size()	SNDBUF
#endif
/*
 * And BOX_TEST_PUBD_STOP_PAUSE_MS: a pause when the loop first acts on the
 * stop, before it closes the idle sockets, so that a test can put a
 * message in one then (it may come at any time).
 */
#ifdef BOX_TEST_HOOKS
static void
stop_pause(void)
{
	const char	*v = getenv("BOX_TEST_PUBD_STOP_PAUSE_MS");

	if (v != NULL && atoi(v) > 0)
		usleep((useconds_t)atoi(v) * 1000);
}
/*
 * And BOX_TEST_PUBD_CLOSE_PAUSE_MS: a pause (once) between the idle check
 * of a responder's socket and its close, so that a test can put a message
 * in it then, unread when it is closed.
 */
static void
close_pause(void)
{
	static int	 done;
	const char	*v = getenv("BOX_TEST_PUBD_CLOSE_PAUSE_MS");

	if (!done && v != NULL && atoi(v) > 0)
		usleep((useconds_t)atoi(v) * 1000);
	done = 1;
}
#else
#define stop_pause()	do { } while (0)
#define close_pause()	do { } while (0)
#endif
#define FRAMING		512	/* a message's method and header frames */

struct flight {
	uint64_t	tag;
	int		client;		/* index, or -1 when answered */
	unsigned	gen;		/* of the client */
	int		returned;
	int		done;		/* confirmed: pops at the head */
	long long	deadline;	/* monotonic ms */
	char		id[PUBFRAME_ID_MAX + 1];
};

struct link {
	struct mq	 m;		/* the loop's, unless connecting */
	struct mq	 next;		/* the connector's, while connecting */
	pthread_t	 connector;
	int		 connecting;	/* the connector thread runs */
	struct flight	*ring;		/* FLIGHT_MAX entries */
	size_t		 head, n;
	long long	 retry_at;	/* ms: no connect before, unless asked */
	long long	 tried_ms;	/* ms: the last connect began */
	long long	 sent_ms;	/* ms: last frame sent (heartbeats) */
	long long	 checked_ms;	/* ms: last silence check */
	size_t		 room;		/* bytes writable without asking */
	size_t		 room_max;	/* a sixth of the send buffer */
	int		 down_said;	/* a failed connect was logged */
};

/* A message waiting for a writable connection (one allocation: the
 * struct, then the body). */
struct unsent {
	struct unsent	*next;
	int		 client;
	unsigned	 gen;
	long long	 arrived;	/* monotonic ms */
	long long	 deadline;	/* monotonic ms: then MQ_FAILED */
	struct pubframe_req r;		/* body points after the struct */
};

struct client {
	int		 fd;		/* -1: slot free */
	unsigned	 gen;
	uint8_t		*in;
	size_t		 inlen, insize;
	uint8_t		 out[OUT_MAX];
	size_t		 outlen;
	size_t		 pending;	/* its messages not yet answered */
};

static volatile sig_atomic_t	 stopping;
static int			 draining;	/* the loop saw stopping */
static struct conf		 cfg;
static struct link		 links[LINKS_MAX];
static int			 nlinks;
static int			 next_link;
static struct client		*clients[CLIENTS_MAX];
static int			 listen_fd = -1;
static struct stat		 listen_st;	/* of our socket file */
static int			 wake[2] = { -1, -1 };	/* connectors -> loop */
static struct unsent		*unsent_head, **unsent_tail = &unsent_head;
static size_t			 nunsent;

static void	link_connect(struct link *, long long, int);
static int	link_writable(struct link *, size_t);

static void
on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

/* --- answers ------------------------------------------------------------ */

static void
client_drop(int i)
{
	struct client *c = clients[i];

	close(c->fd);
	c->fd = -1;
	c->gen++;
	c->inlen = c->outlen = c->pending = 0;
	free(c->in);
	c->in = NULL;
	c->insize = 0;
}

/* Writes what is queued to client i; drops it on a failure. */
static void
client_flush(int i)
{
	struct client	*c = clients[i];
	ssize_t		 w;

	while (c->fd >= 0 && c->outlen > 0) {
		w = send(c->fd, c->out, c->outlen, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (w <= 0) {
			client_drop(i);
			return;
		}
		memmove(c->out, c->out + w, c->outlen - (size_t)w);
		c->outlen -= (size_t)w;
	}
}

/* Answers result for message id to client i of generation gen (nothing if
 * that responder is gone). */
static void
answer(int i, unsigned gen, const char *id, enum mq_result r, const char *why)
{
	struct client	*c;
	long		 n;

	if (i < 0 || (c = clients[i]) == NULL || c->fd < 0 || c->gen != gen)
		return;
	if (c->pending > 0)
		c->pending--;
	n = pubframe_ans_encode(c->out + c->outlen, OUT_MAX - c->outlen, r, id,
	    r == MQ_OK ? "" : why);
	if (n < 0) {
		log_warnx("responder not reading its answers; dropped");
		client_drop(i);
		return;
	}
	c->outlen += (size_t)n;
	client_flush(i);
}

/* Answers the flight f (once) and marks it answered. */
static void
settle(struct flight *f, enum mq_result r, const char *why)
{
	if (f->client < 0)
		return;
	answer(f->client, f->gen, f->id, r, why);
	f->client = -1;
}

/* --- broker connections ------------------------------------------------- */

static struct flight *
flight_at(struct link *l, size_t k)
{
	return &l->ring[(l->head + k) % FLIGHT_MAX];
}

/* Pops the confirmed entries at the head of l's ring. */
static void
pop_done(struct link *l)
{
	while (l->n > 0 && flight_at(l, 0)->done) {
		l->head = (l->head + 1) % FLIGHT_MAX;
		l->n--;
	}
}

/* The connection of l is gone: every message in flight on it is unknown
 * (notfound with one message in flight: that one was not routed). */
static void
link_lost(struct link *l, int notfound)
{
	size_t k;

	if (notfound && l->n == 1)
		settle(flight_at(l, 0), MQ_FAILED, l->m.errstr);
	for (k = 0; k < l->n; k++)
		settle(flight_at(l, k), MQ_UNKNOWN, l->m.errstr);
	if (l->n > 0)
		log_warnx("%s; %zu message(s) in flight: outcome unknown",
		    l->m.errstr, l->n);
	else
		log_warnx("%s", l->m.errstr);
	l->head = l->n = 0;
	l->retry_at = 0;	/* reconnect at once: the next messages wait */
	if (!stopping)
		link_connect(l, mono_ms(), 0);
}

/* A confirm of tag (and below if multiple): ack says OK, else unknown. */
static void
confirm(struct link *l, uint64_t tag, int multiple, int ack)
{
	struct flight	*f;
	size_t		 k;

	for (k = 0; k < l->n; k++) {
		f = flight_at(l, k);
		if (f->tag > tag)
			break;
		if (f->tag != tag && !multiple)
			continue;
		/* an entry answered after its deadline: dropped here */
		if (f->returned)
			settle(f, MQ_FAILED, "returned by the broker (no "
			    "queue bound)");
		else
			settle(f, ack ? MQ_OK : MQ_UNKNOWN, "nack from broker");
		f->done = 1;
	}
	pop_done(l);
}

/* The heartbeat interval of l's open connection, in seconds (0: none): the
 * one agreed with the broker (the lower of the two asked for, when both
 * ask), which rabbitmq-c's frame reader keeps to; not amqp_heartbeat. */
static int
link_heartbeat(struct link *l)
{
	return l->m.open ? amqp_get_heartbeat(l->m.conn) : 0;
}

/*
 * Whether l's connection is to be replaced: it has had no room since its
 * last frame, 3/4 of a heartbeat interval ago (the loop sends a heartbeat
 * at half the interval when there is room, link_tick).  The broker has
 * read nothing of it since (RabbitMQ's flow control stops reading a
 * connection and goes on sending heartbeats); it would close it only
 * after two intervals without a frame of ours, and meanwhile every
 * message would wait for room and fail.  Checked before the connection's
 * frames are read: rabbitmq-c's frame reader sends a heartbeat of its own
 * once the interval has passed, and waits for room without a limit.
 */
static int
link_stuck(struct link *l, long long now)
{
	int	hb = link_heartbeat(l);

	return l->m.open && hb > 0 && now - l->sent_ms >= hb * 750LL &&
	    !link_writable(l, 8);
}

/* Reads every event waiting on l's connection. */
static void
link_read(struct link *l)
{
	struct mq_event	ev;
	size_t		k;
	int		rc;

	if (link_stuck(l, mono_ms())) {
		mq_drop(&l->m, "connection", "the broker has read nothing "
		    "for 3/4 of a heartbeat interval: presumed stuck");
		link_lost(l, 0);
		return;
	}
	while (l->m.open && (rc = mq_read_event(&l->m, &ev)) != 0) {
		if (rc < 0) {
			link_lost(l, ev.notfound);
			return;
		}
		switch (ev.kind) {
		case MQ_EV_ACK:
			confirm(l, ev.tag, ev.multiple, 1);
			break;
		case MQ_EV_NACK:
			/* a nacking channel may go on nacking until a node
			 * returns (mq.c, channel_renew): the connection is
			 * replaced, what is still in flight on it is unknown */
			confirm(l, ev.tag, ev.multiple, 0);
			mq_drop(&l->m, "confirm", "nack from broker: a new "
			    "connection");
			link_lost(l, 0);
			return;
		case MQ_EV_RETURN:
			/* a return comes before its message's confirm: the
			 * entry of the tag it carries back (mq_send() sends
			 * it as the correlation-id), not the first of its id:
			 * another publish of that id may be in flight before
			 * it, routed, its confirm still to come (a retry after
			 * an unknown outcome, a cancel under its order's id) */
			for (k = 0; k < l->n; k++)
				if (!flight_at(l, k)->returned &&
				    !flight_at(l, k)->done &&
				    (ev.tag != 0 ? flight_at(l, k)->tag == ev.tag :
				    strcmp(flight_at(l, k)->id, ev.msgid) == 0)) {
					flight_at(l, k)->returned = 1;
					break;
				}
			break;
		case MQ_EV_BLOCKED:
			/* RabbitMQ stopped reading at one of them: it keeps
			 * and later confirms it, when is anyone's guess */
			for (k = 0; k < l->n; k++)
				settle(flight_at(l, k), MQ_UNKNOWN, "broker "
				    "blocked publishing (resource alarm) after "
				    "the message was sent");
			break;
		default:
			break;
		}
	}
}

/* Whether l's connection takes a write of len bytes now without waiting
 * for room; if so, the write is counted against what the kernel's last
 * "writable" leaves (room), so that most writes ask the kernel nothing.
 * A "no room" from the kernel empties the count: a heartbeat written out
 * of what was left would restart link_stuck()'s clock while the broker
 * reads nothing. */
static int
link_writable(struct link *l, size_t len)
{
	struct pollfd	pfd;

	if (!l->m.open)
		return 0;
	if (len <= l->room) {
		l->room -= len;
		return 1;
	}
	pfd.fd = amqp_get_sockfd(l->m.conn);
	pfd.events = POLLOUT;
	pfd.revents = 0;
	if (poll(&pfd, 1, 0) != 1 || !(pfd.revents & POLLOUT)) {
		l->room = 0;
		return 0;
	}
	l->room = len < l->room_max ? l->room_max - len : 0;
	return 1;
}

/* Keeps l's connection alive and checks it is: heartbeats while busy
 * here, a silent broker dropped (mq.h), deadlines of its messages. */
static void
link_tick(struct link *l, long long now)
{
	struct flight	*f;
	size_t		 k;
	int		 hb = link_heartbeat(l);

	for (k = 0; k < l->n; k++) {
		f = flight_at(l, k);
		if (f->client >= 0 && now >= f->deadline)
			settle(f, MQ_UNKNOWN, "no confirm in time "
			    "(amqp_confirm_timeout_ms)");
	}
	if (!l->m.open || hb <= 0)
		return;
	/* a connection with no room is not read by the broker: a heartbeat
	 * would wait, and tell it nothing */
	if (now - l->sent_ms >= hb * 1000LL / 2 && link_writable(l, 8)) {
		if (mq_heartbeat_send(&l->m) != 0) {
			mq_drop(&l->m, "heartbeat", "cannot send");
			link_lost(l, 0);
			return;
		}
		l->sent_ms = now;
	}
	if (now - l->checked_ms >= CHECK_MS) {
		l->checked_ms = now;
		if (mq_silent(&l->m)) {
			mq_drop(&l->m, "connection", "nothing heard from the "
			    "broker for 1.5 heartbeat intervals: presumed gone");
			link_lost(l, 0);
		}
	}
}

/* The connector thread of a link: opens l->next, then says so on wake. */
static void *
connector(void *arg)
{
	struct link	*l = arg;
	unsigned char	 j = (unsigned char)(l - links);
	int		 size = sndbuf_size();

	if (mq_connect(&l->next, 1) == 0 &&
	    setsockopt(amqp_get_sockfd(l->next.conn), SOL_SOCKET, SO_SNDBUF,
	    &size, sizeof(size)) != 0)
		mq_drop(&l->next, "connect", "cannot size the send buffer");
	while (write(wake[1], &j, 1) < 0 && errno == EINTR)
		;
	return NULL;
}

/* Starts l's connector if l is closed and may try now (RETRY_MS after a
 * failed connect, at once if asked: a message waits).  The loop leaves
 * l->m alone until link_opened(). */
static void
link_connect(struct link *l, long long now, int asked)
{
	sigset_t	all, old;
	int		rc;

	if (l->m.open || l->connecting || (now < l->retry_at && !asked))
		return;
	mq_close(&l->m);
	l->next = l->m;
	/* signals are the loop's: its poll must see EINTR */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pthread_create(&l->connector, NULL, connector, l);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		log_warnx("amqp: %s: cannot start a connector thread: %s",
		    l->m.name, strerror(rc));
		l->retry_at = now + RETRY_MS;
		return;
	}
	l->connecting = 1;
	l->tried_ms = now;
}

/* The connector of l is done: its connection (or its error) is the
 * loop's again. */
static void
link_opened(struct link *l)
{
	socklen_t	len = sizeof(int);
	int		size;

	pthread_join(l->connector, NULL);
	l->connecting = 0;
	l->m = l->next;
	if (!l->m.open) {
		l->retry_at = mono_ms() + RETRY_MS;
		if (!l->down_said)
			log_warnx("%s (will retry)", l->m.errstr);
		l->down_said = 1;
		return;
	}
	if (l->down_said)
		log_info("amqp: %s: connected", l->m.name);
	l->down_said = 0;
	l->room = 0;
	if (getsockopt(amqp_get_sockfd(l->m.conn), SOL_SOCKET, SO_SNDBUF,
	    &size, &len) != 0 || size <= 0)
		size = 0;
	l->room_max = (size_t)size / 6;
	l->sent_ms = l->checked_ms = mono_ms();
}

/* Reads which connectors are done. */
static void
wake_read(void)
{
	unsigned char	buf[LINKS_MAX * 4];
	ssize_t		n, k;

	while ((n = read(wake[0], buf, sizeof(buf))) > 0)
		for (k = 0; k < n; k++)
			if (buf[k] < nlinks && links[buf[k]].connecting)
				link_opened(&links[buf[k]]);
}

/* --- requests ----------------------------------------------------------- */

/* The open connection the next message (len bytes) goes to (round
 * robin), or NULL with *why; *wait says whether one is being opened or
 * has no room in its send buffer yet (the message may wait for it). */
static struct link *
link_pick(size_t len, long long arrived, const char **why, int *wait)
{
	struct link	*c;
	int		 k;

	*why = "no broker connection";
	*wait = 0;
	for (k = 0; k < nlinks; k++) {
		c = &links[(next_link + k) % nlinks];
		if (!c->m.open) {
			/* a message waits for a connect begun after it came
			 * (one is begun for it: the broker may be back), not
			 * for another after one that failed since */
			if (!c->connecting && arrived > c->tried_ms &&
			    !stopping)
				link_connect(c, mono_ms(), 1);
			if (c->connecting)
				*wait = 1;
			else if (c->m.errstr[0] != '\0')
				*why = c->m.errstr;
		} else if (c->n >= FLIGHT_MAX)
			*why = "too many messages in flight";
		else if (c->m.blocked)
			*why = "broker is blocking publishers (resource alarm)";
		else if (!link_writable(c, len + FRAMING))
			*wait = 1;
		else {
			next_link = (next_link + 1) % nlinks;
			return c;
		}
	}
	next_link = (next_link + 1) % nlinks;
	return NULL;
}

/* Publishes r of client i (generation gen) on l: in flight until its
 * confirm or deadline, or answered MQ_FAILED at once. */
static void
send_on(struct link *l, int i, unsigned gen, const struct pubframe_req *r,
    long long deadline)
{
	struct flight	*f;
	uint64_t	 tag;

	if (mq_send(&l->m, r->exchange, r->key, (const char *)r->body,
	    r->bodylen, r->id, r->mandatory, &tag) != 0) {
		answer(i, gen, r->id, MQ_FAILED, l->m.errstr);
		if (!l->m.open)
			link_lost(l, 0);
		return;
	}
	l->sent_ms = mono_ms();
	f = flight_at(l, l->n++);
	memset(f, 0, sizeof(*f));
	f->tag = tag;
	f->client = i;
	f->gen = gen;
	f->deadline = deadline;
	snprintf(f->id, sizeof(f->id), "%s", r->id);
}

/* Removes the first unsent message, answering it r/why unless sent. */
static void
unsent_pop(enum mq_result r, const char *why, int sent)
{
	struct unsent *u = unsent_head;

	if (!sent)
		answer(u->client, u->gen, u->r.id, r, why);
	if ((unsent_head = u->next) == NULL)
		unsent_tail = &unsent_head;
	nunsent--;
	free(u);
}

/* Sends what waits, in order, while a connection has room; answers
 * MQ_FAILED (never sent) to what no connection can take or whose deadline
 * passed. */
static void
unsent_drain(long long now)
{
	struct unsent	**pp, *u;
	struct link	 *l;
	const char	 *why;
	int		  wait;

	for (pp = &unsent_head; (u = *pp) != NULL; ) {
		if (now < u->deadline) {
			pp = &u->next;
			continue;
		}
		answer(u->client, u->gen, u->r.id, MQ_FAILED, "not sent in "
		    "time: no broker connection was ready (being opened, or "
		    "the broker not reading)");
		if ((*pp = u->next) == NULL)
			unsent_tail = pp;
		nunsent--;
		free(u);
	}
	while (unsent_head != NULL) {
		u = unsent_head;
		if ((l = link_pick(u->r.bodylen, u->arrived, &why, &wait)) !=
		    NULL) {
			send_on(l, u->client, u->gen, &u->r, u->deadline);
			unsent_pop(MQ_OK, "", 1);
		} else if (!wait)
			unsent_pop(MQ_FAILED, why, 0);
		else
			break;
	}
}

/* Publishes request r of client i, or queues it behind those waiting for
 * a connection with room; answers at once if it cannot be sent. */
static void
publish(int i, const struct pubframe_req *r)
{
	struct link	*l;
	struct unsent	*u;
	const char	*why;
	long long	 now = mono_ms();
	int		 wait = 1;

	clients[i]->pending++;	/* every path below answers it once */
	if (draining) {
		/* a message read after the signal: only a client with
		 * another still in flight sends one (close_idle() closes
		 * the others), and it would hold the exit */
		answer(i, clients[i]->gen, r->id, MQ_FAILED, "pubd is stopping: "
		    "not sent");
		return;
	}
	if (nunsent == 0) {
		if ((l = link_pick(r->bodylen, now, &why, &wait)) != NULL) {
			send_on(l, i, clients[i]->gen, r, now + r->timeout_ms);
			return;
		}
		if (!wait) {
			answer(i, clients[i]->gen, r->id, MQ_FAILED, why);
			return;
		}
	}
	if (nunsent >= UNSENT_MAX ||
	    (u = malloc(sizeof(*u) + r->bodylen)) == NULL) {
		answer(i, clients[i]->gen, r->id, MQ_FAILED, "too many messages "
		    "waiting for the broker to read");
		return;
	}
	u->next = NULL;
	u->client = i;
	u->gen = clients[i]->gen;
	u->arrived = now;
	u->deadline = now + r->timeout_ms;
	u->r = *r;
	if (r->bodylen > 0)
		memcpy(u + 1, r->body, r->bodylen);
	u->r.body = (const uint8_t *)(u + 1);
	*unsent_tail = u;
	unsent_tail = &u->next;
	nunsent++;
	unsent_drain(now);
}

/* Reads from client i and publishes every whole request. */
static void
client_read(int i)
{
	struct client		*c = clients[i];
	struct pubframe_req	 r;
	const char		*why = "";
	uint8_t			*p;
	size_t			 off = 0;
	ssize_t			 got;
	long			 n;

	if (c->insize - c->inlen < 4096) {
		size_t want = c->insize == 0 ? 8192 : c->insize * 2;

		if (want > PUBFRAME_REQ_MAX + 8192)
			want = PUBFRAME_REQ_MAX + 8192;
		if (want > c->insize) {
			if ((p = realloc(c->in, want)) == NULL) {
				log_warnx("responder dropped: out of memory");
				client_drop(i);
				return;
			}
			c->in = p;
			c->insize = want;
		}
	}
	got = recv(c->fd, c->in + c->inlen, c->insize - c->inlen, MSG_DONTWAIT);
	if (got < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (got <= 0) {
		/* its messages in flight are published all the same */
		client_drop(i);
		return;
	}
	c->inlen += (size_t)got;
	while ((n = pubframe_req_parse(c->in + off, c->inlen - off, &r,
	    &why)) > 0) {
		publish(i, &r);
		if (clients[i]->fd < 0)
			return;
		off += (size_t)n;
	}
	if (n == PUBFRAME_BAD) {
		log_warnx("responder dropped: %s", why);
		client_drop(i);
		return;
	}
	memmove(c->in, c->in + off, c->inlen - off);
	c->inlen -= off;
}

static void
accept_clients(void)
{
	int fd, i;

	while ((fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK |
	    SOCK_CLOEXEC)) >= 0) {
		for (i = 0; i < CLIENTS_MAX; i++)
			if (clients[i] == NULL || clients[i]->fd < 0)
				break;
		if (i == CLIENTS_MAX) {
			log_warnx("too many responders (%d); one refused",
			    CLIENTS_MAX);
			close(fd);
			continue;
		}
		if (clients[i] == NULL &&
		    (clients[i] = calloc(1, sizeof(*clients[i]))) == NULL) {
			close(fd);
			continue;
		}
		clients[i]->fd = fd;
	}
}

/* --- start and the loop ------------------------------------------------- */

static int
listen_on(const char *path)
{
	struct sockaddr_un	sun;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		log_error("pubd_socket: path longer than %zu bytes",
		    sizeof(sun.sun_path) - 1);
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	(void)unlink(path);
	if ((listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) < 0 ||
	    bind(listen_fd, (struct sockaddr *)&sun, sizeof(sun)) != 0 ||
	    chmod(path, 0660) != 0 || stat(path, &listen_st) != 0 ||
	    listen(listen_fd, 128) != 0) {
		log_warn("pubd_socket %s", path);
		return -1;
	}
	return 0;
}

/* Removes the socket file if it is still ours: a new pubd (a new
 * supervisor's generation) may have bound the path meanwhile. */
static void
unlink_ours(const char *path)
{
	struct stat st;

	if (stat(path, &st) == 0 && st.st_ino == listen_st.st_ino &&
	    st.st_dev == listen_st.st_dev)
		(void)unlink(path);
}

/* Whether open l would take a message once it has room: a blocked or
 * full connection is writable all the while, and polling it for room
 * while a message waits for another's connect would spin. */
static int
link_takes(const struct link *l)
{
	return l->n < FLIGHT_MAX && !l->m.blocked;
}

/* Milliseconds poll may sleep: until the nearest deadline or tick. */
static int
sleep_ms(long long now)
{
	long long	t = now + CHECK_MS;
	size_t		k;
	int		j;

	struct unsent	*u;

	for (j = 0; j < nlinks; j++) {
		for (k = 0; k < links[j].n; k++) {
			struct flight *f = flight_at(&links[j], k);

			if (f->client >= 0 && f->deadline < t)
				t = f->deadline;
		}
		/* stopping: nothing is connected again (link_lost) */
		if (!stopping && !links[j].m.open && !links[j].connecting &&
		    links[j].retry_at < t)
			t = links[j].retry_at;
	}
	for (u = unsent_head; u != NULL; u = u->next)
		if (u->deadline < t)
			t = u->deadline;
	return t <= now ? 0 : (int)(t - now);
}

/* Messages in flight with a responder waiting, and those not sent yet. */
static size_t
waiting(void)
{
	size_t	k, n = nunsent;
	int	j;

	for (j = 0; j < nlinks; j++)
		for (k = 0; k < links[j].n; k++)
			n += flight_at(&links[j], k)->client >= 0;
	return n;
}

/* 1 if fd has something to read now. */
static int
readable(int fd)
{
	struct pollfd p;

	p.fd = fd;
	p.events = POLLIN;
	p.revents = 0;
	return poll(&p, 1, 0) > 0;
}

/* Stopping: closes the socket of every responder with nothing of its own
 * left to answer and nothing unread.  It opens a new one for its next
 * message (pubc_check() finds this one closed), to the next pubd.  A
 * message already in the socket is read first and answered "not sent".
 * One that arrives between the check and the close is closed unread: the
 * responder's read then fails ECONNRESET, not EOF, and pubc knows nothing
 * was sent (it hands the message to the next pubd, or answers failed);
 * part of one is dropped with the socket (pubc counts it not sent).
 * Messages taken on open sockets after the signal would hold the exit as
 * long as they kept coming. */
static void
close_idle(void)
{
	int i;

	for (i = 0; i < CLIENTS_MAX; i++)
		if (clients[i] != NULL && clients[i]->fd >= 0 &&
		    clients[i]->pending == 0 && clients[i]->outlen == 0 &&
		    !readable(clients[i]->fd)) {
			close_pause();
			client_drop(i);
		}
}

/* 1 if a responder's socket has something pubd has not read yet (the exit
 * waits for it to be answered "not sent"). */
static int
unread(void)
{
	int i;

	for (i = 0; i < CLIENTS_MAX; i++)
		if (clients[i] != NULL && clients[i]->fd >= 0 &&
		    readable(clients[i]->fd))
			return 1;
	return 0;
}

static void
run(void)
{
	struct pollfd	 pfd[2 + LINKS_MAX + CLIENTS_MAX];
	int		 who[2 + LINKS_MAX + CLIENTS_MAX];
	int		 n, j, i, k;
	long long	 now;

	for (;;) {
		if (stopping && listen_fd >= 0) {
			close(listen_fd);
			listen_fd = -1;
			unlink_ours(cfg.pubd_socket);
			log_info("stopping: %zu message(s) awaiting a confirm",
			    waiting());
		}
		/* stopping is set by the signal at any time; what the loop
		 * does about it starts here, once the idle are closed */
		if (stopping) {
			if (!draining)
				stop_pause();
			close_idle();
			draining = 1;
		}
		if (draining && waiting() == 0 && !unread())
			return;
		n = 0;
		if (listen_fd >= 0) {
			pfd[n].fd = listen_fd;
			pfd[n].events = POLLIN;
			who[n++] = -1;
		}
		pfd[n].fd = wake[0];
		pfd[n].events = POLLIN;
		who[n++] = -2;
		for (j = 0; j < nlinks; j++)
			if (links[j].m.open) {
				pfd[n].fd = amqp_get_sockfd(links[j].m.conn);
				pfd[n].events = POLLIN |
				    (nunsent > 0 && link_takes(&links[j]) ?
				    POLLOUT : 0);
				who[n++] = -3 - j;
			}
		for (i = 0; i < CLIENTS_MAX; i++)
			if (clients[i] != NULL && clients[i]->fd >= 0) {
				pfd[n].fd = clients[i]->fd;
				pfd[n].events = POLLIN |
				    (clients[i]->outlen > 0 ? POLLOUT : 0);
				who[n++] = i;
			}
		now = mono_ms();
		if (poll(pfd, (nfds_t)n, sleep_ms(now)) < 0 && errno != EINTR) {
			log_warn("poll");
			continue;
		}
		for (k = 0; k < n; k++) {
			if (pfd[k].revents == 0)
				continue;
			if (who[k] == -1)
				accept_clients();
			else if (who[k] == -2)
				wake_read();
			else if (who[k] >= 0) {
				if (pfd[k].revents & POLLOUT)
					client_flush(who[k]);
				if (clients[who[k]]->fd >= 0 &&
				    pfd[k].revents & (POLLIN | POLLHUP | POLLERR))
					client_read(who[k]);
			}
		}
		/* frames rabbitmq-c buffered count as well as the socket's */
		now = mono_ms();
		for (j = 0; j < nlinks; j++) {
			link_read(&links[j]);
			link_tick(&links[j], now);
		}
		unsent_drain(now);
		if (!stopping)
			for (j = 0; j < nlinks; j++)
				link_connect(&links[j], now, 0);
	}
}

/* Connector threads still running. */
static int
connecting(void)
{
	int	j, n = 0;

	for (j = 0; j < nlinks; j++)
		n += links[j].connecting;
	return n;
}

static void
usage(FILE *f, const void *ctx)
{
	(void)ctx;
	fprintf(f, "usage: pubd [-n] [-c config]\n"
	    "The local publisher: takes messages from the purchase responders "
	    "on\npubd_socket and publishes them with publisher confirms on "
	    "pubd_connections\nbroker connections, many in flight each.\n\n"
	    START_HELP_CN
	    START_HELP_H "\n"
	    "SIGTERM or SIGINT: stop accepting, answer what is in flight, "
	    "exit 0.\n");
}

int
main(int argc, char **argv)
{
	struct start_args	a = { .usage = usage };
	char			name[64];
	long long		until, now;
	int			rc, j;

	if ((rc = start_args(&a, argc, argv)) >= 0)
		return rc;
	if (start_conf("pubd", a.path, &cfg) != 0)
		return 1;
	if (a.check)
		return start_check_done(&cfg);
	start_log("pubd", &cfg);
	start_signals(on_signal);

	if (pipe2(wake, O_NONBLOCK | O_CLOEXEC) != 0) {
		log_error("pipe: %s", strerror(errno));
		return 1;
	}
	if (listen_on(cfg.pubd_socket) != 0)
		return 1;
	nlinks = cfg.pubd_connections;
	for (j = 0; j < nlinks; j++) {
		snprintf(name, sizeof(name), "pubd[%ld].%d", (long)getpid(), j);
		(void)mq_init_conf(&links[j].m, &cfg, name);	/* conf_load checked */
		if ((links[j].ring = calloc(FLIGHT_MAX,
		    sizeof(*links[j].ring))) == NULL) {
			log_error("out of memory");
			return 1;
		}
		link_connect(&links[j], 0, 0);
	}
	/* the first connections before the first message, but no longer
	 * than one connect timeout: the loop serves meanwhile otherwise */
	until = mono_ms() + cfg.amqp_connect_timeout_ms;
	while (connecting() > 0 && !stopping && (now = mono_ms()) < until) {
		struct pollfd p = { .fd = wake[0], .events = POLLIN };

		(void)poll(&p, 1, (int)(until - now));
		wake_read();
	}
	log_info("started: %s, %d broker connection(s)", cfg.pubd_socket,
	    nlinks);
	run();
	for (j = 0; j < nlinks; j++) {
		if (links[j].connecting) {
			/* its connect ends within amqp_connect_timeout_ms
			 * per node */
			pthread_join(links[j].connector, NULL);
			links[j].connecting = 0;
			links[j].m = links[j].next;
		}
		mq_close(&links[j].m);
		free(links[j].ring);
	}
	while (unsent_head != NULL)
		unsent_pop(MQ_FAILED, "pubd stopping", 0);
	for (j = 0; j < CLIENTS_MAX; j++)
		if (clients[j] != NULL) {
			if (clients[j]->fd >= 0)
				client_drop(j);
			free(clients[j]);
		}
	log_info("stopped");
	return 0;
}
