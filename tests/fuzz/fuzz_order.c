/* SPDX-License-Identifier: ISC */
/*
 * fuzz_order.c - libFuzzer harness for the JSON bodies of POST /orders,
 * POST /holds and the cancellations: purchase_order_from_json() and
 * purchase_token_from_json().
 *
 * Besides crashes and sanitizer reports it checks properties:
 *   - an accepted order has valid ids, a zone in range, either 1-10
 *     distinct seats in range or a quantity of 1-10, never both;
 *   - holdSeconds is read only for holds, and is >= 1 when given;
 *   - re-encoding an accepted order parses back to the same order;
 *   - an accepted token is 22 characters of [A-Za-z0-9_-].
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fuzz.h"
#include "purchase.h"
#include "valid.h"

static void
check_order(const struct order_req *o, int holds)
{
	int i, j;

	CHECK(valid_id(o->venue) && valid_id(o->event));
	CHECK(o->zone >= 1 && o->zone <= SEAT_MAX);
	CHECK((o->n == 0) != (o->quantity == 0));
	CHECK(o->quantity >= 0 && o->quantity <= ORDER_SEATS_MAX);
	CHECK(o->n >= 0 && o->n <= ORDER_SEATS_MAX);
	for (i = 0; i < o->n; i++) {
		CHECK(o->seats[i].row >= 1 && o->seats[i].row <= SEAT_MAX);
		CHECK(o->seats[i].col >= 1 && o->seats[i].col <= SEAT_MAX);
		for (j = 0; j < i; j++)
			CHECK(o->seats[i].row != o->seats[j].row ||
			    o->seats[i].col != o->seats[j].col);
	}
	CHECK(holds ? o->hold_seconds == -1 || o->hold_seconds >= 1 :
	    o->hold_seconds == -1);
}

/* Writes o back as JSON; returns its length. */
static int
encode(const struct order_req *o, char *buf, size_t size)
{
	int n, i;

	n = snprintf(buf, size, "{\"venueId\":\"%s\",\"eventId\":\"%s\","
	    "\"zoneId\":%ld", o->venue, o->event, o->zone);
	if (o->hold_seconds != -1)
		n += snprintf(buf + n, size - n, ",\"holdSeconds\":%ld",
		    o->hold_seconds);
	if (o->quantity > 0)
		return n + snprintf(buf + n, size - n, ",\"quantity\":%d}",
		    o->quantity);
	n += snprintf(buf + n, size - n, ",\"seats\":[");
	for (i = 0; i < o->n; i++)
		n += snprintf(buf + n, size - n, "%s{\"row\":%ld,\"column\":%ld}",
		    i ? "," : "", o->seats[i].row, o->seats[i].col);
	return n + snprintf(buf + n, size - n, "]}");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char		*s = (const char *)data, *why = NULL;
	struct order_req	 o, q;
	enum purchase_err	 e;
	char			 again[1024], tok[TOKEN_LEN + 1];
	int			 holds, n;

	for (holds = 0; holds < 2; holds++) {
		e = purchase_order_from_json(s, size, holds, &o, &why);
		if (e != PURCHASE_OK) {
			CHECK(why != NULL && *why != '\0');
			continue;
		}
		check_order(&o, holds);
		n = encode(&o, again, sizeof(again));
		CHECK(n > 0 && (size_t)n < sizeof(again));
		CHECK(purchase_order_from_json(again, (size_t)n, holds, &q,
		    &why) == PURCHASE_OK);
		CHECK(memcmp(&o, &q, sizeof(o)) == 0);
	}
	if (purchase_token_from_json(s, size, tok, &why) == PURCHASE_OK)
		CHECK(strlen(tok) == TOKEN_LEN && valid_id(tok));
	else
		CHECK(why != NULL && *why != '\0');
	return 0;
}
