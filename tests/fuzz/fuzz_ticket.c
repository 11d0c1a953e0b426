/* SPDX-License-Identifier: ISC */
/*
 * fuzz_ticket.c - libFuzzer harness for the consumer's message parser,
 * ticket_parse().  An accepted message must hold a valid ticket, and writing
 * it back with ticket_json() must parse to the same ticket.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "ticket.h"
#include "valid.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ticket	 t, u;
	char		 json[TICKET_JSON_MAX];
	enum ticket_err	 e;
	int		 n;

	if ((e = ticket_parse((const char *)data, size, &t)) != TICKET_OK) {
		CHECK(e < TICKET_ERR__MAX && *ticket_err_str(e) != '\0');
		return 0;
	}
	CHECK(valid_uuid(t.id));
	CHECK(valid_id(t.venue) && valid_id(t.event));
	CHECK(t.zone >= 1 && t.zone <= SEAT_MAX);
	CHECK(t.row >= 1 && t.row <= SEAT_MAX);
	CHECK(t.col >= 1 && t.col <= SEAT_MAX);
	CHECK(ticket_price_ok(t.price));
	CHECK(ticket_stamp_ok(t.created));
	n = ticket_json(&t, json, sizeof(json));
	CHECK(n > 0);
	CHECK(ticket_parse(json, (size_t)n, &u) == TICKET_OK);
	CHECK(memcmp(&t, &u, sizeof(t)) == 0);
	return 0;
}
