/* SPDX-License-Identifier: ISC */
/*
 * sold.h - sold seats as each store records them, for ticketctl's check,
 * rebuild, init and status: a growable list of (event, zone, row, column,
 * ticketId) sorted by seat, and the readers that fill it from MySQL, a
 * queue (read without spending delivery attempts) and DynamoDB (a full
 * Scan); the queues' statistics and MySQL's count per zone for init.
 */
#ifndef BOX_CTL_SOLD_H
#define BOX_CTL_SOLD_H

#include <stddef.h>

#include <amqp.h>

#include "ctl.h"
#include "ticket.h"

struct sold {
	char	event[ID_MAX + 1];
	long	zone;
	long	row;
	long	col;
	char	id[UUID_LEN + 1];
	char	*json;		/* the ticket JSON when read from a message,
				   else NULL; owned by the list */
};

struct soldv {
	struct sold	*v;
	size_t		 n;
	size_t		 cap;
};

/* Appends a seat (json copied if not NULL).  Returns 0 or -1 (no memory). */
int	soldv_add(struct soldv *s, const char *event, long zone, long row,
	    long col, const char *id, const char *json);
/* Appends a ticket JSON message, or every ticket of an order message
 * (lua/order.lua); *added 0 if it is neither (-1 for a cancel message,
 * which holds no seat).  Returns 0, or -1 (no memory). */
int	soldv_add_json(struct soldv *s, const char *json, size_t len,
	    int *added);
/* Sorts by event, zone, row, column, ticketId. */
void	soldv_sort(struct soldv *s);
/* The entries of one event zone of a sorted list: returns their number
 * and sets *first to the index of the first. */
size_t	soldv_zone(const struct soldv *s, const char *event, long zone,
	    size_t *first);
/* The entry with ticket id among n entries starting at first, or NULL. */
const struct sold *soldv_find_id(const struct soldv *s, size_t first,
	    size_t n, const char *id);
/* Sold count per event of a sorted list: calls fn(event, count, arg). */
void	soldv_per_event(const struct soldv *s, void (*fn)(const char *,
	    long, void *), void *arg);
void	soldv_free(struct soldv *s);

/* Every ticket of the selected events from MySQL.  Returns 0, or -1 with
 * the connection's err/errstr set. */
int	sold_from_mysql(struct soldv *s, struct db *d,
	    const struct events *ev);

/* A zone whose sales summary (zone_sales, sql/migrations/003) differs
 * from a full count of its live tickets: sold and revenue as the summary
 * has them, count and total as the tickets do (decimal text). */
struct summary_diff {
	char	event[ID_MAX + 1];
	long	zone;
	char	sold[24], revenue[32];
	char	count[24], total[32];
};
/* Calls fn for every such zone of the selected events.  One statement,
 * so one snapshot: a write in flight is no difference.  Returns 0, or -1
 * with the connection's err/errstr set. */
int	sold_summary_diffs(struct db *d, const struct events *ev,
	    void (*fn)(const struct summary_diff *, void *), void *arg);

/* Tickets per event zone in MySQL (a GROUP BY: one row per zone, not per
 * ticket), sorted by event and zone. */
struct zcount {
	char	event[ID_MAX + 1];
	long	zone;
	long	n;
};
struct zcounts {
	struct zcount	*v;
	size_t		 n;
};
/* Returns 0, or -1 with the connection's err/errstr set. */
int	sold_counts_from_mysql(struct zcounts *c, struct db *d);
/* Tickets of one event zone (0 if none). */
long	zcounts_get(const struct zcounts *c, const char *event, long zone);
void	zcounts_free(struct zcounts *c);

/* What the broker holds that may be sales nobody else knows of, from the
 * queues' own statistics (passive declare: nothing is read or returned). */
struct inflight {
	long	sql_ready;	/* ticketSQL messages ready */
	long	sql_consumers;	/* consumers attached to ticketSQL: what they
				   hold unacked is invisible */
	long	dead_sql;	/* ticketSQL.dead */
	long	dead_nosql;	/* ticketNoSQL.dead */
};
/* Reads them.  Returns 0, or -1 with the connection's err/errstr set. */
int	sold_inflight(struct inflight *f, struct mq *m);
/* 1 if every sale is in MySQL (nothing queued, held, dead-lettered), else
 * 0 with why (the first thing that is not) set. */
int	sold_inflight_none(const struct inflight *f, char *why, size_t len);

/* Reads the messages of queue without spending their delivery attempts:
 * each message is taken (basic.get), a copy with the same properties is
 * published to the same queue (default exchange, confirmed on a channel
 * of its own), and only then is the original acked: the queue keeps the
 * same messages (new ones first if some arrive meanwhile), none returned
 * to it, so none counts as a redelivery (a quorum queue's x-delivery-limit).
 * A failure leaves the rest unacked (they go back when m is closed) and
 * may leave a message twice in the queue (consumers are idempotent).
 * Reads the messages ready at the start, at most max (*more set to 1 if
 * the queue held more).  Tickets of the selected events are added to s;
 * *msgs counts every message read, *other those that are not tickets.
 * fn, if not NULL, sees every message first and answers what becomes of
 * it (enum sold_msg).  Returns 0, or -1 (m's err/errstr set unless fn
 * stopped). */
enum sold_msg {
	SOLD_MSG_KEEP,		/* copy it back */
	SOLD_MSG_TAKEN,		/* taken care of: ack it, no copy */
	SOLD_MSG_STOP		/* keep it and stop (fn printed why) */
};
typedef enum sold_msg (*sold_msg_fn)(const amqp_message_t *, void *);
int	sold_read_queue(struct soldv *s, struct mq *m, const char *queue,
	    const struct events *ev, long max, long *msgs, long *other,
	    int *more, sold_msg_fn fn, void *arg);

/* Every item of the DynamoDB table of the selected events (Scan, every
 * page).  *bad counts items that are not tickets.  Items the consumer
 * marked status SOLD_DOUBLE_SALE (a double sale MySQL refused) are not
 * sales: they go to conflicts if not NULL (json = the ticket id that owns
 * the seat, from doubleSaleOf), else are left out.  Returns 0, or -1 with
 * the connection's err/errstr set. */
#define SOLD_DOUBLE_SALE	"DOUBLE_SALE"
int	sold_from_ddb(struct soldv *s, struct soldv *conflicts, struct ddb *d,
	    const struct events *ev, long *bad);

/* The catalog's event zones of the selected events, ordered by event and
 * zone. */
struct catalog {
	struct catalog_zone	*z;
	size_t			 n;
};
/* Reads it from MySQL.  Returns 0, or -1 with d's err/errstr set. */
int	catalog_read(struct catalog *cat, struct db *d,
	    const struct events *ev);
/* 1 if the catalog has that event zone. */
int	catalog_has(const struct catalog *cat, const char *event, long zone);
void	catalog_free(struct catalog *cat);

#endif
