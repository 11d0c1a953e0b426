/* SPDX-License-Identifier: ISC */
/*
 * msg.h - the three messages the consumer takes from its queues
 * (docs/consumer.md), read by the consumer and by ticketctl (which
 * looks into the queues): a round-1 ticket (the ticket JSON, no "type"), an
 * order ("type":"order": 1-10 tickets of one zone, persisted all or none)
 * and a cancellation ("type":"cancel": ticket ids of one order).  The
 * parser does no I/O; unit-tested.
 */
#ifndef BOX_MSG_H
#define BOX_MSG_H

#include <stddef.h>

#include "ticket.h"

#define ORDER_TICKETS_MAX 10	/* seats per order (CONTRACT §7) */
#define MSG_JSON_MAX	(ORDER_TICKETS_MAX * TICKET_JSON_MAX + 1024)
#define HASH_LEN	64	/* SHA-256 as lowercase hex */

enum msg_kind {
	MSG_TICKET,	/* round-1 ticket: struct item.t only */
	MSG_ORDER,
	MSG_CANCEL
};

struct order {
	char		id[UUID_LEN + 1];
	char		venue[ID_MAX + 1];
	char		event[ID_MAX + 1];
	long		zone;
	char		total[PRICE_MAX];
	char		created[STAMP_LEN + 1];
	char		hash[HASH_LEN + 1];	/* cancelHash */
	size_t		n;
	struct ticket	t[ORDER_TICKETS_MAX];
	/* "idempotency" of a keyed sale (absent: idem_kind 0): the HMAC
	 * (hex) of its Idempotency-Key ("keyHash"), or in a message of
	 * 2026-12-06's shape the key itself ("key"; idem_key_hash ""), the
	 * request's hash and kind ('t' POST /tickets, 'o' POST /orders, 'c'
	 * a hold's confirm): what lua/order.lua records under the key, kept
	 * so that a rebuild can put it back */
	char		idem_key_hash[HASH_LEN + 1];
	char		idem_key[ID_MAX + 1];
	char		idem_hash[HASH_LEN + 1];
	char		idem_kind;
	/* "holdHash" of a hold's confirm (since 2026-12-07; "" for none):
	 * the SHA-256 (hex) of the holdId, kept so that a rebuild can put
	 * the confirmed hold back */
	char		hold_hash[HASH_LEN + 1];
};

struct cancel {
	char		order[UUID_LEN + 1];
	char		event[ID_MAX + 1];
	long		zone;
	char		on[STAMP_LEN + 1];	/* cancelledOn */
	size_t		n;
	char		ids[ORDER_TICKETS_MAX][UUID_LEN + 1];
	/* ids[i]'s own cancelledOn when it was cancelled before the rest
	 * ("ticketsCancelledOn"), else "": see cancel_on() */
	char		own[ORDER_TICKETS_MAX][STAMP_LEN + 1];
};

union msg_body {
	struct order	o;	/* MSG_ORDER */
	struct cancel	c;	/* MSG_CANCEL */
};

/* One parsed message.  For a ticket, t is it; for an order, t.id is the
 * order id and t.created its createdOn; for a cancellation t.id is empty
 * and t.created its cancelledOn (so that pipe.c's lag and the sinks'
 * de-duplication by t.id work on every kind). */
struct msg {
	enum msg_kind	kind;
	struct ticket	t;
	union msg_body	u;
};

/* The cancelledOn of ticket ids[i] of c: its own stamp if it was
 * cancelled before the others of the message, else the message's. */
const char *cancel_on(const struct cancel *c, size_t i);

/* Parses and validates one message of len bytes (at most MSG_JSON_MAX).
 * Returns 0, or -1 with *why set to a static reason (a poison message). */
int	msg_parse(const char *json, size_t len, struct msg *m,
	    const char **why);
/* 1 if s is 64 lowercase hex digits, else 0. */
int	msg_hash_ok(const char *s);
/* 1 if key_hash, key, hash and kind are a keyed sale's "idempotency"
 * (struct order's idem_*: either key_hash msg_hash_ok and key "", or
 * key_hash "" and key 1-64 of [A-Za-z0-9_-]; hash msg_hash_ok; kind 't',
 * 'o' or 'c'), else 0. */
int	msg_idem_ok(const char *key_hash, const char *key, const char *hash,
	    int kind);

#endif
