/* SPDX-License-Identifier: ISC */
/*
 * ddb_item.h - the DynamoDB requests of the consumer, as JSON text: a
 * ticket as an item (docs/consumer.md: the ticket's JSON names, numbers as N),
 * the conditional PutItem (attribute_not_exists(ticketId)), BatchWriteItem,
 * and the reader of a BatchWriteItem answer's UnprocessedItems.
 * Pure functions, no I/O; unit-tested.
 */
#ifndef BOX_DDB_ITEM_H
#define BOX_DDB_ITEM_H

#include <stddef.h>

#include "ticket.h"

#define DDB_BATCH_MAX	25	/* items per BatchWriteItem (AWS limit) */
#define DDB_ITEM_MAX	1024	/* longest item JSON we write */
#define DDB_PUT_MAX	(DDB_ITEM_MAX + 512)
#define DDB_BATCH_JSON_MAX (DDB_BATCH_MAX * (DDB_ITEM_MAX + 32) + 512)
#define DDB_CONDITION	"attribute_not_exists(ticketId)"

/* 1 if name is a valid DynamoDB table name ([A-Za-z0-9_.-]{3,255}). */
int	ddb_table_ok(const char *name);

/* Writes the item of t: {"ticketId":{"S":..},..,"price":{"N":"320.00"},..}.
 * Each returns the length written (< size), or -1 if it does not fit or a
 * field cannot be written (t not validated, table name invalid). */
int	ddb_item_json(const struct ticket *t, char *buf, size_t size);
/* The item of ticket t of an order: as ddb_item_json's, then orderId
 * (order_id) and cancelHash (hash, msg_hash_ok); order_id NULL: exactly
 * ddb_item_json's item. */
int	ddb_order_item_json(const struct ticket *t, const char *order_id,
	    const char *hash, char *buf, size_t size);
/* PutItem of t into table with ConditionExpression DDB_CONDITION. */
int	ddb_put_json(const char *table, const struct ticket *t, char *buf,
	    size_t size);
/* BatchWriteItem of n (1..DDB_BATCH_MAX) tickets into table; every ticket
 * id must be distinct (DynamoDB refuses duplicate keys in one batch). */
int	ddb_batch_json(const char *table, const struct ticket *const *t,
	    size_t n, char *buf, size_t size);

/* Reads a successful BatchWriteItem answer: writes the ticketId of every
 * unprocessed put for table into ids (at most max).  Returns the number of
 * unprocessed items (which may exceed max: only max are written), or -1 if
 * the body is not such an answer. */
long	ddb_unprocessed(const char *body, const char *table,
	    char (*ids)[UUID_LEN + 1], size_t max);

#endif
