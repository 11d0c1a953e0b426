/* SPDX-License-Identifier: ISC */
/*
 * ddb_order.c - TransactWriteItems of orders and cancellations (see
 * ddb_order.h).
 */
#include <stdio.h>
#include <string.h>

#include "ddb_item.h"
#include "ddb_order.h"
#include "fmt.h"
#include "valid.h"

size_t
ddb_msg_actions(const struct ddb_msg *m)
{
	return m->kind == MSG_ORDER ? m->u->o.n : m->kind == MSG_CANCEL ?
	    m->u->c.n : 0;
}

/* The id of the item of action i of m. */
static const char *
item_id(const struct ddb_msg *m, size_t i)
{
	return m->kind == MSG_ORDER ? m->u->o.t[i].id : m->u->c.ids[i];
}

int
ddb_msg_overlap(const struct ddb_msg *a, const struct ddb_msg *b)
{
	size_t i, j;

	for (i = 0; i < ddb_msg_actions(a); i++)
		for (j = 0; j < ddb_msg_actions(b); j++)
			if (strcmp(item_id(a, i), item_id(b, j)) == 0)
				return 1;
	return 0;
}

/* The action of ticket t of order o: its new item, put only where no item
 * is (DDB_FORM_PUT), or the update that completes any item there
 * (DDB_FORM_UPDATE).  Both write the same attributes. */
static int
order_action(const char *table, const struct order *o, const struct ticket *t,
    enum ddb_form form, char *buf, size_t size, size_t *off)
{
	int n;

	if (!ticket_ok(t) || !msg_hash_ok(o->hash) || !valid_uuid(o->id))
		return -1;
	if (form == DDB_FORM_PUT) {
		if (fmt_add(buf, size, off, "{\"Put\":{\"TableName\":\"%s\","
		    "\"Item\":", table) != 0 || (n = ddb_order_item_json(t,
		    o->id, o->hash, buf + *off, size - *off)) < 0)
			return -1;
		*off += (size_t)n;
		return fmt_add(buf, size, off, ",\"ConditionExpression\":\""
		    DDB_CONDITION "\"}}");
	}
	return fmt_add(buf, size, off, "{\"Update\":{\"TableName\":\"%s\","
	    "\"Key\":{\"ticketId\":{\"S\":\"%s\"}},"
	    "\"UpdateExpression\":\"SET venueId = :v, eventId = :e, "
	    "zoneId = :z, #r = :r, #c = :c, price = :p, createdOn = :t, "
	    "orderId = :o, cancelHash = :h, #s = if_not_exists(#s, :s)\","
	    "\"ExpressionAttributeNames\":{\"#r\":\"row\",\"#c\":\"column\","
	    "\"#s\":\"status\"},\"ExpressionAttributeValues\":{"
	    "\":v\":{\"S\":\"%s\"},\":e\":{\"S\":\"%s\"},\":z\":{\"N\":\"%ld\"},"
	    "\":r\":{\"N\":\"%ld\"},\":c\":{\"N\":\"%ld\"},\":p\":{\"N\":\"%s\"},"
	    "\":t\":{\"S\":\"%s\"},\":o\":{\"S\":\"%s\"},\":h\":{\"S\":\"%s\"},"
	    "\":s\":{\"S\":\"" TICKET_STATUS "\"}}}}", table, t->id, t->venue,
	    t->event, t->zone, t->row, t->col, t->price, t->created, o->id,
	    o->hash);
}

/* The update of ticket i of cancellation c. */
static int
cancel_action(const char *table, const struct cancel *c, size_t i,
    char *buf, size_t size, size_t *off)
{
	if (!valid_uuid(c->ids[i]) || !valid_uuid(c->order) ||
	    !ticket_stamp_ok(cancel_on(c, i)))
		return -1;
	return fmt_add(buf, size, off, "{\"Update\":{\"TableName\":\"%s\","
	    "\"Key\":{\"ticketId\":{\"S\":\"%s\"}},"
	    "\"UpdateExpression\":\"SET #s = :x, cancelledOn = "
	    "if_not_exists(cancelledOn, :c), orderId = if_not_exists(orderId, "
	    ":o)\",\"ExpressionAttributeNames\":{\"#s\":\"status\"},"
	    "\"ExpressionAttributeValues\":{\":x\":{\"S\":\"CANCELLED\"},"
	    "\":c\":{\"S\":\"%s\"},\":o\":{\"S\":\"%s\"}}}}", table, c->ids[i],
	    cancel_on(c, i), c->order);
}

int
ddb_txn_json(const char *table, const struct ddb_msg *m, size_t n,
    enum ddb_form form, char *buf, size_t size)
{
	size_t	off = 0, k, i, total = 0, first = 1;
	int	rc;

	if (n < 1 || !ddb_table_ok(table))
		return -1;
	for (k = 0; k < n; k++)
		total += ddb_msg_actions(&m[k]);
	if (total < 1 || total > DDB_TXN_MAX ||
	    fmt_add(buf, size, &off, "{\"TransactItems\":[") != 0)
		return -1;
	for (k = 0; k < n; k++)
		for (i = 0; i < ddb_msg_actions(&m[k]); i++, first = 0) {
			if (!first && fmt_add(buf, size, &off, ",") != 0)
				return -1;
			if (m[k].kind == MSG_ORDER)
				rc = order_action(table, &m[k].u->o,
				    &m[k].u->o.t[i], form, buf, size, &off);
			else
				rc = cancel_action(table, &m[k].u->c, i, buf,
				    size, &off);
			if (rc != 0)
				return -1;
		}
	if (fmt_add(buf, size, &off, "]}") != 0)
		return -1;
	return (int)off;
}
