/* SPDX-License-Identifier: ISC */
/*
 * live.h - what the query responder reads from Redis, the live state the
 * purchase path writes: an event zone's seat map and the ticket cache
 * (keys.h names the keys).  Answers are written into a jout.
 */
#ifndef BOX_LIVE_H
#define BOX_LIVE_H

#include "jout.h"
#include "rds.h"

enum live_res {
	LIVE_OK,
	LIVE_NOT_FOUND,		/* no such event zone / ticket */
	LIVE_FAIL,		/* Redis failed: r->errstr (try again) */
	LIVE_BAD_DATA,		/* state we cannot represent: r->errstr */
	LIVE_REBUILDING		/* the zone's counters are fenced (a node
				   that lost data): its sales unknown until
				   `ticketctl rebuild` */
};

/* The seat map of one event zone, read in one MULTI/EXEC (a consistent
 * snapshot; while its Redis Cluster slot is being migrated, key by key
 * until two reads agree): {"eventId","zoneId","rowCount","colCount",
 * "remaining","rows":[{"row","remaining","seats"}]}, seats one char per
 * column, '1' taken.  Remaining counts are the purchase path's own
 * counters.  Returns LIVE_OK, LIVE_NOT_FOUND (the event has no such zone),
 * LIVE_REBUILDING (no counters: the purchase path answers 503 too),
 * LIVE_FAIL or LIVE_BAD_DATA. */
enum live_res live_seatmap(struct rds *r, const char *event, long zone,
	    struct jout *j);

/* Looks a ticket up in the ticket cache of every node (it lives on its
 * zone's node, which the id does not tell) and writes its JSON.  Returns
 * LIVE_OK, LIVE_NOT_FOUND when every node answered without it, or
 * LIVE_FAIL when a node failed and no other had it (errstr set). */
enum live_res live_ticket(struct rds *r, const char *id, struct jout *j);
/* The order orderId (lowercase UUID) from the order cache bo:ord:<id>
 * (the answer of POST /orders without its cancelToken, tickets with their
 * current status) into j, passed on as cached once checked.  Same
 * returns as live_ticket(). */
enum live_res live_order(struct rds *r, const char *id, struct jout *j);

#endif
