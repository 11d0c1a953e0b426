/* SPDX-License-Identifier: ISC */
/*
 * msg.c - the consumer's message parser (see msg.h).
 */
#include <string.h>

#include <json-c/json.h>

#include "msg.h"
#include "valid.h"

int
msg_hash_ok(const char *s)
{
	size_t i;

	for (i = 0; i < HASH_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[HASH_LEN] == '\0';
}

int
msg_idem_ok(const char *key_hash, const char *key, const char *hash,
    int kind)
{
	return (key_hash[0] != '\0' ? msg_hash_ok(key_hash) && key[0] == '\0' :
	    valid_id(key)) && msg_hash_ok(hash) &&
	    (kind == 't' || kind == 'o' || kind == 'c');
}

/* The array member key of o with 1..ORDER_TICKETS_MAX elements, or NULL. */
static struct json_object *
list(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_array) ||
	    json_object_array_length(v) < 1 ||
	    json_object_array_length(v) > ORDER_TICKETS_MAX)
		return NULL;
	return v;
}

/* Checks the tickets of an order against it and each other. */
static const char *
order_tickets(struct json_object *a, struct order *o)
{
	char		 oid[UUID_LEN + 1];
	const char	*why;
	size_t		 i, j;

	o->n = json_object_array_length(a);
	for (i = 0; i < o->n; i++) {
		struct json_object	*e = json_object_array_get_idx(a, i);
		struct ticket		*t = &o->t[i];

		if (!json_object_is_type(e, json_type_object))
			return "an order's ticket is not an object";
		if ((why = ticket_object(e, t)) != NULL)
			return why;
		if (ticket_json_str(e, "orderId", oid, sizeof(oid)) != 0 ||
		    strcmp(oid, o->id) != 0)
			return "a ticket's orderId is not its order's";
		if (strcmp(t->venue, o->venue) != 0 ||
		    strcmp(t->event, o->event) != 0 || t->zone != o->zone)
			return "a ticket is not of its order's zone";
		for (j = 0; j < i; j++) {
			if (strcmp(o->t[j].id, t->id) == 0)
				return "an order holds one ticket twice";
			if (o->t[j].row == t->row && o->t[j].col == t->col)
				return "an order holds one seat twice";
		}
	}
	return NULL;
}

/* The optional "idempotency" of a keyed sale's order (absent in older
 * messages and for a request without a key): since 2026-12-07 with the
 * key's HMAC ("keyHash", fcgi/ticket/token.h), on 2026-12-06 with the key
 * ("key"). */
static const char *
order_idem(struct json_object *j, struct order *o)
{
	struct json_object	*v;
	char			 kind[2];

	if (!json_object_object_get_ex(j, "idempotency", &v))
		return NULL;
	if (!json_object_is_type(v, json_type_object))
		return "idempotency is not an object";
	if (json_object_object_get_ex(v, "keyHash", NULL)) {
		if (ticket_json_str(v, "keyHash", o->idem_key_hash,
		    sizeof(o->idem_key_hash)) ||
		    !msg_hash_ok(o->idem_key_hash))
			return "idempotency.keyHash is not 64 lowercase hex "
			    "digits";
		if (json_object_object_get_ex(v, "key", NULL))
			return "idempotency has both key and keyHash";
	} else if (ticket_json_str(v, "key", o->idem_key,
	    sizeof(o->idem_key)) || !valid_id(o->idem_key))
		return "idempotency.keyHash is missing, or its key not 1-64 "
		    "of [A-Za-z0-9_-]";
	if (ticket_json_str(v, "hash", o->idem_hash, sizeof(o->idem_hash)) ||
	    !msg_hash_ok(o->idem_hash))
		return "idempotency.hash is missing or not 64 lowercase hex "
		    "digits";
	if (ticket_json_str(v, "kind", kind, sizeof(kind)) ||
	    (strcmp(kind, "t") != 0 && strcmp(kind, "o") != 0 &&
	    strcmp(kind, "c") != 0))
		return "idempotency.kind is missing or not t, o or c";
	o->idem_kind = kind[0];
	return NULL;
}

/* The optional "holdHash" of a hold's confirm (since 2026-12-07). */
static const char *
order_hold(struct json_object *j, struct order *o)
{
	if (!json_object_object_get_ex(j, "holdHash", NULL))
		return NULL;
	if (ticket_json_str(j, "holdHash", o->hold_hash, sizeof(o->hold_hash)) ||
	    !msg_hash_ok(o->hold_hash))
		return "holdHash is not 64 lowercase hex digits";
	return NULL;
}

static const char *
order_fields(struct json_object *j, struct msg *m)
{
	struct order		*o = &m->u.o;
	struct json_object	*a, *v;
	const char		*s;
	char			 status[16];

	if (ticket_json_str(j, "orderId", o->id, sizeof(o->id)) ||
	    !valid_uuid(o->id))
		return "orderId is missing or not a lowercase UUID";
	if (ticket_json_str(j, "venueId", o->venue, sizeof(o->venue)) ||
	    !valid_id(o->venue))
		return "venueId is missing or malformed";
	if (ticket_json_str(j, "eventId", o->event, sizeof(o->event)) ||
	    !valid_id(o->event))
		return "eventId is missing or malformed";
	if (ticket_json_int(j, "zoneId", &o->zone))
		return "zoneId is missing or not a positive integer";
	if (ticket_json_str(j, "status", status, sizeof(status)) ||
	    strcmp(status, "CONFIRMED") != 0)
		return "status is missing or not CONFIRMED";
	if (!json_object_object_get_ex(j, "total", &v) ||
	    !(json_object_is_type(v, json_type_double) ||
	    json_object_is_type(v, json_type_int)) ||
	    (s = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN)) ==
	    NULL || strlen(s) >= sizeof(o->total) || !ticket_price_ok(s))
		return "total is missing or not a number with 2 decimals";
	memcpy(o->total, s, strlen(s) + 1);
	if (ticket_json_str(j, "createdOn", o->created, sizeof(o->created)) ||
	    !ticket_stamp_ok(o->created))
		return "createdOn is missing or not RFC 3339 UTC with ms";
	if (ticket_json_str(j, "cancelHash", o->hash, sizeof(o->hash)) ||
	    !msg_hash_ok(o->hash))
		return "cancelHash is missing or not 64 lowercase hex digits";
	if ((a = list(j, "tickets")) == NULL)
		return "tickets is missing or not a list of 1-10 tickets";
	if ((s = order_tickets(a, o)) != NULL ||
	    (s = order_idem(j, o)) != NULL || (s = order_hold(j, o)) != NULL)
		return s;
	memcpy(m->t.id, o->id, sizeof(o->id));
	memcpy(m->t.event, o->event, sizeof(o->event));
	m->t.zone = o->zone;
	memcpy(m->t.created, o->created, sizeof(o->created));
	return NULL;
}

const char *
cancel_on(const struct cancel *c, size_t i)
{
	return c->own[i][0] != '\0' ? c->own[i] : c->on;
}

/* The optional "ticketsCancelledOn" of a cancellation: ticketId -> stamp,
 * for tickets of its ticketIds cancelled before on their own (since
 * round 2's cancel.lua; absent in older messages). */
static const char *
own_stamps(struct json_object *j, struct cancel *c)
{
	struct json_object	*o;
	size_t			 i;

	if (!json_object_object_get_ex(j, "ticketsCancelledOn", &o))
		return NULL;
	if (!json_object_is_type(o, json_type_object))
		return "ticketsCancelledOn is not an object";
	json_object_object_foreach(o, id, v) {
		for (i = 0; i < c->n; i++)
			if (strcmp(c->ids[i], id) == 0)
				break;
		if (i == c->n)
			return "ticketsCancelledOn names a ticket not in ticketIds";
		if (!json_object_is_type(v, json_type_string) ||
		    json_object_get_string_len(v) > STAMP_LEN)
			return "ticketsCancelledOn holds a stamp that is not "
			    "RFC 3339 UTC with ms";
		memcpy(c->own[i], json_object_get_string(v),
		    (size_t)json_object_get_string_len(v) + 1);
		if (!ticket_stamp_ok(c->own[i]))
			return "ticketsCancelledOn holds a stamp that is not "
			    "RFC 3339 UTC with ms";
	}
	return NULL;
}

static const char *
cancel_fields(struct json_object *j, struct msg *m)
{
	struct cancel		*c = &m->u.c;
	struct json_object	*a;
	const char		*why;
	size_t			 i, k;

	if (ticket_json_str(j, "orderId", c->order, sizeof(c->order)) ||
	    !valid_uuid(c->order))
		return "orderId is missing or not a lowercase UUID";
	if (ticket_json_str(j, "eventId", c->event, sizeof(c->event)) ||
	    !valid_id(c->event))
		return "eventId is missing or malformed";
	if (ticket_json_int(j, "zoneId", &c->zone))
		return "zoneId is missing or not a positive integer";
	if (ticket_json_str(j, "cancelledOn", c->on, sizeof(c->on)) ||
	    !ticket_stamp_ok(c->on))
		return "cancelledOn is missing or not RFC 3339 UTC with ms";
	if ((a = list(j, "ticketIds")) == NULL)
		return "ticketIds is missing or not a list of 1-10 ids";
	c->n = json_object_array_length(a);
	for (i = 0; i < c->n; i++) {
		struct json_object *e = json_object_array_get_idx(a, i);

		if (!json_object_is_type(e, json_type_string) ||
		    json_object_get_string_len(e) != UUID_LEN)
			return "a ticketId is not a lowercase UUID";
		memcpy(c->ids[i], json_object_get_string(e), UUID_LEN + 1);
		if (!valid_uuid(c->ids[i]))
			return "a ticketId is not a lowercase UUID";
		for (k = 0; k < i; k++)
			if (strcmp(c->ids[k], c->ids[i]) == 0)
				return "ticketIds holds one id twice";
	}
	if ((why = own_stamps(j, c)) != NULL)
		return why;
	memcpy(m->t.event, c->event, sizeof(c->event));
	m->t.zone = c->zone;
	memcpy(m->t.created, c->on, sizeof(c->on));
	return NULL;
}

/* The message's kind from "type": absent is a round-1 ticket. */
static const char *
fields(struct json_object *j, struct msg *m)
{
	struct json_object	*v;
	const char		*type;

	if (!json_object_object_get_ex(j, "type", &v)) {
		m->kind = MSG_TICKET;
		return ticket_object(j, &m->t);
	}
	if (!json_object_is_type(v, json_type_string))
		return "type is not a string";
	type = json_object_get_string(v);
	if (strcmp(type, "order") == 0) {
		m->kind = MSG_ORDER;
		return order_fields(j, m);
	}
	if (strcmp(type, "cancel") == 0) {
		m->kind = MSG_CANCEL;
		return cancel_fields(j, m);
	}
	return "type is neither order nor cancel";
}

int
msg_parse(const char *json, size_t len, struct msg *m, const char **why)
{
	struct json_object *o;

	memset(m, 0, sizeof(*m));
	if ((o = ticket_json_object(json, len, MSG_JSON_MAX, why)) == NULL)
		return -1;
	*why = fields(o, m);
	json_object_put(o);
	return *why == NULL ? 0 : -1;
}
