/* SPDX-License-Identifier: ISC */
/*
 * dbq.h - the query responder's SQL (docs/api.md): catalog, reports and
 * ticket lookups, each written straight into a JSON answer (jout.h).
 *
 * Prepared statements only.  They are prepared once per connection and
 * kept; after a reconnect (struct db drops a broken connection and opens a
 * new one by itself) they are prepared again.  A statement that fails on a
 * connection that was already open is tried once more on a fresh one, so
 * a restarted server costs no failed request.
 *
 * Column values are read as text: DECIMAL money stays exact ("320.00") and
 * dates are formatted by SQL as RFC 3339 UTC.
 */
#ifndef BOX_DBQ_H
#define BOX_DBQ_H

#include <mysql.h>

#include "conf.h"
#include "db.h"
#include "err.h"
#include "jout.h"

enum dbq_stmt {
	DBQ_VENUES,
	DBQ_VENUE_EVENTS,
	DBQ_EVENT,
	DBQ_EVENT_ZONE,
	DBQ_STATS,
	DBQ_TICKETS,
	DBQ_TICKETS_ZONE,
	DBQ_TICKET,
	DBQ_COUNT,
	DBQ_MONEY,
	DBQ_ORDER,
	DBQ__MAX
};

enum dbq_res {
	DBQ_OK,
	DBQ_NOT_FOUND,		/* unknown venue, event, zone or ticket */
	DBQ_FAIL,		/* MySQL failed or is down: errstr (try again) */
	DBQ_BAD_DATA		/* a row we cannot represent: errstr */
};

struct dbq {
	struct db	 db;
	MYSQL_STMT	*st[DBQ__MAX];
	unsigned long	 gen;		/* db.reconnects when st[] was made */
	int		 err;		/* enum err_kind (err.h) */
	char		 errstr[ERRSTR_MAX];
};

/* Sets up the read-only account of c (mysql_query_user); connects nothing. */
void	dbq_init(struct dbq *q, const struct conf *c);
/* Closes the statements and the connection. */
void	dbq_close(struct dbq *q);
/* Checks MySQL answers; returns 0 or -1 with errstr set. */
int	dbq_ping(struct dbq *q);

/* Each writes its whole answer (one JSON value) into j and returns
 * DBQ_OK, or returns another enum dbq_res with j's content undefined.
 * Errors of j itself (cap) are left in j for the caller. */

/* [{"venueId","name","zones":[{"zoneId","ticketPrice","rowCount","colCount"}]}] */
enum dbq_res dbq_venues(struct dbq *q, struct jout *j);
/* [{"eventId","venueId","name","type","date"}]; NOT_FOUND: unknown venue. */
enum dbq_res dbq_venue_events(struct dbq *q, const char *venue,
	    struct jout *j);
/* {"eventId","venueId","name","type","date","zones":[...]} */
enum dbq_res dbq_event(struct dbq *q, const char *event, struct jout *j);
/* {"eventId","venueId","sold","capacity","revenue","zones":[{"zoneId",
 * "sold","capacity","revenue"}]} */
enum dbq_res dbq_stats(struct dbq *q, const char *event, struct jout *j);
/* {"tickets":[ticket...],"next":ticketId|null}: up to limit tickets of the
 * event (of one zone if zone > 0) with ticketId > after, in ticketId order.
 * NOT_FOUND: unknown event, or zone not in its venue. */
enum dbq_res dbq_tickets(struct dbq *q, const char *event, long zone,
	    const char *after, long limit, struct jout *j);
/* The ticket as the purchase answered it (ticket_json()). */
enum dbq_res dbq_ticket(struct dbq *q, const char *id, struct jout *j);
/* GET /get/orders/{orderId}: the order and its tickets (each with its
 * status; cancelledOn once cancelled), as the answer of POST /orders
 * without the cancelToken. */
enum dbq_res dbq_order(struct dbq *q, const char *id, struct jout *j);
/* {"eventId","sold"} */
enum dbq_res dbq_count(struct dbq *q, const char *event, struct jout *j);
/* {"venueId","eventId","revenue"}; NOT_FOUND also when the event is not
 * at that venue. */
enum dbq_res dbq_money(struct dbq *q, const char *venue, const char *event,
	    struct jout *j);

#endif
