/* SPDX-License-Identifier: ISC */
/*
 * mq.c - RabbitMQ connection, publisher confirms and topology (see mq.h).
 */
#include <sys/socket.h>
#include <sys/time.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <amqp.h>
#include <amqp_tcp_socket.h>

#include "clock.h"
#include "conf.h"
#include "err.h"
#include "fmt.h"
#include "log.h"
#include "metrics.h"
#include "mq.h"

#define CHANNEL	1

/* Records a failure of operation what (err.h). */
static void
seterr(struct mq *m, enum err_kind kind, const char *what, const char *why)
{
	err_set(&m->err, m->errstr, kind, "amqp %s:%d: %s: %s", m->host,
	    m->port, what, why);
}

/* Describes an RPC reply; returns 0 if it is normal. */
static int
rpc_check(struct mq *m, amqp_rpc_reply_t rep, const char *what)
{
	char why[160];

	switch (rep.reply_type) {
	case AMQP_RESPONSE_NORMAL:
		return 0;
	case AMQP_RESPONSE_LIBRARY_EXCEPTION:
		seterr(m, ERR_IO, what, amqp_error_string2(rep.library_error));
		return -1;
	case AMQP_RESPONSE_SERVER_EXCEPTION:
		if (rep.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
			amqp_connection_close_t *c = rep.reply.decoded;

			snprintf(why, sizeof(why), "connection closed %u %.*s",
			    c->reply_code, (int)c->reply_text.len,
			    (char *)c->reply_text.bytes);
		} else if (rep.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
			amqp_channel_close_t *c = rep.reply.decoded;

			snprintf(why, sizeof(why), "channel closed %u %.*s",
			    c->reply_code, (int)c->reply_text.len,
			    (char *)c->reply_text.bytes);
		} else
			snprintf(why, sizeof(why), "server exception 0x%08x",
			    rep.reply.id);
		seterr(m, ERR_SERVER, what, why);
		return -1;
	default:
		seterr(m, ERR_IO, what, "no reply");
		return -1;
	}
}

void
mq_init(struct mq *m, const char *host, int port, const char *user,
    const char *password, const char *vhost, int timeout_ms, const char *name)
{
	memset(m, 0, sizeof(*m));
	snprintf(m->host, sizeof(m->host), "%s", host);
	m->port = port;
	snprintf(m->nodes[0].host, sizeof(m->nodes[0].host), "%s", host);
	m->nodes[0].port = port;
	m->nnodes = 1;
	m->last_node = -1;
	snprintf(m->user, sizeof(m->user), "%s", user);
	snprintf(m->password, sizeof(m->password), "%s", password);
	snprintf(m->vhost, sizeof(m->vhost), "%s", vhost);
	snprintf(m->name, sizeof(m->name), "%s", name);
	m->timeout_ms = timeout_ms;
	m->heartbeat = MQ_HEARTBEAT_DEFAULT;
}

int
mq_init_conf(struct mq *m, const struct conf *c, const char *name)
{
	struct hostport	nodes[MQ_NODES_MAX];
	char		why[160];
	int		n;

	mq_init(m, c->amqp_host, c->amqp_port, c->amqp_user, c->amqp_password,
	    c->amqp_vhost, c->amqp_connect_timeout_ms, name);
	mq_set_heartbeat(m, c->amqp_heartbeat);
	n = hostlist_parse(c->amqp_hosts, c->amqp_port, nodes, MQ_NODES_MAX,
	    why, sizeof(why));
	if (n < 0) {
		seterr(m, ERR_OTHER, "amqp_hosts", why);
		return -1;
	}
	if (n > 0) {
		memcpy(m->nodes, nodes, sizeof(nodes[0]) * (size_t)n);
		m->nnodes = n;
		snprintf(m->host, sizeof(m->host), "%s", nodes[0].host);
		m->port = nodes[0].port;
	}
	return 0;
}

void
mq_set_heartbeat(struct mq *m, int seconds)
{
	m->heartbeat = seconds < 0 ? 0 : seconds;
}

int
mq_silent(const struct mq *m)
{
	struct tcp_info	ti;
	socklen_t	len = sizeof(ti);
	int		hb, fd;

	if (!m->open || m->conn == NULL ||
	    (hb = amqp_get_heartbeat(m->conn)) <= 0 ||
	    (fd = amqp_get_sockfd(m->conn)) < 0)
		return 0;
	memset(&ti, 0, sizeof(ti));
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0)
		return 0;	/* cannot tell: the confirm timeout still holds */
	/* the broker sends at least once per interval (heartbeat or other) */
	return ti.tcpi_last_data_recv > (unsigned)hb * 1500u;
}

int
mq_heartbeat_send(struct mq *m)
{
	amqp_frame_t f;

	if (!m->open || m->conn == NULL)
		return -1;
	memset(&f, 0, sizeof(f));
	f.frame_type = AMQP_FRAME_HEARTBEAT;
	f.channel = 0;
	if (amqp_send_frame(m->conn, &f) != AMQP_STATUS_OK) {
		seterr(m, ERR_IO, "heartbeat", "cannot send");
		return -1;
	}
	return 0;
}

void
mq_close(struct mq *m)
{
	if (m->conn == NULL)
		return;
	if (m->open) {
		/* best effort: a dead peer makes these fail fast */
		(void)amqp_channel_close(m->conn, CHANNEL, AMQP_REPLY_SUCCESS);
		(void)amqp_connection_close(m->conn, AMQP_REPLY_SUCCESS);
	}
	amqp_destroy_connection(m->conn);
	m->conn = NULL;
	m->open = 0;
	m->blocked = 0;
	m->confirms = 0;
}

/* Drops a connection that failed without talking to the peer again. */
static void
mq_abort(struct mq *m)
{
	/* a live connection died: its node is tried last next time */
	if (m->open && m->nnodes > 1)
		m->cur = (m->cur + 1) % m->nnodes;
	m->open = 0;
	mq_close(m);
}

static int
login(struct mq *m)
{
	amqp_table_entry_t	 caps[3], props[2];
	amqp_table_t		 captable, proptable;

	caps[0].key = amqp_cstring_bytes("connection.blocked");
	caps[0].value.kind = AMQP_FIELD_KIND_BOOLEAN;
	caps[0].value.value.boolean = 1;
	caps[1].key = amqp_cstring_bytes("publisher_confirms");
	caps[1].value.kind = AMQP_FIELD_KIND_BOOLEAN;
	caps[1].value.value.boolean = 1;
	caps[2].key = amqp_cstring_bytes("consumer_cancel_notify");
	caps[2].value.kind = AMQP_FIELD_KIND_BOOLEAN;
	caps[2].value.value.boolean = 1;
	captable.num_entries = 3;
	captable.entries = caps;
	props[0].key = amqp_cstring_bytes("capabilities");
	props[0].value.kind = AMQP_FIELD_KIND_TABLE;
	props[0].value.value.table = captable;
	props[1].key = amqp_cstring_bytes("connection_name");
	props[1].value.kind = AMQP_FIELD_KIND_UTF8;
	props[1].value.value.bytes = amqp_cstring_bytes(m->name);
	proptable.num_entries = 2;
	proptable.entries = props;
	return rpc_check(m, amqp_login_with_properties(m->conn, m->vhost, 0,
	    131072, m->heartbeat, &proptable, AMQP_SASL_METHOD_PLAIN, m->user,
	    m->password), "login");
}

/* Opens a connection to the node in m->host/m->port (see mq_connect). */
static int
connect_node(struct mq *m, int confirms)
{
	amqp_socket_t	*sock;
	struct timeval	 tv;
	int		 rc;

	if (m->conn != NULL)
		mq_close(m);
	if ((m->conn = amqp_new_connection()) == NULL) {
		seterr(m, ERR_OTHER, "connect", "out of memory");
		return -1;
	}
	if ((sock = amqp_tcp_socket_new(m->conn)) == NULL) {
		seterr(m, ERR_IO, "connect", "cannot create socket");
		mq_abort(m);
		return -1;
	}
	tv.tv_sec = m->timeout_ms / 1000;
	tv.tv_usec = (m->timeout_ms % 1000) * 1000;
	(void)amqp_set_handshake_timeout(m->conn, &tv);
	(void)amqp_set_rpc_timeout(m->conn, &tv);
	if ((rc = amqp_socket_open_noblock(sock, m->host, m->port, &tv)) != 0) {
		seterr(m, ERR_IO, "connect", amqp_error_string2(rc));
		mq_abort(m);
		return -1;
	}
	if (login(m) != 0) {
		mq_abort(m);
		return -1;
	}
	m->open = 1;
	amqp_channel_open(m->conn, CHANNEL);
	if (rpc_check(m, amqp_get_rpc_reply(m->conn), "channel.open") != 0) {
		mq_abort(m);
		return -1;
	}
	if (confirms) {
		amqp_confirm_select(m->conn, CHANNEL);
		if (rpc_check(m, amqp_get_rpc_reply(m->conn),
		    "confirm.select") != 0) {
			mq_abort(m);
			return -1;
		}
		m->confirms = 1;
	}
	m->next_tag = 1;
	m->blocked = 0;
	m->used_ms = mono_ms();
	if (m->reconnects++ > 0)
		metrics_count(METRICS_AMQP_RECONNECTS);
	return 0;
}

int
mq_connect(struct mq *m, int confirms)
{
	int	i, n, prev = m->cur;

	for (i = 0; i < m->nnodes; i++) {
		n = (prev + i) % m->nnodes;
		snprintf(m->host, sizeof(m->host), "%s", m->nodes[n].host);
		m->port = m->nodes[n].port;
		/* connect_node's mq_abort must not move cur meanwhile */
		m->cur = n;
		if (connect_node(m, confirms) == 0) {
			/* news only when another node than the last one */
			if (m->nnodes > 1 && m->last_node >= 0 &&
			    n != m->last_node)
				log_info("amqp: %s: connected to node %s:%d (%d "
				    "of %d)", m->name, m->host, m->port, n + 1,
				    m->nnodes);
			m->last_node = n;
			return 0;
		}
		/* the caller reports a failure of all; one node refusing
		 * is news only while it is the one that worked last */
		if (m->nnodes > 1 && n == m->last_node)
			log_warnx("%s; trying the next node", m->errstr);
		else if (m->nnodes > 1)
			log_debug("%s; trying the next node", m->errstr);
	}
	m->cur = prev;
	return -1;
}

/* Answers a broker-initiated close of the connection or the channel. */
static void
answer_close(struct mq *m, amqp_frame_t *f)
{
	char why[160];

	if (f->payload.method.id == AMQP_CONNECTION_CLOSE_METHOD) {
		amqp_connection_close_t *c = f->payload.method.decoded;
		amqp_connection_close_ok_t ok;

		snprintf(why, sizeof(why), "broker closed the connection: %u %.*s",
		    c->reply_code, (int)c->reply_text.len,
		    (char *)c->reply_text.bytes);
		(void)amqp_send_method(m->conn, 0, AMQP_CONNECTION_CLOSE_OK_METHOD,
		    &ok);
	} else {
		amqp_channel_close_t *c = f->payload.method.decoded;
		amqp_channel_close_ok_t ok;

		snprintf(why, sizeof(why), "broker closed the channel: %u %.*s",
		    c->reply_code, (int)c->reply_text.len,
		    (char *)c->reply_text.bytes);
		(void)amqp_send_method(m->conn, CHANNEL,
		    AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
	}
	seterr(m, ERR_IO, "frame", why);
	mq_abort(m);
}

/* Handles a frame that is not the confirm being waited for.  Returns 0 to
 * keep going, -1 if the connection is gone (errstr set). */
static int
other_frame(struct mq *m, amqp_frame_t *f)
{
	if (f->frame_type != AMQP_FRAME_METHOD)
		return 0;
	switch (f->payload.method.id) {
	case AMQP_CONNECTION_CLOSE_METHOD:
	case AMQP_CHANNEL_CLOSE_METHOD:
		answer_close(m, f);
		return -1;
	case AMQP_CONNECTION_BLOCKED_METHOD:
		if (!m->blocked)
			log_warnx("amqp: broker blocked publishing (resource "
			    "alarm)");
		m->blocked = 1;
		return 0;
	case AMQP_CONNECTION_UNBLOCKED_METHOD:
		if (m->blocked)
			log_info("amqp: broker unblocked publishing");
		m->blocked = 0;
		return 0;
	default:
		return 0;
	}
}

/*
 * Makes an open connection fit for use after idling: reads whatever the
 * broker sent meanwhile (connection.close, blocked/unblocked) without
 * waiting, and drops a connection that died or went silent (mq_silent()).
 * A closed one is opened, with confirms.  Returns 0 if usable, -1 if not.
 */
static int
usable(struct mq *m, int confirms)
{
	amqp_frame_t	 f;
	struct timeval	 zero = { 0, 0 };
	struct pollfd	 pfd;
	long long	 idle;
	int		 rc, hb;

	if (!m->open)
		return mq_connect(m, confirms);
	if (m->confirms)
		confirms = 1;
	hb = amqp_get_heartbeat(m->conn);
	idle = mono_ms() - m->used_ms;
	for (;;) {
		if (!amqp_data_in_buffer(m->conn) && !amqp_frames_enqueued(m->conn)) {
			pfd.fd = amqp_get_sockfd(m->conn);
			pfd.events = POLLIN;
			pfd.revents = 0;
			if (poll(&pfd, 1, 0) <= 0)
				break;		/* nothing waiting */
		}
		amqp_maybe_release_buffers(m->conn);
		rc = amqp_simple_wait_frame_noblock(m->conn, &f, &zero);
		if (rc == AMQP_STATUS_TIMEOUT)
			break;
		if (rc != AMQP_STATUS_OK) {
			seterr(m, ERR_IO, "idle connection",
			    amqp_error_string2(rc));
			mq_abort(m);
			goto dead;
		}
		if (other_frame(m, &f) != 0)
			goto dead;
	}
	/* a confirm read within 1.5 intervals is news enough: the kernel's
	 * age of the last byte (a getsockopt per publish) can only be lower */
	if ((hb > 0 && m->heard_ms > 0 &&
	    mono_ms() - m->heard_ms <= 1500LL * hb) || !mq_silent(m)) {
		m->used_ms = mono_ms();
		return 0;
	}
	seterr(m, ERR_IO, "idle connection", "nothing heard from the broker "
	    "for 1.5 heartbeat intervals: presumed gone");
	mq_abort(m);
dead:
	/* nothing was in flight.  After a silence of ours longer than the
	 * broker's heartbeat deadline its close is expected, not news. */
	if (hb > 0 && idle > 2000LL * hb && strstr(m->errstr, "presumed") ==
	    NULL)
		log_info("%s (idle %lld s, heartbeats expired); reconnecting",
		    m->errstr, idle / 1000);
	else
		log_warnx("%s; reconnecting", m->errstr);
	return mq_connect(m, confirms);
}

int
mq_check(struct mq *m)
{
	return usable(m, 1);
}

const char *
mq_result_str(enum mq_result r)
{
	switch (r) {
	case MQ_OK:
		return "confirmed";
	case MQ_FAILED:
		return "failed";
	default:
		return "unknown";
	}
}

/* 1 if a returned message is the one published as msgid: a return of an
 * earlier message (kept connection, see below) must not fail this one. */
static int
same_message(const amqp_message_t *msg, const char *msgid)
{
	const amqp_basic_properties_t *p = &msg->properties;

	return (p->_flags & AMQP_BASIC_MESSAGE_ID_FLAG) &&
	    p->message_id.len == strlen(msgid) &&
	    memcmp(p->message_id.bytes, msgid, p->message_id.len) == 0;
}

int
mq_rpc_check(struct mq *m, amqp_rpc_reply_t rep, const char *what)
{
	return rpc_check(m, rep, what);
}

enum mq_frame
mq_frame_class(const amqp_frame_t *f, uint64_t tag)
{
	const amqp_basic_ack_t	*a;
	const amqp_basic_nack_t	*n;

	if (f->frame_type != AMQP_FRAME_METHOD)
		return MQ_FRAME_SKIP;
	switch (f->payload.method.id) {
	case AMQP_BASIC_ACK_METHOD:
		a = f->payload.method.decoded;
		return a->delivery_tag == tag || (a->multiple &&
		    a->delivery_tag > tag) ? MQ_FRAME_ACK : MQ_FRAME_SKIP;
	case AMQP_BASIC_NACK_METHOD:
		n = f->payload.method.decoded;
		return n->delivery_tag == tag || (n->multiple &&
		    n->delivery_tag > tag) ? MQ_FRAME_NACK : MQ_FRAME_SKIP;
	case AMQP_BASIC_RETURN_METHOD:
		return MQ_FRAME_RETURN;
	case AMQP_CHANNEL_CLOSE_METHOD:
		return MQ_FRAME_CHANNEL_CLOSE;
	default:
		return MQ_FRAME_OTHER;
	}
}

const char *
mq_frame_str(enum mq_frame k)
{
	static const char *const names[MQ_FRAME__MAX] = {
		"SKIP", "ACK", "NACK", "RETURN", "CHANNEL_CLOSE", "OTHER"
	};

	return (unsigned)k < MQ_FRAME__MAX ? names[k] : "?";
}

/*
 * Replaces the channel after a basic.nack: closes it and opens a new one
 * (confirm mode again, tags from 1).  A quorum queue's state in a RabbitMQ
 * 3.10 channel is made at the channel's first publish to it, with the
 * members led by the node the queue's record then named leader.  A channel
 * that first publishes while that node is down asks that node, and only
 * it, whether it may publish, and nacks every later publish too -- long
 * after another member was elected -- until that node returns
 * (rabbit_fifo_client:enqueue/3, {badrpc, nodedown}; docs/reliability.md
 * "A nacked channel is replaced").  A new channel reads the record afresh.
 * Nothing is in flight on it: one publish at a time, and the nack was its
 * answer.
 * Returns 0, or -1 with the connection dropped (errstr set).
 */
static int
channel_renew(struct mq *m)
{
	if (rpc_check(m, amqp_channel_close(m->conn, CHANNEL,
	    AMQP_REPLY_SUCCESS), "channel.close") != 0)
		goto fail;
	amqp_channel_open(m->conn, CHANNEL);
	if (rpc_check(m, amqp_get_rpc_reply(m->conn), "channel.open") != 0)
		goto fail;
	if (m->confirms) {
		amqp_confirm_select(m->conn, CHANNEL);
		if (rpc_check(m, amqp_get_rpc_reply(m->conn),
		    "confirm.select") != 0)
			goto fail;
	}
	m->next_tag = 1;
	return 0;
fail:
	mq_abort(m);
	return -1;
}

/* Reads frames until the confirm for tag arrives or the deadline passes. */
static enum mq_result
wait_confirm(struct mq *m, uint64_t tag, const char *msgid, long long deadline)
{
	amqp_frame_t	 f;
	amqp_message_t	 msg;
	struct timeval	 tv;
	long long	 left;
	int		 rc, returned = 0;

	for (;;) {
		if ((left = deadline - mono_ms()) < 0)
			left = 0;
		tv.tv_sec = left / 1000;
		tv.tv_usec = (left % 1000) * 1000;
		amqp_maybe_release_buffers(m->conn);
		rc = amqp_simple_wait_frame_noblock(m->conn, &f, &tv);
		if (rc == AMQP_STATUS_TIMEOUT) {
			seterr(m, ERR_IO, "confirm", "timed out");
			mq_abort(m);	/* a late confirm would confuse tags */
			return MQ_UNKNOWN;
		}
		if (rc != AMQP_STATUS_OK) {
			seterr(m, ERR_IO, "confirm", amqp_error_string2(rc));
			mq_abort(m);
			return MQ_UNKNOWN;
		}
		switch (mq_frame_class(&f, tag)) {
		case MQ_FRAME_SKIP:
			continue;
		case MQ_FRAME_ACK:
			m->heard_ms = mono_ms();
			return returned ? MQ_FAILED : MQ_OK;
		case MQ_FRAME_NACK:
			/* RabbitMQ may have stored it in some queue: treat
			 * as unknown, never as a safe failure.  The next
			 * publish goes on a new channel (channel_renew) */
			if (channel_renew(m) != 0)
				log_warnx("%s; reconnecting", m->errstr);
			seterr(m, ERR_SERVER, "confirm", "nack from broker");
			return returned ? MQ_FAILED : MQ_UNKNOWN;
		case MQ_FRAME_RETURN: {
			amqp_basic_return_t *r = f.payload.method.decoded;
			char why[128];

			snprintf(why, sizeof(why), "returned %u %.*s",
			    r->reply_code, (int)r->reply_text.len,
			    (char *)r->reply_text.bytes);
			/* the returned content follows: consume it */
			if (amqp_read_message(m->conn, f.channel, &msg, 0).
			    reply_type != AMQP_RESPONSE_NORMAL) {
				seterr(m, ERR_IO, "publish", "cannot read a "
				    "returned message");
				mq_abort(m);
				return MQ_UNKNOWN;
			}
			if (same_message(&msg, msgid)) {
				seterr(m, ERR_SERVER, "publish", why);
				returned = 1;
			}
			amqp_destroy_message(&msg);
			continue;
		}
		case MQ_FRAME_CHANNEL_CLOSE: {
			amqp_channel_close_t *c = f.payload.method.decoded;
			int notfound = c->reply_code == AMQP_NOT_FOUND;

			answer_close(m, &f);
			/* 404: the exchange is missing, nothing was routed */
			return notfound ? MQ_FAILED : MQ_UNKNOWN;
		}
		default:
			if (other_frame(m, &f) != 0)
				return MQ_UNKNOWN;
			if (m->blocked) {
				/*
				 * A resource alarm: RabbitMQ stopped reading
				 * at our message.  It keeps it and routes (and
				 * confirms) it once the alarm is over, even if
				 * we close the connection, so the outcome is
				 * unknown, and waiting longer helps nobody.
				 * The connection is kept: it stays blocked, and
				 * every publish on it fails before sending
				 * (definitely, fast) until connection.unblocked.
				 */
				seterr(m, ERR_SERVER, "confirm", "broker "
				    "blocked publishing (resource alarm) after "
				    "the message was sent");
				return MQ_UNKNOWN;
			}
			continue;
		}
	}
}

static enum mq_result	publish(struct mq *, const char *, const char *,
			    const char *, size_t, const char *, int,
			    const amqp_table_t *);
static int		send_props(struct mq *, const char *, const char *,
			    const char *, size_t, const char *, int,
			    const amqp_table_t *, uint64_t *);

void
mq_message_props(amqp_basic_properties_t *props, const char *msgid)
{
	memset(props, 0, sizeof(*props));
	props->_flags = AMQP_BASIC_CONTENT_TYPE_FLAG |
	    AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG;
	props->content_type = amqp_cstring_bytes("application/json");
	props->delivery_mode = AMQP_DELIVERY_PERSISTENT;
	props->message_id = amqp_cstring_bytes(msgid);
}

/* Times and counts each publish (metrics.h), the work is in publish(). */
enum mq_result
mq_publish(struct mq *m, const char *body, size_t len, const char *msgid,
    int timeout_ms)
{
	return mq_publish_key(m, MQ_ROUTING_KEY, body, len, msgid, timeout_ms);
}

enum mq_result
mq_publish_key(struct mq *m, const char *key, const char *body, size_t len,
    const char *msgid, int timeout_ms)
{
	long long	start = mono_us();
	enum mq_result	r;

	r = publish(m, MQ_EXCHANGE, key, body, len, msgid, timeout_ms, NULL);
	metrics_observe(METRICS_PUBLISH, start);
	metrics_count(r == MQ_OK ? METRICS_PUBLISH_CONFIRMED :
	    r == MQ_FAILED ? METRICS_PUBLISH_FAILED : METRICS_PUBLISH_UNKNOWN);
	return r;
}

enum mq_result
mq_publish_queue(struct mq *m, const char *queue, const char *body,
    size_t len, const char *msgid, int timeout_ms)
{
	amqp_table_entry_t	e;
	amqp_table_t		h;

	e.key = amqp_cstring_bytes(MQ_REQUEUED_HEADER);
	e.value.kind = AMQP_FIELD_KIND_BOOLEAN;
	e.value.value.boolean = 1;
	h.num_entries = 1;
	h.entries = &e;
	/* the default exchange routes a key to the queue of that name */
	return publish(m, "", queue, body, len, msgid, timeout_ms, &h);
}

int
mq_send(struct mq *m, const char *exchange, const char *key,
    const char *body, size_t len, const char *msgid, int mandatory,
    uint64_t *tag)
{
	return send_props(m, exchange, key, body, len, msgid, mandatory, NULL,
	    tag);
}

/* mq_send() with the headers h (NULL: none). */
static int
send_props(struct mq *m, const char *exchange, const char *key,
    const char *body, size_t len, const char *msgid, int mandatory,
    const amqp_table_t *h, uint64_t *tag)
{
	amqp_basic_properties_t	 props;
	amqp_bytes_t		 b;
	char			 corr[24];
	int			 rc;

	if (!m->open) {
		seterr(m, ERR_IO, "publish", "not connected");
		return -1;
	}
	if (!m->confirms) {
		seterr(m, ERR_OTHER, "publish", "channel not in confirm mode");
		return -1;
	}
	if (m->blocked) {
		seterr(m, ERR_SERVER, "publish", "broker is blocking publishers "
		    "(resource alarm)");
		return -1;
	}
	mq_message_props(&props, msgid);
	/* the delivery tag it gets, which a basic.return carries back: the
	 * message returned, whatever else of the same id is in flight */
	snprintf(corr, sizeof(corr), "%llu", (unsigned long long)m->next_tag);
	props._flags |= AMQP_BASIC_CORRELATION_ID_FLAG;
	props.correlation_id = amqp_cstring_bytes(corr);
	if (h != NULL) {
		props._flags |= AMQP_BASIC_HEADERS_FLAG;
		props.headers = *h;
	}
	b.bytes = (void *)(uintptr_t)body;
	b.len = len;
	rc = amqp_basic_publish(m->conn, CHANNEL,
	    amqp_cstring_bytes(exchange), amqp_cstring_bytes(key),
	    mandatory, 0, &props, b);
	if (rc != AMQP_STATUS_OK) {
		/* the message did not leave whole: the broker drops a
		 * partial one with the connection */
		seterr(m, ERR_IO, "publish", amqp_error_string2(rc));
		mq_abort(m);
		return -1;
	}
	*tag = m->next_tag++;
	m->used_ms = mono_ms();
	return 0;
}

static enum mq_result
publish(struct mq *m, const char *exchange, const char *key, const char *body,
    size_t len, const char *msgid, int timeout_ms, const amqp_table_t *h)
{
	uint64_t	tag;
	long long	deadline = mono_ms() + timeout_ms;

	if (mq_check(m) != 0)
		return MQ_FAILED;
	if (send_props(m, exchange, key, body, len, msgid, 1, h, &tag) != 0)
		return MQ_FAILED;
	return wait_confirm(m, tag, msgid, deadline);
}

void
mq_drop(struct mq *m, const char *what, const char *why)
{
	seterr(m, ERR_IO, what, why);
	mq_abort(m);
}

/* The delivery tag a returned message was sent with (its correlation-id,
 * send_props()), or 0 if it carries none (another publisher's). */
static uint64_t
return_tag(const amqp_basic_properties_t *p)
{
	char			 s[24], *end;
	unsigned long long	 v;

	if (!(p->_flags & AMQP_BASIC_CORRELATION_ID_FLAG) ||
	    p->correlation_id.len == 0 ||
	    p->correlation_id.len >= sizeof(s))
		return 0;
	memcpy(s, p->correlation_id.bytes, p->correlation_id.len);
	s[p->correlation_id.len] = '\0';
	if (s[0] < '1' || s[0] > '9')
		return 0;
	errno = 0;
	v = strtoull(s, &end, 10);
	return *end != '\0' || errno != 0 ? 0 : (uint64_t)v;
}

/* The method frame f as an event of mq_read_event().  Returns as it. */
static int
method_event(struct mq *m, amqp_frame_t *f, struct mq_event *ev)
{
	amqp_message_t	msg;

	switch (f->payload.method.id) {
	case AMQP_BASIC_ACK_METHOD: {
		const amqp_basic_ack_t *a = f->payload.method.decoded;

		ev->kind = MQ_EV_ACK;
		ev->tag = a->delivery_tag;
		ev->multiple = a->multiple;
		return 1;
	}
	case AMQP_BASIC_NACK_METHOD: {
		const amqp_basic_nack_t *n = f->payload.method.decoded;

		ev->kind = MQ_EV_NACK;
		ev->tag = n->delivery_tag;
		ev->multiple = n->multiple;
		return 1;
	}
	case AMQP_BASIC_RETURN_METHOD: {
		const amqp_basic_properties_t *p;

		/* the returned content follows at once: consume it */
		if (amqp_read_message(m->conn, f->channel, &msg, 0).
		    reply_type != AMQP_RESPONSE_NORMAL) {
			mq_drop(m, "publish", "cannot read a returned message");
			ev->kind = MQ_EV_CLOSED;
			return -1;
		}
		p = &msg.properties;
		ev->kind = MQ_EV_RETURN;
		ev->tag = return_tag(p);
		ev->msgid[0] = '\0';
		if ((p->_flags & AMQP_BASIC_MESSAGE_ID_FLAG) &&
		    p->message_id.len < sizeof(ev->msgid)) {
			memcpy(ev->msgid, p->message_id.bytes,
			    p->message_id.len);
			ev->msgid[p->message_id.len] = '\0';
		}
		amqp_destroy_message(&msg);
		return 1;
	}
	case AMQP_CHANNEL_CLOSE_METHOD:
	case AMQP_CONNECTION_CLOSE_METHOD:
		ev->kind = MQ_EV_CLOSED;
		ev->notfound = f->payload.method.id ==
		    AMQP_CHANNEL_CLOSE_METHOD && ((amqp_channel_close_t *)
		    f->payload.method.decoded)->reply_code == AMQP_NOT_FOUND;
		answer_close(m, f);
		return -1;
	default: {
		int was = m->blocked;

		(void)other_frame(m, f);	/* blocked, unblocked */
		if (m->blocked == was)
			return 0;
		ev->kind = m->blocked ? MQ_EV_BLOCKED : MQ_EV_UNBLOCKED;
		return 1;
	}
	}
}

int
mq_read_event(struct mq *m, struct mq_event *ev)
{
	amqp_frame_t	 f;
	struct timeval	 zero = { 0, 0 };
	struct pollfd	 pfd;
	int		 rc;

	memset(ev, 0, sizeof(*ev));
	if (!m->open || m->conn == NULL) {
		ev->kind = MQ_EV_CLOSED;
		return -1;
	}
	if (!amqp_data_in_buffer(m->conn) && !amqp_frames_enqueued(m->conn)) {
		pfd.fd = amqp_get_sockfd(m->conn);
		pfd.events = POLLIN;
		pfd.revents = 0;
		if (poll(&pfd, 1, 0) <= 0)
			return 0;
	}
	amqp_maybe_release_buffers(m->conn);
	rc = amqp_simple_wait_frame_noblock(m->conn, &f, &zero);
	if (rc == AMQP_STATUS_TIMEOUT)
		return 0;
	if (rc != AMQP_STATUS_OK) {
		mq_drop(m, "confirm", amqp_error_string2(rc));
		ev->kind = MQ_EV_CLOSED;
		return -1;
	}
	m->heard_ms = mono_ms();
	if (f.frame_type != AMQP_FRAME_METHOD)
		return 0;
	return method_event(m, &f, ev);
}

static int
declare_exchange(struct mq *m, const char *name)
{
	amqp_exchange_declare(m->conn, CHANNEL, amqp_cstring_bytes(name),
	    amqp_cstring_bytes("direct"), 0, 1, 0, 0, amqp_empty_table);
	return rpc_check(m, amqp_get_rpc_reply(m->conn), name);
}

static int
declare_queue(struct mq *m, const char *name, const char *dlx_key,
    int max_length, int quorum, int replicas)
{
	amqp_table_entry_t	e[7];
	amqp_table_t		args;
	int			n = 0;

	if (quorum) {
		e[n].key = amqp_cstring_bytes("x-queue-type");
		e[n].value.kind = AMQP_FIELD_KIND_UTF8;
		e[n++].value.value.bytes = amqp_cstring_bytes("quorum");
	}
	if (quorum && replicas > 0) {
		e[n].key = amqp_cstring_bytes("x-quorum-initial-group-size");
		e[n].value.kind = AMQP_FIELD_KIND_I64;
		e[n++].value.value.i64 = replicas;
	}
	if (quorum && dlx_key != NULL) {
		e[n].key = amqp_cstring_bytes("x-delivery-limit");
		e[n].value.kind = AMQP_FIELD_KIND_I64;
		e[n++].value.value.i64 = MQ_DELIVERY_LIMIT;
	}
	if (dlx_key != NULL) {
		e[n].key = amqp_cstring_bytes("x-dead-letter-exchange");
		e[n].value.kind = AMQP_FIELD_KIND_UTF8;
		e[n++].value.value.bytes = amqp_cstring_bytes(MQ_DLX);
		e[n].key = amqp_cstring_bytes("x-dead-letter-routing-key");
		e[n].value.kind = AMQP_FIELD_KIND_UTF8;
		e[n++].value.value.bytes = amqp_cstring_bytes(dlx_key);
	}
	if (max_length > 0) {
		e[n].key = amqp_cstring_bytes("x-max-length");
		e[n].value.kind = AMQP_FIELD_KIND_I64;
		e[n++].value.value.i64 = max_length;
		e[n].key = amqp_cstring_bytes("x-overflow");
		e[n].value.kind = AMQP_FIELD_KIND_UTF8;
		e[n++].value.value.bytes = amqp_cstring_bytes("reject-publish");
	}
	args.num_entries = n;
	args.entries = e;
	amqp_queue_declare(m->conn, CHANNEL, amqp_cstring_bytes(name), 0, 1, 0, 0,
	    args);
	return rpc_check(m, amqp_get_rpc_reply(m->conn), name);
}

static int
bind_queue(struct mq *m, const char *queue, const char *exchange,
    const char *key)
{
	amqp_queue_bind(m->conn, CHANNEL, amqp_cstring_bytes(queue),
	    amqp_cstring_bytes(exchange), amqp_cstring_bytes(key),
	    amqp_empty_table);
	return rpc_check(m, amqp_get_rpc_reply(m->conn), queue);
}

int
mq_declare_topology(struct mq *m, int max_length, const char *queue_type,
    int replicas)
{
	static const char *const queues[] = { MQ_QUEUE_SQL, MQ_QUEUE_NOSQL };
	char	dead[64];
	size_t	i;
	int	quorum = strcmp(queue_type, "quorum") == 0;

	if (usable(m, 0) != 0)
		return -1;
	if (declare_exchange(m, MQ_EXCHANGE) || declare_exchange(m, MQ_DLX))
		goto fail;
	for (i = 0; i < 2; i++) {
		snprintf(dead, sizeof(dead), "%s" MQ_DEAD_SUFFIX, queues[i]);
		if (declare_queue(m, queues[i], queues[i], max_length, quorum,
		    replicas) ||
		    bind_queue(m, queues[i], MQ_EXCHANGE, MQ_ROUTING_KEY) ||
		    bind_queue(m, queues[i], MQ_EXCHANGE, MQ_CANCEL_KEY) ||
		    declare_queue(m, dead, NULL, 0, quorum, replicas) ||
		    bind_queue(m, dead, MQ_DLX, queues[i]))
			goto fail;
	}
	return 0;
fail:
	mq_abort(m);
	return -1;
}

long
mq_queue_depth(struct mq *m, const char *queue, long *consumers)
{
	amqp_queue_declare_ok_t *ok;

	if (usable(m, 0) != 0)
		return -1;
	ok = amqp_queue_declare(m->conn, CHANNEL, amqp_cstring_bytes(queue), 1,
	    0, 0, 0, amqp_empty_table);
	if (rpc_check(m, amqp_get_rpc_reply(m->conn), queue) != 0 || ok == NULL) {
		mq_abort(m);
		return -1;
	}
	if (consumers != NULL)
		*consumers = ok->consumer_count;
	return ok->message_count;
}
