/* SPDX-License-Identifier: ISC */
/*
 * mq.h - RabbitMQ (AMQP 0-9-1, rabbitmq-c 0.11): one connection with one
 * channel in confirm mode, publish with a publisher confirm read through the
 * frame loop, the topology of docs/consumer.md, and a small consumer helper.
 *
 * A struct mq reconnects by itself: any error closes it, the next call opens
 * it again.  Functions returning int give 0 on success, -1 on failure with
 * m->errstr set.
 *
 * Heartbeats: every connection asks for m->heartbeat seconds (setting
 * amqp_heartbeat).  rabbitmq-c 0.11 sends and checks them only inside its
 * own calls, so a connection idle in the caller (a responder blocked in
 * FCGX_Accept_r) sends none, and the broker closes it after 2-3 intervals.
 * The broker itself sends something at least once per interval on an open
 * connection, so before a connection is used after idling (mq_check, and
 * the RPCs below) the kernel's age of the last byte received (TCP_INFO) is
 * compared with 1.5 intervals: older means the broker or the path to it is
 * gone without a word (host down, partition), and the connection is
 * dropped and reopened before anything is published on it.
 */
#ifndef BOX_MQ_H
#define BOX_MQ_H

#include <stddef.h>
#include <stdint.h>

#include <amqp.h>

#include "conf.h"
#include "err.h"
#include "hostlist.h"

#define MQ_EXCHANGE	"ticket.exchange"
#define MQ_ROUTING_KEY	"ticket.created"
#define MQ_CANCEL_KEY	"ticket.cancelled"	/* cancellations (docs/api.md) */
#define MQ_DLX		"ticket.dlx"
#define MQ_QUEUE_SQL	"ticketSQL"
#define MQ_QUEUE_NOSQL	"ticketNoSQL"
#define MQ_DEAD_SUFFIX	".dead"
/* A header (true) on a message ticketctl dlq requeue put back: the consumer
 * may find a double-sale mark of its own to undo (consumer/sink_sql.c). */
#define MQ_REQUEUED_HEADER	"x-boxoffice-requeued"
/* x-delivery-limit of the quorum main queues: deliveries a message may
 * have before the broker dead-letters it.  Poison is rejected by the
 * consumer at its first delivery; what returns a message to the queue is a
 * consumer connection lost or stopped with it prefetched (RabbitMQ 4.0-4.2
 * count every such return; 4.0 would default to 20).  100 lets a consumer
 * crash loop end, but no outage or restart storm, in a dead letter.  The
 * dead-letter queues get none: nothing returns their messages (ticketctl
 * reads them without doing so). */
#define MQ_DELIVERY_LIMIT	100
#define MQ_HEARTBEAT_DEFAULT	10	/* s, until mq_set_heartbeat() */
#define MQ_NODES_MAX		CONF_HOSTS_MAX	/* nodes of amqp_hosts */


struct mq {
	amqp_connection_state_t	 conn;
	int			 open;
	int			 blocked;	/* connection.blocked in force */
	uint64_t		 next_tag;	/* delivery tag of next publish */
	int			 confirms;	/* channel in confirm mode */

	struct hostport		 nodes[MQ_NODES_MAX];	/* tried in turn */
	int			 nnodes;
	int			 cur;		/* node tried first */
	int			 last_node;	/* of the last connection, or -1 */
	char			 host[256];	/* the node of conn (or last tried) */
	int			 port;
	char			 user[256];
	char			 password[256];
	char			 vhost[256];
	int			 timeout_ms;	/* connect and RPC */
	int			 heartbeat;	/* seconds asked for, 0 = off */
	long long		 used_ms;	/* monotonic: last connect/use */
	long long		 heard_ms;	/* monotonic: last confirm read */
	char			 name[64];	/* connection_name shown by the broker */

	unsigned long		 reconnects;
	int			 err;		/* enum err_kind, err.h */
	char			 errstr[ERRSTR_MAX];
};

/* Outcome of a publish with confirm. */
enum mq_result {
	MQ_OK,		/* confirmed (basic.ack, not returned) */
	MQ_FAILED,	/* definitely not taken: not sent, returned (unroutable),
			   refused before sending (blocked, no connection) */
	MQ_UNKNOWN	/* sent, but no answer: timeout, connection lost, nack */
};

/* Copies the settings; connects nothing.  name labels the connection.
 * The heartbeat is MQ_HEARTBEAT_DEFAULT until mq_set_heartbeat(). */
void	mq_init(struct mq *m, const char *host, int port, const char *user,
	    const char *password, const char *vhost, int timeout_ms,
	    const char *name);
/* mq_init() from the settings: amqp_hosts (else amqp_host:amqp_port),
 * user, password, vhost, connect timeout and heartbeat.  Returns 0, or -1
 * with errstr set if amqp_hosts does not parse (conf_load checks it). */
int	mq_init_conf(struct mq *m, const struct conf *c, const char *name);
/* Heartbeat interval asked for at the next connect (0 turns it off). */
void	mq_set_heartbeat(struct mq *m, int seconds);
/* 1 if the open connection heard nothing from the broker for longer than
 * its heartbeat deadline (1.5 intervals; see above), else 0. */
int	mq_silent(const struct mq *m);
/* Sends a heartbeat frame now (for a caller busy elsewhere with an open
 * subscription).  Returns 0, or -1 if the connection failed. */
int	mq_heartbeat_send(struct mq *m);
/* Opens the connection and channel 1; confirms selects confirm mode.  With
 * several nodes, tries them in turn from m->cur (the last one that worked;
 * after a connection died, the one after it) until one answers; -1 when
 * none did (errstr: the last failure). */
int	mq_connect(struct mq *m, int confirms);
/* Closes the connection (politely if it is still up). */
void	mq_close(struct mq *m);
/* For an idle connection: reads whatever the broker sent meanwhile
 * (connection.close, blocked/unblocked) without waiting, reconnects if the
 * connection died.  Returns 0 if usable, -1 if not. */
int	mq_check(struct mq *m);

/* Publishes body (persistent, mandatory, content-type application/json,
 * message-id msgid) to MQ_EXCHANGE/MQ_ROUTING_KEY and waits up to
 * timeout_ms for its confirm.  Reconnects first if needed.  After a
 * basic.nack (MQ_UNKNOWN) the channel is replaced, so that the next publish
 * meets the queues' current leaders (mq.c, channel_renew). */
enum mq_result mq_publish(struct mq *m, const char *body, size_t len,
	    const char *msgid, int timeout_ms);
/* The same with another routing key (MQ_CANCEL_KEY). */
enum mq_result mq_publish_key(struct mq *m, const char *key, const char *body,
	    size_t len, const char *msgid, int timeout_ms);
/* The same straight to one queue (the default exchange), with the header
 * MQ_REQUEUED_HEADER: a dead letter put back where it died (ticketctl dlq
 * requeue); not timed, not counted as a sale's publish. */
enum mq_result mq_publish_queue(struct mq *m, const char *queue,
	    const char *body, size_t len, const char *msgid, int timeout_ms);
const char *mq_result_str(enum mq_result r);
/* The properties every published message carries (persistent, JSON,
 * message-id msgid, which must outlive props). */
void	mq_message_props(amqp_basic_properties_t *props, const char *msgid);

/* For a caller driving m's connection itself (the consumer's pipeline):
 * returns 0 if the RPC reply rep is normal, else -1 with err and errstr
 * set ("amqp host:port: what: why"). */
int	mq_rpc_check(struct mq *m, amqp_rpc_reply_t rep, const char *what);

/* What a frame read while waiting for the confirm of delivery tag is. */
enum mq_frame {
	MQ_FRAME_SKIP,		/* a content frame, an ack or nack of earlier
				   tags only, heartbeat */
	MQ_FRAME_ACK,		/* basic.ack covering tag */
	MQ_FRAME_NACK,		/* basic.nack covering tag */
	MQ_FRAME_RETURN,	/* basic.return: the returned message follows */
	MQ_FRAME_CHANNEL_CLOSE,	/* channel.close from the broker */
	MQ_FRAME_OTHER,		/* another method (connection.close,
				   blocked, unblocked...) */
	MQ_FRAME__MAX
};

/* Classifies f for the confirm of tag (an ack or nack with "multiple"
 * covers every tag up to its own).  Reads the frame only. */
enum mq_frame mq_frame_class(const amqp_frame_t *f, uint64_t tag);
/* "SKIP", "ACK"...; "?" out of range. */
const char *mq_frame_str(enum mq_frame k);

/*
 * Many messages in flight on one connection (pubd/): mq_send() publishes
 * without waiting, mq_read_event() reads what the broker sent since, one
 * event at a time, and the caller matches confirms to delivery tags.
 */
enum mq_event_kind {
	MQ_EV_ACK,		/* basic.ack of tag (and below if multiple) */
	MQ_EV_NACK,		/* basic.nack, likewise */
	MQ_EV_RETURN,		/* basic.return of the message msgid */
	MQ_EV_BLOCKED,		/* connection.blocked (resource alarm) */
	MQ_EV_UNBLOCKED,	/* connection.unblocked */
	MQ_EV_CLOSED,		/* the broker closed the channel/connection */
	MQ_EV__MAX
};

struct mq_event {
	enum mq_event_kind	kind;
	uint64_t		tag;		/* ACK, NACK; RETURN: the tag it
						   was sent with, 0 unknown */
	int			multiple;	/* ACK, NACK */
	int			notfound;	/* CLOSED: 404, nothing routed */
	char			msgid[128];	/* RETURN */
};

/* Publishes body (persistent, JSON, message-id msgid; mandatory as asked)
 * to exchange/key on the open confirm channel without waiting; *tag gets
 * its delivery tag.  Does not connect.  Returns 0 if sent, -1 if refused
 * before sending (not open, not in confirm mode, blocked) or not sent
 * whole (the connection is then dropped), with errstr set. */
int	mq_send(struct mq *m, const char *exchange, const char *key,
	    const char *body, size_t len, const char *msgid, int mandatory,
	    uint64_t *tag);
/* Reads one frame if one is waiting, never waits.  Returns 1 with *ev set,
 * 0 if there was nothing to report (nothing waiting, heartbeat, content of
 * no interest), -1 if the connection is gone (dropped, errstr set; *ev is
 * MQ_EV_CLOSED with notfound if the broker closed the channel with 404). */
int	mq_read_event(struct mq *m, struct mq_event *ev);
/* Drops the connection as a failure (the next connect tries the next node
 * first), with errstr "amqp host:port: what: why". */
void	mq_drop(struct mq *m, const char *what, const char *why);

/* Declares exchanges, queues (durable, dead-lettered) and bindings.
 * max_length > 0 caps each main queue (reject-publish); queue_type is
 * "classic" or "quorum" (replicated over a RabbitMQ cluster; every queue,
 * dead-letter queues too; the main ones with x-delivery-limit
 * MQ_DELIVERY_LIMIT); replicas > 0 asks for that many members of each
 * quorum queue (x-quorum-initial-group-size; the broker takes at most the
 * nodes it has), 0 leaves it to the broker.  A queue that exists with other
 * arguments makes the broker refuse the declaration (406
 * PRECONDITION_FAILED, in errstr). */
int	mq_declare_topology(struct mq *m, int max_length, const char *queue_type,
	    int replicas);
/* Messages ready in a queue (passive declare), or -1. */
long	mq_queue_depth(struct mq *m, const char *queue, long *consumers);

#endif
