/* SPDX-License-Identifier: ISC */
/*
 * ddb_item.c - DynamoDB request JSON of the consumer (see ddb_item.h).
 */
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "ddb_item.h"
#include "msg.h"
#include "valid.h"

int
ddb_table_ok(const char *name)
{
	size_t i, n = strlen(name);

	if (n < 3 || n > 255)
		return 0;
	for (i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'))
			return 0;
	}
	return 1;
}

static int
fits(int n, size_t size)
{
	return n >= 0 && (size_t)n < size ? n : -1;
}

int
ddb_order_item_json(const struct ticket *t, const char *order_id,
    const char *hash, char *buf, size_t size)
{
	int n, e;

	if (!ticket_ok(t) || (order_id != NULL && (!valid_uuid(order_id) ||
	    hash == NULL || !msg_hash_ok(hash))))
		return -1;
	if ((n = fits(snprintf(buf, size, "{\"ticketId\":{\"S\":\"%s\"},"
	    "\"venueId\":{\"S\":\"%s\"},\"eventId\":{\"S\":\"%s\"},"
	    "\"zoneId\":{\"N\":\"%ld\"},\"row\":{\"N\":\"%ld\"},"
	    "\"column\":{\"N\":\"%ld\"},\"price\":{\"N\":\"%s\"},"
	    "\"status\":{\"S\":\"" TICKET_STATUS "\"},"
	    "\"createdOn\":{\"S\":\"%s\"}", t->id, t->venue, t->event,
	    t->zone, t->row, t->col, t->price, t->created), size)) < 0)
		return -1;
	if (order_id != NULL)
		e = fits(snprintf(buf + n, size - n, ",\"orderId\":{\"S\":"
		    "\"%s\"},\"cancelHash\":{\"S\":\"%s\"}}", order_id, hash),
		    size - n);
	else
		e = fits(snprintf(buf + n, size - n, "}"), size - n);
	return e < 0 ? -1 : n + e;
}

int
ddb_item_json(const struct ticket *t, char *buf, size_t size)
{
	return ddb_order_item_json(t, NULL, NULL, buf, size);
}

int
ddb_put_json(const char *table, const struct ticket *t, char *buf,
    size_t size)
{
	int h, i, e;

	if (!ddb_table_ok(table))
		return -1;
	if ((h = fits(snprintf(buf, size, "{\"TableName\":\"%s\",\"Item\":",
	    table), size)) < 0)
		return -1;
	if ((i = ddb_item_json(t, buf + h, size - h)) < 0)
		return -1;
	if ((e = fits(snprintf(buf + h + i, size - h - i,
	    ",\"ConditionExpression\":\"" DDB_CONDITION "\"}"),
	    size - h - i)) < 0)
		return -1;
	return h + i + e;
}

int
ddb_batch_json(const char *table, const struct ticket *const *t, size_t n,
    char *buf, size_t size)
{
	size_t	off, k;
	int	w;

	if (n < 1 || n > DDB_BATCH_MAX || !ddb_table_ok(table))
		return -1;
	if ((w = fits(snprintf(buf, size, "{\"RequestItems\":{\"%s\":[",
	    table), size)) < 0)
		return -1;
	off = (size_t)w;
	for (k = 0; k < n; k++) {
		if ((w = fits(snprintf(buf + off, size - off,
		    "%s{\"PutRequest\":{\"Item\":", k ? "," : ""),
		    size - off)) < 0)
			return -1;
		off += (size_t)w;
		if ((w = ddb_item_json(t[k], buf + off, size - off)) < 0)
			return -1;
		off += (size_t)w;
		if ((w = fits(snprintf(buf + off, size - off, "}}"),
		    size - off)) < 0)
			return -1;
		off += (size_t)w;
	}
	if ((w = fits(snprintf(buf + off, size - off, "]}}"), size - off)) < 0)
		return -1;
	return (int)(off + (size_t)w);
}

/* The ticketId of one element of an UnprocessedItems list, or NULL. */
static const char *
unprocessed_id(struct json_object *req)
{
	struct json_object *put, *item, *attr, *s;

	if (!json_object_object_get_ex(req, "PutRequest", &put) ||
	    !json_object_object_get_ex(put, "Item", &item) ||
	    !json_object_object_get_ex(item, "ticketId", &attr) ||
	    !json_object_object_get_ex(attr, "S", &s) ||
	    !json_object_is_type(s, json_type_string))
		return NULL;
	return json_object_get_string(s);
}

long
ddb_unprocessed(const char *body, const char *table,
    char (*ids)[UUID_LEN + 1], size_t max)
{
	struct json_object	*o, *un, *list;
	const char		*id;
	size_t			 i, n, w = 0;
	long			 count = 0;

	if (body == NULL || (o = json_tokener_parse(body)) == NULL)
		return -1;
	if (!json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return -1;
	}
	/* absent, or no list of the table's: all processed; anything else
	 * in their place is no answer to trust (a null, a string: a broken
	 * proxy), never read as "all processed", which acks the messages */
	if (!json_object_object_get_ex(o, "UnprocessedItems", &un) ||
	    (json_object_is_type(un, json_type_object) &&
	    !json_object_object_get_ex(un, table, &list))) {
		json_object_put(o);
		return 0;
	}
	if (!json_object_is_type(un, json_type_object) ||
	    !json_object_is_type(list, json_type_array)) {
		json_object_put(o);
		return -1;
	}
	n = json_object_array_length(list);
	for (i = 0; i < n; i++) {
		id = unprocessed_id(json_object_array_get_idx(list, i));
		if (id == NULL || !valid_uuid(id)) {
			json_object_put(o);
			return -1;
		}
		if (w < max)
			memcpy(ids[w++], id, UUID_LEN + 1);
		count++;
	}
	json_object_put(o);
	return count;
}
