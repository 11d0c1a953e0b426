/* SPDX-License-Identifier: ISC */
/*
 * ddb_order.h - orders and cancellations in DynamoDB (docs/consumer.md):
 * one TransactWriteItems writes whole messages, all or nothing.  Every
 * ticket of an order is one item (key ticketId) carrying orderId and
 * cancelHash; there is no separate order item (an order is the set of
 * items with its orderId, cancelled once all of them are).  Arrival order
 * does not matter:
 *
 *   order    first as a Put of the whole item with ConditionExpression
 *            attribute_not_exists(ticketId) (DDB_FORM_PUT): it only ever
 *            creates an item, so it cannot overwrite a cancellation.  If
 *            any item of the transaction is there already (a redelivery,
 *            or a cancellation seen first), DynamoDB cancels the
 *            transaction with ConditionalCheckFailed and the consumer
 *            writes the same messages again as updates
 *            (DDB_FORM_UPDATE): SET the ticket's fields, status =
 *            if_not_exists(status, CREATED), so a cancellation is kept.
 *            The put costs DynamoDB Local 10-20 % less CPU than the
 *            update (docs/performance.md); both write the same attributes.
 *   cancel   SET status = CANCELLED, cancelledOn = if_not_exists(..):
 *            on a ticket not written yet this leaves an item holding only
 *            ticketId, orderId, status and cancelledOn, which the order
 *            completes when it comes (as an update, after its put found
 *            the item).
 *
 * Both are idempotent.  Pure functions, no I/O; unit-tested.
 */
#ifndef BOX_DDB_ORDER_H
#define BOX_DDB_ORDER_H

#include <stddef.h>

#include "msg.h"

#define DDB_TXN_MAX	100	/* actions per TransactWriteItems (AWS limit) */
#define DDB_ACTION_MAX	1536	/* longest action (table name of 255) */
#define DDB_TXN_JSON_MAX (DDB_TXN_MAX * DDB_ACTION_MAX + 512)

/* How an order's tickets are written (see above); cancellations are
 * updates in either form. */
enum ddb_form {
	DDB_FORM_PUT,		/* new items only, conditional */
	DDB_FORM_UPDATE		/* complete whatever is there */
};

/* One message to write: kind MSG_ORDER or MSG_CANCEL and its body. */
struct ddb_msg {
	enum msg_kind		 kind;
	const union msg_body	*u;
};

/* The number of actions (items) of m: its tickets. */
size_t	ddb_msg_actions(const struct ddb_msg *m);
/* 1 if a and b touch a common item (they cannot share a transaction). */
int	ddb_msg_overlap(const struct ddb_msg *a, const struct ddb_msg *b);
/* TransactWriteItems of the n messages m (at most DDB_TXN_MAX actions in
 * all, no two touching one item) into table, orders in the given form.
 * Returns the length written (< size), or -1 if it does not fit or a
 * value fails the checks. */
int	ddb_txn_json(const char *table, const struct ddb_msg *m, size_t n,
	    enum ddb_form form, char *buf, size_t size);

#endif
