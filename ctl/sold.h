/*
 * sold.h - sold seats as each store records them, for ticketctl's check,
 * rebuild, init and status: a growable list of (event, zone, row, column,
 * ticketId) sorted by seat, and the readers that fill it from MySQL, a
 * queue (read without consuming) and DynamoDB (a full Scan).
 */
#ifndef BOX_CTL_SOLD_H
#define BOX_CTL_SOLD_H

#include <stddef.h>

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
/* Appends a ticket JSON message; returns 1 added, 0 not a ticket, -1 no
 * memory. */
int	soldv_add_json(struct soldv *s, const char *json, size_t len);
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
 * err set. */
int	sold_from_mysql(struct soldv *s, struct db *d,
	    const struct events *ev, char *err, size_t errlen);

/* Reads every message of queue without consuming it (basic.get without
 * ack; the messages go back to the queue when m is closed, which the
 * caller does once it has read everything it needs).  Tickets of the
 * selected events are added to s; *msgs counts every message read, *other
 * those that are not tickets.  Reads at most max messages (*more set to 1
 * if the queue held more).  Returns 0, or -1 with err set. */
int	sold_from_queue(struct soldv *s, struct mq *m, const char *queue,
	    const struct events *ev, long max, long *msgs, long *other,
	    int *more, char *err, size_t errlen);

/* Every item of the DynamoDB table of the selected events (Scan, every
 * page).  *bad counts items that are not tickets.  Items the consumer
 * marked status SOLD_DOUBLE_SALE (a double sale MySQL refused) are not
 * sales: they go to conflicts if not NULL (json = the ticket id that owns
 * the seat, from doubleSaleOf), else are left out.  Returns 0, or -1 with
 * err set. */
#define SOLD_DOUBLE_SALE	"DOUBLE_SALE"
int	sold_from_ddb(struct soldv *s, struct soldv *conflicts, struct ddb *d,
	    const struct events *ev, long *bad, char *err, size_t errlen);

/* The catalog's event zones of the selected events, ordered by event and
 * zone. */
struct catalog {
	struct catalog_zone	*z;
	size_t			 n;
};
/* Reads it from MySQL.  Returns 0, or -1 with err set. */
int	catalog_read(struct catalog *cat, struct db *d,
	    const struct events *ev, char *err, size_t errlen);
/* 1 if the catalog has that event zone. */
int	catalog_has(const struct catalog *cat, const char *event, long zone);
void	catalog_free(struct catalog *cat);

#endif
