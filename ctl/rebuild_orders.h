/* SPDX-License-Identifier: ISC */
/*
 * rebuild_orders.h - what a cancellation needs of the orders of a zone,
 * put back into Redis from MySQL by `ticketctl rebuild`: each order's
 * message in bo:ords:{E:Z} as lua/order.lua wrote it, the id index
 * bo:oix:{st}<id> of the order and its tickets, and the tickets'
 * cancellations MySQL recorded (c:<ticketId> in bo:ords), the record
 * of the Idempotency-Key a sale was made with (bo:idem:{E:Z}:#<its
 * HMAC>), and the hold a confirm made it of, confirmed (under the
 * SHA-256 of its id).  Without them a cancellation of an order sold
 * before a Redis loss answers 404, a keyed retry of it buys again, and a
 * confirm again answers 404 instead of the order.
 */
#ifndef BOX_CTL_REBUILD_ORDERS_H
#define BOX_CTL_REBUILD_ORDERS_H

#include "db.h"
#include "rds.h"

/* What rebuild_orders() put back. */
struct rebuild_count {
	long	orders;		/* orders queued */
	long	keys;		/* Idempotency-Key records among them (orders
				   of the last 24 h bought with a key) */
	long	holds;		/* confirmed holds (orders of the last 24 h
				   made by a confirm) */
};

/* Queues on the open transaction of the zone's node (slot) the writes of
 * every order of (event, zone) in MySQL, each only where it is absent
 * (HSETNX, SET NX): what Redis still holds is never changed.  An order
 * whose rows are not what the consumer writes is skipped (printed), and
 * so is one whose ids were made before they carried their slot (its keys
 * are outside the zone's slot).  *c counts what was queued.  Returns 0,
 * or -1 (d's or r's errstr set). */
int	rebuild_orders(struct rds *r, unsigned slot, struct db *d,
	    const char *event, long zone, struct rebuild_count *c);

/* Queues the same writes for an order still queued in ticketSQL, from its
 * message m (parsed) and its body (what lua/order.lua stored, byte for
 * byte): the consumer has not stored it in MySQL yet.  No cancellation is
 * recorded (rebuild writes those of the queued cancels).  An order too
 * long, or whose ids are outside the slot, is left out.  Returns 0 or -1
 * (r's errstr). */
struct order;
int	rebuild_queued_order(struct rds *r, unsigned slot,
	    const struct order *m, const char *body, size_t len,
	    struct rebuild_count *c);

#endif
